"""MapLegend: what the colours of a saliency map mean, with its colorbar."""
from __future__ import annotations

import ipywidgets as W

from labkit.panels.base import png_image
from labkit.render import colorbar, encode_png


class MapLegend:
    """A colorbar and one sentence for the current display: absolute or signed, per-map or shared scale."""

    def __init__(self) -> None:
        self.colorbar = png_image()
        self.text = W.HTML()
        self.text.add_class("labkit-legend")
        self.widget = W.HBox([self.colorbar, self.text], layout=W.Layout(align_items="center"))
        self._key: tuple[str, str] | None = None

    @property
    def value(self) -> str:
        return self.text.value

    def show(self, mode: str, scaling: str) -> None:
        """Describe ``mode`` (``"abs"``/``"signed"``) under ``scaling`` (``"per-map"``/``"shared"``)."""
        if self._key == (mode, scaling):
            return
        self._key = (mode, scaling)
        self.colorbar.value = encode_png(colorbar(mode, width=160, height=12))
        colours = ("dark = no attribution, bright = the most" if mode == "abs"
                   else "blue = against the class, white = none, red = for the class")
        scale = ("every map on one shared scale: brightness compares across methods" if scaling == "shared"
                 else "each map scaled to its own maximum: compare shapes, not brightness, across methods")
        what = "|attribution|" if mode == "abs" else "signed attribution"
        self.text.value = f"<div style='font-size:90%;line-height:1.4'><b>{what}</b>: {colours}; {scale}.</div>"
