"""Does the saliency fall on a region? Shortcut markers, lesions, expert masks.

All three metrics use the absolute value of the maps (saliency magnitude,
whatever its sign), take maps ``(N, H, W)`` and a mask ``(H, W)`` shared by all
images or ``(N, H, W)`` (bool or 0/1), and return one value per image.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from labkit.errors import InputError
from labkit.evaluate._checks import check_fraction, check_mask, check_maps


def region_fraction(maps: torch.Tensor, mask: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Share of the absolute saliency inside the mask: ``Σ_mask |s| / (Σ |s| + eps)``.

    Returns ``(N,)`` float64 in [0, 1]. The shortcut-region attribution fraction of
    the reference lab (occlusion ≈ 1.00, Grad-CAM 0.02 on the corner-marker model).
    An all-zero map gives 0.
    """
    maps = check_maps(maps)
    mask = check_mask(mask, maps)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps < 0:
        raise InputError(f"eps must be a small number >= 0, got {eps!r}")
    a = maps.detach().abs().double()
    inside = (a * mask).flatten(1).sum(1)
    total = a.flatten(1).sum(1)
    return inside / (total + eps) if eps > 0 else torch.where(total > 0, inside / total, torch.zeros_like(total))


def _topk_mask(a: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Bool ``(N, M)``: the ``k[i]`` largest entries of each row (ties: lower index first)."""
    order = a.argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(a.shape[1], device=a.device).expand_as(order))
    return rank < k[:, None]


def topk_iou(maps: torch.Tensor, mask: torch.Tensor, p: float | None = None) -> torch.Tensor:
    """IoU between the top ``p`` fraction of pixels (by ``|map|``) and the mask.

    ``p`` is a fraction in (0, 1] (0.05 = top 5 %). By default each image uses its
    mask's own area fraction, so a perfect map scores 1. The number of pixels kept
    is ``max(1, round(p · H·W))``; ties are broken in row-major pixel order.
    Returns ``(N,)`` float64.
    """
    maps = check_maps(maps)
    mask = check_mask(mask, maps)
    n, h, w = maps.shape
    area = mask.flatten(1).sum(1)
    if p is None:
        if (area == 0).any():
            raise InputError("a mask is empty: pass p explicitly, or give every image a non-empty mask")
        k = area
    else:
        k = torch.full((n,), max(1, round(check_fraction(p, "p") * h * w)), device=maps.device)
    top = _topk_mask(maps.detach().abs().reshape(n, -1), k.to(maps.device))
    m = mask.reshape(n, -1)
    inter = (top & m).sum(1).double()
    union = (top | m).sum(1).double()
    return inter / union


def pointing_game(maps: torch.Tensor, mask: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    """Hit (True) when the pixel of largest ``|map|`` lies inside the mask dilated by ``tolerance`` pixels.

    Dilation is square (a pixel within ``tolerance`` rows and columns of the mask
    counts). With ties for the maximum, the first pixel in row-major order is
    used. Returns a bool tensor ``(N,)``.

    References
    ----------
    Zhang, J. et al. (2018). Top-down Neural Attention by Excitation Backprop. IJCV.
    """
    maps = check_maps(maps)
    mask = check_mask(mask, maps)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 0:
        raise InputError(f"tolerance must be an int >= 0 (pixels), got {tolerance!r}")
    n = maps.shape[0]
    if (mask.reshape(n, -1).sum(1) == 0).any():
        raise InputError("a mask is empty: the pointing game needs a non-empty mask for every image "
                         "(leave out images without a lesion or marker)")
    if tolerance > 0:
        mask = F.max_pool2d(mask[:, None].float(), 2 * tolerance + 1, stride=1, padding=tolerance)[:, 0] > 0
    best = maps.detach().abs().reshape(n, -1).argmax(1)
    return mask.reshape(n, -1).gather(1, best[:, None])[:, 0]
