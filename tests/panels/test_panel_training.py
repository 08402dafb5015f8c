"""TrainingController: buttons drive the state's training; curves and metrics follow."""
from __future__ import annotations

import time

import torch

from labkit.data import CornerSquare
from labkit.panels import TrainingController
from labkit.session import ExperimentState


def wait_for(cond, timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_start_trains_and_shows_curves_and_metrics(state: ExperimentState) -> None:
    p = TrainingController(state, epochs=2, width=4, batch_size=32, background=False)
    assert p.pause.disabled and p.stop.disabled and not p.start.disabled
    assert p.confusion.layout.display == "none"  # empty images are hidden, not broken icons
    p.epochs.value = 2
    p.lr.value = 3e-3
    p.seed.value = 1
    p.start.click()
    assert state.training.status == "done", p.status.text
    entry = state.models["baseline"]
    assert entry.config["epochs"] == 2 and abs(entry.config["lr"] - 3e-3) < 1e-9 and entry.config["seed"] == 1
    assert entry.kwargs == {"width": 4}
    assert p.progress.value == 1.0 and p.progress.bar_style == "success"
    assert p.curves.value[:4] == b"\x89PNG" and p.confusion.value[:4] == b"\x89PNG"
    assert "sensitivity" in p.metrics.value and "AUROC" in p.metrics.value
    assert "epoch 2/2" in p.epoch_label.value
    assert "done after 2 epoch" in p.status.text


def test_variant_sets_the_default_name_and_subset(state: ExperimentState) -> None:
    state.marker = CornerSquare(size=4)
    p = TrainingController(state, epochs=1, width=4, batch_size=32, background=False)
    p.variant.value = "marked"
    assert p.name.value == "shortcut"
    p.subset.value = 40
    p.start.click()
    entry = state.models["shortcut"]
    assert entry.variant == "marked" and entry.marker == CornerSquare(size=4)
    assert "test (marked)" in p.metrics.value
    p.name.value = "my-model"
    p.variant.value = "random-labels"
    assert p.name.value == "my-model"  # a typed name is kept


def test_stop_during_training_keeps_a_consistent_model(state: ExperimentState) -> None:
    p = TrainingController(state, epochs=50, width=4, batch_size=8, background=True)
    p.start.click()
    assert wait_for(lambda: state.training.progress > 0.0)
    assert not p.stop.disabled and not p.pause.disabled and p.start.disabled
    p.stop.click()
    state.wait(60)
    assert wait_for(lambda: state.training.status == "stopped")
    assert "baseline" in state.models and state.active_model == "baseline"
    assert state.training.status == "stopped" and "stopped" in p.status.text
    assert not state.training.active and p.stop.disabled and not p.start.disabled
    assert p.progress.bar_style == "warning"
    assert wait_for(lambda: "Clinical metrics of baseline" in p.metrics_title.value)  # shown from the thread too
    assert wait_for(lambda: p.confusion.value[:4] == b"\x89PNG")  # charts: drawn on their worker thread
    assert p.confusion.layout.display is None
    x, _ = state.selection.current_image()
    assert state.model()(x).shape == (1, 2)


def test_pause_and_resume(state: ExperimentState) -> None:
    p = TrainingController(state, epochs=30, width=4, batch_size=8, background=True)
    p.start.click()
    assert wait_for(lambda: state.training.progress > 0.0)
    p.pause.click()
    assert wait_for(lambda: state.training.status == "paused")
    assert p.pause.description == "Resume" and not p.stop.disabled
    done_at_pause = state.training.progress
    p.pause.click()  # resume
    assert wait_for(lambda: state.training.progress > done_at_pause)
    p.stop.click()
    state.wait(60)
    assert wait_for(lambda: state.training.status == "stopped")
    assert "baseline" in state.models


def test_errors_go_to_the_status_line(state: ExperimentState) -> None:
    p = TrainingController(state, epochs=1, width=4, background=False)
    p.variant.value = "marked"  # no marker set yet
    p.start.click()
    assert p.status.kind == "error" and "needs a marker" in p.status.text
    assert not state.models
    p.stop.click()  # nothing to stop
    assert "no training to stop" in p.status.text
    empty = ExperimentState(device="cpu")
    q = TrainingController(empty, background=False)
    q.start.click()
    assert "no data loaded" in q.status.text


def test_shows_metrics_of_a_loaded_model(trained_state: ExperimentState) -> None:
    p = TrainingController(trained_state, background=False)
    assert "Clinical metrics of baseline" in p.metrics_title.value
    assert p.confusion.value[:4] == b"\x89PNG" and p.curves.value[:4] == b"\x89PNG"


def test_a_stopped_run_continues_as_a_new_run_from_its_weights(state: ExperimentState) -> None:
    p = TrainingController(state, epochs=1, width=4, batch_size=32, subset=64, background=False)
    assert p.resume_model.disabled  # no model yet
    p.start.click()
    assert "baseline" in state.models and not p.resume_model.disabled
    before = {k: v.clone() for k, v in state.model().state_dict().items()}
    p.resume_model.click()
    assert p.status.kind == "ok", p.status.text
    after = state.model().state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert len(state.models["baseline"].history["epochs"]) == 1 and "baseline: done" in p.status.text


def test_bring_your_own_model(state: ExperimentState, tmp_path) -> None:
    from labkit.models import build_model

    p = TrainingController(state, background=False)
    p.add_user.click()  # nothing filled in
    assert p.status.kind == "error" and "either a weights file" in p.status.text and not state.models
    torch.save(build_model("resnet18").state_dict(), tmp_path / "course.pt")
    p.user_weights.value, p.user_arch.value, p.user_name.value = str(tmp_path / "course.pt"), "resnet18", "course"
    p.add_user.click()
    assert p.status.kind == "ok" and state.active_model == "course", p.status.text
    assert "Clinical metrics of course" in p.metrics_title.value
