"""LabApp (tabs, loader row, environment), the app notebook and ``labkit app``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from labkit.cli import main
from labkit.commands.app import app_env, parse_args, notebook_path, voila_command
from labkit.device import apply_gpu_memory_cap
from labkit.panels import LabApp
from labkit.session import ExperimentState

ROOT = Path(__file__).resolve().parents[2]


def test_app_has_every_panel_on_one_state(trained_state: ExperimentState) -> None:
    app = LabApp(trained_state, dataset=None, debounce=0, background=False)
    titles = [app.tabs.get_title(i) for i in range(len(app.tabs.children))]
    assert titles == ["1 · Train", "2 · Explain", "3 · Sanity checks", "4 · Shortcuts", "5 · Evaluate",
                      "6 · Counterfactual"]
    assert all(p.state is trained_state and p.status is app.status for p in app.panels)
    assert "1 model(s)" in app.header.value
    app.explainer.index.value = 5  # one panel changes the image; the state and the others follow
    assert trained_state.selection.image_index == 5
    app.explainer.methods.value = ("gradient",)
    assert app.explainer.images["gradient"].value[:4] == b"\x89PNG"
    app.close()


def test_no_data_offers_the_phantom_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import medmnist

    monkeypatch.delenv("LABKIT_DATA_DIR", raising=False)
    monkeypatch.setattr(medmnist.info, "DEFAULT_ROOT", str(tmp_path / "medmnist"))
    app = LabApp(ExperimentState(device="cpu"), dataset="pneumoniamnist", data_dir=str(tmp_path / "empty"),
                 debounce=0, background=False)
    assert app.state.data is None
    assert app.status.kind == "error" and "Load phantom demo" in app.status.text
    assert app.phantom_button.button_style == "warning"
    app.explainer.refresh()  # no traceback, just a message
    app.phantom_button.click()
    assert app.state.data is not None and app.state.data.name == "phantom"
    assert app.status.kind == "ok" and app.phantom_button.button_style == "info"


def test_checkpoint_makes_models_available_at_once(trained_state: ExperimentState, small_data, tmp_path: Path) -> None:
    folder = trained_state.save(tmp_path / "ckpt")
    fresh = ExperimentState(device="cpu", data=small_data)
    app = LabApp(fresh, dataset=None, checkpoint=str(folder), debounce=0, background=False)
    assert list(fresh.models) == ["baseline"] and app.status.kind == "ok"
    app.explainer.refresh()
    assert app.explainer.images["gradient"].value[:4] == b"\x89PNG"
    assert "Clinical metrics of baseline" in app.training.metrics_title.value
    app.checkpoint.value = str(tmp_path / "missing")
    app.load_ckpt_button.click()
    assert app.status.kind == "error" and "no checkpoint" in app.status.text
    app.checkpoint.value = str(tmp_path / "saved")
    app.save_ckpt_button.click()
    assert (tmp_path / "saved" / "experiment.json").is_file()


def test_from_env_reads_settings_and_reports_bad_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"LABKIT_APP_DATASET": "phantom", "LABKIT_APP_SUBSET": "64", "LABKIT_APP_EPOCHS": "lots",
           "LABKIT_APP_WIDTH": "8", "LABKIT_APP_DEVICE": "cpu", "LABKIT_GPU_MEMORY_FRACTION": "2",
           "LABKIT_APP_THREADS": "1"}
    app = LabApp.from_env(env, debounce=0, background=False)
    assert app.state.data.name == "phantom" and torch.get_num_threads() == 1
    assert app.training.subset.value == 64 and app.training.width.value == 8 and app.training.epochs.value == 10
    assert app.status.kind == "error"
    text = app.status.widget.value
    assert "LABKIT_APP_EPOCHS must be an integer" in text or "LABKIT_GPU_MEMORY_FRACTION" in text


def test_gpu_memory_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from labkit.errors import InputError

    assert apply_gpu_memory_cap("") is None
    with pytest.raises(InputError, match=r"\(0, 1\]"):
        apply_gpu_memory_cap("1.5")
    with pytest.raises(InputError):
        apply_gpu_memory_cap("half")
    monkeypatch.setenv("LABKIT_GPU_MEMORY_FRACTION", "0.25")
    expected = 0.25 if torch.cuda.is_available() else None
    assert apply_gpu_memory_cap() == expected


def test_one_app_notebook_builds_the_app() -> None:
    canonical = ROOT / "labkit" / "notebooks" / "lab_app.ipynb"
    assert notebook_path() == canonical
    assert not (ROOT / "notebooks" / "lab_app.ipynb").exists(), "the app notebook lives in labkit/notebooks only"
    nb = json.loads(canonical.read_text())
    code = "".join(nb["cells"][0]["source"])
    assert "LabApp.from_env()" in code and nb["metadata"]["kernelspec"]["name"] == "python3"


def test_app_command_builds_voila_call(tmp_path: Path, trained_state: ExperimentState, capsys) -> None:
    folder = trained_state.save(tmp_path / "ckpt")
    args = parse_args(["--checkpoint", str(folder), "--data-dir", str(tmp_path), "--dataset", "phantom",
                       "--port", "9123", "--no-browser", "--subset", "64", "--gpu-memory-fraction", "0.5",
                       "--pretrained"])
    env = app_env(args, base={})
    assert env["LABKIT_APP_CHECKPOINT"] == str(folder.resolve()) and env["LABKIT_APP_DATASET"] == "phantom"
    assert env["LABKIT_DATA_DIR"] == str(tmp_path.resolve()) and env["LABKIT_APP_SUBSET"] == "64"
    assert env["LABKIT_GPU_MEMORY_FRACTION"] == "0.5" and env["LABKIT_APP_THREADS"] == "0"
    assert env["LABKIT_APP_PRETRAINED"] == "1"
    cmd = voila_command(notebook_path(), 9123, no_browser=True)
    assert cmd[1:3] == ["-m", "labkit.commands.voila_server"]
    assert "--strip_sources=True" in cmd and "--show_tracebacks=False" in cmd
    assert "--port=9123" in cmd and "--no-browser" in cmd
    assert main(["app", "--checkpoint", str(folder), "--print-command", "--port", "9123"]) == 0
    out = capsys.readouterr().out
    assert "voila" in out and "LABKIT_APP_CHECKPOINT=" in out
    assert main(["app", "--checkpoint", str(tmp_path / "nothing"), "--print-command"]) == 2
    assert "no checkpoint" in capsys.readouterr().err



def test_pretrained_button_adds_zoo_models(trained_state: ExperimentState, tiny_entry, monkeypatch) -> None:
    import copy

    import labkit.session.zoo
    from labkit.data import CornerSquare

    asked, progress_shown = [], []

    def fake_pretrained(data, kind="baseline", marker=None, **kwargs):
        asked.append(kind)
        progress_shown.append(app.pretrained_progress.layout.display != "none")
        e = copy.deepcopy(tiny_entry)
        e.name, e.variant = kind, "marked" if kind == "shortcut" else "clean"
        e.marker = CornerSquare() if kind == "shortcut" else None
        return e

    monkeypatch.setattr(labkit.session.zoo, "pretrained_entry", fake_pretrained)
    state = ExperimentState(device="cpu", data=trained_state.data)
    app = LabApp(state, dataset=None, debounce=0, background=False)
    assert app.pretrained_progress.layout.display == "none"  # the progress bar takes no room while idle
    app.pretrained_button.click()
    assert asked == ["baseline", "shortcut"] and set(state.models) == {"baseline", "shortcut"}
    assert progress_shown == [True, True] and app.pretrained_progress.layout.display == "none"
    assert state.active_model == "baseline" and state.marker == CornerSquare()
    assert app.status.kind == "ok" and "pre-trained models ready" in app.status.text
    empty = LabApp(ExperimentState(device="cpu"), dataset=None, debounce=0, background=False)
    empty.pretrained_button.click()
    assert empty.status.kind == "error" and "load a data set first" in empty.status.text


def test_the_voila_server_runs_without_the_iri_grammar() -> None:
    """``labkit.commands.voila_server`` is Voilà's entry point, minus jsonschema's IRI checker."""
    import subprocess
    import sys

    code = ("import sys; sys.argv = ['voila', '--version']\n"
            "from labkit.commands import voila_server\n"
            "try:\n    voila_server.main()\nexcept SystemExit:\n    pass\n"
            "import jsonschema\n"
            "checker = jsonschema.Draft202012Validator.FORMAT_CHECKER\n"
            "print('iri' in checker.checkers, 'uri' in checker.checkers, sys.modules.get('rfc3987_syntax'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].split(".")[0].isdigit()  # Voilà printed its version
    assert lines[-1] == "False True None"  # no IRI checker, the others kept
