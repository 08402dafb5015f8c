"""ImagePicker: the widgets that choose the shown image, bound to ``state.selection``.

Split, class filter, "misclassified only" and clean/marked are ``traitlets.link``-ed
to the selection. The index slider walks over ``selection.candidates()`` (the
images that pass the filters): moving it sets ``selection.image_index``, and a
change of the selection from anywhere moves it back. An upload replaces the
data set image until "data set image" is pressed.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import ipywidgets as W
from traitlets import link

from labkit.data import load_image
from labkit.panels.base import STYLE
from labkit.panels.controls import TOGGLES, labelled

if TYPE_CHECKING:
    from labkit.panels.base import Panel


class ImagePicker:
    """Image choice for one panel (its guard reports every error in the panel's status line)."""

    def __init__(self, panel: "Panel") -> None:
        self.panel = panel
        self.state = state = panel.state
        sel = state.selection
        self.split = W.Dropdown(options=["test"], value="test", description="split", style=STYLE,
                                layout=W.Layout(width="150px"))
        self.class_filter = W.Dropdown(options=[("all classes", -1)], value=-1, description="show",
                                       style=STYLE, layout=W.Layout(width="190px"))
        self.misclassified = W.Checkbox(value=False, description="misclassified only", indent=False,
                                        layout=W.Layout(width="150px"))
        self.index = W.IntSlider(value=0, min=0, max=0, description="image", style=STYLE,
                                 continuous_update=False, layout=W.Layout(width="340px"))
        self.index.add_class("labkit-image-index")
        self.index_label = W.HTML()
        self.upload = W.FileUpload(accept=".png,.jpg,.jpeg,image/png,image/jpeg", multiple=False,
                                   description="upload X-ray")
        self.back = W.Button(description="data set image", icon="undo", disabled=True,
                             tooltip="go back from the uploaded image to the data set image")
        self.variant = W.ToggleButtons(options=[("clean", "clean"), ("with marker", "marked")], value="clean",
                                       style=TOGGLES, disabled=True)
        # three short rows; they wrap rather than scroll in a narrow output area
        rows = [[self.split, self.class_filter, self.misclassified], [self.index, self.index_label],
                [self.upload, self.back, labelled("images", self.variant)]]
        self.widget = W.VBox([W.HBox(r, layout=W.Layout(flex_flow="row wrap")) for r in rows])
        self._links = [link((sel, "misclassified"), (self.misclassified, "value")),
                       link((sel, "variant"), (self.variant, "value"))]
        self._option_links: dict[str, Any] = {}
        self._data_changed({})
        panel.watch(self.index, self._moved, "value")
        panel.watch(self.upload, self._uploaded, "value")
        panel.on_click(self.back, self._back)
        panel.watch(sel, self._selection_changed, "image_index", "split", "custom_image", "variant")
        panel.watch(sel, self._filter_changed, "class_filter", "misclassified")
        panel.watch(state, self._data_changed, "data", "marker")
        panel.watch(state, lambda change: self.sync(), "models", "active_model")

    # ---- widgets -> selection ----------------------------------------------------------
    def _moved(self, change: dict) -> None:
        candidates = self.state.selection.candidates()
        if not candidates:
            return
        sel = self.state.selection
        if sel.custom_image is not None:
            sel.set_custom_image(None)
        idx = candidates[min(int(change["new"]), len(candidates) - 1)]
        self.panel.status.clear_error()
        if sel.image_index != idx:
            sel.image_index = idx

    def _back(self) -> None:
        self.panel.status.clear_error()
        self.state.selection.set_custom_image(None)

    def _uploaded(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        f = files[0]
        data = self.state.require_data()
        name = f.get("name", "") or "the uploaded file"
        self.state.selection.set_custom_image(load_image(bytes(f["content"]), size=data.size, name=name), name)
        self.panel.status.show(f"using the uploaded image {name} ({data.size}×{data.size}, grayscale)")

    # ---- selection -> widgets ----------------------------------------------------------
    def _selection_changed(self, change: dict) -> None:
        self.back.disabled = self.state.selection.custom_image is None
        self.sync(keep_image=True)

    def _filter_changed(self, change: dict) -> None:
        self.sync(keep_image=False)

    def _data_changed(self, change: dict) -> None:
        data = self.state.data
        if data is not None:
            self._relink("split", self.split, list(data.splits))
            self._relink("class_filter", self.class_filter,
                         [("all classes", -1)] + [(n, i) for i, n in enumerate(data.class_names)])
        elif not self._option_links:
            self._relink("split", self.split, list(self.split.options))
            self._relink("class_filter", self.class_filter, list(self.class_filter.options))
        self.variant.disabled = self.state.marker is None
        self.sync()

    def _relink(self, name: str, widget: W.Dropdown, options: list) -> None:
        """New dropdown options without the selection following the widget's reset to the first option."""
        old = self._option_links.pop(name, None)
        if old is not None:
            old.unlink()
        widget.options = options
        self._option_links[name] = link((self.state.selection, name), (widget, "value"))

    def sync(self, keep_image: bool = True) -> None:
        """Point the slider at the selected image among the candidates.

        With ``keep_image`` a selected image that the filters hide clears the
        filters; otherwise (a filter changed) the first candidate is selected.
        """
        sel = self.state.selection
        if self.state.data is None:
            return
        candidates = sel.candidates()
        if sel.image_index not in candidates and candidates and sel.custom_image is None:
            if keep_image and (sel.class_filter != -1 or sel.misclassified):
                with sel.hold_trait_notifications():
                    sel.class_filter, sel.misclassified = -1, False
                return  # the filter change syncs again
            if not keep_image:
                sel.image_index = candidates[0]
                return
        with self.index.hold_trait_notifications():
            self.index.disabled = not candidates
            self.index.max = max(len(candidates) - 1, 0)
            self.index.value = candidates.index(sel.image_index) if sel.image_index in candidates else 0
        self.index_label.value = self._label(candidates)

    def _label(self, candidates: list[int]) -> str:
        sel = self.state.selection
        if sel.custom_image is not None:
            return f"<i>uploaded image {sel.upload_name}</i>"
        if not candidates:
            return "<i>no image matches the filter</i>"
        split = sel.view()
        label = self.state.data.class_names[int(split.labels[sel.image_index])]
        return f"#{sel.image_index} of {len(split)} · label <b>{label}</b> · {len(candidates)} shown"

    def close(self) -> None:
        for lk in [*self._links, *self._option_links.values()]:
            lk.unlink()


def upload_entry(content: bytes, name: str = "image.png") -> dict[str, Any]:
    """A ``FileUpload.value`` item (for scripts and tests that upload from Python)."""
    return {"name": name, "type": "image/png" if name.endswith(".png") else "image/jpeg", "size": len(content),
            "content": memoryview(content), "last_modified": datetime.now()}
