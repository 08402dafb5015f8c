"""Method agreement: where two saliency methods point to the same pixels, image by image,
and the agreement matrix across several methods.

Three scores per image, all on ``|map|`` by default:

* ``spearman`` — rank correlation of all pixels (1: same order, 0: unrelated);
* ``topk_iou`` — IoU of the top ``k`` % pixels of each map;
* ``threshold_iou`` — IoU of the pixels at or above ``threshold`` after each map is
  min-max scaled to [0, 1] (a constant map keeps no pixel).

References
----------
J. Adebayo, J. Gilmer, M. Muelly, I. Goodfellow, M. Hardt, B. Kim. "Sanity Checks for
Saliency Maps." NeurIPS, 2018 (rank correlation of maps).
A. Saporta et al. "Benchmarking saliency methods for chest X-ray interpretation."
Nature Machine Intelligence 4, 2022 (thresholded-map IoU).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import nn

from labkit.errors import InputError
from labkit.evaluate._checks import check_fraction, check_maps
from labkit.evaluate.localization import _topk_mask
from labkit.sanity.similarity import spearman

AGREEMENT_METRICS: tuple[str, ...] = ("spearman", "topk_iou", "threshold_iou")


@dataclass(frozen=True)
class Agreement:
    """Per-image agreement of two map batches: each score is ``(N,)`` float64 (NaN where undefined)."""

    spearman: torch.Tensor
    topk_iou: torch.Tensor
    threshold_iou: torch.Tensor

    def score(self, metric: str = "spearman") -> torch.Tensor:
        """The ``(N,)`` scores of ``metric``."""
        if metric not in AGREEMENT_METRICS:
            raise InputError(f"unknown agreement metric {metric!r}; choose one of {list(AGREEMENT_METRICS)}")
        return getattr(self, metric)

    def order(self, metric: str = "spearman") -> list[int]:
        """Image indices from the strongest agreement to the strongest disagreement (NaN last)."""
        s = self.score(metric).tolist()
        return sorted(range(len(s)), key=lambda i: (math.isnan(s[i]), -s[i] if not math.isnan(s[i]) else 0.0))


def agreement(maps_a: torch.Tensor, maps_b: torch.Tensor, *, k: float = 10.0, threshold: float = 0.5,
              absolute: bool = True) -> Agreement:
    """Agreement of two map batches ``(N, H, W)`` of the same images, image by image.

    Parameters
    ----------
    maps_a, maps_b:
        Saliency maps of two methods (or two models) for the same images.
    k:
        Percent of pixels kept for ``topk_iou`` (10 = the top 10 %).
    threshold:
        Cut-off in (0, 1] on min-max scaled maps for ``threshold_iou``.
    absolute:
        Compare ``|map|`` (default) or the signed values.
    """
    a, b = check_maps(maps_a, name="maps_a"), check_maps(maps_b, name="maps_b")
    if a.shape != b.shape:
        raise InputError(f"maps_a and maps_b must have the same shape (one map per image), got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}; resize or use the same images")
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < k <= 100:
        raise InputError(f"k must be a percentage in (0, 100], got {k!r}")
    threshold = check_fraction(threshold, "threshold")
    a, b = a.detach().double(), b.detach().to(a.device).double()
    if absolute:
        a, b = a.abs(), b.abs()
    n = a.shape[0]
    flat_a, flat_b = a.reshape(n, -1), b.reshape(n, -1)
    kk = torch.full((n,), max(1, round(k / 100 * flat_a.shape[1])), device=a.device)
    top = _iou(_topk_mask(flat_a, kk), _topk_mask(flat_b, kk))
    thr = _iou(_above(flat_a, threshold), _above(flat_b, threshold))
    return Agreement(spearman=spearman(a, b).cpu(), topk_iou=top.cpu(), threshold_iou=thr.cpu())


def _above(x: torch.Tensor, threshold: float) -> torch.Tensor:
    lo, hi = x.amin(1, keepdim=True), x.amax(1, keepdim=True)
    span = hi - lo
    return ((x - lo) >= threshold * span) & (span > 0)


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    union = (a | b).sum(1).double()
    return torch.where(union > 0, (a & b).sum(1).double() / union.clamp(min=1), torch.nan)


@dataclass(frozen=True)
class AgreementMatrix:
    """Pairwise agreement of several methods on the same images.

    ``values[i, j]`` is the mean over images (NaN left out) of ``metric`` between
    ``methods[i]`` and ``methods[j]``; ``per_image[i, j]`` holds the ``(N,)`` scores.
    """

    methods: list[str]
    metric: str
    values: torch.Tensor
    per_image: torch.Tensor


def agreement_matrix(maps: Mapping[str, torch.Tensor], metric: str = "spearman", **kwargs: object) -> AgreementMatrix:
    """The :class:`AgreementMatrix` of the map batches ``{method: (N, H, W)}`` (``kwargs`` go to :func:`agreement`)."""
    if metric not in AGREEMENT_METRICS:
        raise InputError(f"unknown agreement metric {metric!r}; choose one of {list(AGREEMENT_METRICS)}")
    names = list(maps)
    if len(names) < 2:
        raise InputError(f"an agreement matrix needs maps of at least two methods, got {names}")
    n = check_maps(maps[names[0]], name=f"maps of {names[0]!r}").shape[0]
    per = torch.full((len(names), len(names), n), math.nan, dtype=torch.float64)
    for i, a in enumerate(names):
        for j in range(i, len(names)):
            s = agreement(maps[a], maps[names[j]], **kwargs).score(metric)
            per[i, j] = per[j, i] = s
    return AgreementMatrix(methods=names, metric=metric, values=per.nanmean(2), per_image=per)


def method_maps(model: nn.Module, x: torch.Tensor, target: int | Sequence[int] | torch.Tensor,
                methods: Sequence[str], params: Mapping[str, Mapping[str, object]] | None = None
                ) -> dict[str, torch.Tensor]:
    """``{method: maps}`` of each method for images ``x`` (``params[method]`` are its parameters)."""
    from labkit.explain import explain

    params = dict(params or {})
    extra = sorted(set(params) - set(methods))
    if extra:
        raise InputError(f"params has entries for {extra}, which are not in methods {list(methods)}")
    return {m: explain(model, x, target, m, **dict(params.get(m, {}))).maps.cpu() for m in methods}
