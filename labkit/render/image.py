"""Images and heatmap overlays as PNG bytes, with numpy and Pillow only.

Everything works on one image at a time: ``(H, W)`` arrays or tensors (a leading
``(1, 1, …)`` is squeezed). Pixels of X-rays are in [-1, 1]; saliency maps are
scaled to [0, 1] by :func:`scale_map` (``"abs"``: 0 … vmax; ``"signed"``: −vmax …
+vmax with 0 in the middle) and coloured through a look-up table. Small images are
enlarged by pixel repetition (``scale``) so that a 64×64 map stays crisp on a
projector; mask outlines are drawn at display resolution, one pixel wide.
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from labkit.errors import InputError
from labkit.render.colormap import ABS_CMAP, SIGNED_CMAP, apply_lut

MODES = ("abs", "signed")
OUTLINE_COLOR = (0, 255, 255)


def to_array(x: object) -> np.ndarray:
    """A float32 ``(H, W)`` numpy array from a tensor/array with singleton leading axes."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    a = np.asarray(x)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise InputError(f"expected one image or map of shape (H, W), got shape {tuple(np.shape(x))}")
    return a.astype(np.float32, copy=False)


def gray_rgb(image: object) -> np.ndarray:
    """An X-ray in [-1, 1] as ``(H, W, 3)`` uint8 gray (−1 → black, 1 → white)."""
    g = np.clip(np.rint((to_array(image) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def map_vmax(maps: object | Sequence[object], mode: str = "abs") -> float:
    """Largest magnitude over one map or several (a shared colour scale); 0 if all zero."""
    items = maps if isinstance(maps, (list, tuple)) else [maps]
    vals = [float(np.nanmax(np.abs(to_array(m)))) if to_array(m).size else 0.0 for m in items]
    v = max(vals, default=0.0)
    return v if np.isfinite(v) else 0.0


def scale_map(saliency: object, mode: str = "abs", vmax: float | None = None) -> np.ndarray:
    """Scale a map to [0, 1] for a colour table.

    ``"abs"``: ``|s| / vmax``. ``"signed"``: ``0.5 + 0.5·s / vmax`` (0 lands in the
    middle of a diverging table). ``vmax`` defaults to the map's own largest
    magnitude (per-map scale); a constant-zero map gives 0 (abs) or 0.5 (signed).
    """
    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}, got {mode!r}")
    s = to_array(saliency)
    if s.size and not np.isfinite(s).any():
        raise InputError("the map has no finite value (all NaN or infinite): the method failed on this image; "
                         "try other parameters or another method")
    vmax = map_vmax(s) if vmax is None else float(vmax)
    if not np.isfinite(vmax) or vmax < 0:
        raise InputError(f"vmax must be a finite number ≥ 0, got {vmax}")
    if vmax == 0:
        return np.zeros_like(s) if mode == "abs" else np.full_like(s, 0.5)
    if mode == "abs":
        return np.clip(np.abs(s) / vmax, 0.0, 1.0)
    return np.clip(0.5 + 0.5 * s / vmax, 0.0, 1.0)


def colorize(saliency: object, mode: str = "abs", vmax: float | None = None, cmap: str | None = None) -> np.ndarray:
    """A map as ``(H, W, 3)`` uint8 colours (inferno for magnitudes, red/blue for signed maps)."""
    return apply_lut(scale_map(saliency, mode, vmax), cmap or (ABS_CMAP if mode == "abs" else SIGNED_CMAP))


def overlay(base: np.ndarray, top: np.ndarray, alpha: float | np.ndarray) -> np.ndarray:
    """Alpha-blend ``top`` over ``base`` (both ``(H, W, 3)`` uint8): ``(1−α)·base + α·top``.

    ``alpha`` is a number in [0, 1] or an ``(H, W)`` array of them.
    """
    if base.shape != top.shape:
        raise InputError(f"overlay needs images of the same shape, got {base.shape} and {top.shape}")
    a = np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0)
    if a.ndim == 2:
        a = a[:, :, None]
    out = base.astype(np.float32) * (1.0 - a) + top.astype(np.float32) * a
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def upscale(a: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge the first two axes by pixel repetition (nearest neighbour)."""
    if factor < 1:
        raise InputError(f"scale factor must be an int ≥ 1, got {factor}")
    if factor == 1:
        return a
    return np.repeat(np.repeat(a, factor, axis=0), factor, axis=1)


def outline(mask: object) -> np.ndarray:
    """Boolean boundary of a mask: mask pixels with a 4-neighbour outside it (or on the border)."""
    m = np.asarray(mask.detach().cpu() if hasattr(mask, "detach") else mask).astype(bool)
    while m.ndim > 2 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2:
        raise InputError(f"mask must be (H, W), got shape {m.shape}")
    p = np.pad(m, 1, constant_values=False)
    interior = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m & ~interior


def draw_outline(rgb: np.ndarray, mask: object, color: tuple[int, int, int] = OUTLINE_COLOR) -> np.ndarray:
    """A copy of ``rgb`` with the boundary of ``mask`` (same height and width) painted ``color``."""
    edge = outline(mask)
    if edge.shape != rgb.shape[:2]:
        raise InputError(f"mask {edge.shape} does not match the image {rgb.shape[:2]}")
    out = rgb.copy()
    out[edge] = color
    return out


def encode_png(rgb: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG bytes of an ``(H, W, 3)`` or ``(H, W)`` uint8 array (fast, lossless)."""
    a = np.ascontiguousarray(rgb)
    if a.dtype != np.uint8 or a.ndim not in (2, 3):
        raise InputError(f"encode_png expects uint8 (H, W) or (H, W, 3), got {a.dtype} {a.shape}")
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def compose(image: object, saliency: object | None = None, *, mode: str = "abs", vmax: float | None = None,
            alpha: float = 0.5, cmap: str | None = None, mask: object | None = None, scale: int = 4) -> np.ndarray:
    """The display array: gray X-ray, heatmap blended at ``alpha``, mask outlined, enlarged ``scale``×."""
    base = gray_rgb(image)
    if saliency is not None:
        heat = colorize(saliency, mode, vmax, cmap)
        if heat.shape != base.shape:
            raise InputError(f"saliency map {heat.shape[:2]} does not match the image {base.shape[:2]}")
        base = overlay(base, heat, alpha)
    base = upscale(base, scale)
    if mask is not None:
        m = np.asarray(mask.detach().cpu() if hasattr(mask, "detach") else mask).astype(bool)
        while m.ndim > 2 and m.shape[0] == 1:
            m = m[0]
        if m.any():
            base = draw_outline(base, upscale(m, scale))
    return base


def heatmap_png(image: object, saliency: object | None = None, **kwargs: object) -> bytes:
    """PNG bytes of :func:`compose` (the one call a panel makes per slider move)."""
    return encode_png(compose(image, saliency, **kwargs))  # type: ignore[arg-type]


def colorbar(mode: str = "abs", width: int = 256, height: int = 10, cmap: str | None = None) -> np.ndarray:
    """A horizontal colour ramp ``(height, width, 3)`` of the table used for ``mode``."""
    ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :].repeat(height, 0)
    return apply_lut(ramp, cmap or (ABS_CMAP if mode == "abs" else SIGNED_CMAP))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def tile_grid(tiles: Sequence[Sequence[np.ndarray | None]], row_labels: Sequence[str] = (),
              col_labels: Sequence[str] = (), pad: int = 4, font_size: int = 12,
              background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Arrange ``(H, W, 3)`` tiles in rows and columns with text labels; ``None`` leaves a gap."""
    flat = [t for row in tiles for t in row if t is not None]
    if not flat:
        raise InputError("tile_grid needs at least one tile")
    th, tw = flat[0].shape[:2]
    font = _font(font_size)
    left = (max((int(font.getlength(s)) for s in row_labels), default=0) + 2 * pad) if row_labels else 0
    top = (font_size + 2 * pad) if col_labels else 0
    n_rows, n_cols = len(tiles), max(len(r) for r in tiles)
    canvas = Image.new("RGB", (left + n_cols * (tw + pad) + pad, top + n_rows * (th + pad) + pad), background)
    draw = ImageDraw.Draw(canvas)
    for j, text in enumerate(col_labels):
        x = left + pad + j * (tw + pad)
        draw.text((x, pad), _fit(text, font, tw), fill=(0, 0, 0), font=font)
    for i, row in enumerate(tiles):
        y = top + pad + i * (th + pad)
        if i < len(row_labels):
            draw.text((pad, y + th // 2 - font_size // 2), row_labels[i], fill=(0, 0, 0), font=font)
        for j, tile in enumerate(row):
            if tile is not None:
                canvas.paste(Image.fromarray(tile), (left + pad + j * (tw + pad), y))
    return np.asarray(canvas)


def _fit(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> str:
    """``text`` cut with an ellipsis so that it fits ``width`` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def cascade_grid(result: object, images: object, image: int = 0, scale: int = 2,
                 labels: Sequence[str] | None = None) -> np.ndarray:
    """Rows: methods; columns: randomization steps; the maps of one image, each on its own scale.

    ``result`` is a :class:`~labkit.sanity.CascadeResult` run with ``keep_maps=True``;
    ``labels`` name the rows (default: the method names).
    """
    maps = getattr(result, "maps", None)
    if maps is None:
        raise InputError("the cascade result holds no maps (run it with keep_maps=True)")
    base = images[image]  # type: ignore[index]
    rows = [[compose(base, step[method][image], alpha=0.75, scale=scale) for step in maps]
            for method in result.methods]  # type: ignore[attr-defined]
    return tile_grid(rows, row_labels=list(labels or result.methods),  # type: ignore[attr-defined]
                     col_labels=result.layers)  # type: ignore[attr-defined]


def comparison_grid(images: object, maps_a: object, maps_b: object, order: Sequence[int],
                    row_labels: Sequence[str], col_labels: Sequence[str], scale: int = 2) -> np.ndarray:
    """Rows in ``order``: the image, then each method's map of it (each map on its own scale)."""
    rows = [[compose(images[i], mask=None, scale=scale), compose(images[i], maps_a[i], alpha=0.75, scale=scale),  # type: ignore[index]
             compose(images[i], maps_b[i], alpha=0.75, scale=scale)] for i in order]  # type: ignore[index]
    return tile_grid(rows, row_labels=list(row_labels), col_labels=list(col_labels))
