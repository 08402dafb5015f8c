"""PNG encoding of heatmap overlays: sizes, colour-table endpoints, alpha, outlines."""
from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from labkit.errors import InputError
from labkit.render import (ABS_CMAP, SIGNED_CMAP, apply_lut, bar_chart_png, colorize, compose, confusion_png,
                           draw_outline, encode_png, gray_rgb, heatmap_png, line_chart_png, lut, map_vmax,
                           matplotlib_overlay_png, outline, overlay, scale_map, similarity_png, tile_grid,
                           training_curves_png, upscale)


def decode(png: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return np.asarray(img.convert("RGB"))


def test_lut_matches_matplotlib_endpoints() -> None:
    import matplotlib

    for name in (ABS_CMAP, SIGNED_CMAP):
        table = lut(name)
        assert table.shape == (256, 3) and table.dtype == np.uint8
        cmap = matplotlib.colormaps[name]
        for v, row in ((0.0, 0), (1.0, 255)):
            expected = np.round(np.array(cmap(v)[:3]) * 255).astype(int)
            assert np.abs(table[row].astype(int) - expected).max() <= 1
    assert not lut(ABS_CMAP).flags.writeable


def test_unknown_colormap_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown colormap"):
        lut("no-such-map")


def test_scale_map_abs_and_signed() -> None:
    s = torch.tensor([[-2.0, 0.0], [1.0, 2.0]])
    np.testing.assert_allclose(scale_map(s, "abs"), [[1.0, 0.0], [0.5, 1.0]])
    np.testing.assert_allclose(scale_map(s, "signed"), [[0.0, 0.5], [0.75, 1.0]])
    np.testing.assert_allclose(scale_map(s, "abs", vmax=4.0), [[0.5, 0.0], [0.25, 0.5]])
    assert (scale_map(np.zeros((3, 3)), "abs") == 0).all()
    assert (scale_map(np.zeros((3, 3)), "signed") == 0.5).all()
    with pytest.raises(InputError):
        scale_map(s, "sideways")


def test_heatmap_png_size_and_lut_endpoints() -> None:
    image = torch.full((1, 1, 8, 8), -1.0)  # black X-ray
    sal = torch.zeros(8, 8)
    sal[0, 0] = 5.0  # the largest value → top of the table
    png = heatmap_png(image, sal, mode="abs", alpha=1.0, scale=4)
    rgb = decode(png)
    assert rgb.shape == (32, 32, 3)
    table = lut(ABS_CMAP)
    assert (rgb[0:4, 0:4] == table[255]).all()  # max → last LUT row, repeated 4×4
    assert (rgb[4:, 4:] == table[0]).all()  # zero → first LUT row


def test_signed_endpoints_are_diverging() -> None:
    sal = torch.tensor([[-1.0, 0.0, 1.0]])
    rgb = colorize(sal, "signed")
    table = lut(SIGNED_CMAP)
    assert (rgb[0, 0] == table[0]).all() and (rgb[0, 2] == table[255]).all()
    assert rgb[0, 0, 2] > rgb[0, 0, 0]  # negative: blue
    assert rgb[0, 2, 0] > rgb[0, 2, 2]  # positive: red
    assert (rgb[0, 1] > 200).all()  # zero: near white


def test_overlay_alpha_blends_linearly() -> None:
    base = np.zeros((2, 2, 3), np.uint8)
    top = np.full((2, 2, 3), 200, np.uint8)
    assert (overlay(base, top, 0.25) == 50).all()
    assert (overlay(base, top, 0.0) == 0).all()
    assert (overlay(base, top, 1.0) == 200).all()
    per_pixel = overlay(base, top, np.array([[0.0, 0.5], [1.0, 1.0]]))
    assert per_pixel[0, 0, 0] == 0 and per_pixel[0, 1, 0] == 100 and per_pixel[1, 0, 0] == 200


def test_compose_alpha_zero_is_the_gray_image() -> None:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 1, 6, 6, generator=g) * 2 - 1
    sal = torch.rand(6, 6, generator=g)
    np.testing.assert_array_equal(compose(image, sal, alpha=0.0, scale=1), gray_rgb(image))
    np.testing.assert_array_equal(compose(image, sal, alpha=1.0, scale=1), colorize(sal))
    half = compose(image, sal, alpha=0.5, scale=1).astype(int)
    expected = (gray_rgb(image).astype(float) + colorize(sal).astype(float)) / 2
    assert np.abs(half - expected).max() <= 1


def test_gray_rgb_maps_pixel_range() -> None:
    rgb = gray_rgb(torch.tensor([[-1.0, 0.0, 1.0]]))
    assert rgb[0, 0].tolist() == [0, 0, 0] and rgb[0, 2].tolist() == [255, 255, 255]
    assert rgb[0, 1].tolist() in ([127, 127, 127], [128, 128, 128])


def test_outline_pixels_of_a_square() -> None:
    mask = np.zeros((12, 12), bool)
    mask[2:10, 3:11] = True  # 8×8 square
    edge = outline(mask)
    assert edge.sum() == 4 * 8 - 4
    assert edge[2, 3:11].all() and edge[9, 3:11].all() and edge[2:10, 3].all() and edge[2:10, 10].all()
    assert not edge[3:9, 4:10].any()  # interior untouched
    assert not edge[~mask].any()  # only mask pixels


def test_outline_on_the_image_border() -> None:
    mask = np.zeros((6, 6), bool)
    mask[:2, :2] = True  # a corner marker: the image edge is part of its boundary
    assert outline(mask)[:2, :2].all()


def test_compose_draws_mask_outline_at_display_scale() -> None:
    image = torch.zeros(1, 1, 8, 8)
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[:2, :2] = True
    rgb = decode(heatmap_png(image, None, mask=mask, scale=3))
    cyan = np.array([0, 255, 255])
    assert (rgb[0, 0:6] == cyan).all() and (rgb[5, 0:6] == cyan).all()
    assert not (rgb[1:5, 1:5] == cyan).all(-1).any()  # one display pixel wide
    assert not (rgb[6:, 6:] == cyan).all(-1).any()
    out = draw_outline(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), bool), color=(1, 2, 3))
    assert (out[0, 0] == [1, 2, 3]).all() and (out[1, 1] == 0).all()


def test_shared_scale_and_vmax() -> None:
    a, b = torch.ones(4, 4), 3 * torch.ones(4, 4)
    assert map_vmax([a, b]) == 3.0
    assert map_vmax(torch.zeros(2, 2)) == 0.0
    dim = compose(torch.zeros(1, 1, 4, 4), a, vmax=map_vmax([a, b]), alpha=1.0, scale=1)
    assert (dim == apply_lut(np.full((4, 4), 1 / 3))).all()


def test_encode_png_roundtrip_and_checks() -> None:
    a = (np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5)
    np.testing.assert_array_equal(decode(encode_png(a)), a)
    with pytest.raises(InputError):
        encode_png(a.astype(np.float32))
    with pytest.raises(InputError, match="does not match"):
        compose(torch.zeros(1, 1, 4, 4), torch.zeros(5, 5))
    assert upscale(a, 2).shape == (8, 8, 3)


def test_tile_grid_places_tiles_and_labels() -> None:
    t = np.zeros((10, 10, 3), np.uint8)
    t[...] = (7, 100, 200)
    grid = tile_grid([[t, None], [t, t]], row_labels=["a", "bb"], col_labels=["x", "a very long label"])
    assert grid.ndim == 3 and grid.shape[0] > 20 and grid.shape[1] > 20
    assert (grid == (7, 100, 200)).all(-1).sum() == 3 * 100
    with pytest.raises(InputError):
        tile_grid([[None]])


def test_charts_are_pngs() -> None:
    history = [dict(epoch=1, train_loss=0.6, train_acc=0.6, val_loss=0.7, val_acc=0.55),
               dict(epoch=2, train_loss=0.4, train_acc=0.8, val_loss=None, val_acc=None)]
    summary = [dict(step=s, layer=l, method=m, **{f"{k}_{q}": v for k in ("spearman_abs", "spearman_signed", "ssim")
                                                   for q, v in (("mean", 1.0 - s / 2), ("std", 0.1))})
               for s, l in enumerate(["original", "fc2", "conv1"]) for m in ("gradient", "gradcam")]
    pngs = [training_curves_png(history), training_curves_png([]), confusion_png([[5, 1], [2, 9]]),
            line_chart_png({"a": ([0, 1], [1, 0])}, bands={"a": [0.1, 0.1]}, xticklabels=["p", "q"]),
            similarity_png(summary), bar_chart_png({"gradient": 0.26, "occlusion": float("nan")}),
            matplotlib_overlay_png(torch.zeros(1, 1, 8, 8), torch.rand(8, 8))]
    for png in pngs:
        assert decode(png).shape[0] > 50
    with pytest.raises(InputError):
        confusion_png([[1, 2, 3]])


def test_render_does_not_import_ipywidgets() -> None:
    code = ("import sys, labkit.render as r, torch; r.heatmap_png(torch.zeros(1, 1, 4, 4), torch.ones(4, 4)); "
            "r.confusion_png([[1, 0], [0, 1]]); assert 'ipywidgets' not in sys.modules, 'ipywidgets imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
