"""MapTiles: one tile per saliency method (title, heatmap, caption, parameter controls), painted in stages.

The explainer panel hands the shown image to :meth:`MapTiles.paint`. Each method's
map comes from :func:`~labkit.session.studies.progressive_attribution`: slow methods
give a preview first (their ``Param.coarse`` values), then the full map. Every
method's first stage is painted before any refinement starts, so the whole grid
shows something at once; the previews are then refined one by one while
``stale()`` is False. Once a newer request came, refinement stops: the full map in
progress is abandoned at the model's next forward pass, and no result of it is ever
painted over the newer image.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import ipywidgets as W
import torch

from labkit.errors import one_line
from labkit.explain import get_explainer
from labkit.panels.base import png_image
from labkit.panels.controls import param_values, param_widget
from labkit.render import compose, encode_png, map_vmax
from labkit.session import Cancelled, ExperimentState
from labkit.session.studies import Stage, attribution, progressive_attribution, stage_caption


@dataclass(frozen=True)
class Shown:
    """What the tiles paint on: the image, its mask, its id and the display settings."""

    x: torch.Tensor
    mask: torch.Tensor | None
    image_id: str
    mode: str  # "abs" or "signed"
    shared: bool  # one colour scale for every map
    alpha: float


class MapTiles:
    """The method tiles of the explainer panel and their staged painting.

    ``progressive=False`` computes every map at full quality in one stage (the
    reference the progressive path must end on). ``show_timings`` adds the compute
    time to each caption.
    """

    def __init__(self, state: ExperimentState, layout: Callable[[], W.Layout], on_change: Callable[[W.Widget], None],
                 *, scale: int = 4, progressive: bool = True, show_timings: bool = False) -> None:
        self.state, self.layout, self.on_change = state, layout, on_change
        self.scale, self.progressive, self.show_timings = scale, progressive, show_timings
        self.param_widgets: dict[str, dict[str, W.ValueWidget]] = {}
        self.images: dict[str, W.Image] = {}
        self.infos: dict[str, W.HTML] = {}
        self.columns: dict[str, W.VBox] = {}
        self.timings: dict[str, float] = {}
        self.from_cache: dict[str, bool] = {}
        self.captions: dict[str, str] = {}  # the stage on screen per method ("preview: 8 samples", "full: …")
        self.rendered: dict[str, Any] = {}

    def tile(self, name: str, model: torch.nn.Module | None) -> W.VBox:
        """The tile of method ``name`` (built on first use from its ``Param`` specs)."""
        if name not in self.columns:
            cls = get_explainer(name)
            size = self.state.data.size if self.state.data is not None else 64
            widgets = {p.name: param_widget(p, size, model) for p in cls.params}
            for w in widgets.values():
                self.on_change(w)
            self.param_widgets[name] = widgets
            self.images[name] = png_image(keep_space=True, layout=self.layout())
            self.images[name].add_class("labkit-heatmap")
            self.images[name].add_class(f"labkit-heatmap-{name}")
            self.infos[name] = W.HTML()
            self.infos[name].add_class("labkit-caption")
            title = W.HTML(f"<b title='{cls.description}'>{cls.label}</b>")
            self.columns[name] = W.VBox([title, self.images[name], self.infos[name], *widgets.values()],
                                        layout=W.Layout(margin="0 8px 8px 0"))
        return self.columns[name]

    def clear(self, methods: list[str], why: str) -> None:
        for m in methods:
            self.images[m].value, self.infos[m].value = b"", f"<i>{why}</i>"
            self.captions.pop(m, None)

    def paint(self, methods: list[str], shown: Shown, stale: Callable[[], bool]) -> list[str]:
        """Paint every method's first stage, then refine the previews until ``stale()``; the errors, one per
        failed method (one bad method never hides the others)."""
        maps: dict[str, tuple[torch.Tensor, str]] = {}
        errors: list[str] = []
        pending: list[tuple[str, Iterator[Stage]]] = []
        for m in methods:
            stages = self._stages(m, shown, stale)
            self.infos[m].value = "<i>computing…</i>"
            stage = self._next(m, stages, shown, maps, errors)
            if stage is not None and not stage.final:
                pending.append((m, stages))
        self._paint_shared(shown, maps)
        for m, stages in pending:  # the preview's caption stays on screen while the full map is computed
            if stale():
                break
            if self._next(m, stages, shown, maps, errors, stale) is not None:
                self._paint_shared(shown, maps)
        return errors

    def _stages(self, m: str, shown: Shown, stale: Callable[[], bool]) -> Iterator[Stage]:
        params = param_values(self.param_widgets[m])
        self.rendered[m] = params
        if self.progressive:
            return progressive_attribution(self.state, shown.x, shown.image_id, m, params, stop=stale)
        return iter([Stage(attribution(self.state, shown.x, shown.image_id, m, params), True,
                           stage_caption(m, params, final=True))])

    def _next(self, m: str, stages: Iterator[Stage], shown: Shown, maps: dict[str, tuple[torch.Tensor, str]],
              errors: list[str], stale: Callable[[], bool] = lambda: False) -> Stage | None:
        """Compute and paint method ``m``'s next stage; None on error or when it came too late."""
        try:
            stage = next(stages)
        except Cancelled:  # stale: the newer request repaints this tile
            return None
        except Exception as exc:  # noqa: BLE001 — shown in the tile and reported by the panel
            if stale():
                return None
            self.images[m].value = b""
            self.infos[m].value = f"<span style='color:#cf222e'>⚠ {one_line(exc)}</span>"
            self.captions.pop(m, None)
            errors.append(f"{get_explainer(m).label}: {one_line(exc)}")
            return None
        if stale():  # a newer request came while this stage was computed: never paint it over that one
            return None
        attr, ms = stage.computed.attribution, stage.computed.ms
        signed = shown.mode == "signed" and attr.signed is not None
        maps[m] = ((attr.signed if signed else attr.maps)[0], "signed" if signed else "abs")
        note = "" if signed or shown.mode == "abs" else "no sign (magnitude shown)"
        self.timings[m], self.from_cache[m], self.captions[m] = ms, stage.computed.cached, stage.caption
        timing = f"{ms:.0f} ms{' (cached)' if stage.computed.cached else ''}" if self.show_timings else ""
        self.infos[m].value = " · ".join(t for t in (stage.caption, timing, note) if t)
        if not shown.shared:  # show each map as soon as it is ready
            self._paint_one(m, shown, *maps[m], None)
        return stage

    def _paint_shared(self, shown: Shown, maps: dict[str, tuple[torch.Tensor, str]]) -> None:
        if shown.shared and maps:
            vmax = map_vmax([v for v, _ in maps.values()])
            for m, (smap, how) in maps.items():
                self._paint_one(m, shown, smap, how, vmax)

    def _paint_one(self, m: str, shown: Shown, smap: torch.Tensor, how: str, vmax: float | None) -> None:
        png = compose(shown.x, smap, mode=how, vmax=vmax, alpha=shown.alpha, mask=shown.mask, scale=self.scale)
        self.images[m].value = encode_png(png)
