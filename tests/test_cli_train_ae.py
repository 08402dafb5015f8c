"""``labkit train-ae``: trains, reports, saves a loadable autoencoder; errors without tracebacks."""
from __future__ import annotations

from pathlib import Path

import pytest

from labkit.checkpoint import load_autoencoder
from labkit.cli import main

TRAIN_AE = ["train-ae", "--size", "28", "--epochs", "1", "--bottleneck", "2", "--width", "4", "--no-download",
            "--device", "cpu"]


def test_train_ae_reports_and_saves(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    clf = tmp_path / "clf"
    assert main(["train", "--epochs", "1", "--subset", "300", "--size", "28", "--no-download", "--device", "cpu",
                 "--data-dir", str(data_dir), "--out", str(clf)]) == 0
    capsys.readouterr()
    out = tmp_path / "ae"
    assert main([*TRAIN_AE, "--data-dir", str(data_dir), "--classifier", str(clf), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for words in ("4708 pneumoniamnist training images", "MAE", "positives", "negatives", "AUROC original",
                  "decoded", "autoencoder saved"):
        assert words in text
    ae, meta = load_autoencoder(out)
    assert ae.config() == {"size": 28, "in_channels": 1, "bottleneck": 2, "width": 4}
    assert meta["recipe"]["epochs"] == 1 and meta["test"]["n"] == 624 and 0 < meta["test"]["mae"] < 1
    assert set(meta["test"]) >= {"drop_positive", "drop_negative", "auroc_original", "auroc_decoded"}


def test_missing_classifier_fails_before_training(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([*TRAIN_AE, "--classifier", str(tmp_path / "none"), "--out", str(tmp_path / "ae")]) == 2
    err = capsys.readouterr().err
    assert "labkit train-ae: error: no checkpoint at" in err and "Traceback" not in err
    assert not (tmp_path / "ae").exists()


def test_bad_recipe_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([*TRAIN_AE, "--bottleneck", "0", "--out", str(tmp_path / "ae")]) == 2
    assert "bottleneck must be an int ≥ 1" in capsys.readouterr().err
