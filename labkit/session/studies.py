"""Cached per-image results of the experiment: predictions, class probabilities, attributions.

Every value lives in the experiment's :class:`~labkit.session.cache.LockedCache`
under a key naming the model (name and version), the image and the parameters,
so a model change (which clears the cache) never shows a stale map. The panels
and scripts call the same functions.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from labkit.explain import Attribution, explain
from labkit.train import Predictions, evaluate

if TYPE_CHECKING:
    from labkit.data import Split
    from labkit.session.experiment import ExperimentState


@dataclass(frozen=True)
class Computed:
    """An attribution with the time it took to compute and whether it came from the cache."""

    attribution: Attribution
    ms: float
    cached: bool


def predictions(state: "ExperimentState", split: "Split") -> Predictions:
    """Predictions of the active model on ``split`` (cached)."""
    key = ("predictions", state.active_model, state.model_version, split.name, repr(split.marker), len(split))
    value, _ = state.cache.get_or_compute(key, lambda: evaluate(state.model(), split))
    return value


def probabilities(state: "ExperimentState", x: torch.Tensor, image_id: str) -> torch.Tensor:
    """Class probabilities ``(K,)`` of the active model for one image (cached by ``image_id``)."""
    model = state.model()

    def compute() -> torch.Tensor:
        with torch.no_grad():
            dev = next(model.parameters()).device
            return model.eval()(x.to(dev)).softmax(1)[0].cpu()

    value, _ = state.cache.get_or_compute(("probs", state.active_model, state.model_version, image_id), compute)
    return value


def attribution(state: "ExperimentState", x: torch.Tensor, image_id: str, method: str,
                params: dict[str, Any]) -> Computed:
    """The ``method`` map of image ``x`` for the selected target class, with its compute time (cached)."""
    model, target = state.model(), state.selection.target
    key = ("attr", state.active_model, state.model_version, image_id, target, method, tuple(sorted(params.items())))

    def compute() -> tuple[Attribution, float]:
        t0 = time.perf_counter()
        attr = explain(model, x, target, method, **params)
        return attr, (time.perf_counter() - t0) * 1000

    (attr, ms), cached = state.cache.get_or_compute(key, compute)
    return Computed(attr, ms, cached)


@dataclass(frozen=True)
class PredictionView:
    """What the active model says about one image, ready to show."""

    model: str
    predicted: str
    correct: bool | None
    p_positive: float
    threshold: float
    true_label: str | None
    target: str
    p_target: float


def prediction(state: "ExperimentState", x: torch.Tensor, label: int | None, image_id: str) -> PredictionView:
    """The active model's verdict on one image at its operating threshold."""
    entry = state.models[state.active_model]
    probs = probabilities(state, x, image_id)
    names = state.require_data().class_names
    p1 = float(probs[1]) if len(probs) > 1 else float(probs[0])
    pred = int(p1 >= entry.threshold) if len(probs) == 2 else int(probs.argmax())
    target = state.selection.target
    return PredictionView(state.active_model, names[pred], None if label is None else pred == label, p1,
                          entry.threshold, None if label is None else names[label], names[target],
                          float(probs[target]))


__all__ = ["Computed", "PredictionView", "attribution", "predictions", "prediction", "probabilities"]
