"""Deletion and insertion curves (Petsiuk et al., RISE, BMVC 2018).

Pixels are switched between two images in the order of the saliency map, most
relevant first, and the softmax probability of the target class is recorded:

* deletion: from the image to a filled image (default fill 0.0, mid-gray in
  labkit's [-1, 1] pixel scale, converted to the model's normalisation); a low area under the curve means the map put
  first what the model relies on.
* insertion: from a substrate (default a blurred copy) to the image; high is good.

The order is by the map's values as given (highest first): pass ``maps.abs()``
to rank by magnitude. Ties keep pixel order (row-major), so results are
deterministic. All steps of an image go through the model together, several
images per forward pass up to ``batch_size`` rows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from labkit.errors import InputError
from labkit.device import model_device
from labkit.imageops import gaussian_blur
from labkit.models.spec import describe
from labkit.evaluate._checks import check_maps, check_positive_int
from labkit.evaluate.metric import DELETION_AUC, INSERTION_AUC, Metric
from labkit.validation import check_images, check_targets

Fill = float | Literal["blur"] | torch.Tensor


@dataclass(frozen=True)
class PerturbationCurve:
    """Target probability as pixels are switched, per image.

    Attributes
    ----------
    fractions:
        ``(S,)`` fraction of pixels switched at each step, from 0 to 1.
    scores:
        ``(N, S)`` softmax probability of the target class.
    auc:
        ``(N,)`` trapezoid area under ``scores`` over ``fractions``.
    """

    fractions: torch.Tensor
    scores: torch.Tensor
    auc: torch.Tensor
    metric: ClassVar[Metric]


@dataclass(frozen=True)
class DeletionCurve(PerturbationCurve):
    """Deletion curve: starts at the full-image score, ends at the filled-image score (lower AUC is better)."""

    metric: ClassVar[Metric] = DELETION_AUC


@dataclass(frozen=True)
class InsertionCurve(PerturbationCurve):
    """Insertion curve: starts at the substrate score, ends at the full-image score (higher AUC is better)."""

    metric: ClassVar[Metric] = INSERTION_AUC


def _substrate(x: torch.Tensor, fill: Fill, blur_sigma: float | None) -> torch.Tensor:
    if isinstance(fill, str):
        if fill != "blur":
            raise InputError(f"fill must be a number, 'blur' or a tensor like the images, got {fill!r}")
        sigma = blur_sigma if blur_sigma is not None else max(x.shape[-2:]) / 16
        return gaussian_blur(x, sigma)
    if isinstance(fill, torch.Tensor):
        try:
            out = fill.to(device=x.device, dtype=x.dtype).expand_as(x)
        except RuntimeError as exc:
            raise InputError(f"fill tensor of shape {tuple(fill.shape)} does not broadcast to the images "
                             f"{tuple(x.shape)}") from exc
        if not torch.isfinite(out).all():
            raise InputError("fill tensor contains NaN or infinite values")
        return out
    if isinstance(fill, bool) or not isinstance(fill, (int, float)) or not math.isfinite(fill):
        raise InputError(f"fill must be a finite number, 'blur' or a tensor like the images, got {fill!r}")
    return torch.full_like(x, float(fill))


def _prepare(model: nn.Module, x: torch.Tensor, target: object, saliency: torch.Tensor, steps: int,
             batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = check_images(x, name="x", spec=describe(model))
    saliency = check_maps(saliency, name="saliency")
    n, _, h, w = x.shape
    if tuple(saliency.shape) != (n, h, w):
        raise InputError(f"saliency must have shape (N, H, W) = ({n}, {h}, {w}) to match the images "
                         f"{tuple(x.shape)}, got {tuple(saliency.shape)}")
    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size")
    device = model_device(model)[0]
    x = x.to(device)
    with torch.no_grad():
        num_classes = model(x[:1]).shape[1]
    return x, saliency.to(device), check_targets(target, n, num_classes, device=device)


def _curve(model: nn.Module, start: torch.Tensor, end: torch.Tensor, saliency: torch.Tensor,
           target: torch.Tensor, steps: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Switch pixels from ``start`` to ``end`` in saliency order; return fractions, scores, auc."""
    n, c, h, w = start.shape
    m = h * w
    fractions = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    counts = (fractions * m).round().long().to(start.device)
    order = saliency.reshape(n, m).argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(m, device=start.device).expand(n, m))
    per_forward = max(1, batch_size // (steps + 1))
    scores = []
    for i in range(0, n, per_forward):
        sl = slice(i, i + per_forward)
        switched = rank[sl, None, :] < counts[None, :, None]  # (k, S, M)
        batch = torch.where(switched.view(-1, steps + 1, 1, h, w), end[sl, None], start[sl, None])
        batch = batch.reshape(-1, c, h, w)
        t = target[sl].repeat_interleave(steps + 1)
        probs = torch.cat([F.softmax(model(batch[j:j + batch_size]), dim=1)
                           .gather(1, t[j:j + batch_size, None])[:, 0] for j in range(0, len(batch), batch_size)])
        scores.append(probs.double().view(-1, steps + 1).cpu())
    scores_t = torch.cat(scores)
    return fractions, scores_t, torch.trapezoid(scores_t, fractions, dim=1)


def _run(model: nn.Module, x: torch.Tensor, target: int | Sequence[int] | torch.Tensor, saliency: torch.Tensor,
         steps: int, fill: Fill, blur_sigma: float | None, batch_size: int,
         insertion: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x, saliency, t = _prepare(model, x, target, saliency, steps, batch_size)
            other = _substrate(x, fill, blur_sigma)
            spec = describe(model)
            if isinstance(fill, (int, float)) and not spec.lab_range:  # a gray level on the [-1, 1] scale
                other = spec.level(float(fill), x).expand_as(x)
            start, end = (other, x) if insertion else (x, other)
            return _curve(model, start, end, saliency, t, steps, batch_size)
    finally:
        model.train(was_training)


def deletion_curve(model: nn.Module, x: torch.Tensor, target: int | Sequence[int] | torch.Tensor,
                   saliency: torch.Tensor, steps: int = 32, fill: Fill = 0.0, *,
                   blur_sigma: float | None = None, batch_size: int = 512) -> DeletionCurve:
    """Remove pixels most-relevant-first and record the target probability.

    Parameters
    ----------
    model:
        Classifier returning logits; run in eval mode without gradients.
    x:
        Images ``(N, C, H, W)`` in [-1, 1].
    target:
        Class per image (int or ``(N,)``).
    saliency:
        Maps ``(N, H, W)``; pixels are removed from the highest value down.
    steps:
        Number of deletion steps; the curve has ``steps + 1`` points at fractions
        ``0, 1/steps, ..., 1`` of the pixels (each rounded to whole pixels).
    fill:
        Value of removed pixels: a number (default 0.0, mid-gray), ``"blur"`` (a
        Gaussian-blurred copy, ``blur_sigma`` defaulting to max(H, W)/16), or a
        tensor broadcastable to ``x``.
    batch_size:
        Most perturbed images per forward pass.

    Returns
    -------
    DeletionCurve
        ``scores[:, 0]`` is the full-image probability, ``scores[:, -1]`` that of
        the completely filled image; lower ``auc`` is better.

    Notes
    -----
    Removed pixels make images the model never saw, and the model's reaction to
    the fill itself enters the curve. On the lab's 64-px SmallCNN an all-gray
    image scores p(pneumonia) ≈ 1 (gray reads as an opacity) while scattered gray
    pixels push it towards "normal", so a random map gets a deletion AUC as low
    as the gradient's. Compare against a random-map control, per class, and with
    ``fill="blur"``.

    References
    ----------
    Petsiuk, V., Das, A., Saenko, K. (2018). RISE: Randomized Input Sampling for
    Explanation of Black-box Models. BMVC.
    """
    f, s, a = _run(model, x, target, saliency, steps, fill, blur_sigma, batch_size, insertion=False)
    return DeletionCurve(f, s, a)


def insertion_curve(model: nn.Module, x: torch.Tensor, target: int | Sequence[int] | torch.Tensor,
                    saliency: torch.Tensor, steps: int = 32, fill: Fill = "blur", *,
                    blur_sigma: float | None = None, batch_size: int = 512) -> InsertionCurve:
    """Insert pixels most-relevant-first into a substrate and record the target probability.

    The mirror of :func:`deletion_curve`: the substrate is ``fill`` (default a
    blurred copy of the image; a number gives a constant image) and pixels of
    ``x`` are copied in from the highest saliency down. ``scores[:, 0]`` is the
    substrate's probability and ``scores[:, -1]`` the full image's; higher
    ``auc`` is better.

    References
    ----------
    Petsiuk, V., Das, A., Saenko, K. (2018). RISE. BMVC.
    """
    f, s, a = _run(model, x, target, saliency, steps, fill, blur_sigma, batch_size, insertion=True)
    return InsertionCurve(f, s, a)
