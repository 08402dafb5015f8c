"""ExperimentState: device, observers, validation, views, caches, background training."""
from __future__ import annotations

import threading

import pytest
import torch


from labkit.checkpoint import ModelEntry
from labkit.data import BorderStripe, CornerSquare
from labkit.device import resolve_device
from labkit.errors import CheckpointError, InputError, TrainingError
from labkit.models import SmallCNN
from labkit.session import ExperimentState
from labkit.train import EpochRecord, TrainConfig

TINY = dict(width=4, hidden=16)  # model kwargs: a fast SmallCNN
FAST = TrainConfig(epochs=2, batch_size=32, seed=0)


@pytest.fixture
def state(pneumonia28) -> ExperimentState:
    return ExperimentState(device="cpu", data=pneumonia28)


def entry(name: str = "m", seed: int = 0) -> ModelEntry:
    torch.manual_seed(seed)
    return ModelEntry(name=name, arch="small_cnn", model=SmallCNN(**TINY), kwargs=dict(TINY))


def record_changes(state: ExperimentState, names: list[str]) -> list[tuple[str, object]]:
    """Change events of the state, its selection and its training job (traits named ``names``)."""
    seen: list[tuple[str, object]] = []
    for owner in (state, state.selection, state.training):
        own = [n for n in names if owner.has_trait(n)]
        owner.observe(lambda ch: seen.append((ch["name"], ch["new"])), own)
    return seen


# ---- device ---------------------------------------------------------------------------
def test_auto_device_resolves_to_the_best_available() -> None:
    s = ExperimentState()
    assert s.device == str(resolve_device("auto"))
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert s.device == "cpu"


def test_unavailable_or_unknown_device_is_an_input_error() -> None:
    with pytest.raises(InputError):
        ExperimentState(device="tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            ExperimentState(device="cuda")


def test_data_lives_on_the_state_device(state: ExperimentState) -> None:
    assert state.data.device == torch.device(state.device)


# ---- observers and validation ------------------------------------------------------
def test_observers_fire_on_changes(state: ExperimentState) -> None:
    seen = record_changes(state, ["models", "image_index", "target", "marker", "status", "progress", "history",
                                  "active_model", "model_version"])
    state.selection.image_index = 5
    state.selection.target = 0
    state.marker = CornerSquare(size=4)
    state.add_model(entry())
    state.training.status = "running"
    state.training.progress = 0.5
    state.training.history = [EpochRecord(epoch=1, train_loss=0.5, train_acc=0.8)]
    names = [n for n, _ in seen]
    for name in ("image_index", "target", "marker", "models", "active_model", "model_version", "status",
                 "progress", "history"):
        assert name in names, f"no change event for {name}"
    assert ("image_index", 5) in seen and ("target", 0) in seen and ("active_model", "m") in seen


@pytest.mark.parametrize("trait,bad", [("image_index", 624), ("image_index", -1), ("target", 2), ("target", -1),
                                       ("split", "dev"), ("active_model", "nope")])
def test_invalid_values_raise_and_leave_the_value_unchanged(state: ExperimentState, trait: str, bad) -> None:
    state.add_model(entry())
    state.selection.image_index = 7
    owner = state if trait == "active_model" else state.selection
    before = getattr(owner, trait)
    seen = record_changes(state, [trait])
    with pytest.raises(InputError):  # a ValueError too: `except ValueError` catches it
        setattr(owner, trait, bad)
    assert getattr(owner, trait) == before and seen == []


def test_image_index_is_checked_against_the_current_split(state: ExperimentState) -> None:
    state.selection.split = "train"
    state.selection.image_index = 4000  # valid in train (4708) …
    state.selection.split = "test"      # … not in test (624): reset rather than dangle
    assert state.selection.image_index == 0
    image, label = state.selection.current_image()
    assert image.shape == (1, 1, 28, 28) and label == int(state.data["test"].labels[0])
    with pytest.raises(InputError, match="0…623"):
        state.selection.image_index = 700


# ---- models and caches --------------------------------------------------------------
def test_caches_clear_when_a_model_is_added_or_removed(state: ExperimentState) -> None:
    state.cache.put("saliency", torch.ones(3))
    state.add_model(entry("a"))
    assert len(state.cache) == 0 and state.model_version == 1 and state.active_model == "a"
    state.cache.put("saliency", torch.ones(3))
    state.add_model(entry("b"), activate=False)
    assert len(state.cache) == 0 and state.active_model == "a" and sorted(state.models) == ["a", "b"]
    state.cache.put("x", 1)
    state.remove_model("a")
    assert len(state.cache) == 0 and state.active_model == "b" and state.model_version == 3
    assert state.model() is state.models["b"].model
    with pytest.raises(InputError, match="no model named 'zzz'"):
        state.model("zzz")
    with pytest.raises(InputError):
        state.remove_model("zzz")


def test_added_models_go_to_the_device_in_eval_mode(state: ExperimentState) -> None:
    e = entry()
    e.model.train()
    state.add_model(e)
    m = state.model()
    assert not m.training and next(m.parameters()).device == torch.device(state.device)


# ---- data views ---------------------------------------------------------------------
def test_marked_view_needs_a_marker(state: ExperimentState) -> None:
    with pytest.raises(InputError, match="no marker set"):
        state.view("marked")
    with pytest.raises(InputError, match="unknown data variant"):
        state.view("noisy")


def test_views_follow_the_marker(state: ExperimentState) -> None:
    clean = state.view("clean", "test")
    assert clean is state.data["test"]
    state.marker = CornerSquare(size=4)
    marked = state.view("marked", "test")
    assert marked.marker == CornerSquare(size=4) and state.view("marked", "test") is marked  # cached
    assert not torch.equal(marked.images, clean.images)
    state.marker = BorderStripe()
    restriped = state.view("marked", "test")
    assert restriped.marker == BorderStripe()
    assert torch.all(restriped.images[:, 0, :, :3][clean.labels == 1] == 1.0)  # class 1: left stripe


def test_random_labels_view_permutes_labels(state: ExperimentState) -> None:
    permuted = state.view("random-labels", "train")
    train = state.data["train"]
    assert torch.equal(permuted.images, train.images) and not torch.equal(permuted.labels, train.labels)
    assert permuted.class_counts() == train.class_counts()


def test_load_data_phantom_and_unknown(state: ExperimentState) -> None:
    state.selection.split = "test"
    state.selection.image_index = 620
    data = state.load_data("phantom", size=32)
    assert state.data is data and data.name == "phantom" and data.size == 32
    assert state.selection.image_index == 0  # 620 is out of range for the 300-image phantom test split
    with pytest.raises(InputError, match="unknown data set"):
        state.load_data("cifar")


def test_load_data_finds_the_real_file(data_dir) -> None:
    s = ExperimentState(device="cpu")
    data = s.load_data("pneumoniamnist", size=28, data_dir=str(data_dir), download=False)
    assert len(data["test"]) == 624 and "pneumoniamnist" in s.message


# ---- custom images ------------------------------------------------------------------
def test_set_custom_image(state: ExperimentState) -> None:
    img = torch.zeros(1, 1, 28, 28)
    state.selection.set_custom_image(img)
    x, label = state.selection.current_image()
    assert label is None and torch.equal(x, img)
    state.selection.set_custom_image(None)
    x, label = state.selection.current_image()
    assert label == int(state.data["test"].labels[0])


@pytest.mark.parametrize("bad", [torch.zeros(1, 1, 64, 64), torch.zeros(2, 1, 28, 28), torch.zeros(1, 3, 28, 28),
                                 torch.full((1, 1, 28, 28), 3.0), torch.zeros(1, 28, 28),
                                 torch.zeros(1, 1, 28, 28, dtype=torch.uint8), "image.png"])
def test_set_custom_image_rejects_bad_images(state: ExperimentState, bad) -> None:
    with pytest.raises(InputError):
        state.selection.set_custom_image(bad)
    assert state.selection.custom_image is None


def test_set_custom_image_without_data() -> None:
    with pytest.raises(InputError, match="no data loaded"):
        ExperimentState(device="cpu").selection.set_custom_image(torch.zeros(1, 1, 28, 28))


# ---- training -----------------------------------------------------------------------
def test_background_training_finishes_with_metrics(state: ExperimentState) -> None:
    statuses: list[str] = []
    state.training.observe(lambda ch: statuses.append(ch["new"]), "status")
    epochs: list[int] = []
    state.training.observe(lambda ch: epochs.append(len(ch["new"])), "history")
    state.start_training("tiny", config=FAST, subset=64, **TINY)
    state.wait(120)
    assert not state.training.active
    assert state.training.status == "done", state.training.message
    assert statuses == ["running", "done"]
    assert epochs[-1] == 2 and state.training.progress == pytest.approx(1.0)
    e = state.models["tiny"]
    assert state.active_model == "tiny" and e.variant == "clean" and e.kwargs == TINY
    assert e.config["epochs"] == 2 and len(e.history["epochs"]) == 2
    assert 0.0 <= e.threshold <= 1.0
    test = e.metrics["test"]
    assert test["n"] == 624 and 0 <= test["auroc"] <= 1 and "sensitivity" in test and "specificity" in test
    assert "test_marked" not in e.metrics
    assert "tiny: done" in state.training.message


def test_marked_training_reports_marked_metrics(state: ExperimentState) -> None:
    state.marker = CornerSquare(size=4)
    state.start_training("shortcut", variant="marked", config=TrainConfig(epochs=1, batch_size=32), subset=64,
                         background=False, **TINY)
    e = state.models["shortcut"]
    assert state.training.status == "done" and e.marker == CornerSquare(size=4) and e.variant == "marked"
    assert e.metrics["test_marked"]["n"] == 624 and e.metrics["test"]["n"] == 624


def _once(fn):
    """Progress observer calling ``fn`` after the first batch (it runs on the training thread)."""
    done = threading.Event()

    def handler(change: dict) -> None:
        if change["new"] > 0 and not done.is_set():
            done.set()
            fn()
    return handler


def test_pause_and_resume_end_like_an_uninterrupted_run(state: ExperimentState, pneumonia28) -> None:
    reference = ExperimentState(device="cpu", data=pneumonia28)
    reference.start_training("tiny", config=FAST, subset=64, background=False, **TINY)

    state.training.observe(_once(state.pause_training), "progress")
    state.start_training("tiny", config=FAST, subset=64, **TINY)
    state.wait(120)
    assert state.training.status == "paused", state.training.message
    assert "tiny" not in state.models and not state.training.running
    torch.rand(100)  # the kernel does other work while paused
    state.resume_training()
    state.wait(120)
    assert state.training.status == "done", state.training.message
    got, want = state.model("tiny").state_dict(), reference.model("tiny").state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert state.models["tiny"].metrics["test"] == reference.models["tiny"].metrics["test"]


def test_stop_mid_run_keeps_a_usable_model(state: ExperimentState) -> None:
    state.training.observe(_once(state.stop_training), "progress")
    state.start_training("stopped", config=TrainConfig(epochs=3, batch_size=32), subset=64, **TINY)
    state.wait(120)
    assert state.training.status == "stopped", state.training.message
    e = state.models["stopped"]
    assert e.history["epochs"] == [] and "test" in e.metrics
    part = e.history["partial_epoch"]  # the kept weights saw these batches; the history says so
    assert part["epoch"] == 1 and 1 <= part["batches"] < part["of"] == 2
    assert "of epoch 1 kept in the weights" in state.training.message
    with torch.no_grad():
        out = state.model("stopped")(state.data["test"].images[:4])
    assert out.shape == (4, 2) and torch.isfinite(out).all()


def test_stop_while_paused_finishes_the_model(state: ExperimentState) -> None:
    state.training.observe(_once(state.pause_training), "progress")
    state.start_training("p", config=FAST, subset=64, **TINY)
    state.wait(120)
    assert state.training.status == "paused"
    state.stop_training()
    assert state.training.status == "stopped" and "p" in state.models
    with pytest.raises(TrainingError):
        state.resume_training()


def test_start_while_running_raises(state: ExperimentState) -> None:
    entered, release = threading.Event(), threading.Event()

    def block(change: dict) -> None:
        entered.set()
        release.wait(30)

    state.training.observe(block, "progress")
    state.start_training("first", config=TrainConfig(epochs=1, batch_size=32), subset=64, **TINY)
    try:
        assert entered.wait(30)
        assert state.training.running and state.training.status == "running"
        with pytest.raises(TrainingError, match="a training run is running"):
            state.start_training("second", config=FAST, subset=64, **TINY)
    finally:
        release.set()
        state.wait(120)
    assert state.training.status == "done" and list(state.models) == ["first"]


def test_training_controls_without_a_run(state: ExperimentState) -> None:
    with pytest.raises(TrainingError):
        state.pause_training()
    with pytest.raises(TrainingError):
        state.resume_training()
    with pytest.raises(TrainingError):
        state.stop_training()
    with pytest.raises(InputError, match="no data loaded"):
        ExperimentState(device="cpu").start_training()


def test_training_failure_is_reported_and_raised_by_wait(state: ExperimentState) -> None:
    state.start_training("bad", config=TrainConfig(epochs=1, batch_size=32), subset=64, num_classes=1, **TINY)
    with pytest.raises(IndexError):
        state.wait(120)
    assert state.training.status == "error" and state.training.message.startswith("training bad")
    assert "bad" not in state.models
    with pytest.raises(TrainingError, match="nothing to resume"):
        state.resume_training()
    with pytest.raises(TrainingError, match="no training to stop"):
        state.stop_training()


def test_inline_training_failure_raises(state: ExperimentState) -> None:
    with pytest.raises(IndexError):
        state.start_training("bad", config=TrainConfig(epochs=1, batch_size=32), subset=64, num_classes=1,
                             background=False, **TINY)
    assert "bad" not in state.models and state.training.status == "error"


@pytest.mark.parametrize("kwargs,match", [({"width": 0}, "cannot run on 28×28 images"),
                                          ({"name": "a b"}, "model name"), ({"subset": -5}, "subset"),
                                          ({"variant": "marked"}, "needs a marker")])
def test_bad_training_requests_are_refused_before_anything_runs(state: ExperimentState, kwargs, match) -> None:
    args = {"config": FAST, "subset": 64, **TINY, **kwargs}
    with pytest.raises(InputError, match=match):
        state.start_training(background=False, **args)
    assert state.training.status == "idle" and not state.models


def test_start_while_paused_is_refused(state: ExperimentState) -> None:
    state.training.observe(_once(state.pause_training), "progress")
    state.start_training("p", config=FAST, subset=64, **TINY)
    state.wait(120)
    with pytest.raises(TrainingError, match="paused"):
        state.start_training("q", config=FAST, subset=64, **TINY)
    state.resume_training(background=False)
    assert list(state.models) == ["p"]


def test_add_model_wants_an_entry(state: ExperimentState) -> None:
    with pytest.raises(InputError, match="expects a ModelEntry"):
        state.add_model("baseline")


def test_save_to_an_unwritable_folder_is_a_checkpoint_error(state: ExperimentState, tmp_path) -> None:
    state.add_model(entry())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CheckpointError, match="cannot write the checkpoint"):
        state.save(blocker / "sub")
