"""Grad-CAM++: pixel-wise weighting of positive gradients."""
from __future__ import annotations

import torch

from labkit.explain.base import Attribution, register
from labkit.explain.cam import CAMExplainer


#: added to the denominator of a_ij (pytorch-grad-cam's value), so it never divides by zero
EPS = 1e-6


@register("gradcam_pp", "Grad-CAM++")
class GradCAMPlusPlus(CAMExplainer):
    """Grad-CAM++: ``w_k = Σ_ij a_ij^k ReLU(∂f_c/∂A^k_ij)`` with
    ``a_ij^k = g² / (2g² + Σ_ab A^k_ab · g³)`` (``g = ∂f_c/∂A^k_ij``).

    This is the closed form for an exponentiated class score, where higher-order
    derivatives are powers of the first (exact for piecewise-linear networks); the
    common ``exp(f_c)`` factor is dropped because it only rescales the map.
    As in pytorch-grad-cam, ``EPS`` is added to the denominator and terms with a zero
    gradient get weight 0.

    References
    ----------
    A. Chattopadhay, A. Sarkar, P. Howlader, V. N. Balasubramanian. "Grad-CAM++:
    Generalized Gradient-Based Visual Explanations for Deep Convolutional
    Networks." WACV, 2018.
    """

    description = "Grad-CAM with pixel-wise weights on positive gradients (better for several objects)."

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        acts, grads, scores = self.activations_and_grads(x, target)
        g2 = grads.pow(2)
        denom = 2 * g2 + acts.sum((2, 3), keepdim=True) * g2 * grads + EPS
        alpha = torch.where(grads != 0, g2 / denom, torch.zeros_like(denom))
        weights = (alpha * grads.clamp(min=0)).sum((2, 3))
        return self._cam_result(acts, weights, x.shape[-2:], score=scores)
