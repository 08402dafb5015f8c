"""HiResCAM: the element-wise product of gradients and activations."""
from __future__ import annotations

import torch

from labkit.explain.base import Attribution, register
from labkit.explain.cam import CAMExplainer


@register("hirescam", "HiResCAM")
class HiResCAM(CAMExplainer):
    """HiResCAM: ``ReLU(Σ_k ∂f_c/∂A^k ⊙ A^k)``.

    Grad-CAM without the spatial averaging of the gradient: for a model that ends in
    global average pooling and one linear layer the map shows exactly the locations
    that raise the score (Grad-CAM's can highlight others).
    ``extras``: ``layer_cam`` (before upsampling), ``score``.

    References
    ----------
    R. L. Draelos, L. Carin. "Use HiResCAM instead of Grad-CAM for faithful
    explanations of convolutional neural networks." arXiv:2011.08891, 2020.
    """

    description = "Gradient times activation summed over channels (Grad-CAM without averaging the gradient)."

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        acts, grads, scores = self.activations_and_grads(x, target)
        return self._map_result((grads * acts).sum(1), x.shape[-2:], score=scores)
