"""Metric records: name, direction and a one-line description, as class data.

The metrics themselves are plain functions; a :class:`Metric` is the label a panel
or a benchmark table needs (which way is better, what the number means).
"""
from __future__ import annotations

from dataclasses import dataclass

from labkit.registry import Registry


@dataclass(frozen=True)
class Metric:
    """Description of one score produced by a ``labkit.evaluate`` function."""

    name: str
    higher_is_better: bool
    description: str
    function: str

    @property
    def arrow(self) -> str:
        """``"↑"`` when higher is better, ``"↓"`` otherwise (for table headers)."""
        return "↑" if self.higher_is_better else "↓"

    @property
    def label(self) -> str:
        """Short UI label such as ``"deletion AUC ↓"``."""
        return f"{self.name.replace('_', ' ')} {self.arrow}"


DELETION_AUC = Metric("deletion_auc", False, "Area under the target probability as the most salient pixels "
                      "are removed first; low means the map found what the model uses.", "deletion_curve")
INSERTION_AUC = Metric("insertion_auc", True, "Area under the target probability as the most salient pixels "
                       "are inserted first into a blurred or constant image.", "insertion_curve")
STABILITY = Metric("stability", True, "Pearson correlation between the map of an image and maps of slightly "
                   "noisy copies that keep the same prediction.", "stability")
REGION_FRACTION = Metric("region_fraction", True, "Share of the absolute saliency that falls inside a mask "
                         "(e.g. a shortcut marker or a lesion).", "region_fraction")
TOPK_IOU = Metric("topk_iou", True, "IoU between the top-p% most salient pixels and a mask.", "topk_iou")
POINTING_GAME = Metric("pointing_game", True, "Whether the most salient pixel lies inside the (dilated) mask.",
                       "pointing_game")

AGREEMENT_SPEARMAN = Metric("agreement_spearman", True, "Spearman rank correlation of two methods' absolute "
                            "maps of the same image (1: same pixel order).", "agreement")
AGREEMENT_TOPK_IOU = Metric("agreement_topk_iou", True, "IoU of the top-k% pixels of two methods' maps of the "
                            "same image.", "agreement")
AGREEMENT_THRESHOLD_IOU = Metric("agreement_threshold_iou", True, "IoU of two methods' maps of the same image "
                                 "after min-max scaling and a threshold.", "agreement")

METRICS: Registry[Metric] = Registry("metric")
for _metric in (DELETION_AUC, INSERTION_AUC, STABILITY, REGION_FRACTION, TOPK_IOU, POINTING_GAME,
                AGREEMENT_SPEARMAN, AGREEMENT_TOPK_IOU, AGREEMENT_THRESHOLD_IOU):
    METRICS.add(_metric.name, _metric)


def list_metrics() -> list[str]:
    """Names of the metric records in :data:`METRICS`."""
    return METRICS.names()


def get_metric(name: str) -> Metric:
    """The :class:`Metric` record called ``name``."""
    return METRICS.get(name)
