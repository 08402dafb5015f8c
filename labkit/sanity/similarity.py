"""Similarity of two batches of saliency maps, one number per image.

Every function takes two tensors of the same shape ``(N, H, W)`` (``(N, M)`` flat
maps work too, except for SSIM) and returns a float64 tensor ``(N,)``. The maps
are compared as given: pass ``maps.abs()`` to compare magnitudes.

Correlations of a constant map are undefined: :func:`spearman` and
:func:`pearson` return NaN for an image where either map is constant (as
``scipy.stats`` does), so summaries should use NaN-aware means.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from labkit.errors import InputError


def _pair(a: object, b: object, *, min_dim: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Check two map batches and return them as float64 ``(N, ...)`` tensors."""
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor):
            raise InputError(f"maps {name} must be a torch.Tensor of shape (N, H, W), got {type(t).__name__}")
        if t.dim() < min_dim or t.dim() > 3:
            raise InputError(f"maps {name} must have shape (N, H, W), got {tuple(t.shape)}")
        if t.numel() == 0:
            raise InputError(f"maps {name} are empty: shape {tuple(t.shape)}")
        if t.is_complex() or t.dtype == torch.bool:
            raise InputError(f"maps {name} must be real numbers, got dtype {t.dtype}")
    assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
    if a.shape != b.shape:
        raise InputError(f"maps must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    a64, b64 = a.detach().double(), b.detach().double().to(a.device)
    for name, t in (("a", a64), ("b", b64)):
        if not torch.isfinite(t).all():
            raise InputError(f"maps {name} contain NaN or infinite values; expected finite saliency values")
    return a64, b64


def _constant(x: torch.Tensor) -> torch.Tensor:
    """``(N,)`` bool: rows of the flat batch ``x`` whose values are all equal."""
    return x.amax(dim=1) == x.amin(dim=1)


def _pearson_flat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    ac = a - a.mean(dim=1, keepdim=True)
    bc = b - b.mean(dim=1, keepdim=True)
    denom = (ac.square().sum(1) * bc.square().sum(1)).sqrt()
    r = (ac * bc).sum(1) / denom
    r = r.clamp(-1.0, 1.0)
    return torch.where(_constant(a) | _constant(b), torch.full_like(r, math.nan), r)


def rankdata(x: torch.Tensor) -> torch.Tensor:
    """Ranks ``1..M`` along the last axis of a ``(N, M)`` tensor; ties get their average rank.

    Matches ``scipy.stats.rankdata(method="average")`` row by row.
    """
    n, m = x.shape
    values, order = x.sort(dim=1, stable=True)
    new_group = torch.ones_like(values, dtype=torch.bool)
    new_group[:, 1:] = values[:, 1:] != values[:, :-1]
    group = new_group.long().cumsum(1) - 1 + torch.arange(n, device=x.device)[:, None] * m
    position = torch.arange(1, m + 1, dtype=torch.float64, device=x.device).expand(n, m)
    sums = torch.zeros(n * m, dtype=torch.float64, device=x.device).scatter_add_(0, group.flatten(), position.flatten())
    counts = torch.zeros(n * m, dtype=torch.float64, device=x.device).scatter_add_(
        0, group.flatten(), torch.ones(n * m, dtype=torch.float64, device=x.device))
    average = (sums / counts.clamp(min=1.0))[group]
    return torch.empty_like(average).scatter_(1, order, average)


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation per image, ties ranked by their average rank.

    Returns ``(N,)`` float64 in [-1, 1]; NaN where either map is constant.
    """
    a, b = _pair(a, b)
    a, b = a.flatten(1), b.flatten(1)
    r = _pearson_flat(rankdata(a), rankdata(b))
    return torch.where(_constant(a) | _constant(b), torch.full_like(r, math.nan), r)


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of the flattened maps per image (NaN where a map is constant)."""
    a, b = _pair(a, b)
    return _pearson_flat(a.flatten(1), b.flatten(1))


def _normalize01(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    span = (hi - lo).clamp(min=torch.finfo(x.dtype).tiny)
    return torch.where(hi > lo, (x - lo) / span, torch.zeros_like(x))


def _gaussian_window(size: int, sigma: float, device: torch.device) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-0.5 * (r / sigma) ** 2)
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, *, window: int = 11, sigma: float = 1.5,
         normalize: Literal["per_map", "joint"] = "per_map", k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) per image with a Gaussian window.

    Both maps are first scaled to [0, 1]: ``normalize="per_map"`` (default) scales
    each map by its own min and max, so SSIM compares structure and not the
    overall scale (a randomized network's gradients can be orders of magnitude
    smaller); ``"joint"`` uses the min and max of the pair. A constant map becomes
    all zeros. The data range is then 1, ``C1 = (k1)^2``, ``C2 = (k2)^2``, and the
    SSIM map is averaged over positions where the window fits inside the image
    (like ``skimage.metrics.structural_similarity(gaussian_weights=True,
    use_sample_covariance=False, data_range=1)``). Maps smaller than the window
    use the largest odd window that fits.

    SSIM rewards shared flat regions: two CAMs that are both zero over most of the
    image score high even when their hot spots differ (on the lab's SmallCNN a
    fully randomized model's Grad-CAM reaches SSIM ≈ 0.9 with Spearman ≈ 0), so
    read it next to :func:`spearman`.

    References
    ----------
    Wang, Z., Bovik, A. C., Sheikh, H. R., Simoncelli, E. P. (2004). Image quality
    assessment: from error visibility to structural similarity. IEEE TIP 13(4).
    """
    a, b = _pair(a, b, min_dim=3)
    if normalize not in ("per_map", "joint"):
        raise InputError(f"normalize must be 'per_map' or 'joint', got {normalize!r}")
    if window < 1 or window % 2 == 0 or sigma <= 0:
        raise InputError(f"window must be a positive odd size and sigma > 0, got window={window}, sigma={sigma}")
    n = a.shape[0]
    amin, amax = a.flatten(1).amin(1)[:, None, None], a.flatten(1).amax(1)[:, None, None]
    bmin, bmax = b.flatten(1).amin(1)[:, None, None], b.flatten(1).amax(1)[:, None, None]
    if normalize == "joint":
        amin = bmin = torch.minimum(amin, bmin)
        amax = bmax = torch.maximum(amax, bmax)
    x, y = _normalize01(a, amin, amax)[:, None], _normalize01(b, bmin, bmax)[:, None]
    size = min(window, a.shape[1] - (1 - a.shape[1] % 2), a.shape[2] - (1 - a.shape[2] % 2))
    g = _gaussian_window(size, sigma, a.device)
    kernel = (g[:, None] * g[None, :])[None, None]

    def filt(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel)

    mx, my = filt(x), filt(y)
    vx = filt(x * x) - mx * mx
    vy = filt(y * y) - my * my
    cxy = filt(x * y) - mx * my
    c1, c2 = k1 ** 2, k2 ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.reshape(n, -1).mean(1)


def topk_overlap(a: torch.Tensor, b: torch.Tensor, k_fraction: float = 0.1) -> torch.Tensor:
    """Fraction of the top-k pixels of ``a`` that are also among the top-k of ``b``.

    ``k = max(1, round(k_fraction · H·W))``; ties at the cut-off are broken by
    ``torch.topk`` (not specified), so prefer maps without large flat regions.
    """
    a, b = _pair(a, b)
    if isinstance(k_fraction, bool) or not isinstance(k_fraction, (int, float)) or not 0 < k_fraction <= 1:
        raise InputError(f"k_fraction must be a fraction in (0, 1], got {k_fraction!r}")
    a, b = a.flatten(1), b.flatten(1)
    k = max(1, round(k_fraction * a.shape[1]))
    ta = torch.zeros_like(a, dtype=torch.bool).scatter_(1, a.topk(k, dim=1).indices, True)
    tb = torch.zeros_like(b, dtype=torch.bool).scatter_(1, b.topk(k, dim=1).indices, True)
    return (ta & tb).sum(1).double() / k
