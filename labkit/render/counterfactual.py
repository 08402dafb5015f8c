"""Counterfactual movies as an animated GIF and a PNG frame strip (Pillow only).

Each frame of a Latent Shift sweep is drawn as the gray image enlarged ``scale``×
with a label band underneath: its ``λ`` and the classifier's probability.

>>> gif = movie_gif(attr.extras["frames"][0], attr.extras["lambdas"][0], attr.extras["probs"][0])  # doctest: +SKIP
"""
from __future__ import annotations

import io
from pathlib import Path
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from labkit.errors import InputError
from labkit.render.image import encode_png, gray_rgb, tile_grid, upscale


def _label_font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans from matplotlib's data (Pillow's default font has no λ)."""
    import matplotlib

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)


def frame_label(lam: float, prob: float, class_name: str = "p") -> str:
    """The text under a frame, e.g. ``"λ=-120  p=0.43"``."""
    return f"λ={lam:.3g}  {class_name}={prob:.2f}"


def _values(x: object) -> list[float]:
    if hasattr(x, "detach"):
        x = x.detach().double().cpu().numpy()
    return [float(v) for v in np.asarray(x, dtype=np.float64).reshape(-1)]


def labelled_frames(frames: object, lambdas: object, probs: object, *, scale: int = 4, class_name: str = "p",
                    font_size: int = 12) -> list[np.ndarray]:
    """One ``(H·scale + band, W·scale, 3)`` uint8 array per frame, labelled with λ and the probability.

    ``frames`` is ``(F, 1, H, W)`` or ``(F, H, W)`` in [-1, 1]; ``lambdas`` and
    ``probs`` have ``F`` values each.
    """
    if hasattr(frames, "detach"):
        frames = frames.detach().float().cpu().numpy()
    frames = np.asarray(frames)
    lam, p = _values(lambdas), _values(probs)
    if frames.ndim not in (3, 4) or len(frames) == 0:
        raise InputError(f"a movie needs at least one frame of shape (F, 1, H, W) or (F, H, W), "
                         f"got shape {frames.shape}")
    if not len(lam) == len(p) == len(frames):
        raise InputError(f"each frame needs one λ and one probability: {len(frames)} frames, {len(lam)} λ, "
                         f"{len(p)} probabilities")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise InputError(f"scale must be an int ≥ 1, got {scale!r}")
    font = _label_font(font_size)
    out = []
    for img, l_val, p_val in zip(frames, lam, p):
        rgb = upscale(gray_rgb(img), scale)
        band = Image.new("RGB", (rgb.shape[1], font_size + 8), (255, 255, 255))
        ImageDraw.Draw(band).text((4, 4), frame_label(l_val, p_val, class_name), fill=(0, 0, 0), font=font)
        out.append(np.concatenate([rgb, np.asarray(band)], axis=0))
    return out


def movie_gif(frames: object, lambdas: object, probs: object, *, duration_ms: int = 120, bounce: bool = True,
              **kwargs: object) -> bytes:
    """Animated GIF bytes of the sweep, looping forever.

    With ``bounce`` the movie plays forward then backward (``2F − 2`` frames),
    as in the paper's videos; otherwise the ``F`` frames once per loop.
    ``kwargs`` go to :func:`labelled_frames`.
    """
    tiles = labelled_frames(frames, lambdas, probs, **kwargs)
    if bounce and len(tiles) > 2:
        tiles = tiles + tiles[-2:0:-1]
    images = [Image.fromarray(t) for t in tiles]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return buf.getvalue()


def frame_strip_png(frames: object, lambdas: object, probs: object, *, columns: int | None = None,
                    **kwargs: object) -> bytes:
    """PNG bytes of the labelled frames side by side (``columns`` per row, default all in one row)."""
    tiles = labelled_frames(frames, lambdas, probs, **kwargs)
    cols = columns or len(tiles)
    if isinstance(cols, bool) or not isinstance(cols, int) or cols < 1:
        raise InputError(f"columns must be an int ≥ 1, got {columns!r}")
    return encode_png(tile_grid([tiles[i:i + cols] for i in range(0, len(tiles), cols)]))


def save_movie(prefix: str | Path, frames: object, lambdas: object, probs: object, *, duration_ms: int = 120,
               bounce: bool = True, **kwargs: object) -> tuple[Path, Path]:
    """Write ``<prefix>.gif`` and ``<prefix>.png`` (the strip); returns both paths."""
    prefix = Path(prefix)
    gif = movie_gif(frames, lambdas, probs, duration_ms=duration_ms, bounce=bounce, **kwargs)
    png = frame_strip_png(frames, lambdas, probs, **kwargs)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    gif_path, png_path = prefix.with_suffix(".gif"), prefix.with_suffix(".png")
    gif_path.write_bytes(gif)
    png_path.write_bytes(png)
    return gif_path, png_path


__all__ = ["frame_label", "labelled_frames", "movie_gif", "frame_strip_png", "save_movie"]
