"""``labkit lab``: JupyterLab on the exercises."""
from __future__ import annotations

import pytest

from labkit.cli import main


def test_labkit_lab_opens_the_exercises(capsys: pytest.CaptureFixture) -> None:
    assert main(["lab", "--print-command", "--no-browser", "--port", "8899"]) == 0
    cmd = capsys.readouterr().out
    assert "-m jupyterlab" in cmd and "--port=8899" in cmd and "exercises" in cmd
    assert main(["lab", "--dir", "/no/such/folder"]) == 2
    assert "no notebook folder at /no/such/folder" in capsys.readouterr().err
