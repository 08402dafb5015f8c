"""Integrated Gradients with a choice of baseline image."""
from __future__ import annotations

import torch

from labkit.errors import InputError
from labkit.explain.base import Attribution, Explainer, Param, cat, chunks, register, target_scores
from labkit.explain.gradient import input_gradients
from labkit.imageops import gaussian_blur
from labkit.models.spec import LAB_SPEC, ModelSpec
from labkit.validation import check_images

BASELINES = ("gray", "black", "blurred", "noise")
#: Gaussian blur of the "blurred" baseline: sigma = min(H, W) * BLUR_FRACTION pixels.
BLUR_FRACTION = 1 / 8


def make_baseline(kind: str, x: torch.Tensor, seed: int = 0, spec: ModelSpec | None = None) -> torch.Tensor:
    """Baseline image x′ for each image of ``x``, in the input space of ``spec``
    (default labkit's [-1, 1]).

    ``"gray"``: mid-gray (0.0 in [-1, 1]); ``"black"``: black (-1.0); ``"blurred"``: ``x``
    blurred with a Gaussian of sigma ``min(H, W)/8`` pixels; ``"noise"``: uniform
    noise over the valid range drawn from a generator seeded with ``seed``.
    """
    spec = spec or LAB_SPEC
    if kind == "gray":
        return spec.gray(x)
    if kind == "black":
        return spec.black(x)
    if kind == "blurred":
        return gaussian_blur(x, min(x.shape[-2:]) * BLUR_FRACTION)
    if kind == "noise":
        gen = torch.Generator(device=x.device).manual_seed(seed)
        return spec.uniform(x, gen)
    raise InputError(f"unknown baseline {kind!r}; choose one of {list(BASELINES)} or pass a tensor")


def _custom_baseline(b: torch.Tensor, x: torch.Tensor, spec: ModelSpec) -> torch.Tensor:
    n, c, h, w = x.shape
    if b.dim() == 2:
        b = b[None, None]
    elif b.dim() == 3:
        b = b[None]
    if b.dim() != 4 or tuple(b.shape[1:]) != (c, h, w) or b.shape[0] not in (1, n):
        raise InputError(
            f"baseline tensor must have shape ({h}, {w}), ({c}, {h}, {w}), (1, {c}, {h}, {w}) "
            f"or ({n}, {c}, {h}, {w}) to match the images, got {tuple(b.shape)}")
    b = check_images(b, name="baseline", spec=spec)
    return b.to(device=x.device, dtype=x.dtype).expand(n, c, h, w)


@register("integrated_gradients", "Integrated Gradients")
class IntegratedGradients(Explainer):
    """Integrated Gradients: ``(x − x′) ⊙ ∫₀¹ ∂f_c(x′ + α(x − x′))/∂x dα``.

    The integral is the midpoint Riemann sum over ``steps`` points
    ``α_k = (k + ½)/steps`` (captum's ``method="riemann_middle"``); all path points
    go through the model as batches. ``maps`` is ``|signed|``. ``extras`` holds
    ``score`` f_c(x), ``baseline_score`` f_c(x′), ``completeness_gap``
    ``Σ attr − (f_c(x) − f_c(x′))`` (zero for exact integration) and ``baseline``.
    Pass ``baseline=<tensor>`` for a custom baseline image.

    References
    ----------
    M. Sundararajan, A. Taly, Q. Yan. "Axiomatic Attribution for Deep Networks."
    ICML, 2017.
    P. Sturmfels, S. Lundberg, S.-I. Lee. "Visualizing the Impact of Feature
    Attribution Baselines." Distill, 2020.
    """

    description = "Gradients integrated along a straight path from a baseline image to the input."
    params = (
        Param("steps", "int", 32, min=1, max=256, step=1, description="points on the path (midpoint rule)",
              coarse=8),
        Param("baseline", "choice", "gray", choices=BASELINES,
              description="x′: mid-gray, black, blurred image, uniform noise (in the model's input range)"),
        Param("seed", "int", 0, min=0, max=2 ** 31 - 1, step=1, description="seed of the noise baseline"),
    )
    _baseline_tensor: torch.Tensor | None = None

    def _check_value(self, spec: Param, value: object) -> object:
        if spec.name == "baseline" and isinstance(value, torch.Tensor):
            self._baseline_tensor = value.detach()
            return "custom"
        return super()._check_value(spec, value)

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        steps = int(self.config["steps"])
        if self._baseline_tensor is not None:
            base = _custom_baseline(self._baseline_tensor, x, self.spec)
        else:
            base = make_baseline(str(self.config["baseline"]), x, int(self.config["seed"]), self.spec)
        chunk = self.chunk_size(x)
        per_pass = max(1, chunk // x.shape[0])  # path points per batched pass
        alphas = (torch.arange(steps, device=x.device, dtype=x.dtype) + 0.5) / steps
        delta = x - base
        total = torch.zeros_like(x)
        for sl in chunks(steps, per_pass):
            a = alphas[sl].view(-1, 1, 1, 1, 1)
            path = (base + a * delta).flatten(0, 1)
            grads, _ = input_gradients(self.model, path, target.repeat(a.shape[0]), chunk)
            total += grads.view(a.shape[0], *x.shape).sum(0)
        attr = delta * (total / steps)
        score, base_score = self._scores(cat([x, base]), target.repeat(2), chunk).chunk(2)
        gap = attr.sum((1, 2, 3)) - (score - base_score)
        return self._signed_result(attr, score=score, baseline_score=base_score,
                                   completeness_gap=gap, baseline=base)

    def _scores(self, x: torch.Tensor, target: torch.Tensor, chunk: int) -> torch.Tensor:
        with torch.no_grad():
            return cat([target_scores(self.model(x[sl]), target[sl]) for sl in chunks(len(x), chunk)])
