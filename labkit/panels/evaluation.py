"""EvaluationPanel: score explanations with numbers instead of looks.

For the chosen methods, on N images of the explained class starting at the
selected image: deletion and insertion curves with their AUCs, stability under
small input noise, and — when the data set has lesion masks (the phantom) —
localization scores (share of saliency on the lesion, top-k IoU, pointing
game). The run goes off the UI thread with progress and Cancel.
"""
from __future__ import annotations

from typing import Any, Sequence

import ipywidgets as W

from labkit.evaluate import get_metric
from labkit.explain import method_label
from labkit.panels.base import STYLE, StatusLine, html_table, png_image
from labkit.panels.controls import chosen_methods, method_select
from labkit.panels.jobs import JobPanel
from labkit.render import line_chart_png
from labkit.session import ExperimentState
from labkit.session.analyses import evaluate_methods

DEFAULT_METHODS = ("gradient", "integrated_gradients", "gradcam", "occlusion")
FILLS = [("gray (0.0)", 0.0), ("black (−1.0)", -1.0), ("blurred image", "blur")]
RESULT_KEY = "panels.evaluation"


class EvaluationPanel(JobPanel):
    """Deletion/insertion curves, stability and localization for several methods.

    ``methods`` are selected at start; ``background=False`` runs inline (tests).
    """

    title = "Evaluate"

    def __init__(self, state: ExperimentState, status: StatusLine | None = None, *,
                 methods: Sequence[str] = DEFAULT_METHODS, background: bool = True) -> None:
        super().__init__(state, status, run_label="Evaluate", run_icon="bar-chart", background=background)
        self.methods = method_select(methods)
        self.n_images = W.IntSlider(value=8, min=1, max=64, description="images", style=STYLE,
                                    tooltip="images of the explained class, from the selected one on")
        self.steps = W.IntSlider(value=16, min=4, max=64, description="curve steps", style=STYLE)
        self.fill = W.Dropdown(options=FILLS, value=0.0, description="deleted pixels", style=STYLE)
        self.sigma = W.FloatSlider(value=0.03, min=0.0, max=0.2, step=0.01, description="noise σ", style=STYLE)
        self.copies = W.IntSlider(value=4, min=1, max=16, description="noisy copies", style=STYLE)
        self.note = W.HTML()
        self.table = W.HTML()
        self.table.add_class("labkit-eval-table")
        self.deletion = png_image()
        self.insertion = png_image()
        self.body = W.VBox([
            W.HBox([self.methods, W.VBox([self.n_images, self.steps, self.fill, self.sigma, self.copies,
                                          self.controls(), self.progress])]),
            self.note, self.table, W.HBox([self.deletion, self.insertion])])

    @property
    def result(self) -> dict[str, Any] | None:
        return self.state.cache.get(RESULT_KEY)

    def images(self) -> tuple[Any, Any]:
        """N images of the target class from the selected one on, and their lesion masks (or None)."""
        return self.state.selection.batch(int(self.n_images.value), same_class=True)

    def start(self) -> None:
        s = self.state
        model, methods = s.model(), chosen_methods(self.methods)
        x, masks = self.images()
        kwargs = dict(steps=int(self.steps.value), fill=self.fill.value, sigma=float(self.sigma.value),
                      copies=int(self.copies.value), masks=masks)
        target = s.selection.target

        def work(report: Any) -> dict[str, Any]:
            return evaluate_methods(model, x, target, methods, report=report, **kwargs)

        self.launch(f"evaluating {len(methods)} method(s) on {len(x)} image(s)", work, self._show)

    def _show(self, r: dict[str, Any]) -> None:
        self.state.cache.put(RESULT_KEY, r)
        metrics = ["deletion_auc", "insertion_auc", "stability"]
        if r["n_masks"]:
            metrics += ["region_fraction", "topk_iou", "pointing_game"]
        rows = [[method_label(m), *[r["scores"][m][k] for k in metrics]] for m in r["scores"]]
        self.table.value = html_table(rows, ["method", *[get_metric(k).label for k in metrics]])
        names = self.state.data.class_names if self.state.data is not None else ()
        target = names[self.state.selection.target] if names else self.state.selection.target
        note = f"Mean over {r['n']} image(s), explaining class <b>{target}</b>."
        note += (f" Localization on {r['n_masks']} image(s) with a lesion mask (fraction of saliency on the lesion, "
                 "top-k IoU with the mask, pointing game)." if r["n_masks"] else
                 " No lesion masks in this data set: load the phantom demo for localization scores.")
        self.note.value = note
        self.deletion.value = line_chart_png(_labelled(r["deletion"]), xlabel="fraction of pixels deleted",
                                             ylabel="p(target)", title="deletion (lower AUC is better)",
                                             ylim=(0, 1.02), size=(4.2, 3.0))
        self.insertion.value = line_chart_png(_labelled(r["insertion"]), xlabel="fraction of pixels inserted",
                                              ylabel="p(target)", title="insertion (higher AUC is better)",
                                              ylim=(0, 1.02), size=(4.2, 3.0))


def _labelled(curves: dict[str, Any]) -> dict[str, Any]:
    return {method_label(m): c for m, c in curves.items()}
