"""Guided Backpropagation and Guided Grad-CAM.

Guided Backprop passes only positive gradients back through every ReLU. It
produces crisp, edge-like maps that barely change when the model's weights are
randomized, which is why it *fails* the sanity checks of Adebayo et al. (2018).
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from labkit.errors import InputError
from labkit.explain.base import Attribution, Explainer, register
from labkit.explain.calls import walk
from labkit.explain.cam import LAYER_PARAM, CAMExplainer
from labkit.explain.gradcam import GradCAM
from labkit.explain.gradient import input_gradients


class _PositiveGradient(torch.autograd.Function):
    """Identity forward; backward keeps only the positive part of the gradient."""

    @staticmethod
    def forward(ctx: object, y: torch.Tensor) -> torch.Tensor:
        return y.clone()

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        return grad.clamp(min=0)


@contextlib.contextmanager
def guided_relus(model: nn.Module) -> Iterator[None]:
    """Make every ``nn.ReLU`` of ``model`` backpropagate ``(x > 0) · max(grad, 0)``.

    A forward hook on each ReLU routes its output through :class:`_PositiveGradient`
    (works with ``inplace=True`` ReLUs too). Hooks are removed on exit, even on error.
    ReLUs called functionally (``F.relu``) are not affected.
    """
    relus = [m for m in walk(model)[0] if isinstance(m, nn.ReLU)]  # walk: model.modules(), faster
    if not relus:
        raise InputError(f"guided backprop needs nn.ReLU modules; {type(model).__name__} has none")
    handles = []
    try:
        for m in relus:
            handles.append(m.register_forward_hook(lambda mod, inp, out: _PositiveGradient.apply(out)))
        yield
    finally:
        for h in handles:
            h.remove()


@register("guided_backprop", "Guided Backprop")
class GuidedBackprop(Explainer):
    """Guided Backpropagation: the input gradient with every ReLU's backward pass
    replaced by ``(x > 0) · max(grad, 0)``. ``maps`` is ``|signed|``.

    References
    ----------
    J. T. Springenberg, A. Dosovitskiy, T. Brox, M. Riedmiller. "Striving for
    Simplicity: The All Convolutional Net." ICLR Workshop, 2015.
    J. Adebayo, J. Gilmer, M. Muelly, I. Goodfellow, M. Hardt, B. Kim. "Sanity
    Checks for Saliency Maps." NeurIPS, 2018.
    """

    description = "Gradient with only positive signals passed back through ReLUs (sharp, fails sanity checks)."

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        with guided_relus(self.model):
            grads, scores = input_gradients(self.model, x, target, self.chunk_size(x))
        return self._signed_result(grads, score=scores)


@register("guided_gradcam", "Guided Grad-CAM")
class GuidedGradCAM(CAMExplainer):
    """Guided Grad-CAM: Guided Backprop multiplied pixel-wise by the upsampled Grad-CAM.

    ``signed`` is the product, ``maps`` its absolute value; ``extras['cam']`` holds
    the Grad-CAM map.

    References
    ----------
    R. R. Selvaraju et al. "Grad-CAM: Visual Explanations from Deep Networks via
    Gradient-based Localization." ICCV, 2017.
    """

    description = "Guided Backprop masked by Grad-CAM (sharp and class-specific; fails sanity checks)."
    has_signed = True
    params = (LAYER_PARAM,)

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        cam = GradCAM(self.model, max_batch=self.max_batch, layer=self.config["layer"])._attribute(x, target)
        with guided_relus(self.model):
            grads, _ = input_gradients(self.model, x, target, self.chunk_size(x))
        return self._signed_result(grads * cam.maps[:, None], cam=cam.maps, score=cam.extras["score"])
