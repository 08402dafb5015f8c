"""Quantitative tests of saliency maps: plain functions plus :class:`Metric` labels.

* :func:`deletion_curve` / :func:`insertion_curve` — faithfulness by perturbation.
* :func:`stability` — map correlation under small input noise.
* :func:`region_fraction`, :func:`topk_iou`, :func:`pointing_game` — saliency on a
  region (shortcut marker, lesion mask).
* :func:`agreement`, :func:`agreement_matrix` — where two or more methods agree,
  image by image (Spearman, top-k % IoU, thresholded IoU).

:data:`METRICS` holds one :class:`Metric` record per score (name, whether higher
is better, a description) for panels and tables.
"""
from labkit.evaluate.agreement import (AGREEMENT_METRICS, Agreement, AgreementMatrix, agreement, agreement_matrix,
                                       method_maps)
from labkit.evaluate.localization import pointing_game, region_fraction, topk_iou
from labkit.evaluate.metric import METRICS, Metric, get_metric, list_metrics
from labkit.evaluate.perturbation import (DeletionCurve, InsertionCurve, PerturbationCurve, deletion_curve,
                                          gaussian_blur, insertion_curve)
from labkit.evaluate.stability import StabilityResult, stability
from labkit.sanity.similarity import pearson

__all__ = ["pointing_game", "region_fraction", "topk_iou", "METRICS", "Metric", "get_metric", "list_metrics",
           "DeletionCurve", "InsertionCurve", "PerturbationCurve", "deletion_curve", "gaussian_blur",
           "insertion_curve", "StabilityResult", "stability", "pearson", "AGREEMENT_METRICS", "Agreement",
           "AgreementMatrix", "agreement", "agreement_matrix", "method_maps"]
