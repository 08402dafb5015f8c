"""Checks of exercise 02: Grad-CAM (channel weights = spatially averaged gradients)."""
from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from labkit.checks import fixtures
from labkit.checks.compare import as_maps, close, diagnose
from labkit.checks.gradients import TRAIN_MODE, ScoreFn, logit, other_class, prob
from labkit.checks.registry import exercise
from labkit.checks.runner import Checker
from labkit.explain import explain


# ---- 02: Grad-CAM -----------------------------------------------------------------------------
def _acts_grads(model: nn.Module, x: torch.Tensor, target: int, layer: nn.Module,
                score: ScoreFn = logit, train: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    store: list[torch.Tensor] = []
    if train:  # on a copy: a forward pass in training mode updates the BatchNorm statistics
        memo: dict[int, object] = {}
        model = copy.deepcopy(model, memo)
        layer = memo[id(layer)]  # type: ignore[assignment]

    def hook(mod: nn.Module, inp: object, out: torch.Tensor) -> None:
        out.retain_grad()
        store.append(out)

    h = layer.register_forward_hook(hook)
    try:
        model.train(train)
        with torch.enable_grad():
            xi = x.detach().clone().requires_grad_(True)
            s = score(model(xi), target).sum()
            (g,) = torch.autograd.grad(s, store[0])
    finally:
        h.remove()
    return store[0].detach(), g.detach()


def gradcam_reference(model: nn.Module, x: torch.Tensor, target: int, layer: nn.Module, relu: str = "relu",
                      weights: str = "mean", score: ScoreFn = logit, mode: str = "bilinear",
                      align: bool = False, order: str = "relu_first", normalize: bool = False,
                      train: bool = False) -> torch.Tensor:
    """Grad-CAM and its usual mistakes, ``(N, H, W)``."""
    a, g = _acts_grads(model, x, target, layer, score, train)
    if weights == "mean":
        cam = (g.mean((2, 3), keepdim=True) * a).sum(1)
    elif weights == "sum":
        cam = (g.sum((2, 3), keepdim=True) * a).sum(1)
    elif weights == "max":
        cam = (g.amax((2, 3), keepdim=True) * a).sum(1)
    elif weights == "relu":
        cam = (F.relu(g).mean((2, 3), keepdim=True) * a).sum(1)
    elif weights == "none":
        cam = a.sum(1)
    else:  # "elementwise": no spatial pooling of the gradients
        cam = (g * a).sum(1)
    act = {"relu": F.relu, "none": lambda c: c, "abs": torch.abs}[relu]
    if order == "relu_first":
        cam = act(cam)
    kwargs = {"align_corners": align} if mode == "bilinear" else {}
    up = F.interpolate(cam[:, None], size=x.shape[-2:], mode=mode, **kwargs)[:, 0]
    if order == "relu_last":
        up = act(up)
    if normalize:
        flat = up.flatten(1)
        lo, hi = flat.min(1).values[:, None, None], flat.max(1).values[:, None, None]
        up = (up - lo) / (hi - lo).clamp_min(1e-12)
    return up


@exercise("02_gradcam", "Grad-CAM", points=3)
def gradcam(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, x, target, layer) -> upsampled ReLU(Σ_k α_k A^k)`` ``(N, H, W)``."""
    ck.require_callable(fn, "function")
    cases = fixtures.cases()
    noted = False
    for case in cases:
        m, x, t = case.model, case.x, case.target
        layer = case.layer
        out = ck.call(fn, m, x, t, layer)
        with torch.no_grad():
            h, w = _acts_grads(m, x, t, layer)[0].shape[-2:]
        out = as_maps(ck, out, x, "your Grad-CAM map", low_res=[(h, w)])
        ref = explain(m, x, t, "gradcam", layer=case.layer_name).maps.double()
        if close(out, ref):
            continue
        alt = gradcam_reference(m, x, t, layer, order="relu_last").double()
        if close(out, alt, 1e-3) or close(out, ref, 0.02):
            if not noted:
                ck.note("you applied the ReLU after upsampling (the reference applies it at layer resolution, "
                        "then upsamples); the maps agree closely, which is fine")
                noted = True
            continue
        lay = layer
        diagnose(ck, out, ref, [
            ("no ReLU: Grad-CAM keeps only positive evidence, ReLU(Σ_k α_k A^k); negative values must be set to 0",
             lambda: gradcam_reference(m, x, t, lay, relu="none")),
            ("you took the absolute value of the weighted sum; Grad-CAM applies a ReLU (negative evidence → 0)",
             lambda: gradcam_reference(m, x, t, lay, relu="abs")),
            ("the channel weights α_k are spatial sums of the gradients; use the spatial mean",
             lambda: gradcam_reference(m, x, t, lay, weights="sum")),
            ("the channel weights α_k are the spatial maximum of the gradients; Grad-CAM uses their spatial mean",
             lambda: gradcam_reference(m, x, t, lay, weights="max")),
            ("you applied a ReLU to the gradients before averaging them; α_k is the plain spatial mean of "
             "∂f_c/∂A^k (the ReLU comes after the weighted sum)", lambda: gradcam_reference(m, x, t, lay, weights="relu")),
            ("the gradient weights are missing: you summed the activations Σ_k A^k; weight each channel by α_k, "
             "the spatial mean of its gradient", lambda: gradcam_reference(m, x, t, lay, weights="none")),
            ("two mistakes: no ReLU, and the channel weights are spatial sums instead of means",
             lambda: gradcam_reference(m, x, t, lay, relu="none", weights="sum")),
            (TRAIN_MODE, lambda: gradcam_reference(m, x, t, lay, train=True)),
            ("you multiplied activations and gradients position by position; Grad-CAM first averages "
             "each channel's gradient over positions (α_k), then weights the whole feature map by it",
             lambda: gradcam_reference(m, x, t, lay, weights="elementwise")),
            ("the gradients are of the softmax probability; use the logit model(x)[:, target]",
             lambda: gradcam_reference(m, x, t, lay, score=prob)),
            (f"you explained class {1 - t} instead of class {t}",
             lambda: gradcam_reference(m, x, t, lay, score=other_class)),
            ("each map is normalized to [0, 1]; return the raw map (normalize only for display)",
             lambda: gradcam_reference(m, x, t, lay, normalize=True)),
            ("nearest-neighbour upsampling; use mode='bilinear', align_corners=False",
             lambda: gradcam_reference(m, x, t, lay, mode="nearest")),
            ("bilinear upsampling with align_corners=True; use align_corners=False",
             lambda: gradcam_reference(m, x, t, lay, align=True)),
        ], case.name, "your Grad-CAM map")
    ck.award(2.5, f"matches labkit's Grad-CAM on {len(cases)} seeded models")
    if float(out.min()) < 0:
        raise ck.fail("your Grad-CAM map has negative values; after the ReLU every value is ≥ 0")
    ck.award(0.5, "non-negative everywhere (ReLU) and upsampled to the image size")


__all__ = ["gradcam", "gradcam_reference"]
