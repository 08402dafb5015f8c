"""EvaluationPanel: score explanations with numbers instead of looks.

For the chosen methods, on N images of the explained class starting at the
selected image: deletion and insertion curves with their AUCs, stability under
small input noise, and — when the data set has lesion masks (the phantom) —
localization scores (share of saliency on the lesion, top-k IoU, pointing
game). The run goes off the UI thread with progress and Cancel.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import ipywidgets as W
import torch

from labkit.errors import InputError
from labkit.evaluate import deletion_curve, get_metric, insertion_curve, pointing_game, region_fraction, stability, topk_iou
from labkit.explain import explain
from labkit.panels.base import Job, Panel, StatusLine, html_table, png_image
from labkit.panels.controls import job_controls, method_select
from labkit.render import line_chart_png
from labkit.state import ExperimentState

DEFAULT_METHODS = ("gradient", "integrated_gradients", "gradcam", "occlusion")
FILLS = [("gray (0.0)", 0.0), ("black (−1.0)", -1.0), ("blurred image", "blur")]
RESULT_KEY = "panels.evaluation"
_STYLE = {"description_width": "initial"}


def _nanmean(t: torch.Tensor) -> float:
    t = t.double()
    t = t[~t.isnan()]
    return float(t.mean()) if len(t) else math.nan


def evaluate_methods(model: torch.nn.Module, x: torch.Tensor, target: int, methods: Sequence[str], *,
                     steps: int = 16, fill: Any = 0.0, sigma: float = 0.03, copies: int = 4,
                     masks: torch.Tensor | None = None, report: Any = None) -> dict[str, Any]:
    """Curves and scores per method: ``{"curves": {...}, "scores": {method: {metric: value}}}``."""
    out: dict[str, Any] = {"deletion": {}, "insertion": {}, "scores": {}}
    total = len(methods)
    has_masks = masks is not None and bool(masks.flatten(1).any(1).any())
    for k, m in enumerate(methods):
        maps = explain(model, x, target, m).maps
        d = deletion_curve(model, x, target, maps, steps=steps, fill=fill)
        i = insertion_curve(model, x, target, maps, steps=steps)
        st = stability(model, x, target, m, sigma=sigma, n=copies)
        out["deletion"][m] = (d.fractions.tolist(), d.scores.mean(0).tolist())
        out["insertion"][m] = (i.fractions.tolist(), i.scores.mean(0).tolist())
        row = {"deletion_auc": _nanmean(d.auc), "insertion_auc": _nanmean(i.auc),
               "stability": _nanmean(st.correlation)}
        if has_masks:
            keep = masks.flatten(1).any(1)
            mm, mk = maps[keep.to(maps.device)], masks[keep].to(maps.device)
            row.update(region_fraction=_nanmean(region_fraction(mm, mk)), topk_iou=_nanmean(topk_iou(mm, mk)),
                       pointing_game=_nanmean(pointing_game(mm, mk).double()))
        out["scores"][m] = row
        if report:
            report(k + 1, total)
    out["n"] = len(x)
    out["n_masks"] = int(masks.flatten(1).any(1).sum()) if has_masks else 0
    return out


class EvaluationPanel(Panel):
    """Deletion/insertion curves, stability and localization for several methods.

    Parameters
    ----------
    state, status:
        See :class:`~labkit.panels.base.Panel`.
    methods:
        Methods selected at start.
    background:
        Run on a thread (default); ``False`` runs inline (tests).
    """

    title = "Evaluate"

    def __init__(self, state: ExperimentState, status: StatusLine | None = None, *,
                 methods: Sequence[str] = DEFAULT_METHODS, background: bool = True) -> None:
        super().__init__(state, status)
        self.methods = method_select(methods)
        self.n_images = W.IntSlider(value=8, min=1, max=64, description="images", style=_STYLE,
                                    tooltip="images of the explained class, from the selected one on")
        self.steps = W.IntSlider(value=16, min=4, max=64, description="curve steps", style=_STYLE)
        self.fill = W.Dropdown(options=FILLS, value=0.0, description="deleted pixels", style=_STYLE)
        self.sigma = W.FloatSlider(value=0.03, min=0.0, max=0.2, step=0.01, description="noise σ", style=_STYLE)
        self.copies = W.IntSlider(value=4, min=1, max=16, description="noisy copies", style=_STYLE)
        self.run = W.Button(description="Evaluate", button_style="primary", icon="bar-chart")
        self.cancel, self.progress = job_controls()
        self.note = W.HTML()
        self.table = W.HTML()
        self.table.add_class("labkit-eval-table")
        self.deletion = png_image()
        self.insertion = png_image()
        self.job = Job(self.status, self.progress, background)
        self.body = W.VBox([
            W.HBox([self.methods, W.VBox([self.n_images, self.steps, self.fill, self.sigma, self.copies,
                                          W.HBox([self.run, self.cancel]), self.progress])]),
            self.note, self.table, W.HBox([self.deletion, self.insertion])])
        self.on_click(self.run, self.start)
        self.on_click(self.cancel, self.job.cancel)

    @property
    def result(self) -> dict[str, Any] | None:
        return self.state.cache.get(RESULT_KEY)

    def images(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """N images of the target class from the selected one on, and their lesion masks (or None)."""
        s = self.state
        if s.data is None:
            raise InputError("no data loaded")
        if s.custom_image is not None:
            return s.custom_image, None
        split = s.data[s.split]
        labels = split.labels.cpu()
        order = torch.cat([torch.arange(s.image_index, len(split)), torch.arange(0, s.image_index)])
        idx = order[labels[order] == s.target][: int(self.n_images.value)]
        if len(idx) == 0:
            raise InputError(f"the {s.split} split has no image of class {s.target}")
        dev_idx = idx.to(split.images.device)
        return split.images[dev_idx], None if split.masks is None else split.masks[dev_idx]

    def start(self) -> None:
        s = self.state
        model = s.model()
        methods = list(self.methods.value)
        if not methods:
            raise InputError("choose at least one method")
        x, masks = self.images()
        kwargs = dict(steps=int(self.steps.value), fill=self.fill.value, sigma=float(self.sigma.value),
                      copies=int(self.copies.value), masks=masks)
        target = s.target

        def work(report: Any) -> dict[str, Any]:
            return evaluate_methods(model, x, target, methods, report=report, **kwargs)

        self.job.start(f"evaluating {len(methods)} method(s) on {len(x)} image(s)", work, self._show)

    def _show(self, r: dict[str, Any]) -> None:
        self.state.cache[RESULT_KEY] = r
        metrics = ["deletion_auc", "insertion_auc", "stability"]
        if r["n_masks"]:
            metrics += ["region_fraction", "topk_iou", "pointing_game"]
        rows = [[m, *[r["scores"][m][k] for k in metrics]] for m in r["scores"]]
        self.table.value = html_table(rows, ["method", *[get_metric(k).label for k in metrics]])
        names = self.state.data.class_names if self.state.data is not None else ()
        target = names[self.state.target] if names else self.state.target
        note = f"Mean over {r['n']} image(s), explaining class <b>{target}</b>."
        note += (f" Localization on {r['n_masks']} image(s) with a lesion mask (fraction of saliency on the lesion, "
                 "top-k IoU with the mask, pointing game)." if r["n_masks"] else
                 " No lesion masks in this data set: load the phantom demo for localization scores.")
        self.note.value = note
        self.deletion.value = line_chart_png(r["deletion"], xlabel="fraction of pixels deleted",
                                             ylabel="p(target)", title="deletion (lower AUC is better)",
                                             ylim=(0, 1.02), size=(4.2, 3.0))
        self.insertion.value = line_chart_png(r["insertion"], xlabel="fraction of pixels inserted",
                                              ylabel="p(target)", title="insertion (higher AUC is better)",
                                              ylim=(0, 1.02), size=(4.2, 3.0))
