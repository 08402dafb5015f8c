"""Rendering for the panels, without ipywidgets: heatmap overlays as PNG bytes
(colour look-up tables + Pillow) and small matplotlib charts as PNG bytes.

>>> from labkit.render import heatmap_png
>>> png = heatmap_png(image, saliency, mode="abs", alpha=0.5)   # doctest: +SKIP
"""
from labkit.render.colormap import ABS_CMAP, SIGNED_CMAP, apply_lut, lut
from labkit.render.image import (cascade_grid, colorbar, comparison_grid, colorize, compose, draw_outline, encode_png, gray_rgb, heatmap_png,
                                 map_vmax, outline, overlay, scale_map, tile_grid, to_array, upscale)
from labkit.render.plots import (bar_chart_png, confusion_png, figure_png, line_chart_png, matplotlib_overlay_png,
                                 similarity_png, training_curves_png)

__all__ = ["ABS_CMAP", "cascade_grid", "comparison_grid", "SIGNED_CMAP", "lut", "apply_lut", "colorbar", "colorize", "compose", "draw_outline",
           "encode_png", "gray_rgb", "heatmap_png", "map_vmax", "outline", "overlay", "scale_map", "tile_grid",
           "to_array", "upscale", "bar_chart_png", "confusion_png", "figure_png", "line_chart_png",
           "matplotlib_overlay_png", "similarity_png", "training_curves_png"]
