"""Procedural chest-like phantom images with ground-truth lesion masks.

Each image has two lung fields, ribs, a heart shadow, spine and soft tissue;
"pneumonia" images get patchy opacities inside the lungs, and the per-image lesion
mask marks exactly those. It is the offline demo and the ground truth for
localization metrics (PneumoniaMNIST has no masks). Seeded and deterministic.
It is never used in place of real data unless asked for by name.
"""
from __future__ import annotations

import math

import torch

from labkit.data.split import LabData, Split
from labkit.device import resolve_device
from labkit.errors import InputError

PHANTOM_SPLITS = {"train": 2000, "val": 300, "test": 300}


def _ellipse(yy: torch.Tensor, xx: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor,
             ry: torch.Tensor, rx: torch.Tensor) -> torch.Tensor:
    """Soft-edged ellipse indicator, batched: centers/radii are (N, 1, 1)."""
    d = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
    return torch.sigmoid((1.0 - d) * 12.0)


def make_phantom(n: int, size: int = 64, seed: int = 0, pneumonia_fraction: float = 0.5
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``images (n, 1, size, size)`` in [-1, 1], ``labels (n,)``, ``masks (n, size, size)``.

    Masks are all False for normal images (label 0).
    """
    if n < 1 or not 16 <= size <= 256:
        raise InputError(f"phantom needs n ≥ 1 and 16 ≤ size ≤ 256, got n={n}, size={size}")
    if not 0.0 <= pneumonia_fraction <= 1.0:
        raise InputError(f"pneumonia_fraction must be in [0, 1], got {pneumonia_fraction}")
    g = torch.Generator().manual_seed(seed)

    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(*(shape or (n, 1, 1)), generator=g)

    lin = torch.linspace(0, 1, size)
    yy, xx = lin.view(1, size, 1), lin.view(1, 1, size)
    labels = (torch.rand(n, generator=g) < pneumonia_fraction).long()
    body = _ellipse(yy, xx, u(0.52, 0.58), u(0.48, 0.52), u(0.50, 0.56), u(0.44, 0.50))
    img = 0.35 * body
    lung_cy, lung_ry, lung_rx = u(0.45, 0.52), u(0.26, 0.32), u(0.13, 0.17)
    lungs = []
    for side in (-1, 1):
        cx = 0.5 + side * u(0.17, 0.21)
        lungs.append(_ellipse(yy, xx, lung_cy, cx, lung_ry, lung_rx))
    lung = torch.clamp(lungs[0] + lungs[1], 0, 1)
    img = img - 0.45 * lung
    ribs = 0.5 + 0.5 * torch.cos(2 * math.pi * (yy * u(7.0, 9.0) + 0.15 * ((xx - 0.5) * 4) ** 2 + u(0, 1)))
    img = img + 0.12 * ribs * lung
    heart = _ellipse(yy, xx, u(0.60, 0.66), u(0.53, 0.58), u(0.13, 0.17), u(0.12, 0.16))
    spine = torch.sigmoid((0.035 - (xx - 0.5).abs()) * 60.0) * body
    img = img + 0.35 * heart + 0.25 * spine
    # Lesions: 1–3 Gaussian blobs inside a lung, pneumonia images only.
    lesion = torch.zeros(n, size, size)
    for _ in range(3):
        present = (labels == 1).float().view(n, 1, 1) * (torch.rand(n, 1, 1, generator=g) < 0.7).float()
        side = torch.where(torch.rand(n, 1, 1, generator=g) < 0.5, -1.0, 1.0)
        cy = lung_cy + u(-0.15, 0.18)
        cx = 0.5 + side * u(0.14, 0.24)
        r = u(0.05, 0.09)
        blob = torch.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r ** 2)))
        lesion = torch.maximum(lesion, blob * present)
    # Pneumonia images always get at least one lesion.
    need = (labels == 1) & (lesion.flatten(1).amax(1) < 0.5)
    if need.any():
        cy, cx = lung_cy[need], 0.5 + u(0.16, 0.2)[need]
        lesion[need] = torch.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 0.07 ** 2)))
    lesion = lesion * lung
    texture = torch.rand(n, size, size, generator=g)
    img = img + 0.55 * lesion * (0.7 + 0.3 * texture)
    img = img + 0.04 * torch.randn(n, size, size, generator=g)
    img = (img - 0.05).clamp(-1, 1)
    masks = lesion > 0.3
    return img.unsqueeze(1).float(), labels, masks


def load_phantom(size: int = 64, seed: int = 0, device: str | torch.device = "auto",
                 counts: dict[str, int] | None = None) -> LabData:
    """The phantom data set as :class:`LabData` (train/val/test, each with lesion masks)."""
    dev = resolve_device(device)
    counts = counts or PHANTOM_SPLITS
    splits = {}
    for i, (name, n) in enumerate(counts.items()):
        x, y, m = make_phantom(n, size, seed=seed * 1000 + i)
        splits[name] = Split(name, x.to(dev), y.to(dev), masks=m.to(dev))
    return LabData(name="phantom", splits=splits, size=size,
                   notes=("procedural phantom: synthetic images with lesion masks, not patient data",))
