"""``benchmarks/bench_browser.py`` runs end to end (2 presses on one method) and refuses unknown methods.

A smoke test of the benchmark's harness, not a timing test: no figure is asserted."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_browser  # noqa: E402
from labkit.session import ExperimentState  # noqa: E402
from labkit.train import TrainConfig  # noqa: E402


def test_unknown_methods_are_refused_before_anything_starts() -> None:
    with pytest.raises(SystemExit, match=r"unknown method\(s\) \['nope'\]"):
        bench_browser.main(["--methods", "gradient,nope,latent_shift"])


@pytest.mark.browser
def test_two_presses_on_one_progressive_method(pneumonia64, tmp_path, capsys) -> None:
    state = ExperimentState(device="cpu", data=pneumonia64)  # a tiny model: no zoo training on a fresh machine
    state.start_training("baseline", "small_cnn", "clean", TrainConfig(epochs=1, batch_size=64), subset=128,
                         background=False, width=4)
    folder = state.save(tmp_path / "tiny")
    assert bench_browser.main(["--methods", "smoothgrad", "--presses", "2", "--burst", "2",
                               "--checkpoint", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "load average before:" in out
    rows = [line for line in out.splitlines() if line.startswith("smoothgrad")]
    assert len(rows) == 2 and "(same)" not in rows[0]  # first paint and final map both measured
    assert rows[1].endswith("after the last press")  # the burst row
