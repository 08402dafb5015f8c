"""LayerCAM: every activation weighted by its own positive gradient."""
from __future__ import annotations

import torch

from labkit.explain.base import Attribution, register
from labkit.explain.cam import CAMExplainer


@register("layercam", "LayerCAM")
class LayerCAM(CAMExplainer):
    """LayerCAM: ``ReLU(Σ_k ReLU(∂f_c/∂A^k_ij) · A^k_ij)``.

    A per-location weight instead of Grad-CAM's per-channel mean, so shallower
    layers give usable, finer maps (small markers are not averaged away).
    ``extras``: ``layer_cam`` (before upsampling), ``score``.

    References
    ----------
    P.-T. Jiang, C.-B. Zhang, Q. Hou, M.-M. Cheng, Y. Wei. "LayerCAM: Exploring
    Hierarchical Class Activation Maps for Localization." IEEE TIP 30, 2021.
    """

    description = "Activations weighted by their own positive gradient, per location (finer than Grad-CAM)."

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        acts, grads, scores = self.activations_and_grads(x, target)
        return self._map_result((grads.clamp(min=0) * acts).sum(1), x.shape[-2:], score=scores)
