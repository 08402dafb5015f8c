"""ExplainerSelector: one image, one model, several saliency methods side by side.

The image comes from an :class:`~labkit.panels.picker.ImagePicker` (index slider
with class and misclassified filters, or an uploaded PNG/JPEG), the target class
and the model from dropdowns bound to the session. Each method's controls are
built from its ``Param`` specs. Maps and predictions come from
:mod:`labkit.session.studies` (the session's locked cache: display controls —
opacity, signed/absolute, colour scale — never recompute a map), and heatmaps go
straight to PNG bytes in ``widgets.Image``: no matplotlib figure per slider move.

Slider bursts are coalesced: a worker renders the latest values, at once after an
idle spell and at most once per ``debounce`` seconds during a drag. ``debounce=0``
renders synchronously, and
:meth:`ExplainerSelector.refresh` always does (headless tests, benchmarks).
Slow methods paint a preview first and then the full map
(:mod:`labkit.panels.maptiles`); a newer request stops that refinement.
"""
from __future__ import annotations

import threading
from typing import Callable, Sequence

import ipywidgets as W
import torch
from traitlets import link

from labkit.errors import InputError, one_line
from labkit.panels.base import STYLE, Coalescer, Panel, StatusLine, png_image
from labkit.panels.compare import CompareView
from labkit.panels.controls import TOGGLES, labelled, method_select, update_layer_widget
from labkit.panels.legend import MapLegend
from labkit.panels.maptiles import MapTiles, Shown
from labkit.panels.picker import ImagePicker
from labkit.render import compose, encode_png
from labkit.session import ExperimentState
from labkit.session.studies import prediction

DEFAULT_METHODS = ("gradient", "smoothgrad", "gradcam")


class ExplainerSelector(Panel):
    """Saliency maps of the selected image for several methods.

    ``methods`` are selected at start; ``debounce`` is the least time in seconds between two renders
    of a burst of changes (0: synchronous); ``scale`` enlarges the images (pixel repetition);
    ``progressive=False`` paints every map once, at full quality; ``grow=True`` (the lecture app) lets the tiles
    grow with a large window, up to twice their size.
    """

    title = "Explain"

    def __init__(self, state: ExperimentState, status: StatusLine | None = None, *,
                 methods: Sequence[str] = DEFAULT_METHODS, debounce: float = 0.05, scale: int = 4,
                 show_timings: bool = False, progressive: bool = True, grow: bool = False) -> None:
        super().__init__(state, status)
        self.scale, self.grow = scale, grow
        self._lock = threading.RLock()
        self._generation = 0  # bumped by every request: a render of an older one stops refining
        self.tiles = MapTiles(state, self._image_layout, lambda w: self.watch(w, self._display_changed, "value"),
                              scale=scale, progressive=progressive, show_timings=show_timings)
        t = self.tiles
        self.param_widgets, self.images, self.infos, self.timings = t.param_widgets, t.images, t.infos, t.timings
        self.from_cache, self.rendered, self.captions = t.from_cache, t.rendered, t.captions

        self.picker = ImagePicker(self)
        for name in ("split", "class_filter", "misclassified", "index", "index_label", "upload", "back", "variant"):
            setattr(self, name, getattr(self.picker, name))
        self.outline = W.Checkbox(value=True, description="outline marker / lesion", indent=False,
                                   layout=W.Layout(width="auto"))
        # model and target
        self.model = W.Dropdown(options=[], description="model", style=STYLE, layout=W.Layout(width="200px"))
        self.target = W.Dropdown(options=[("pneumonia", 1)], value=1, description="explain class",
                                 style=STYLE, layout=W.Layout(width="200px"))
        self.prediction = W.HTML()
        self.prediction.add_class("labkit-prediction")
        # methods and display
        self.methods = method_select(methods, rows=6)
        self.methods.add_class("labkit-methods")
        self.mode = W.ToggleButtons(options=[("absolute", "abs"), ("signed", "signed")], value="abs", style=TOGGLES)
        self.scale_mode = W.ToggleButtons(options=[("per map", "per-map"), ("shared", "shared")], value="per-map",
                                          style=TOGGLES)
        self.opacity = W.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="opacity",
                                     style=STYLE, continuous_update=True, layout=W.Layout(width="260px"))
        self.opacity.add_class("labkit-opacity")
        self.original = png_image(keep_space=True, layout=self._image_layout())
        self.original.add_class("labkit-original")
        self.grid = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.legend = MapLegend()

        # Controls in short columns side by side (two rows at 1280 px, wrapping further in a narrow notebook),
        # so that the first row of maps stays above the fold of a 1280×720 screen.
        wrap = W.Layout(flex_flow="row wrap")
        model_box = W.VBox([W.HBox([self.model, self.target], layout=wrap), self.prediction])
        toggles = [labelled("values", self.mode), labelled("color scale", self.scale_mode)]
        display = W.VBox([W.HBox(toggles, layout=wrap),
                          W.HBox([self.opacity, self.outline], layout=wrap), self.legend.widget],
                         layout=W.Layout(max_width="460px"))
        controls = W.HBox([self.picker.widget, model_box, self.methods, display],
                          layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))
        self.body = W.VBox([controls, self.grid, self._compare_section(state)])

        self._error = ""
        self._user_asked = False
        self._original_key: tuple | None = None
        self._renderer = Coalescer(self._render, debounce, on_error=self._render_failed)
        for w in (self.opacity, self.mode, self.scale_mode, self.outline):
            self.watch(w, self._display_changed, "value")
        self.watch(self.methods, self._methods_changed, "value")
        self.watch(self.model, self._model_picked, "value")
        self.watch(state.selection, lambda change: self.request(), "image_index", "split", "custom_image", "variant",
                   "target")
        self.watch(state, self._state_models, "models", "active_model")
        self.watch(state, self._state_data, "data", "marker")
        self._state_data({})
        self._target_link = link((state.selection, "target"), (self.target, "value"))
        self._state_models({})
        self._methods_changed({})

    def _compare_section(self, state: ExperimentState) -> W.Accordion:
        """Where two methods agree and disagree over several images (a collapsed section)."""
        self.compare = CompareView(state, self.status)
        section = W.Accordion(children=[self.compare.widget], selected_index=None)
        section.set_title(0, "Compare two methods over several images")
        return section

    # ---- public ------------------------------------------------------------------------
    @property
    def debounce(self) -> float:
        return self._renderer.delay

    def refresh(self) -> None:
        """Render now, synchronously (waits for a pending background render first).

        Errors go to the status line, as for every render."""
        self._renderer.wait()
        try:
            self._render(report_missing_model=True)
        except Exception as exc:  # noqa: BLE001
            self._render_failed(exc)

    def request(self, user: bool = False) -> None:
        """Ask for a render (coalesced; synchronous when ``debounce == 0``).

        ``user=True`` for the user's own changes in this panel: only those report
        "no model yet" in the status line (opening the app without one is fine).
        """
        self._user_asked = self._user_asked or user
        self._generation += 1
        self._renderer.request()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until pending renders are done (tests)."""
        return self._renderer.wait(timeout)

    # ---- widgets -> state --------------------------------------------------------------
    def _display_changed(self, change: dict) -> None:
        self.request(user=True)

    def _methods_changed(self, change: dict) -> None:
        model = self._model_or_none()
        tiles = [self.tiles.tile(name, model) for name in self.methods.value]
        original = W.VBox([W.HTML("<b>image</b>"), self.original], layout=W.Layout(margin="0 8px 8px 0"))
        self.grid.children = [original, *tiles]
        self.request()

    def _image_layout(self) -> W.Layout:
        """Every tile at the same on-screen size: the data's image size × ``scale``.

        With ``grow``, up to twice that: four tiles fill the row of a wide window while the first row of maps
        stays within the window's height (the controls above take about 450 px).
        """
        px = (self.state.data.size if self.state.data is not None else 64) * self.scale
        side = (f"clamp({px}px, min((100vw - 100px) / 4 - 8px, 100vh - 450px), {2 * px}px)" if self.grow
                else f"{px}px")
        return W.Layout(width=side, min_width=side, height=side, min_height=side)

    def _model_picked(self, change: dict) -> None:
        if change["new"] and change["new"] != self.state.active_model:
            self.state.active_model = change["new"]


    # ---- state -> widgets --------------------------------------------------------------
    def _state_models(self, change: dict) -> None:
        options = sorted(self.state.models)
        if list(self.model.options) != options:
            self.model.options = options
        self.model.value = self.state.active_model or None
        model = self._model_or_none()
        for widgets in self.param_widgets.values():
            for w in widgets.values():
                if isinstance(w, W.Dropdown) and "labkit-param-layer" in w._dom_classes:
                    update_layer_widget(w, model)
        self.request()

    def _state_data(self, change: dict) -> None:
        data = self.state.data
        px = self._image_layout().width
        for img in [self.original, *self.images.values()]:
            img.layout.width = img.layout.min_width = img.layout.height = img.layout.min_height = px
        if data is not None:
            link_ = getattr(self, "_target_link", None)
            if link_ is not None:
                link_.unlink()
            self.target.options = [(n, i) for i, n in enumerate(data.class_names)]
            if link_ is not None:
                self._target_link = link((self.state.selection, "target"), (self.target, "value"))
        self.request()

    def _model_or_none(self) -> torch.nn.Module | None:
        entry = self.state.models.get(self.state.active_model)
        return None if entry is None else entry.model

    # ---- rendering -------------------------------------------------------------------------
    def close(self) -> None:
        self.compare.close()
        self._target_link.unlink()
        self.picker.close()
        super().close()

    def _render(self, report_missing_model: bool = False) -> None:
        generation = self._generation
        with self._lock:
            report_missing_model, self._user_asked = report_missing_model or self._user_asked, False
            try:
                self._render_locked(report_missing_model, lambda: self._generation != generation)
            except Exception as exc:
                self._error = one_line(exc)
                raise
            if self._error and self.status.text == self._error:  # the problem is fixed: clear it
                self.status.show("maps up to date", "ok")
            self._error = ""

    def _render_failed(self, exc: BaseException) -> None:
        self.status.error(one_line(exc))

    def _render_locked(self, report_missing_model: bool, stale: Callable[[], bool]) -> None:
        s = self.state
        if s.data is None:
            self.prediction.value = "<i>no data loaded</i>"
            return
        shown = s.selection.current(outline=bool(self.outline.value))
        x, label, mask, image_id = shown.image, shown.label, shown.mask, shown.image_id
        alpha, mode = float(self.opacity.value), self.mode.value
        original_key = (image_id, mask is not None, self.scale)
        if original_key != self._original_key:  # display-only changes skip re-encoding the image
            self.original.value = encode_png(compose(x, mask=mask, scale=self.scale))
            self._original_key = original_key
        if not s.models or s.active_model not in s.models:
            self.prediction.value = "<i>no model yet: train one or load a checkpoint</i>"
            self.tiles.clear(list(self.methods.value), "needs a model")
            if report_missing_model:
                raise InputError("no model yet: train one (Train tab) or load a checkpoint to see saliency maps")
            return
        self._show_prediction(x, label, image_id)
        self.legend.show(mode, self.scale_mode.value)
        errors = self.tiles.paint(list(self.methods.value),
                                  Shown(x, mask, image_id, mode, self.scale_mode.value == "shared", alpha), stale)
        self.rendered.update(opacity=alpha, mode=mode, index=s.selection.image_index, target=s.selection.target,
                             model=s.active_model)
        if errors:
            raise InputError("; ".join(errors))

    def _show_prediction(self, x: torch.Tensor, label: int | None, image_id: str) -> None:
        v = prediction(self.state, x, label, image_id)
        verdict = "" if v.correct is None else (" ✓" if v.correct else " ✗")
        true = "uploaded image" if v.true_label is None else f"true: {v.true_label}"
        positive = self.state.data.class_names[-1]
        self.prediction.value = (f"<div style='line-height:1.5'><b>{v.model}</b> predicts <b>{v.predicted}</b>"
                                 f"{verdict}<br>p({positive}) = {v.p_positive:.3f} (threshold {v.threshold:.2f}) · "
                                 f"{true}<br>explaining class <b>{v.target}</b> (p = {v.p_target:.3f})</div>")
        self.rendered["probability"] = v.p_positive
