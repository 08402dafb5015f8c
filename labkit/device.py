"""Devices: ``"auto"`` means CUDA, then Apple MPS, then CPU; where a model lives; GPU memory caps."""
from __future__ import annotations

import itertools
import os

import torch
from torch import nn

from labkit.errors import InputError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return a concrete :class:`torch.device`.

    ``"auto"`` (or ``None``) picks ``cuda`` when available, then ``mps``, then ``cpu``.
    Any other string is passed to :class:`torch.device` after checking it exists.
    """
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(
            f"unknown device {device!r}: expected 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} asked for, but CUDA is not available here; use 'auto' or 'cpu'")
    return dev


def model_device(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of a model's first parameter (or buffer); CPU/float32 if none."""
    for t in itertools.chain(model.parameters(), model.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    return torch.device("cpu"), torch.float32


GPU_FRACTION_ENV = "LABKIT_GPU_MEMORY_FRACTION"


def apply_gpu_memory_cap(fraction: float | str | None = None, device: str | torch.device = "cuda") -> float | None:
    """Cap this process's share of GPU memory (``torch.cuda.set_per_process_memory_fraction``).

    ``fraction`` defaults to ``$LABKIT_GPU_MEMORY_FRACTION``. Returns the fraction
    applied, or None when none is set or CUDA is not available (nothing to cap).
    Raises :class:`InputError` for a value outside (0, 1].
    """
    raw = os.environ.get(GPU_FRACTION_ENV, "") if fraction is None else fraction
    if raw in ("", None):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InputError(f"{GPU_FRACTION_ENV} must be a number in (0, 1], e.g. 0.25; got {raw!r}") from None
    if not 0.0 < value <= 1.0:
        raise InputError(f"{GPU_FRACTION_ENV} must be in (0, 1], e.g. 0.25; got {value}")
    if not torch.cuda.is_available():
        return None
    torch.cuda.set_per_process_memory_fraction(value, torch.device(device))
    return value
