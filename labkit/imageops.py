"""Small image operations shared by the explainers and the metrics."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from labkit.errors import InputError


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur a batch ``(N, C, H, W)`` with a separable Gaussian of ``sigma`` pixels.

    Reflect padding (the border is mirrored, so no dark or bright frame appears);
    the kernel radius is ``ceil(3 sigma)``, clamped to what the image size allows.
    """
    if not math.isfinite(sigma) or sigma <= 0:
        raise InputError(f"blur sigma must be a positive number of pixels, got {sigma}")
    radius = max(1, min(math.ceil(3 * sigma), x.shape[-1] - 1, x.shape[-2] - 1))
    r = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-0.5 * (r / sigma) ** 2)
    g = g / g.sum()
    c = x.shape[1]
    out = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(out, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


__all__ = ["gaussian_blur"]
