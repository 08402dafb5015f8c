"""MarkerEditor: plant a non-clinical shortcut and watch the model take it.

Edit a marker (corner square, border stripe or burned-in text; label-coded
shortcut or class-independent control) with a live preview on images of both
classes, the marker outlined. "Train shortcut model" sets ``state.marker`` and
starts training on the marked data through the state. "Analyze" then measures,
for the active model: clean vs marked clinical metrics, how p(pneumonia) moves
when the marker is removed (the clean pixels put back), and which share of each
method's saliency falls on the marker (``region_fraction``).
"""
from __future__ import annotations

from typing import Any

import ipywidgets as W

from labkit.data import MarkerSpec, make_marker
from labkit.data.markers import CORNERS, SIDES
from labkit.errors import InputError
from labkit.explain import method_label
from labkit.panels.base import FORM, StatusLine, guarded, html_table, png_image
from labkit.panels.controls import chosen_methods, method_select
from labkit.panels.jobs import JobPanel
from labkit.render import bar_chart_png, compose, encode_png, tile_grid
from labkit.session import ExperimentState
from labkit.session.analyses import shortcut_analysis
from labkit.train import TrainConfig

ATTRIBUTION_METHODS = ("gradient", "smoothgrad", "integrated_gradients", "occlusion", "gradcam")
RESULT_KEY = "panels.shortcut"


class MarkerEditor(JobPanel):
    """Design a shortcut marker, train on it, and measure what it did.

    ``epochs``, ``subset`` and ``width`` preset the shortcut model's training; ``background=False``
    trains and analyzes inline (tests).
    """

    title = "Shortcuts"

    def __init__(self, state: ExperimentState, status: StatusLine | None = None, *, epochs: int = 5,
                 subset: int = 0, width: int = 16, background: bool = True) -> None:
        super().__init__(state, status, run_label="Analyze", run_icon="search", background=background)
        self.kind = W.ToggleButtons(options=[("corner square", "corner"), ("border stripe", "stripe"),
                                             ("burned-in text", "text")], value="corner", description="marker",
                                    style=FORM)
        self.coding = W.ToggleButtons(options=[("label-coded (shortcut)", "coded"), ("same for all (control)", "control")],
                                      value="coded", description="placement", style=FORM)
        self.pos_pneumonia = W.Dropdown(options=CORNERS, value="top-left", description="pneumonia at", style=FORM)
        self.pos_normal = W.Dropdown(options=CORNERS, value="bottom-right", description="normal at", style=FORM)
        self.intensity = W.FloatSlider(value=1.0, min=-1.0, max=1.0, step=0.05, description="intensity",
                                       style=FORM, continuous_update=False, tooltip="1 = white, -1 = black")
        self.size = W.IntSlider(value=8, min=1, max=24, description="size (px)", style=FORM, continuous_update=False)
        self.margin = W.IntSlider(value=0, min=0, max=16, description="margin (px)", style=FORM,
                                  continuous_update=False)
        self.stripe_width = W.IntSlider(value=3, min=1, max=16, description="width (px)", style=FORM,
                                        continuous_update=False)
        self.text = W.Text(value="R", description="text", style=FORM, continuous_update=False)
        self.font_size = W.IntSlider(value=12, min=4, max=32, description="font size", style=FORM,
                                     continuous_update=False)
        self.params_box = W.VBox()
        self.preview = png_image()
        self.preview.add_class("labkit-marker-preview")
        self.use = W.Button(description="Use this marker", icon="check", layout=W.Layout(width="auto"),
                            tooltip="set it as the experiment's marker (marked data, Explain tab)")
        self.epochs = W.IntSlider(value=epochs, min=1, max=30, description="epochs", style=FORM)
        self.subset = W.BoundedIntText(value=subset, min=0, max=10 ** 6, description="subset (0 = all)", style=FORM)
        self.width = W.IntSlider(value=width, min=2, max=64, step=2, description="model width", style=FORM)
        self.train = W.Button(description="Train shortcut model", button_style="warning", icon="graduation-cap",
                              layout=W.Layout(width="auto"))
        self.methods = method_select(ATTRIBUTION_METHODS, rows=6)
        self.n_images = W.IntSlider(value=16, min=1, max=128, description="images", style=FORM,
                                    tooltip="marked test images used for the attribution fraction")
        self.analyze = self.run
        self.metrics = W.HTML()
        self.removal = W.HTML()
        self.fractions = W.HTML()
        self.fraction_chart = png_image()
        self._started: str | None = None
        self._quiet = False

        editor = W.VBox([self.kind, self.coding, self.pos_pneumonia, self.pos_normal, self.intensity,
                         self.params_box, W.HBox([self.use])])
        training = W.VBox([W.HTML("<b>Shortcut model</b>"), self.epochs, self.subset, self.width, self.train])
        analysis = W.VBox([W.HTML("<b>What did the model learn?</b>"), self.methods, self.n_images,
                           self.controls(), self.progress])
        self.body = W.VBox([W.HBox([editor, W.VBox([W.HTML("<b>Preview</b> (marker outlined)"), self.preview])]),
                            W.HBox([training, analysis]), self.metrics, self.removal,
                            W.HBox([self.fractions, self.fraction_chart])])
        for w in (self.kind, self.coding, self.pos_pneumonia, self.pos_normal, self.intensity, self.size,
                  self.margin, self.stripe_width, self.text, self.font_size):
            self.watch(w, self._edited, "value")
        self.on_click(self.use, self.use_marker)
        self.on_click(self.train, self.train_shortcut)
        self.watch(state, self._data_changed, "data")
        self.watch(state.training, self._status_changed, "status")
        self.watch(state, self._marker_changed, "marker")
        self._kind_layout()
        self._marker_changed({"new": state.marker})
        self.update_preview()

    # ---- the spec ----------------------------------------------------------------------
    def spec(self) -> MarkerSpec:
        """The marker the controls describe (raises InputError for impossible settings)."""
        kind = self.kind.value
        placement: Any = ({1: self.pos_pneumonia.value, 0: self.pos_normal.value} if self.coding.value == "coded"
                          else self.pos_pneumonia.value)
        params: dict[str, Any] = dict(intensity=float(self.intensity.value), placement=placement)
        if kind == "corner":
            params.update(size=int(self.size.value), margin=int(self.margin.value))
        elif kind == "stripe":
            params.update(width=int(self.stripe_width.value))
        else:
            params.update(text=self.text.value, font_size=int(self.font_size.value), margin=int(self.margin.value))
        return make_marker(kind, **params)

    def _kind_layout(self) -> None:
        self._quiet = True
        try:
            self._relayout()
        finally:
            self._quiet = False

    def _relayout(self) -> None:
        kind = self.kind.value
        positions = SIDES if kind == "stripe" else CORNERS
        defaults = ("left", "right") if kind == "stripe" else ("top-left", "bottom-right")
        for w, d in zip((self.pos_pneumonia, self.pos_normal), defaults):
            if tuple(w.options) != positions:
                w.options = positions
                w.value = d
        self.params_box.children = {"corner": [self.size, self.margin], "stripe": [self.stripe_width],
                                    "text": [self.text, self.font_size, self.margin]}[kind]
        coded = self.coding.value == "coded"
        self.pos_pneumonia.description = "pneumonia at" if coded else "position"
        self.pos_normal.layout.display = None if coded else "none"

    def _edited(self, change: dict) -> None:
        if self._quiet:
            return
        if change["owner"] in (self.kind, self.coding):
            self._kind_layout()
        self.update_preview()

    @guarded
    def update_preview(self) -> None:
        """Preview: two images per class from a split in memory, marker applied and outlined."""
        data = self.state.data
        if data is None:
            self.preview.value = b""
            return
        marker = self.spec()
        marker.check_fits(data.size)
        split = data.any_split()
        labels = split.labels.cpu()
        rows, names = [], []
        for c, name in enumerate(data.class_names):
            idx = (labels == c).nonzero().flatten()[:2].tolist()
            if not idx:
                continue
            x, y = split.images[idx], split.labels[idx]
            marked, masks = marker.apply(x, y), marker.mask(y, data.size)
            rows.append([compose(marked[i], mask=masks[i], scale=3) for i in range(len(idx))])
            names.append(name)
        self.preview.value = encode_png(tile_grid(rows, row_labels=names))

    # ---- actions -----------------------------------------------------------------------
    def use_marker(self) -> MarkerSpec:
        """Set the edited marker as ``state.marker``."""
        marker = self.spec()
        if self.state.data is not None:
            marker.check_fits(self.state.data.size)
        self.state.marker = marker
        self.status.show(f"marker set: {marker.describe()}", "ok")
        return marker

    def train_shortcut(self) -> None:
        """Set the marker and train a model on the marked data (through the state)."""
        marker = self.use_marker()
        name = "shortcut" if marker.label_coded else "marker-control"
        self._started = name
        self.state.start_training(name, "small_cnn", "marked", TrainConfig(epochs=int(self.epochs.value)),
                                  subset=int(self.subset.value) or None, background=self.background,
                                  width=int(self.width.value))

    def start(self) -> None:
        self.start_analysis()

    def start_analysis(self) -> None:
        """Measure the active model's use of the marker (off the UI thread)."""
        s = self.state
        if s.data is None:
            raise InputError("no data loaded")
        if "test" not in s.data.splits:
            raise InputError("the shortcut analysis needs a test split")
        entry = s.models.get(s.active_model)
        if entry is None:
            raise InputError("no model yet: train the shortcut model (or load a checkpoint) first")
        marker = entry.marker or s.marker or self.spec()
        marker.check_fits(s.data.size)
        methods, n = chosen_methods(self.methods), int(self.n_images.value)
        self._show_metrics(entry)

        def work(report: Any) -> dict[str, Any]:
            return shortcut_analysis(entry.model, s.data["test"], marker, methods, n, report, s.data.class_names)

        self.launch(f"shortcut analysis of {entry.name}", work, lambda r: self._show_analysis(entry.name, marker, r))

    # ---- results -----------------------------------------------------------------------
    def _show_metrics(self, entry: Any) -> None:
        keys = [k for k in ("test", "test_marked") if k in entry.metrics]
        if not keys:
            self.metrics.value = ""
            return
        labels = {"test": "clean test images", "test_marked": "marked test images"}
        rows = [[name, *[float(entry.metrics[k][key]) for k in keys]]
                for name, key in (("accuracy", "accuracy"), ("sensitivity", "sensitivity"),
                                  ("specificity", "specificity"), ("AUROC", "auroc"))]
        self.metrics.value = (f"<b>{entry.name}</b> (trained on {entry.variant} data)"
                              + html_table(rows, ["metric", *[labels[k] for k in keys]]))

    def _show_analysis(self, name: str, marker: MarkerSpec, r: dict[str, Any]) -> None:
        self.state.cache.put(RESULT_KEY, r)
        d = r["removal"]
        self.removal.value = (
            f"<b>Removing the marker</b> ({marker.describe()}, clean pixels put back) on {d['n']} test images: "
            f"mean p(pneumonia) {d['mean_marked']:.3f} → {d['mean_removed']:.3f}; mean |change| {d['mean_abs_change']:.3f}. "
            f"Largest change: image #{d['index']} ({d['label']}) p(pneumonia) {d['p_marked']:.2f} → {d['p_removed']:.2f}.")
        fr = {method_label(m): v for m, v in r["fractions"].items()}
        self.fractions.value = ("<b>Share of saliency on the marker</b> (region fraction, mean over "
                                f"{r['n_attr']} marked test images; marker area {r['area']:.1%} of the image)"
                                + html_table([[m, v] for m, v in fr.items()], ["method", "fraction ↑"]))
        self.fraction_chart.value = bar_chart_png(fr, ylabel="saliency on marker", title=name)

    # ---- state -> view -----------------------------------------------------------------
    def _data_changed(self, change: dict) -> None:
        self.update_preview()

    def _marker_changed(self, change: dict) -> None:
        m = change["new"]
        self.use.description = "Use this marker" if m is None else "Replace the marker"

    def _status_changed(self, change: dict) -> None:
        if self._started and change["new"] in ("done", "stopped") and self._started in self.state.models:
            self._started = None
            self._show_metrics(self.state.models[self.state.active_model])
            self.start_analysis()

