"""The ``labkit`` command line: train, data, errors without tracebacks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import medmnist
import pytest

from labkit.cli import build_parser, main
from labkit.session import ExperimentState

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["train", "--epochs", "1", "--subset", "300", "--size", "28", "--no-download", "--device", "cpu"]


@pytest.fixture
def offline_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No data anywhere labkit looks: an empty folder for --data-dir, env and medmnist root."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("LABKIT_DATA_DIR", str(empty))
    monkeypatch.setattr(medmnist.info, "DEFAULT_ROOT", str(empty))
    return empty


def test_train_prints_clinical_metrics_and_writes_a_loadable_checkpoint(data_dir: Path, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    assert main([*TRAIN, "--data-dir", str(data_dir), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("test (clean)", "sensitivity", "specificity", "balanced accuracy", "AUROC", "confusion",
                 "threshold", "checkpoint saved"):
        assert word in text
    assert "test (marked)" not in text
    state = ExperimentState(device="cpu")
    state.load(out)
    assert list(state.models) == ["baseline"]
    entry = state.models["baseline"]
    assert entry.config["epochs"] == 1 and entry.metrics["test"]["n"] == 624


def test_train_with_a_marker_prints_marked_metrics(data_dir: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "shortcut"
    assert main([*TRAIN, "--marker", "corner", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test (clean)" in text and "test (marked)" in text and "marked data" in text
    state = ExperimentState(device="cpu")
    state.load(out)
    assert list(state.models) == ["shortcut"] and state.models["shortcut"].marker.kind == "corner"


def test_data_lists_the_found_file(data_dir: Path, capsys: pytest.CaptureFixture, recwarn) -> None:
    assert main(["data", "--data-dir", str(data_dir)]) == 0
    assert not [w for w in recwarn if "upsampled" in str(w.message)]  # printed once as a note, not warned
    text = capsys.readouterr().out
    assert "folders searched" in text and str(data_dir) in text
    assert f"found: {data_dir / 'pneumoniamnist.npz'}" in text
    assert "pneumoniamnist_64.npz" in text and "not found" in text
    assert "4708 images (1214 normal, 3494 pneumonia)" in text
    assert "at 64×64" in text and "upsampled from the 28×28 release" in text  # default size 64, noted


@pytest.mark.parametrize("command", [["data"], [*TRAIN, "--out", "{tmp}/o"]], ids=["data", "train"])
def test_missing_data_offline_exits_2_with_the_message(offline_empty: Path, tmp_path: Path, command: list[str],
                                                       capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "no-data-here"
    args = [a.format(tmp=tmp_path) for a in command]
    assert main([*args, "--data-dir", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "pneumoniamnist.npz" in err and str(missing) in err and str(offline_empty) in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_bad_arguments_exit_with_usage(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", "--model", "vgg16"])
    assert info.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])


def test_invalid_config_is_a_clean_error(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([*TRAIN, "--lr", "-1", "--data-dir", str(data_dir), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "learning rate" in err and "Traceback" not in err


def test_parser_knows_the_subcommands(capsys: pytest.CaptureFixture) -> None:
    help_text = build_parser().format_help()
    assert "train" in help_text and "data" in help_text
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert info.value.code == 0 and "--marker" in text and "--no-download" in text and "--subset" in text


def test_console_script_runs_as_a_module() -> None:
    result = subprocess.run([sys.executable, "-m", "labkit.cli", "--help"], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: labkit" in result.stdout and "train" in result.stdout and "data" in result.stdout
