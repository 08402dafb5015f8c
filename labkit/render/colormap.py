"""Colormap look-up tables: 256 RGB rows per map, taken once from matplotlib.

A map value scaled to [0, 1] becomes a row index (``round(v·255)``), so colouring a
64×64 heatmap is one numpy take: no figure, no normalisation object per call.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from labkit.errors import InputError

#: Default colormaps: magnitude maps (0 = dark) and signed maps (0 = white center).
ABS_CMAP = "inferno"
SIGNED_CMAP = "RdBu_r"


@lru_cache(maxsize=16)
def lut(name: str = ABS_CMAP) -> np.ndarray:
    """Read-only ``(256, 3)`` uint8 table of the matplotlib colormap ``name``."""
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError as exc:
        raise InputError(f"unknown colormap {name!r}; e.g. {ABS_CMAP!r} or {SIGNED_CMAP!r}") from exc
    table = (cmap(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0).round().astype(np.uint8)
    table.setflags(write=False)
    return table


def apply_lut(values: np.ndarray, name: str = ABS_CMAP) -> np.ndarray:
    """Colour ``values`` in [0, 1] (clipped; NaN → 0) as an ``(..., 3)`` uint8 array."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0)
    idx = np.clip(np.rint(v * 255.0), 0, 255).astype(np.uint8)
    return lut(name)[idx]
