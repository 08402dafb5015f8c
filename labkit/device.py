"""Choosing the torch device: ``"auto"`` means CUDA, then Apple MPS, then CPU."""
from __future__ import annotations

import torch

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
