"""Argument checks shared by the evaluation metrics."""
from __future__ import annotations

import torch

from labkit.errors import InputError


def check_maps(maps: object, *, name: str = "maps") -> torch.Tensor:
    """A finite real ``(N, H, W)`` tensor."""
    if not isinstance(maps, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of shape (N, H, W), got {type(maps).__name__}")
    if maps.dim() != 3:
        raise InputError(f"{name} must have shape (N, H, W), got {tuple(maps.shape)}; "
                         "use maps.unsqueeze(0) for a single map")
    if maps.numel() == 0:
        raise InputError(f"{name} are empty: shape {tuple(maps.shape)}")
    if maps.dtype == torch.bool or maps.is_complex():
        raise InputError(f"{name} must be real saliency values, got dtype {maps.dtype}")
    if not torch.isfinite(maps).all():
        raise InputError(f"{name} contain NaN or infinite values; expected finite saliency values")
    return maps


def check_mask(mask: object, maps: torch.Tensor) -> torch.Tensor:
    """A mask ``(H, W)`` or ``(N, H, W)`` matching ``maps``, returned as bool ``(N, H, W)``."""
    n, h, w = maps.shape
    if not isinstance(mask, torch.Tensor):
        raise InputError(f"mask must be a torch.Tensor of shape ({h}, {w}) or ({n}, {h}, {w}), "
                         f"got {type(mask).__name__}")
    if mask.dim() == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]
    if tuple(mask.shape) not in ((h, w), (n, h, w)):
        raise InputError(f"mask must have shape ({h}, {w}) or ({n}, {h}, {w}) to match the maps, "
                         f"got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        if not torch.isfinite(mask.float()).all() or not ((mask == 0) | (mask == 1)).all():
            raise InputError("mask must be boolean or hold only 0 and 1")
        mask = mask != 0
    return mask.to(maps.device).expand(n, h, w)


def check_fraction(value: object, name: str) -> float:
    """A number in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise InputError(f"{name} must be a fraction in (0, 1], got {value!r}")
    return float(value)


def check_positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value
