"""Bring-your-own images: any size, grayscale or RGB, preprocessed like MedMNIST
(center crop to a square, resize, grayscale) and normalized to [-1, 1]."""
from __future__ import annotations

import io
import os

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from labkit.data.split import normalize
from labkit.errors import InputError


#: Smallest side of an image worth resizing into the lab's images.
MIN_SIDE = 16


def load_image(source: str | os.PathLike | bytes, size: int = 64, name: str | None = None) -> torch.Tensor:
    """Read a PNG/JPEG file (path or raw bytes) into a ``(1, 1, size, size)`` tensor.

    The image is converted to 8-bit grayscale, center-cropped to a square and
    resized with Lanczos filtering, as MedMNIST prepared its images. ``name``
    (e.g. an upload's file name) is what error messages call the image.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InputError(f"image size must be a whole number of pixels ≥ 1, e.g. 64; got {size!r}")
    what = repr(name) if name else _describe(source)
    try:
        img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
        img.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"could not read an image from {what}: expected a PNG or JPEG file "
                         f"({type(exc).__name__})") from None
    if img.mode in ("I;16", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo or 1.0) * 255.0
        img = Image.fromarray(arr.astype(np.uint8))
    img = img.convert("L")
    w, h = img.size
    if min(w, h) < MIN_SIDE:
        raise InputError(f"{what} is only {w}×{h} pixels: expected an X-ray at least {MIN_SIDE}×{MIN_SIDE} "
                         "(it would become a blurred or constant image)")
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
    return normalize(np.asarray(img, dtype=np.uint8)).view(1, 1, size, size)


def _describe(source: object) -> str:
    return f"{len(source)} bytes" if isinstance(source, (bytes, bytearray)) else repr(str(source))
