"""ExplainerSelector: one image, one model, several saliency methods side by side.

Pick an image (index slider with class and misclassified filters, or upload a
PNG/JPEG of any size), the target class and the model; choose methods; each
method's controls are built from its ``Param`` specs. Heatmaps go straight from
the map to PNG bytes (colour table + Pillow) into ``widgets.Image``: no
matplotlib figure per slider move. Attributions are cached in ``state.cache``
(cleared whenever a model or the data changes), so display controls (opacity,
signed/absolute, colour scale) never recompute a map.

Slider bursts are coalesced: a worker renders the latest values after a short
quiet time (``debounce`` seconds). ``debounce=0`` renders synchronously, and
:meth:`ExplainerSelector.refresh` always does (headless tests, benchmarks).
"""
from __future__ import annotations

import collections
import contextlib
import threading
import time
from datetime import datetime
from typing import Any, Iterator, Sequence

import ipywidgets as W
import torch

from labkit.data import load_image
from labkit.errors import InputError
from labkit.explain import explain, get_explainer
from labkit.panels.base import Coalescer, Panel, StatusLine, one_line, png_image
from labkit.panels.controls import method_select, param_values, param_widget, update_layer_widget
from labkit.render import compose, encode_png, map_vmax
from labkit.state import ExperimentState
from labkit.train import evaluate

DEFAULT_METHODS = ("gradient", "smoothgrad", "gradcam")
CACHE_SIZE = 256
_STYLE = {"description_width": "initial"}


def _key_params(params: dict[str, Any]) -> tuple:
    return tuple(sorted(params.items()))


class ExplainerSelector(Panel):
    """Saliency maps of the selected image for several methods.

    Parameters
    ----------
    state, status:
        See :class:`~labkit.panels.base.Panel`.
    methods:
        Methods selected at start (any of ``list_explainers()``).
    debounce:
        Quiet time in seconds before a burst of changes is rendered; 0 renders
        synchronously on every change.
    scale:
        Display enlargement of the images (pixel repetition).
    """

    title = "Explain"

    def __init__(self, state: ExperimentState, status: StatusLine | None = None, *,
                 methods: Sequence[str] = DEFAULT_METHODS, debounce: float = 0.05, scale: int = 4) -> None:
        super().__init__(state, status)
        self.scale = scale
        self._lock = threading.RLock()
        self._quiet = False
        self.rendered: dict[str, Any] = {}
        self.timings: dict[str, float] = {}

        # image
        self.split = W.Dropdown(options=["test"], value="test", description="split", style=_STYLE,
                                layout=W.Layout(width="150px"))
        self.class_filter = W.Dropdown(options=[("all classes", -1)], value=-1, description="show",
                                       style=_STYLE, layout=W.Layout(width="190px"))
        self.misclassified = W.Checkbox(value=False, description="misclassified only", indent=False,
                                        layout=W.Layout(width="150px"))
        self.index = W.IntSlider(value=0, min=0, max=0, description="image", style=_STYLE,
                                 continuous_update=False, layout=W.Layout(width="380px"))
        self.index.add_class("labkit-image-index")
        self.index_label = W.HTML()
        self.upload = W.FileUpload(accept=".png,.jpg,.jpeg,image/png,image/jpeg", multiple=False,
                                   description="upload X-ray")
        self.back = W.Button(description="data set image", icon="undo", disabled=True,
                             tooltip="go back from the uploaded image to the data set image")
        self.variant = W.ToggleButtons(options=[("clean", "clean"), ("with marker", "marked")], value="clean",
                                       description="images", style=_STYLE, disabled=True)
        self.outline = W.Checkbox(value=True, description="outline marker / lesion", indent=False)
        # model and target
        self.model = W.Dropdown(options=[], description="model", style=_STYLE, layout=W.Layout(width="230px"))
        self.target = W.Dropdown(options=[("pneumonia", 1)], value=1, description="explain class",
                                 style=_STYLE, layout=W.Layout(width="230px"))
        self.prediction = W.HTML()
        self.prediction.add_class("labkit-prediction")
        # methods and display
        self.methods = method_select(methods)
        self.mode = W.ToggleButtons(options=[("absolute", "abs"), ("signed", "signed")], value="abs",
                                    description="values", style=_STYLE)
        self.scale_mode = W.ToggleButtons(options=[("per map", "per-map"), ("shared", "shared")], value="per-map",
                                          description="color scale", style=_STYLE)
        self.opacity = W.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="opacity",
                                     style=_STYLE, continuous_update=True)
        self.opacity.add_class("labkit-opacity")
        self.original = png_image(keep_space=True, layout=self._image_layout())
        self.original.add_class("labkit-original")
        self.param_widgets: dict[str, dict[str, W.ValueWidget]] = {}
        self.images: dict[str, W.Image] = {}
        self.infos: dict[str, W.HTML] = {}
        self._columns: dict[str, W.VBox] = {}
        self.grid = W.HBox(layout=W.Layout(flex_flow="row wrap"))

        picker = W.VBox([W.HBox([self.split, self.class_filter, self.misclassified]),
                         W.HBox([self.index, self.index_label]), W.HBox([self.upload, self.back]),
                         W.HBox([self.variant, self.outline])])
        model_box = W.VBox([self.model, self.target, self.prediction])
        display = W.VBox([self.mode, self.scale_mode, self.opacity])
        self.body = W.VBox([W.HBox([picker, model_box]), W.HBox([self.methods, display]), self.grid])

        self._error = ""
        self._user_asked = False
        self._original_key: tuple | None = None
        self._uploads = 0
        self._renderer = Coalescer(self._render, debounce, on_error=self._render_failed)
        for w in (self.opacity, self.mode, self.scale_mode, self.outline):
            self.watch(w, self._display_changed, "value")
        self.watch(self.methods, self._methods_changed, "value")
        self.watch(self.index, self._index_moved, "value")
        self.watch(self.class_filter, self._filter_changed, "value")
        self.watch(self.misclassified, self._filter_changed, "value")
        self.watch(self.variant, self._filter_changed, "value")
        self.watch(self.split, self._split_picked, "value")
        self.watch(self.upload, self._uploaded, "value")
        self.watch(self.model, self._model_picked, "value")
        self.watch(self.target, self._target_picked, "value")
        self.on_click(self.back, self._back_to_data)
        self.watch(state, self._state_image, "image_index", "split", "custom_image")
        self.watch(state, self._state_models, "models", "active_model")
        self.watch(state, self._state_data, "data", "marker")
        self.watch(state, self._state_target, "target")
        self._state_data({})
        self._state_models({})
        self._methods_changed({})

    # ---- public ------------------------------------------------------------------------
    @property
    def debounce(self) -> float:
        return self._renderer.delay

    def refresh(self) -> None:
        """Render now, synchronously (waits for a pending background render first).

        Errors go to the status line, as for every render."""
        self._renderer.wait()
        self._user_asked = True
        try:
            self._render()
        except Exception as exc:  # noqa: BLE001
            self._render_failed(exc)

    def request(self, user: bool = True) -> None:
        """Ask for a render (coalesced; synchronous when ``debounce == 0``).

        ``user=False`` for renders that follow the state (another panel, training):
        those do not report "no model yet" — only the user's own actions do.
        """
        if not self._quiet:
            if user:
                self._user_asked = True
            self._renderer.request()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until pending renders are done (tests)."""
        return self._renderer.wait(timeout)

    # ---- widgets -> state --------------------------------------------------------------
    def _display_changed(self, change: dict) -> None:
        self.request()

    def _methods_changed(self, change: dict) -> None:
        model = self._model_or_none()
        size = self.state.data.size if self.state.data is not None else 64
        for name in self.methods.value:
            if name not in self.param_widgets:
                cls = get_explainer(name)
                widgets = {p.name: param_widget(p, size, model) for p in cls.params}
                for w in widgets.values():
                    self.watch(w, self._display_changed, "value")
                self.param_widgets[name] = widgets
                self.images[name] = png_image(keep_space=True, layout=self._image_layout())
                self.images[name].add_class("labkit-heatmap")
                self.images[name].add_class(f"labkit-heatmap-{name}")
                self.infos[name] = W.HTML()
                title = W.HTML(f"<b title='{cls.description}'>{name}</b>")
                self._columns[name] = W.VBox([title, self.images[name], self.infos[name], *widgets.values()],
                                             layout=W.Layout(margin="0 8px 8px 0"))
        original = W.VBox([W.HTML("<b>image</b>"), self.original], layout=W.Layout(margin="0 8px 8px 0"))
        self.grid.children = [original, *[self._columns[m] for m in self.methods.value]]
        self.request(user=bool(change))  # {} when called from __init__

    def _image_layout(self) -> W.Layout:
        """Every tile at the same on-screen size: the data's image size × ``scale``."""
        size = self.state.data.size if self.state.data is not None else 64
        px = f"{size * self.scale}px"
        return W.Layout(width=px, min_width=px, height=px, min_height=px)

    def _index_moved(self, change: dict) -> None:
        self._user_asked = not self._quiet or self._user_asked
        if self._quiet:
            return
        candidates = self._candidates()
        if not candidates:
            return
        idx = candidates[min(int(change["new"]), len(candidates) - 1)]
        if self.state.custom_image is not None:
            self.state.set_custom_image(None)
        if self.state.image_index != idx:
            self.state.image_index = idx
        else:
            self._sync_index()
            self.request()

    def _filter_changed(self, change: dict) -> None:
        self._user_asked = not self._quiet or self._user_asked
        if self._quiet:
            return
        candidates = self._candidates()
        if candidates and self.state.image_index not in candidates:
            self.state.image_index = candidates[0]
        self._sync_index()
        self.request()

    def _split_picked(self, change: dict) -> None:
        if not self._quiet and change["new"] != self.state.split:
            self.state.image_index = 0
            self.state.split = change["new"]

    def _uploaded(self, change: dict) -> None:
        self._user_asked = not self._quiet or self._user_asked
        files = change["new"]
        if not files:
            return
        f = files[0]
        data = self.state.data
        if data is None:
            raise InputError("load a data set first: the upload is resized to the data set's image size")
        self.state.set_custom_image(load_image(bytes(f["content"]), size=data.size))
        self.status.show(f"using the uploaded image {f.get('name', '')} ({data.size}×{data.size}, grayscale)")

    def _back_to_data(self) -> None:
        self.state.set_custom_image(None)

    def _model_picked(self, change: dict) -> None:
        self._user_asked = not self._quiet or self._user_asked
        if not self._quiet and change["new"] and change["new"] != self.state.active_model:
            self.state.active_model = change["new"]

    def _target_picked(self, change: dict) -> None:
        self._user_asked = not self._quiet or self._user_asked
        if not self._quiet and change["new"] is not None and change["new"] != self.state.target:
            self.state.target = change["new"]

    # ---- state -> widgets --------------------------------------------------------------
    def _state_image(self, change: dict) -> None:
        if change.get("name") == "custom_image":
            self._uploads += 1  # a new id for caches, whatever the tensor's address
        with self._hold():
            if self.state.split in self.split.options:
                self.split.value = self.state.split
        self.back.disabled = self.state.custom_image is None
        self._sync_index()
        self.request(user=False)

    def _state_models(self, change: dict) -> None:
        with self._hold():
            self.model.options = sorted(self.state.models)
            self.model.value = self.state.active_model or None
        model = self._model_or_none()
        for widgets in self.param_widgets.values():
            for w in widgets.values():
                if isinstance(w, W.Dropdown) and w.options is not None and "labkit-param-layer" in w._dom_classes:
                    with self._hold():
                        update_layer_widget(w, model)
        self._sync_index()
        self.request(user=False)

    def _state_data(self, change: dict) -> None:
        data = self.state.data
        px = self._image_layout().width
        for img in [self.original, *self.images.values()]:
            img.layout.width = img.layout.min_width = img.layout.height = img.layout.min_height = px
        with self._hold():
            if data is not None:
                self.split.options = list(data.splits)
                self.split.value = self.state.split
                self.target.options = [(n, i) for i, n in enumerate(data.class_names)]
                self.class_filter.options = [("all classes", -1)] + [(n, i) for i, n in enumerate(data.class_names)]
            self.target.value = self.state.target
            self.variant.disabled = self.state.marker is None
            if self.state.marker is None:
                self.variant.value = "clean"
        self._sync_index()
        self.request(user=False)

    def _state_target(self, change: dict) -> None:
        with self._hold():
            self.target.value = self.state.target
        self.request(user=False)

    # ---- image selection -----------------------------------------------------------------
    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        """Change widgets without their observers writing back to the state."""
        prev, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = prev

    def _model_or_none(self) -> torch.nn.Module | None:
        entry = self.state.models.get(self.state.active_model)
        return None if entry is None else entry.model

    def _split_view(self) -> Any:
        return self.state.view(self.variant.value if self.state.marker is not None else "clean", self.state.split)

    def _predictions(self) -> Any:
        """Predictions of the active model on the shown split (cached in ``state.cache``)."""
        s = self.state
        key = ("panels.predictions", s.active_model, s.model_version, s.split, self.variant.value, repr(s.marker))
        if key not in s.cache:
            s.cache[key] = evaluate(s.model(), self._split_view())
        return s.cache[key]

    def _candidates(self) -> list[int]:
        """Data set indices shown by the slider (after the class and misclassified filters)."""
        if self.state.data is None:
            return []
        split = self._split_view()
        keep = torch.ones(len(split), dtype=torch.bool)
        labels = split.labels.cpu()
        if self.class_filter.value is not None and self.class_filter.value >= 0:
            keep &= labels == int(self.class_filter.value)
        if self.misclassified.value:
            if not self.state.models:
                raise InputError("“misclassified only” needs a model: train or load one first")
            p = self._predictions()
            thr = self.state.models[self.state.active_model].threshold
            keep &= (torch.as_tensor(p.scores) >= thr).long() != labels
        return keep.nonzero().flatten().tolist()

    def _sync_index(self) -> None:
        """Point the slider at ``state.image_index`` (clearing filters that hide it)."""
        if self.state.data is None:
            return
        candidates = self._candidates()
        idx = self.state.image_index
        if idx not in candidates and (self.class_filter.value != -1 or self.misclassified.value):
            with self._hold():
                self.class_filter.value = -1
                self.misclassified.value = False
            candidates = self._candidates()
        with self._hold():
            self.index.disabled = not candidates
            if candidates:
                self.index.max = max(len(candidates) - 1, 0)
                self.index.value = candidates.index(idx) if idx in candidates else 0
        if self.state.custom_image is not None:
            self.index_label.value = "<i>uploaded image</i>"
        elif candidates:
            split = self._split_view()
            label = self.state.data.class_names[int(split.labels[idx])]
            self.index_label.value = f"#{idx} of {len(split)} · label <b>{label}</b> · {len(candidates)} shown"
        else:
            self.index_label.value = "<i>no image matches the filter</i>"

    def current(self) -> tuple[torch.Tensor, int | None, torch.Tensor | None, str]:
        """``(image (1, 1, H, W), label or None, outline mask or None, cache id)`` of the shown image."""
        s = self.state
        if s.data is None:
            raise InputError("no data loaded: load PneumoniaMNIST or the phantom demo first")
        if s.custom_image is not None:
            return s.custom_image, None, None, f"upload-{self._uploads}"
        split = self._split_view()
        i = s.image_index
        x, label = split.images[i:i + 1], int(split.labels[i])
        mask = None
        if self.outline.value:
            if split.marker is not None:
                mask = split.marker.mask(split.labels[i:i + 1], split.size)[0]
            elif split.masks is not None and bool(split.masks[i].any()):
                mask = split.masks[i]
        return x, label, mask, f"{s.split}-{split.name}-{repr(split.marker)}-{i}"

    # ---- rendering -------------------------------------------------------------------------
    def attribution(self, method: str, params: dict[str, Any]) -> tuple[Any, float, bool]:
        """The attribution for the shown image: ``(Attribution, compute ms, from cache)``."""
        s = self.state
        x, _, _, image_id = self.current()
        key = ("panels.attr", s.active_model, s.model_version, image_id, s.target, method, _key_params(params))
        cache = s.cache.setdefault("panels.attr", collections.OrderedDict())
        if key in cache:
            cache.move_to_end(key)
            attr, ms = cache[key]
            return attr, ms, True
        if method in self.infos:
            self.infos[method].value = "<i>computing…</i>"
        t0 = time.perf_counter()
        attr = explain(s.model(), x, s.target, method, **params)
        ms = (time.perf_counter() - t0) * 1000
        cache[key] = (attr, ms)
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
        return attr, ms, False

    def _render(self) -> None:
        with self._lock:
            try:
                self._render_locked()
            except Exception as exc:
                self._error = one_line(exc)
                raise
            if self._error and self.status.text == self._error:  # the problem is fixed: clear it
                self.status.show("maps up to date", "ok")
            self._error = ""

    def _render_failed(self, exc: BaseException) -> None:
        self.status.error(one_line(exc))

    def _render_locked(self) -> None:
        s = self.state
        if s.data is None:
            self.prediction.value = "<i>no data loaded</i>"
            return
        x, label, mask, image_id = self.current()
        alpha, mode = float(self.opacity.value), self.mode.value
        original_key = (image_id, mask is not None, self.scale)
        if original_key != self._original_key:  # display-only changes skip re-encoding the image
            self.original.value = encode_png(compose(x, mask=mask, scale=self.scale))
            self._original_key = original_key
        asked, self._user_asked = self._user_asked, False
        if not s.models or s.active_model not in s.models:
            self.prediction.value = "<i>no model yet: train one or load a checkpoint</i>"
            for m in self.methods.value:
                self.images[m].value, self.infos[m].value = b"", "<i>needs a model</i>"
            if asked:
                raise InputError("no model yet: train one (Train tab) or load a checkpoint to see saliency maps")
            return
        self._show_prediction(x, label, image_id)
        maps: dict[str, Any] = {}
        errors: list[str] = []
        for m in self.methods.value:
            params = param_values(self.param_widgets[m])
            try:
                attr, ms, cached = self.attribution(m, params)
            except Exception as exc:  # noqa: BLE001 — one bad method must not hide the others
                self.images[m].value = b""
                self.infos[m].value = f"<span style='color:#cf222e'>⚠ {one_line(exc)}</span>"
                errors.append(f"{m}: {one_line(exc)}")
                continue
            signed = mode == "signed" and attr.signed is not None
            maps[m] = ((attr.signed if signed else attr.maps)[0], "signed" if signed else "abs")
            note = "" if signed or mode == "abs" else " · no sign (magnitude shown)"
            self.timings[m] = ms
            self.infos[m].value = f"{ms:.0f} ms{' (cached)' if cached else ''}{note}"
            self.rendered[m] = params
            if self.scale_mode.value != "shared":  # show each map as soon as it is ready
                self._paint(m, x, *maps[m], None, alpha, mask)
        if self.scale_mode.value == "shared" and maps:
            shared = map_vmax([v for v, _ in maps.values()])
            for m, (smap, how) in maps.items():
                self._paint(m, x, smap, how, shared, alpha, mask)
        self.rendered.update(opacity=alpha, mode=mode, index=s.image_index, target=s.target, model=s.active_model)
        if errors:
            raise InputError("; ".join(errors))

    def _paint(self, method: str, x: torch.Tensor, smap: torch.Tensor, how: str, vmax: float | None, alpha: float,
               mask: torch.Tensor | None) -> None:
        png = compose(x, smap, mode=how, vmax=vmax, alpha=alpha, mask=mask, scale=self.scale)
        self.images[method].value = encode_png(png)

    def _show_prediction(self, x: torch.Tensor, label: int | None, image_id: str) -> None:
        s = self.state
        entry = s.models[s.active_model]
        key = ("panels.probs", s.active_model, s.model_version, image_id)
        if key not in s.cache:
            with torch.no_grad():
                dev = next(entry.model.parameters()).device
                s.cache[key] = entry.model.eval()(x.to(dev)).softmax(1)[0].cpu()
        probs = s.cache[key]
        names = s.data.class_names
        p1 = float(probs[1]) if len(probs) > 1 else float(probs[0])
        pred = int(p1 >= entry.threshold) if len(probs) == 2 else int(probs.argmax())
        verdict = "" if label is None else (" ✓" if pred == label else " ✗")
        true = "uploaded image" if label is None else f"true: {names[label]}"
        self.prediction.value = (f"<b>{s.active_model}</b> predicts <b>{names[pred]}</b>{verdict}<br>"
                                 f"p({names[-1]}) = {p1:.3f} (threshold {entry.threshold:.2f}) · {true}<br>"
                                 f"explaining class <b>{names[s.target]}</b> (p = {float(probs[s.target]):.3f})")
        self.rendered["probability"] = p1


def upload_entry(content: bytes, name: str = "image.png") -> dict[str, Any]:
    """A ``FileUpload.value`` item (for scripts and tests that upload from Python)."""
    return {"name": name, "type": "image/png" if name.endswith(".png") else "image/jpeg", "size": len(content),
            "content": memoryview(content), "last_modified": datetime.now()}
