"""Checks of exercise 02, gradient family: vanilla gradient, Gradient × Input, SmoothGrad.

Every student function has the signature ``fn(model, x, target, ...)`` with images
``x`` ``(N, 1, H, W)`` in [-1, 1] and an int class ``target``, and returns maps
``(N, H, W)``. Each check runs the function on the seeded fixture models, compares
with :mod:`labkit.explain` (the reference) and, on a mismatch, with the usual
mistakes, which it computes itself. :func:`grad` and the score functions here are
shared by the other saliency checks.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from labkit.checks import fixtures
from labkit.checks.compare import Variant, as_maps, close, diagnose, rel_error
from labkit.checks.registry import exercise
from labkit.checks.runner import Checker
from labkit.explain import explain
from labkit.explain.gradient import input_gradients

ScoreFn = Callable[[torch.Tensor, int], torch.Tensor]


# ---- scores a gradient can be taken of (the right one and the usual wrong ones) -----------------
def logit(z: torch.Tensor, t: int) -> torch.Tensor:
    return z[:, t]


def prob(z: torch.Tensor, t: int) -> torch.Tensor:
    return z.softmax(1)[:, t]


def log_prob(z: torch.Tensor, t: int) -> torch.Tensor:
    return z.log_softmax(1)[:, t]


def other_class(z: torch.Tensor, t: int) -> torch.Tensor:
    return z[:, 1 - t]


def all_logits(z: torch.Tensor, t: int) -> torch.Tensor:
    return z.sum(1)


def predicted(z: torch.Tensor, t: int) -> torch.Tensor:
    return z.gather(1, z.argmax(1, keepdim=True))[:, 0]


def grad(model: nn.Module, x: torch.Tensor, target: int, score: ScoreFn = logit, train: bool = False
         ) -> torch.Tensor:
    """``∂ score / ∂x`` ``(N, 1, H, W)`` for a score of the logits; ``train`` runs a copy in training mode."""
    model = copy.deepcopy(model).train() if train else model.eval()
    xi = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(score(model(xi), target).sum(), xi)
    return g.detach()


TRAIN_MODE = ("the model ran in training mode (model.train()), so BatchNorm normalized with the batch's own "
              "statistics; explain the model as given, in eval mode")


def score_variants(model: nn.Module, x: torch.Tensor, target: int,
                   post: Callable[[torch.Tensor], torch.Tensor], also: str = "") -> list[Variant]:
    """The gradient-of-the-wrong-score mistakes (and training mode), each passed through ``post``.

    ``also`` names a second mistake that ``post`` makes: the messages then name both.
    """
    two = f"two mistakes: {also}, and " if also else ""
    return [(two + message, thunk) for message, thunk in [
        (TRAIN_MODE, lambda: post(grad(model, x, target, train=True))),
        ("you took the gradient of the softmax probability; the class score is the logit "
         "model(x)[:, target] (no softmax)", lambda: post(grad(model, x, target, prob))),
        ("you took the gradient of the log-probability (log_softmax); use the logit "
         "model(x)[:, target]", lambda: post(grad(model, x, target, log_prob))),
        (f"you explained class {1 - target} instead of class {target}: select the logit with "
         "model(x)[:, target] (do not hard-code a class)", lambda: post(grad(model, x, target, other_class))),
        ("you took the gradient of the sum of all logits; select the target class with model(x)[:, target]",
         lambda: post(grad(model, x, target, all_logits))),
        ("you explained the predicted class (argmax); explain the class given as `target`",
         lambda: post(grad(model, x, target, predicted))),
    ]]


def match_maps(ck: Checker, fn: Callable, method: str, label: str,
               variants: Callable[[nn.Module, torch.Tensor, int], list[Variant]], signed: bool = False) -> int:
    """Compare ``fn(model, x, target)`` with labkit's ``method`` on every case; returns the number of cases."""
    cases = fixtures.cases()
    for case in cases:
        m, x, t = case.model, case.x, case.target
        out = as_maps(ck, ck.call(fn, m, x, t), x, label)
        result = explain(m, x, t, method)
        ref = (result.signed if signed else result.maps).double()
        if not close(out, ref):
            diagnose(ck, out, ref, variants(m, x, t), case.name, label)
    return len(cases)


# ---- 02: vanilla gradient ---------------------------------------------------------------------
@exercise("02_gradient", "Vanilla gradient |∂f_c/∂x|", points=2)
def gradient(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, x, target) -> |∂f_c/∂x|`` ``(N, H, W)``."""
    ck.require_callable(fn, "function")
    n = match_maps(ck, fn, "gradient", "your gradient map", lambda m, x, t: [
        ("you returned the signed gradient; the exercise asks for its absolute value |∂f_c/∂x| (.abs())",
         lambda: grad(m, x, t).sum(1)),
        ("you returned Gradient × Input; this exercise is the plain gradient |∂f_c/∂x|",
         lambda: (x * grad(m, x, t)).abs().sum(1)),
        *score_variants(m, x, t, lambda g: g.abs().sum(1)),
        *score_variants(m, x, t, lambda g: g.sum(1), also="you returned the signed gradient (no .abs())"),
    ])
    ck.award(2, f"matches labkit's gradient on {n} seeded models (both classes)")


# ---- 02: gradient × input ---------------------------------------------------------------------
@exercise("02_grad_x_input", "Gradient × Input", points=2)
def grad_x_input(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, x, target) -> x ⊙ ∂f_c/∂x`` (signed, channel axis summed) ``(N, H, W)``."""
    ck.require_callable(fn, "function")
    n = match_maps(ck, fn, "grad_x_input", "your Gradient × Input map", lambda m, x, t: [
        ("you returned the absolute value; this exercise asks for the signed map x ⊙ ∂f_c/∂x "
         "(the sign says whether a pixel's value pushes the score up or down)",
         lambda: (x * grad(m, x, t)).abs().sum(1)),
        ("you multiplied x by |∂f_c/∂x|; multiply by the signed gradient", lambda: (x * grad(m, x, t).abs()).sum(1)),
        ("you returned the gradient alone; multiply it by the input x", lambda: grad(m, x, t).sum(1)),
        ("you returned |gradient|; multiply the signed gradient by the input x",
         lambda: grad(m, x, t).abs().sum(1)),
        ("you rescaled the input to [0, 1] before multiplying; use the image as the model sees it, in [-1, 1]",
         lambda: ((x + 1) / 2 * grad(m, x, t)).sum(1)),
        *score_variants(m, x, t, lambda g: (x * g).sum(1)),
        *score_variants(m, x, t, lambda g: (x * g).abs().sum(1), also="you returned the absolute value"),
    ], signed=True)
    ck.award(1.5, f"matches labkit's Gradient × Input on {n} seeded models")
    # property: zero wherever the pixel is 0.0 (mid-gray in [-1, 1])
    case = fixtures.cases()[0]
    x = case.x.clone()
    x[:, :, 4:12, 4:12] = 0.0
    out = as_maps(ck, ck.call(fn, case.model, x, case.target), x, "your Gradient × Input map")
    if float(out[:, 4:12, 4:12].abs().max()) > 1e-7:
        raise ck.fail("your map is not zero on pixels whose value is 0.0 (mid-gray): Gradient × Input must "
                      "multiply the gradient by the pixel value")
    ck.award(0.5, "zero on mid-gray (0.0) pixels, whatever the model — the method's known artifact")


# ---- 02: SmoothGrad ---------------------------------------------------------------------------
def smoothgrad_reference(model: nn.Module, x: torch.Tensor, target: int, sigma: float, noise: torch.Tensor,
                         clamp: bool = True, reduce: str = "mean_abs", scale: str = "sigma",
                         score: ScoreFn = logit, with_clean: bool = False) -> torch.Tensor:
    """SmoothGrad with given standard-normal ``noise`` ``(n, N, 1, H, W)`` and its usual mistakes."""
    eps = {"sigma": sigma * noise, "sigma2": sigma ** 2 * noise, "none": noise}[scale]
    noisy = x[None] + eps
    if clamp:
        noisy = noisy.clamp(-1.0, 1.0)
    if with_clean:
        noisy = torch.cat([x[None], noisy])
    flat = noisy.flatten(0, 1)
    if score is logit:
        tgt = torch.full((flat.shape[0],), target, dtype=torch.long)
        g, _ = input_gradients(model.eval(), flat, tgt, chunk=256)
    else:
        g = grad(model, flat, target, score)
    g = g.view(noisy.shape)
    if reduce == "mean_abs":
        return g.abs().mean(0).sum(1)
    if reduce == "abs_mean":
        return g.mean(0).abs().sum(1)
    if reduce == "mean":
        return g.mean(0).sum(1)
    return g.abs().sum(0).sum(1)  # "sum_abs"


def _noise(n_samples: int, x: torch.Tensor, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((n_samples, *x.shape), generator=gen)


@exercise("02_smoothgrad", "SmoothGrad (noise clamped to the pixel range)", points=2)
def smoothgrad(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, x, target, sigma, noise) -> mean_k |∇f_c(clamp(x + σ·noise_k))|`` ``(N, H, W)``.

    ``noise`` is standard normal ``(n_samples, N, 1, H, W)``.
    """
    ck.require_callable(fn, "function")
    cases = fixtures.cases()
    sigmas = (0.5, 0.3, 0.8, 0.4)
    for i, case in enumerate(cases):
        m, x, t, sigma = case.model, case.x, case.target, sigmas[i % len(sigmas)]
        noise = _noise(6, x, seed=fixtures.seed(100 + i))
        out = as_maps(ck, ck.call(fn, m, x, t, sigma, noise), x, "your SmoothGrad map")
        ref = smoothgrad_reference(m, x, t, sigma, noise).double()
        if close(out, ref):
            continue
        n = noise.shape[0]
        diagnose(ck, out, ref, [
            ("the noisy images are not clamped: add the noise, then clamp back to the valid pixel range "
             "with .clamp(-1, 1)", lambda: smoothgrad_reference(m, x, t, sigma, noise, clamp=False)),
            ("you averaged the signed gradients and took the absolute value at the end; take |gradient| "
             "of each noisy copy, then average", lambda: smoothgrad_reference(m, x, t, sigma, noise, reduce="abs_mean")),
            ("you returned the signed mean gradient; average the absolute gradients |∇|",
             lambda: smoothgrad_reference(m, x, t, sigma, noise, reduce="mean")),
            (f"you summed over the {n} samples; average them (divide by the number of samples)",
             lambda: smoothgrad_reference(m, x, t, sigma, noise, reduce="sum_abs")),
            ("the noise is scaled by σ² instead of σ: x + σ·noise has standard deviation σ",
             lambda: smoothgrad_reference(m, x, t, sigma, noise, scale="sigma2")),
            ("the noise is not scaled by σ: use x + sigma * noise",
             lambda: smoothgrad_reference(m, x, t, sigma, noise, scale="none")),
            ("you included the clean image among the samples; average over the noisy copies only",
             lambda: smoothgrad_reference(m, x, t, sigma, noise, with_clean=True)),
            ("the gradients are taken of the softmax probability; use the logit model(x)[:, target]",
             lambda: smoothgrad_reference(m, x, t, sigma, noise, score=prob)),
            ("two mistakes: the noise is not clamped, and signed gradients are averaged; clamp to [-1, 1] and "
             "average |∇|",
             lambda: smoothgrad_reference(m, x, t, sigma, noise, clamp=False, reduce="abs_mean")),
        ], case.name, "your SmoothGrad map")
    ck.award(1.5, f"matches SmoothGrad with clamped noise on {len(cases)} seeded models")
    case = cases[0]
    out = as_maps(ck, ck.call(fn, case.model, case.x, case.target, 0.0, _noise(3, case.x, seed=fixtures.seed(7))), case.x,
                  "your SmoothGrad map at σ = 0")
    ref = explain(case.model, case.x, case.target, "gradient").maps.double()
    if not close(out, ref):
        raise ck.fail("with σ = 0 every noisy copy is the image itself, so SmoothGrad must equal the vanilla "
                      f"gradient |∂f_c/∂x|, but yours differs (relative error {rel_error(out, ref):.3g})")
    ck.award(0.5, "with σ = 0 it equals the vanilla gradient (a property every SmoothGrad must have)")


__all__ = ["gradient", "grad_x_input", "smoothgrad", "grad", "smoothgrad_reference", "score_variants",
           "logit", "prob", "other_class", "ScoreFn"]
