"""Saliency methods on one interface.

>>> from labkit.explain import explain, list_explainers
>>> attr = explain(model, x, target=1, method="smoothgrad", n_samples=25)   # doctest: +SKIP
>>> attr.maps.shape                                                        # doctest: +SKIP
torch.Size([N, H, W])

Every method is an :class:`Explainer` registered by name; ``list_explainers()``
gives them in teaching order and ``get_explainer(name).params`` their parameter
specs (for building sliders). Modules are imported in teaching order, which is
the order of the registry.
"""
from labkit.explain.base import (Attribution, Explainer, Param, explain, get_explainer, list_explainers, method_label,
                                 register)
from labkit.explain.gradient import Gradient, GradientXInput, input_gradients
from labkit.explain.smoothgrad import SmoothGrad
from labkit.explain.integrated_gradients import IntegratedGradients, make_baseline
from labkit.explain.occlusion import Occlusion
from labkit.explain.gradcam import GradCAM
from labkit.explain.gradcam_pp import GradCAMPlusPlus
from labkit.explain.scorecam import ScoreCAM
from labkit.explain.layercam import LayerCAM
from labkit.explain.hirescam import HiResCAM
from labkit.explain.guided_backprop import GuidedBackprop, GuidedGradCAM
from labkit.explain.latent_shift import LatentShift

__all__ = [
    "Param", "Attribution", "Explainer", "register", "get_explainer", "list_explainers", "method_label", "explain",
    "Gradient", "GradientXInput", "SmoothGrad", "IntegratedGradients", "Occlusion", "GradCAM",
    "GradCAMPlusPlus", "ScoreCAM", "LayerCAM", "HiResCAM", "GuidedBackprop", "GuidedGradCAM", "LatentShift", "input_gradients",
    "make_baseline",
]
