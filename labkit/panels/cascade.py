"""CascadeViewer: the model-randomization sanity check (Adebayo et al., 2018).

Choose methods, the order (cascade from the output layer down, each layer on
its own, or bottom-up) and how many images; the run goes off the UI thread
with a progress bar and a Cancel button. The result shows a grid of maps (one
row per method, one column per randomization step), the similarity curves
(Spearman of absolute and signed maps, SSIM) and a caption computed from the
numbers: which methods decorrelate (pass) and which stay the same (fail — the
Guided Backprop lesson).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import ipywidgets as W
import numpy as np

from labkit.explain import method_label
from labkit.panels.base import STYLE, StatusLine, png_image
from labkit.panels.controls import chosen_methods, method_select
from labkit.panels.jobs import JobPanel
from labkit.render import cascade_grid, encode_png, similarity_png
from labkit.sanity import CascadeResult, run_cascade
from labkit.session import ExperimentState
from labkit.session.analyses import SAME_THRESHOLD, similarity_profile

DEFAULT_METHODS = ("gradient", "gradcam", "guided_backprop")
ORDERS = [("cascade: output layer → input", "cascade"), ("independent: one layer at a time", "independent"),
          ("bottom-up: input layer → output", "bottom_up")]
RESULT_KEY = "panels.cascade"


def lesson_caption(result: CascadeResult, threshold: float = SAME_THRESHOLD) -> str:
    """HTML sentence per method saying whether its maps survive randomization, from the numbers.

    A method "stays the same" (fails) when the mean Spearman correlation of its
    absolute maps with the original, over all randomization steps, is at least
    ``threshold``; methods are listed from the most to the least similar.
    """
    prof = similarity_profile(result)
    first = result.layers[1] if len(result.layers) > 1 else "first layer"
    ordered = sorted(prof, key=lambda m: -prof[m]["mean"] if np.isfinite(prof[m]["mean"]) else math.inf)
    steps = "every cascade step" if result.order != "independent" else "the single-layer randomizations"
    parts = []
    for name in ordered:
        p, m = prof[name], method_label(name)
        if not np.isfinite(p["mean"]):
            parts.append(f"<li>{m}: the maps are constant (blank) here, so no rank correlation is defined — "
                         "look at the grid.</li>")
            continue
        detail = (f"mean rank correlation with the original map {p['mean']:+.2f} over {steps} "
                  f"({_corr(p['first'])} with {first} randomized, {_corr(p['last'])} at the end)")
        if p["mean"] >= threshold:
            parts.append(f"<li><b style='color:#cf222e'>{m} stays the same</b>: {detail}. The map hardly depends "
                         "on what the model learned — it <b>fails</b> the sanity check.</li>")
        else:
            parts.append(f"<li><b style='color:#1a7f37'>{m} changes</b>: {detail} — it <b>passes</b>.</li>")
    rule = f"(fails: mean correlation ≥ {threshold:.2f})"
    return f"<ul style='margin:4px 0'>{''.join(parts)}</ul><span style='color:#666'>{rule}</span>"


def _corr(value: float) -> str:
    return f"{value:+.2f}" if np.isfinite(value) else "undefined: the map is constant"


class CascadeViewer(JobPanel):
    """Run and show cascading (or independent) randomization for the active model.

    ``methods`` are selected at start; ``background=False`` runs inline (tests).
    """

    title = "Sanity checks"

    def __init__(self, state: ExperimentState, status: StatusLine | None = None, *,
                 methods: Sequence[str] = DEFAULT_METHODS, background: bool = True, scale: int = 2) -> None:
        super().__init__(state, status, run_label="Randomize", run_icon="random", background=background)
        self.scale = scale
        self.methods = method_select(methods)
        self.order = W.RadioButtons(options=ORDERS, value="cascade", description="order", style=STYLE)
        self.n_images = W.IntSlider(value=1, min=1, max=16, description="images", style=STYLE,
                                    tooltip="the selected image and the ones after it")
        self.caption = W.HTML()
        self.caption.add_class("labkit-cascade-caption")
        self.grid = png_image()
        self.curves = png_image()
        intro = W.HTML("Re-initialize the model's layers one step at a time and recompute each map. A map that "
                       "<i>explains the model</i> must change when the model's weights are destroyed.")
        self.body = W.VBox([intro, W.HBox([self.methods, W.VBox([self.order, self.n_images, self.controls(),
                                                                self.progress])]),
                            self.caption, self.grid, self.curves])
        self.watch(state, self._models_changed, "models")

    @property
    def result(self) -> CascadeResult | None:
        """The last result (kept in ``state.cache``, so it goes when the model changes)."""
        kept = self.state.cache.get(RESULT_KEY)
        return None if kept is None else kept[0]

    def start(self) -> None:
        """Run the randomization for the active model on the chosen images."""
        s = self.state
        model, methods = s.model(), chosen_methods(self.methods)
        x, _ = s.selection.batch(int(self.n_images.value))
        target, order = s.selection.target, self.order.value
        self.caption.value = ""

        def work(report: Any) -> CascadeResult:
            return run_cascade(model, x, target, methods=methods, order=order, progress=report, keep_maps=True)

        self.launch(f"{order} randomization of {s.active_model}", work, lambda r: self._show(r, x))

    def _show(self, result: CascadeResult, images: Any) -> None:
        self.state.cache.put(RESULT_KEY, (result, images.detach().cpu()))
        self.caption.value = lesson_caption(result)
        self.grid.value = encode_png(cascade_grid(result, images, scale=self.scale,
                                                  labels=[method_label(m) for m in result.methods]))
        rows = [{**row, "method": method_label(row["method"])} for row in result.summary()]
        self.curves.value = similarity_png(rows, title=f"similarity to the original map ({result.order})")

    def _models_changed(self, change: dict) -> None:
        if self.result is None:
            self.caption.value = ""
            self.grid.value = b""
            self.curves.value = b""
