"""What to train and how a trained model is scored — written once for the state, the CLI and the zoo.

A :class:`TrainingPlan` names the model, its architecture, the data variant
(clean, marked with a shortcut marker, or permuted labels), the recipe and an
optional subset. :func:`build_trainer` turns a plan and the data into a ready
:class:`~labkit.train.Trainer` (every input checked before anything runs), and
:func:`finish_entry` turns the trained model into a scored
:class:`~labkit.checkpoint.ModelEntry`: the operating threshold chosen on the
validation split, clinical metrics on the test split (clean, and marked when the
model was trained on a marker).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch

from labkit.checkpoint import ModelEntry
from labkit.data import LabData, MarkerSpec
from labkit.errors import InputError, LabkitError
from labkit.models import build_model
from labkit.train import TrainConfig, Trainer, choose_threshold, clinical_metrics, evaluate

#: data variant → the model name it gets by default.
VARIANT_NAMES = {"clean": "baseline", "marked": "shortcut", "random-labels": "random-labels"}
VARIANTS = tuple(VARIANT_NAMES)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class TrainingPlan:
    """One training run: model name, architecture, data variant, recipe, subset, marker.

    ``stop_at_train_acc`` ends training early once an epoch reaches that training
    accuracy (a random-label model has then memorized its labels). With
    ``validate=False`` no validation pass runs during training. ``initial_weights``
    (a state_dict) starts from a trained model instead of a fresh one.
    """

    name: str = ""
    arch: str = "small_cnn"
    variant: str = "clean"
    config: TrainConfig = field(default_factory=TrainConfig)
    subset: int | None = None
    marker: MarkerSpec | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    stop_at_train_acc: float | None = None
    validate: bool = True
    initial_weights: dict[str, torch.Tensor] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise InputError(f"unknown data variant {self.variant!r}; choose one of {VARIANTS}")
        if not self.name:
            object.__setattr__(self, "name", VARIANT_NAMES[self.variant])
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise InputError(f"model name {self.name!r} must be letters, digits, '_', '-' or '.' (it names a file)")
        if self.subset is not None and (isinstance(self.subset, bool) or not isinstance(self.subset, int)
                                        or self.subset < 1):
            raise InputError(f"subset must be a number of training images ≥ 1 (or None/0 for all), got {self.subset!r}")
        if self.variant == "marked" and self.marker is None:
            raise InputError("training on marked data needs a marker: set one first (state.marker = CornerSquare())")

    @property
    def stored_marker(self) -> MarkerSpec | None:
        """The marker that goes with the trained model (only for marked data)."""
        return self.marker if self.variant == "marked" else None


def training_splits(plan: TrainingPlan, data: LabData) -> tuple[Any, Any]:
    """The (train, validation) splits of ``plan`` (validation None when not validating)."""
    marker = plan.stored_marker
    if marker is not None:
        marker.check_fits(data.size)
    train = data["train"] if marker is None else data["train"].with_marker(marker)
    if plan.subset is not None:
        train = train.subset(plan.subset, seed=plan.config.seed)
    if plan.variant == "random-labels":
        train = train.with_permuted_labels(seed=plan.config.seed)
    val = None
    if plan.validate and "val" in data.splits:
        val = data["val"] if marker is None else data["val"].with_marker(marker)
    return train, val


def build_trainer(plan: TrainingPlan, data: LabData) -> Trainer:
    """A ready trainer for ``plan`` on ``data``'s device (the model is built and checked here)."""
    train, val = training_splits(plan, data)
    torch.manual_seed(plan.config.seed)
    model = build_model(plan.arch, **plan.model_kwargs).to(data.device)
    if plan.initial_weights is not None:
        model.load_state_dict(plan.initial_weights)
    try:
        with torch.no_grad():
            model.eval()(train.images[:1])
    except Exception as exc:  # noqa: BLE001 — a model that cannot take these images
        raise InputError(f"model {plan.arch!r} with {plan.model_kwargs or 'default settings'} cannot run on "
                         f"{data.size}×{data.size} images ({type(exc).__name__}); expected positive sizes such as "
                         "width=16 and images at least as large as the model's pooling needs") from None
    return Trainer(model, train, val, plan.config)


def finish_entry(plan: TrainingPlan, trainer: Trainer, data: LabData) -> ModelEntry:
    """The trained model as a scored :class:`ModelEntry` (threshold on validation, test metrics)."""
    model = trainer.model.eval()
    history = trainer.history
    entry = ModelEntry(name=plan.name, arch=plan.arch, model=model, kwargs=dict(plan.model_kwargs),
                       variant=plan.variant, config=plan.config.as_dict(), history=history.as_dict(),
                       marker=plan.stored_marker)
    if history.epochs:
        entry.metrics["train_acc"] = history.epochs[-1].train_acc
    score_entry(entry, data)
    return entry


def score_entry(entry: ModelEntry, data: LabData) -> None:
    """Set ``entry.threshold`` on validation and ``entry.metrics`` on the test split, in place."""
    marker = entry.marker
    if "val" in data.splits:
        pv = evaluate(entry.model, data["val"] if marker is None else data["val"].with_marker(marker))
        try:
            entry.threshold = choose_threshold(pv.labels, pv.scores)
        except LabkitError:
            entry.threshold = 0.5
    if "test" in data.splits:
        pt = evaluate(entry.model, data["test"])
        entry.metrics["test"] = clinical_metrics(pt.labels, pt.scores, entry.threshold).as_dict()
        if marker is not None:
            pm = evaluate(entry.model, data["test"].with_marker(marker))
            entry.metrics["test_marked"] = clinical_metrics(pm.labels, pm.scores, entry.threshold).as_dict()


def summary(entry: ModelEntry) -> str:
    """One line: how the run ended (done, or stopped early) and the model's test AUROC and balanced accuracy."""
    m = entry.metrics.get("test", {})
    epochs = len(entry.history.get("epochs", []))
    status = "stopped" if epochs < entry.config.get("epochs", epochs) else "done"
    part = entry.history.get("partial_epoch")
    if part:
        status += f" ({part['batches']} of {part['of']} batches of epoch {part['epoch']} kept in the weights)"
    return (f"{entry.name}: {status} after {epochs} epoch(s); test AUROC {m.get('auroc', float('nan')):.3f}, "
            f"balanced accuracy {m.get('balanced_accuracy', float('nan')):.3f}")


__all__ = ["TrainingPlan", "VARIANTS", "VARIANT_NAMES", "build_trainer", "finish_entry", "score_entry",
           "training_splits", "summary"]
