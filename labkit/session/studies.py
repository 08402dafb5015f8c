"""Cached per-image results of the experiment: predictions, class probabilities, attributions.

Every value lives in the experiment's :class:`~labkit.session.cache.LockedCache`
under a key naming the model (name and version), the image and the parameters,
so a model change (which clears the cache) never shows a stale map. The panels
and scripts call the same functions.

Slow methods declare a quick preview next to their parameters (``Param.coarse``:
fewer samples or steps, a larger stride); :func:`progressive_attribution` yields
that preview first and then the full map, so a view paints something at once and
a caller that moves on simply stops iterating.
"""
from __future__ import annotations

import numbers
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

import torch

from labkit.errors import InputError
from labkit.explain import Attribution, explain, get_explainer
from labkit.session.jobs import abort_forward
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


def _attr_key(state: "ExperimentState", image_id: str, target: int, method: str, params: dict[str, Any]) -> tuple:
    return ("attr", state.active_model, state.model_version, image_id, target, method, tuple(sorted(params.items())))


def attribution(state: "ExperimentState", x: torch.Tensor, image_id: str, method: str,
                params: dict[str, Any], target: int | None = None) -> Computed:
    """The ``method`` map of image ``x`` for ``target`` (default: the selected class), with its compute
    time (cached)."""
    model = state.model()
    target = state.selection.target if target is None else target

    def compute() -> tuple[Attribution, float]:
        t0 = time.perf_counter()
        attr = explain(model, x, target, method, **params)
        return attr, (time.perf_counter() - t0) * 1000

    (attr, ms), cached = state.cache.get_or_compute(_attr_key(state, image_id, target, method, params), compute)
    return Computed(attr, ms, cached)


@dataclass(frozen=True)
class Stage:
    """One stage of a progressive map: the computed map, whether it is the full one, and its caption
    ("preview: 8 samples", "full: 25 samples"; empty for methods without a preview)."""

    computed: Computed
    final: bool
    caption: str


def preview_params(method: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """``params`` with the coarse values of ``method``'s preview, or ``None`` when the method has no preview
    or the chosen values are already as cheap (e.g. ``n_samples`` ≤ 8 for SmoothGrad)."""
    coarse = {}
    for p in get_explainer(method).params:
        value = params.get(p.name, p.default)
        if p.coarse is None or not isinstance(value, numbers.Real):  # a bad value: the full stage says why
            continue
        if value > p.coarse if p.coarse < p.default else value < p.coarse:
            coarse[p.name] = p.coarse
    return {**params, **coarse} if coarse else None


def stage_caption(method: str, params: dict[str, Any], final: bool) -> str:
    """"preview: 8 samples" / "full: 25 samples" from the parameters that have a coarse value."""
    parts = [_quantity(p.name, params.get(p.name, p.default)) for p in get_explainer(method).params
             if p.coarse is not None]
    return f"{'full' if final else 'preview'}: {', '.join(parts)}" if parts else ""


def _quantity(name: str, value: Any) -> str:
    """``n_samples=8`` → "8 samples", ``steps=32`` → "32 steps", ``stride=4`` → "stride 4",
    ``channel_fraction=0.25`` → "25% of channels"."""
    if name.endswith("_fraction"):
        return f"{value:.0%} of {name.removesuffix('_fraction')}s"
    if name.startswith("n_"):
        return f"{value} {name[2:]}"
    return f"{value} {name}" if name.endswith("s") else f"{name} {value}"


def progressive_attribution(state: "ExperimentState", x: torch.Tensor, image_id: str, method: str,
                            params: dict[str, Any], stop: Callable[[], bool] | None = None) -> Iterator[Stage]:
    """The preview of the ``method`` map (when it has one), then the full map, each cached like
    :func:`attribution`; only the full map when it is cached already.

    The target is read once, so both stages explain the same class. A preview that these parameters
    do not allow (occlusion's coarse stride above a small patch) is skipped. The full stage equals
    :func:`attribution` with ``params`` exactly (the same cache entry). Once ``stop()`` is true the
    full stage after a preview is abandoned at the model's next forward pass: it raises
    :class:`~labkit.session.jobs.Cancelled` and nothing is cached.
    """
    target = int(state.selection.target)
    coarse = preview_params(method, params)
    previewed = False
    if coarse is not None and _attr_key(state, image_id, target, method, params) not in state.cache:
        try:
            first = attribution(state, x, image_id, method, coarse, target)
        except InputError:
            pass  # the full stage reports the problem if the chosen parameters have one too
        else:
            yield Stage(first, False, stage_caption(method, coarse, final=False))
            previewed = True
    with abort_forward(state.model(), stop if previewed else None):
        full = attribution(state, x, image_id, method, params, target)
    yield Stage(full, True, stage_caption(method, params, final=True))


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


__all__ = ["Computed", "PredictionView", "Stage", "attribution", "predictions", "prediction", "preview_params",
           "probabilities", "progressive_attribution", "stage_caption"]
