"""Sanity checks for saliency maps (Adebayo et al., NeurIPS 2018).

Negative controls: if a map barely changes when the model's weights are
randomized (:func:`randomize_layers`, :func:`run_cascade`) or when the model is
trained on random labels (:func:`train_random_labels`), the map does not depend
on what the model learned. Similarity measures live in
:mod:`labkit.sanity.similarity`.

A "layer" is one conv/linear module; the BatchNorm after it is re-initialized
with it by default (``batchnorm="with_layer"``; ``"keep"`` leaves it trained).
See :mod:`labkit.sanity.randomization` for the reasons. ``blocks=`` randomizes
named blocks instead (ResNet-18's ``layer4 … conv1``; ``"default"``: the model's plan).
"""
from labkit.sanity.cascade import CascadeResult, CascadeRow, run_cascade
from labkit.sanity.labels import train_random_labels
from labkit.sanity.randomization import (block_groups, layer_groups, randomization_plan, randomize_layers, randomize_model,
                                         reinitialize_)
from labkit.sanity.similarity import pearson, rankdata, spearman, ssim, topk_overlap

__all__ = ["CascadeResult", "CascadeRow", "run_cascade", "train_random_labels", "layer_groups", "block_groups",
           "randomization_plan", "randomize_layers", "randomize_model", "reinitialize_", "pearson",
           "rankdata", "spearman", "ssim", "topk_overlap"]
