"""``labkit train --precision``: parsed into TrainConfig, bad values rejected with usage."""
from __future__ import annotations

from pathlib import Path

import pytest

from labkit.cli import build_parser, main
from labkit.session import ExperimentState

TRAIN = ["train", "--epochs", "1", "--subset", "200", "--size", "28", "--no-download", "--device", "cpu"]


def test_precision_defaults_to_auto_and_accepts_each_choice() -> None:
    parser = build_parser()
    assert parser.parse_args(["train"]).precision == "auto"
    for choice in ("auto", "fp32", "bf16"):
        assert parser.parse_args(["train", "--precision", choice]).precision == choice


def test_a_bad_precision_exits_with_usage_naming_the_choices(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", "--precision", "fp16"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "invalid choice: 'fp16'" in err and "'auto', 'fp32', 'bf16'" in err


def test_the_precision_reaches_the_saved_training_config(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main([*TRAIN, "--precision", "fp32", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    state = ExperimentState(device="cpu")
    state.load(out)
    assert state.models["baseline"].config["precision"] == "fp32"
