"""CompareView: where two saliency methods agree and where they disagree, over several images.

The Carpentries comparison: N images from the selected one on, each row the image
and the two methods' maps, rows sorted from the strongest agreement to the
strongest disagreement with the score beside them; below, the agreement matrix of
every method chosen. The work is :func:`labkit.session.analyses.compare_methods`.
"""
from __future__ import annotations

from typing import Any

import ipywidgets as W

from labkit.evaluate import AGREEMENT_METRICS
from labkit.explain import method_label
from labkit.panels.base import STYLE, StatusLine, html_table, png_image
from labkit.panels.controls import method_select
from labkit.panels.jobs import JobPanel
from labkit.render import comparison_grid, encode_png
from labkit.session import ExperimentState
from labkit.session.analyses import Comparison, compare_methods

METRIC_LABELS = {"spearman": "Spearman rank correlation", "topk_iou": "top-10 % IoU",
                 "threshold_iou": "IoU of maps thresholded at half their range"}
RESULT_KEY = "panels.compare"


class CompareView(JobPanel):
    """Two methods over N images, sorted by agreement, and an agreement matrix.

    ``background=False`` runs inline (tests).
    """

    title = "Compare methods"

    def __init__(self, state: ExperimentState, status: StatusLine | None = None, *, background: bool = True,
                 scale: int = 2) -> None:
        super().__init__(state, status, run_label="Compare", run_icon="columns", background=background)
        self.scale = scale
        options = list(method_select(()).options)
        names = [v for _, v in options]
        self.method_a = W.Dropdown(options=options, value="gradcam" if "gradcam" in names else names[0],
                                   description="method A", style=STYLE)
        self.method_b = W.Dropdown(options=options, value="integrated_gradients" if "integrated_gradients" in names
                                   else names[1], description="method B", style=STYLE)
        self.metric = W.Dropdown(options=[(METRIC_LABELS[m], m) for m in AGREEMENT_METRICS], value="spearman",
                                 description="agreement", style=STYLE)
        self.n_images = W.IntSlider(value=10, min=2, max=32, description="images", style=STYLE,
                                    tooltip="the selected image and the ones after it")
        self.matrix_methods = method_select(("gradcam_pp", "scorecam"), rows=6)
        self.matrix_methods.description = "matrix also"
        self.caption = W.HTML()
        self.grid = png_image()
        self.grid.add_class("labkit-compare-grid")
        self.matrix = W.HTML()
        self.matrix.add_class("labkit-agreement-matrix")
        self.body = W.VBox([W.HBox([W.VBox([self.method_a, self.method_b, self.metric, self.n_images]),
                                    W.VBox([self.matrix_methods, self.controls(), self.progress])]),
                            self.caption, self.grid, self.matrix])

    @property
    def result(self) -> Comparison | None:
        return self.state.cache.get(RESULT_KEY)

    def start(self) -> None:
        s, sel = self.state, self.state.selection
        model, n = s.model(), int(self.n_images.value)
        pair = (self.method_a.value, self.method_b.value)
        x, _ = sel.batch(n)
        indices = sel.positions(n) if sel.custom_image is None else [0]
        others, metric, target = list(self.matrix_methods.value), self.metric.value, sel.target

        def work(report: Any) -> Comparison:
            return compare_methods(model, x, target, pair, others, metric, indices, report)

        self.launch(f"comparing {method_label(pair[0])} with {method_label(pair[1])} on {len(x)} image(s)",
                    work, self._show)

    def _show(self, c: Comparison) -> None:
        self.state.cache.put(RESULT_KEY, c)
        a, b = c.pair
        rows = [f"#{c.indices[i]} {_num(float(c.scores[i]))}" for i in c.order]
        self.grid.value = encode_png(comparison_grid(c.images, c.maps[a], c.maps[b], c.order, rows,
                                                     ["image", method_label(a), method_label(b)], self.scale))
        finite = [float(v) for v in c.scores if v == v]
        mean = sum(finite) / len(finite) if finite else float("nan")
        self.caption.value = (f"<b>{METRIC_LABELS[c.metric]}</b> of {method_label(a)} and {method_label(b)}, image "
                              f"by image: strongest agreement on top, strongest disagreement at the bottom "
                              f"(mean {_num(mean)} over {len(finite)} image(s)).")
        names = [method_label(m) for m in c.matrix.methods]
        table = [[n, *[float(v) for v in row]] for n, row in zip(names, c.matrix.values)]
        self.matrix.value = f"<b>Agreement matrix</b> (mean {METRIC_LABELS[c.metric]})" + html_table(table, ["", *names])


def _num(v: float) -> str:
    return f"{v:+.2f}" if v == v else "undefined"
