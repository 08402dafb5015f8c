"""Grad-CAM: feature maps weighted by their spatially averaged gradients."""
from __future__ import annotations

import torch

from labkit.explain.base import Attribution, register
from labkit.explain.cam import CAMExplainer


@register("gradcam", "Grad-CAM")
class GradCAM(CAMExplainer):
    """Grad-CAM: ``ReLU(Σ_k α_k A^k)`` with ``α_k`` = spatial mean of ``∂f_c/∂A^k``.

    Computed at the resolution of ``layer`` (default: the model's last conv block
    output, see ``labkit.models.default_cam_layer``) and upsampled bilinearly, so
    the map is coarse and can miss small markers.
    ``extras``: ``layer_cam`` (before upsampling), ``weights`` ``(N, K)``, ``score``.

    References
    ----------
    R. R. Selvaraju, M. Cogswell, A. Das, R. Vedantam, D. Parikh, D. Batra.
    "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
    Localization." ICCV, 2017.
    """

    description = "Conv feature maps weighted by their mean gradient (coarse, class-specific)."

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        acts, grads, scores = self.activations_and_grads(x, target)
        return self._cam_result(acts, grads.mean((2, 3)), x.shape[-2:], score=scores)
