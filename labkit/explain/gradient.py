"""Vanilla gradient and Gradient × Input: one backward pass per image.

The shared :func:`input_gradients` is reused by SmoothGrad and Integrated
Gradients, so SmoothGrad with one sample and no noise *is* the gradient.
"""
from __future__ import annotations

import torch
from torch import nn

from labkit.explain.base import Attribution, Explainer, batches, cat, register, target_gradient


def input_gradients(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
                    chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the target logit w.r.t. the input, and the logit, for each image.

    Parameters
    ----------
    model:
        Classifier in eval mode (images are independent, so one backward of the
        summed scores gives every image's gradient).
    x, target:
        Images ``(M, C, H, W)`` and class indices ``(M,)``.
    chunk:
        Most images per forward/backward pass.

    Returns
    -------
    grads, scores:
        ``(M, C, H, W)`` gradients ∂f_c/∂x and ``(M,)`` logits f_c(x).
    """
    grads, scores = [], []
    for xs, ts in batches(chunk, x, target):
        xi = xs.detach().requires_grad_(True)
        with torch.enable_grad():
            g, s = target_gradient(model(xi), ts, xi)
        grads.append(torch.zeros_like(xi) if g is None else g)
        scores.append(s)
    return cat(grads), cat(scores)


@register("gradient", "Gradient")
class Gradient(Explainer):
    """Vanilla gradient saliency: ``|∂f_c/∂x|`` (signed gradient kept in ``signed``).

    The map says how much the class score would change for an infinitesimal
    change of each pixel: a local sensitivity, not a contribution.

    References
    ----------
    K. Simonyan, A. Vedaldi, A. Zisserman. "Deep Inside Convolutional Networks:
    Visualising Image Classification Models and Saliency Maps." ICLR Workshop, 2014.
    """

    description = "Absolute gradient of the class score w.r.t. each pixel."

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        grads, scores = input_gradients(self.model, x, target, self.chunk_size(x))
        return self._signed_result(grads, score=scores)


@register("grad_x_input", "Gradient × Input")
class GradientXInput(Explainer):
    """Gradient × Input: ``x ⊙ ∂f_c/∂x``; ``maps`` is its absolute value.

    With inputs in [-1, 1] the product is zero wherever a pixel is mid-gray
    (0.0), whatever the model does there: a known artifact of the method.

    References
    ----------
    A. Shrikumar, P. Greenside, A. Shcherbina, A. Kundaje. "Not Just a Black Box:
    Learning Important Features Through Propagating Activation Differences."
    arXiv:1605.01713, 2016.
    """

    description = "Input times gradient: pixel value × sensitivity (zero on mid-gray pixels)."

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        grads, scores = input_gradients(self.model, x, target, self.chunk_size(x))
        return self._signed_result(x * grads, score=scores)
