"""``labkit train --model resnet18`` fine-tunes torchvision's ResNet-18 and saves a loadable checkpoint."""
from __future__ import annotations

from pathlib import Path

import pytest

from labkit.checkpoint import load_experiment
from labkit.cli import main
from labkit.models import ResNet18


def test_train_resnet18_writes_a_loadable_checkpoint(data_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    args = ["train", "--model", "resnet18", "--epochs", "1", "--subset", "32", "--size", "32", "--no-download",
            "--device", "cpu", "--data-dir", str(data_dir), "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "training resnet18" in text and "AUROC" in text and "checkpoint saved" in text
    meta, entries = load_experiment(out)
    assert meta["image_size"] == 32 and isinstance(entries["baseline"].model, ResNet18)
