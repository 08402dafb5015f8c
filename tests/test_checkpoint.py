"""Checkpoint folders: round trip through ExperimentState, and clear, atomic failures."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from labkit.checkpoint import FORMAT, ModelEntry, load_experiment, save_experiment
from labkit.data import CornerSquare
from labkit.errors import CheckpointError, InputError
from labkit.models import SmallCNN
from labkit.session import ExperimentState
from labkit.train import TrainConfig

TINY = dict(width=4, hidden=16)
MARKER = CornerSquare(size=4)


@pytest.fixture(scope="module")
def trained(pneumonia28, tmp_path_factory: pytest.TempPathFactory) -> tuple[ExperimentState, Path]:
    """A state with a clean and a shortcut model, saved once."""
    state = ExperimentState(device="cpu", data=pneumonia28)
    state.marker = MARKER
    config = TrainConfig(epochs=1, batch_size=32)
    state.start_training("baseline", config=config, subset=64, background=False, **TINY)
    state.start_training("shortcut", variant="marked", config=config, subset=64, background=False, **TINY)
    folder = state.save(tmp_path_factory.mktemp("ckpt") / "run")
    return state, folder


@pytest.fixture
def ckpt(trained, tmp_path: Path) -> Path:
    """A private copy of the saved folder, free to damage."""
    return Path(shutil.copytree(trained[1], tmp_path / "copy"))


@pytest.fixture
def loader(pneumonia28) -> ExperimentState:
    """A state that already holds one model, to prove failed loads change nothing."""
    s = ExperimentState(device="cpu", data=pneumonia28)
    torch.manual_seed(0)
    s.add_model(ModelEntry(name="existing", arch="small_cnn", model=SmallCNN(**TINY), kwargs=dict(TINY)))
    return s


def snapshot(s: ExperimentState) -> tuple:
    return dict(s.models), s.active_model, s.model_version, s.marker, s.message


def edit_meta(folder: Path, change) -> None:
    path = folder / "experiment.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def test_folder_layout(trained) -> None:
    folder = trained[1]
    meta = json.loads((folder / "experiment.json").read_text())
    assert meta["format"] == FORMAT and meta["image_size"] == 28 and meta["dataset"] == "pneumoniamnist"
    assert meta["marker"] == MARKER.to_dict()
    assert sorted(meta["models"]) == ["baseline", "shortcut"]
    assert sorted(p.name for p in (folder / "models").iterdir()) == ["baseline.pt", "shortcut.pt"]


def test_round_trip_restores_weights_metrics_history_and_marker(trained, pneumonia28) -> None:
    saved, folder = trained
    fresh = ExperimentState(device="cpu", data=pneumonia28)
    meta = fresh.load(folder)
    assert meta["image_size"] == 28
    assert sorted(fresh.models) == ["baseline", "shortcut"]
    assert fresh.active_model in fresh.models and fresh.model_version == 1
    assert fresh.marker == MARKER
    for name, want in saved.models.items():
        got = fresh.models[name]
        sd_got, sd_want = got.model.state_dict(), want.model.state_dict()
        assert sd_got.keys() == sd_want.keys() and all(torch.equal(sd_got[k], sd_want[k]) for k in sd_want)
        assert not got.model.training
        assert (got.arch, got.kwargs, got.variant) == (want.arch, want.kwargs, want.variant)
        assert got.threshold == want.threshold and got.config == want.config
        assert got.history == json.loads(json.dumps(want.history))
        assert got.metrics["test"]["auroc"] == pytest.approx(want.metrics["test"]["auroc"])
        assert got.metrics["test"]["confusion"] == [list(r) for r in want.metrics["test"]["confusion"]]
        assert got.marker == want.marker
    assert fresh.models["shortcut"].marker == MARKER and fresh.models["baseline"].marker is None
    assert "test_marked" in fresh.models["shortcut"].metrics
    x = pneumonia28["test"].images[:8]
    with torch.no_grad():
        assert torch.equal(fresh.model("shortcut")(x), saved.model("shortcut").eval()(x))


def test_marker_comes_back_even_without_a_marked_model(tmp_path: Path, pneumonia28) -> None:
    s = ExperimentState(device="cpu", data=pneumonia28)
    s.add_model(ModelEntry(name="m", arch="small_cnn", model=SmallCNN(**TINY), kwargs=dict(TINY)))
    s.marker = CornerSquare(size=6, placement="top-right")
    s.save(tmp_path / "c")
    fresh = ExperimentState(device="cpu")
    fresh.load(tmp_path / "c")
    assert fresh.marker == CornerSquare(size=6, placement="top-right")


def test_load_experiment_without_a_state(trained) -> None:
    meta, entries = load_experiment(trained[1])
    assert meta["models"].keys() == entries.keys()
    assert all(isinstance(e.model, SmallCNN) for e in entries.values())


def _corrupt_json(folder: Path) -> None:
    (folder / "experiment.json").write_text('{"format": "labkit-experiment", "models": {')


def _not_labkit(folder: Path) -> None:
    (folder / "experiment.json").write_text('{"hello": "world"}')


def _string_version(folder: Path) -> None:
    edit_meta(folder, lambda m: m.update(version="one"))


def _future_version(folder: Path) -> None:
    edit_meta(folder, lambda m: m.update(version=99))


def _truncated_weights(folder: Path) -> None:
    p = folder / "models" / "shortcut.pt"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _garbage_weights(folder: Path) -> None:
    (folder / "models" / "shortcut.pt").write_bytes(b"garbage, not a state dict" * 10)


def _missing_weights(folder: Path) -> None:
    (folder / "models" / "shortcut.pt").unlink()


def _wrong_width(folder: Path) -> None:
    edit_meta(folder, lambda m: m["models"]["shortcut"]["kwargs"].update(width=8))


def _wrong_arch(folder: Path) -> None:
    edit_meta(folder, lambda m: m["models"]["shortcut"].update(arch="small_resnet", kwargs={"width": 4}))


def _unknown_arch(folder: Path) -> None:
    edit_meta(folder, lambda m: m["models"]["shortcut"].update(arch="vgg16"))


def _bad_kwarg(folder: Path) -> None:
    edit_meta(folder, lambda m: m["models"]["shortcut"]["kwargs"].update(depth=3))


def _no_arch(folder: Path) -> None:
    edit_meta(folder, lambda m: m["models"]["shortcut"].pop("arch"))


def _bad_threshold(folder: Path) -> None:
    edit_meta(folder, lambda m: m["models"]["shortcut"].update(threshold="high"))


def _bad_marker(folder: Path) -> None:
    edit_meta(folder, lambda m: m["models"]["shortcut"].update(marker={"kind": "arrow"}))


def _bad_state_marker(folder: Path) -> None:
    edit_meta(folder, lambda m: m.update(marker={"kind": "corner", "intensity": 7}))


@pytest.mark.parametrize("damage,match", [
    (_corrupt_json, "not valid JSON"),
    (_not_labkit, "not a labkit experiment"),
    (_string_version, "version"),
    (_future_version, "upgrade labkit"),
    (_truncated_weights, "shortcut.pt"),
    (_garbage_weights, "shortcut.pt"),
    (_missing_weights, "missing"),
    (_wrong_width, "does not match architecture 'small_cnn'"),
    (_wrong_arch, "does not match architecture 'small_resnet'"),
    (_unknown_arch, "unknown model 'vgg16'"),
    (_bad_kwarg, "bad arguments"),
    (_no_arch, "incomplete"),
    (_bad_threshold, "incomplete"),
    (_bad_marker, "unknown marker kind"),
    (_bad_state_marker, "marker"),
])
def test_damaged_checkpoint_raises_and_changes_nothing(ckpt: Path, loader: ExperimentState, damage,
                                                       match: str) -> None:
    damage(ckpt)
    before = snapshot(loader)
    with pytest.raises(CheckpointError, match=match) as info:
        loader.load(ckpt)
    assert str(ckpt) in str(info.value) or "shortcut" in str(info.value)
    assert snapshot(loader) == before
    assert list(loader.models) == ["existing"]  # the healthy baseline was not half-loaded either


def test_missing_folder(loader: ExperimentState, tmp_path: Path) -> None:
    before = snapshot(loader)
    with pytest.raises(CheckpointError, match="no checkpoint at .*experiment.json"):
        loader.load(tmp_path / "does-not-exist")
    assert snapshot(loader) == before


def test_image_size_mismatch_changes_nothing(trained, pneumonia64) -> None:
    s = ExperimentState(device="cpu", data=pneumonia64)
    with pytest.raises(InputError, match="28 px"):
        s.load(trained[1])
    assert s.models == {} and s.active_model == "" and s.model_version == 0


def test_save_errors(tmp_path: Path, pneumonia28) -> None:
    s = ExperimentState(device="cpu", data=pneumonia28)
    with pytest.raises(InputError, match="nothing to save"):
        s.save(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="file name"):
        save_experiment(tmp_path / "x", {"a/b": ModelEntry("a/b", "small_cnn", SmallCNN())}, image_size=28,
                        dataset="d")
    with pytest.raises(CheckpointError, match="registry"):
        save_experiment(tmp_path / "y", {"m": ModelEntry("m", "mine", torch.nn.Linear(2, 2))}, image_size=28,
                        dataset="d")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
