"""Checks of exercise 02: saliency methods written from scratch.

Every student function has the signature ``fn(model, x, target, ...)`` with images
``x`` ``(N, 1, H, W)`` in [-1, 1] and an int class ``target``, and returns maps
``(N, H, W)``. Each check runs the function on the seeded fixture models, compares
with :mod:`labkit.explain` (the reference) and, on a mismatch, with the usual
mistakes, which it computes itself.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from labkit.checks import fixtures
from labkit.checks.compare import Variant, as_maps, close, diagnose, rel_error
from labkit.checks.registry import exercise
from labkit.checks.runner import Checker
from labkit.explain import explain
from labkit.explain.gradient import input_gradients

ScoreFn = Callable[[torch.Tensor, int], torch.Tensor]


# ---- scores a gradient can be taken of (the right one and the usual wrong ones) -----------------
def _logit(z: torch.Tensor, t: int) -> torch.Tensor:
    return z[:, t]


def _prob(z: torch.Tensor, t: int) -> torch.Tensor:
    return z.softmax(1)[:, t]


def _log_prob(z: torch.Tensor, t: int) -> torch.Tensor:
    return z.log_softmax(1)[:, t]


def _other(z: torch.Tensor, t: int) -> torch.Tensor:
    return z[:, 1 - t]


def _all(z: torch.Tensor, t: int) -> torch.Tensor:
    return z.sum(1)


def _predicted(z: torch.Tensor, t: int) -> torch.Tensor:
    return z.gather(1, z.argmax(1, keepdim=True))[:, 0]


def grad(model: nn.Module, x: torch.Tensor, target: int, score: ScoreFn = _logit) -> torch.Tensor:
    """``∂ score / ∂x`` ``(N, 1, H, W)`` for a score of the logits (float64 not needed: float32)."""
    model.eval()
    xi = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(score(model(xi), target).sum(), xi)
    return g.detach()


def _score_variants(model: nn.Module, x: torch.Tensor, target: int,
                    post: Callable[[torch.Tensor], torch.Tensor]) -> list[Variant]:
    """The gradient-of-the-wrong-score mistakes, each passed through ``post``."""
    return [
        ("you took the gradient of the softmax probability; the class score is the logit "
         "model(x)[:, target] (no softmax)", lambda: post(grad(model, x, target, _prob))),
        ("you took the gradient of the log-probability (log_softmax); use the logit "
         "model(x)[:, target]", lambda: post(grad(model, x, target, _log_prob))),
        (f"you explained class {1 - target} instead of class {target}: select the logit with "
         "model(x)[:, target] (do not hard-code a class)", lambda: post(grad(model, x, target, _other))),
        ("you took the gradient of the sum of all logits; select the target class with model(x)[:, target]",
         lambda: post(grad(model, x, target, _all))),
        ("you explained the predicted class (argmax); explain the class given as `target`",
         lambda: post(grad(model, x, target, _predicted))),
    ]


def _require(ck: Checker, fn: object) -> None:
    ck.require_callable(fn, "function")


# ---- 02: vanilla gradient ---------------------------------------------------------------------
@exercise("02_gradient", "Vanilla gradient |∂f_c/∂x|", points=2)
def gradient(ck: Checker, fn: Callable, hidden: bool = False) -> None:
    """Check ``fn(model, x, target) -> |∂f_c/∂x|`` ``(N, H, W)``."""
    _require(ck, fn)
    cases = fixtures.cases(hidden)
    for case in cases:
        out = as_maps(ck, ck.call(fn, case.model, case.x, case.target), case.x, "your gradient map")
        ref = explain(case.model, case.x, case.target, "gradient").maps.double()
        if close(out, ref):
            continue
        m, x, t = case.model, case.x, case.target
        diagnose(ck, out, ref, [
            ("you returned the signed gradient; the exercise asks for its absolute value |∂f_c/∂x| (.abs())",
             lambda: grad(m, x, t).sum(1)),
            ("you returned Gradient × Input; this exercise is the plain gradient |∂f_c/∂x|",
             lambda: (x * grad(m, x, t)).abs().sum(1)),
            *_score_variants(m, x, t, lambda g: g.abs().sum(1)),
            *_score_variants(m, x, t, lambda g: g.sum(1)),
        ], case.name, "your gradient map")
    ck.award(2, f"matches labkit's gradient on {len(cases)} seeded models (both classes)")


# ---- 02: gradient × input ---------------------------------------------------------------------
@exercise("02_grad_x_input", "Gradient × Input", points=2)
def grad_x_input(ck: Checker, fn: Callable, hidden: bool = False) -> None:
    """Check ``fn(model, x, target) -> x ⊙ ∂f_c/∂x`` (signed, channel axis summed) ``(N, H, W)``."""
    _require(ck, fn)
    cases = fixtures.cases(hidden)
    for case in cases:
        out = as_maps(ck, ck.call(fn, case.model, case.x, case.target), case.x, "your Gradient × Input map")
        ref = explain(case.model, case.x, case.target, "grad_x_input").signed.double()
        if close(out, ref):
            continue
        m, x, t = case.model, case.x, case.target
        diagnose(ck, out, ref, [
            ("you returned the absolute value; this exercise asks for the signed map x ⊙ ∂f_c/∂x "
             "(the sign says whether a pixel's value pushes the score up or down)",
             lambda: (x * grad(m, x, t)).abs().sum(1)),
            ("you multiplied x by |∂f_c/∂x|; multiply by the signed gradient", lambda: (x * grad(m, x, t).abs()).sum(1)),
            ("you returned the gradient alone; multiply it by the input x", lambda: grad(m, x, t).sum(1)),
            ("you returned |gradient|; multiply the signed gradient by the input x",
             lambda: grad(m, x, t).abs().sum(1)),
            ("you rescaled the input to [0, 1] before multiplying; use the image as the model sees it, in [-1, 1]",
             lambda: ((x + 1) / 2 * grad(m, x, t)).sum(1)),
            *_score_variants(m, x, t, lambda g: (x * g).sum(1)),
        ], case.name, "your Gradient × Input map")
    ck.award(1.5, f"matches labkit's Gradient × Input on {len(cases)} seeded models")
    # property: zero wherever the pixel is 0.0 (mid-gray in [-1, 1])
    case = cases[0]
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
                         score: ScoreFn = _logit, with_clean: bool = False) -> torch.Tensor:
    """SmoothGrad with given standard-normal ``noise`` ``(n, N, 1, H, W)`` and its usual mistakes."""
    k = noise.shape[0]
    eps = {"sigma": sigma * noise, "sigma2": sigma ** 2 * noise, "none": noise}[scale]
    noisy = x[None] + eps
    if clamp:
        noisy = noisy.clamp(-1.0, 1.0)
    if with_clean:
        noisy = torch.cat([x[None], noisy])
    flat = noisy.flatten(0, 1)
    if score is _logit:
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
def smoothgrad(ck: Checker, fn: Callable, hidden: bool = False) -> None:
    """Check ``fn(model, x, target, sigma, noise) -> mean_k |∇f_c(clamp(x + σ·noise_k))|`` ``(N, H, W)``.

    ``noise`` is standard normal ``(n_samples, N, 1, H, W)``.
    """
    _require(ck, fn)
    cases = fixtures.cases(hidden)
    sigmas = (0.5, 0.3, 0.8, 0.4)
    for i, case in enumerate(cases):
        m, x, t, sigma = case.model, case.x, case.target, sigmas[i % len(sigmas)]
        noise = _noise(6, x, seed=100 + i)
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
             lambda: smoothgrad_reference(m, x, t, sigma, noise, score=_prob)),
            ("the noise is not clamped and signed gradients are averaged; clamp to [-1, 1] and average |∇|",
             lambda: smoothgrad_reference(m, x, t, sigma, noise, clamp=False, reduce="abs_mean")),
        ], case.name, "your SmoothGrad map")
    ck.award(1.5, f"matches SmoothGrad with clamped noise on {len(cases)} seeded models")
    case = cases[0]
    out = as_maps(ck, ck.call(fn, case.model, case.x, case.target, 0.0, _noise(3, case.x, seed=7)), case.x,
                  "your SmoothGrad map at σ = 0")
    ref = explain(case.model, case.x, case.target, "gradient").maps.double()
    if not close(out, ref):
        raise ck.fail("with σ = 0 every noisy copy is the image itself, so SmoothGrad must equal the vanilla "
                      f"gradient |∂f_c/∂x|, but yours differs (relative error {rel_error(out, ref):.3g})")
    ck.award(0.5, "with σ = 0 it equals the vanilla gradient (a property every SmoothGrad must have)")


# ---- 02: Integrated Gradients -----------------------------------------------------------------
def alphas_for(rule: str, steps: int) -> torch.Tensor:
    """The path positions α of a quadrature rule: midpoint (the reference), left, right, linspace."""
    k = torch.arange(steps, dtype=torch.float32)
    if rule == "midpoint":
        return (k + 0.5) / steps
    if rule == "left":
        return k / steps
    if rule == "right":
        return (k + 1) / steps
    return torch.linspace(0.0, 1.0, steps)


def ig_reference(model: nn.Module, x: torch.Tensor, target: int, baseline: torch.Tensor, steps: int,
                 factor: str = "delta", reduce: str = "mean", at_input: bool = False,
                 score: ScoreFn = _logit, rule: str = "midpoint") -> torch.Tensor:
    """Integrated Gradients (midpoint rule) and its usual mistakes, signed ``(N, H, W)``."""
    alphas = alphas_for(rule, steps).to(x.dtype)
    path = x[None].expand(steps, *x.shape) if at_input else baseline[None] + alphas.view(-1, 1, 1, 1, 1) * (x - baseline)[None]
    g = grad(model, path.flatten(0, 1), target, score).view(steps, *x.shape)
    avg = g.mean(0) if reduce == "mean" else g.sum(0)
    mult = {"delta": x - baseline, "x": x, "none": torch.ones_like(x)}[factor]
    return (mult * avg).sum(1)


def _baseline(kind: str, x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x) if kind == "gray" else torch.full_like(x, -1.0)


_RULE_TEXT = {"left": "α_k = k/steps (left Riemann sum)", "right": "α_k = (k + 1)/steps (right Riemann sum)",
              "linspace": "torch.linspace(0, 1, steps) (both ends included)"}


def _ig_variants(m: nn.Module, x: torch.Tensor, t: int, base: torch.Tensor, kind: str, steps: int) -> list[Variant]:
    other = _baseline("gray" if kind == "black" else "black", x)
    rules: list[Variant] = [
        (f"your α values are {_RULE_TEXT[r]}; this exercise uses the midpoint rule α_k = (k + ½)/steps, "
         "k = 0 … steps − 1", (lambda r=r: ig_reference(m, x, t, base, steps, rule=r))) for r in _RULE_TEXT]
    return [
        ("the (x − baseline) factor is missing: multiply the averaged gradients by (x − baseline)",
         lambda: ig_reference(m, x, t, base, steps, factor="none")),
        ("you multiplied by x instead of (x − baseline); this only agrees with IG for the all-zero (gray) baseline",
         lambda: ig_reference(m, x, t, base, steps, factor="x")),
        (f"you summed the gradients over the {steps} steps; average them (divide by steps)",
         lambda: ig_reference(m, x, t, base, steps, reduce="sum")),
        ("you returned |IG|; this exercise asks for the signed attribution",
         lambda: ig_reference(m, x, t, base, steps).abs()),
        (f"the baseline argument is ignored: this case uses the {kind} baseline, your result matches the "
         f"{'gray' if kind == 'black' else 'black'} one", lambda: ig_reference(m, x, t, other, steps)),
        ("all gradients are taken at the input x; take them at the path points baseline + α·(x − baseline)",
         lambda: ig_reference(m, x, t, base, steps, at_input=True)),
        ("the gradients are of the softmax probability; IG here explains the logit model(x)[:, target]",
         lambda: ig_reference(m, x, t, base, steps, score=_prob)),
        *rules,
    ]


def _captum_variants(m: nn.Module, x: torch.Tensor, t: int, base: torch.Tensor, steps: int) -> list[Variant]:
    def cap(**kw: object) -> torch.Tensor:
        from captum.attr import IntegratedGradients

        return IntegratedGradients(m.eval()).attribute(x, target=t, **kw).detach().sum(1)

    return [
        ("captum used its default rule (Gauss–Legendre); pass method=\"riemann_middle\" to compare with the "
         "midpoint rule of labkit", lambda: cap(baselines=base, n_steps=steps)),
        ("baselines was not passed to attribute(), so captum used zeros (the gray image); pass baselines=baseline",
         lambda: cap(n_steps=steps, method="riemann_middle")),
        ("baselines was not passed and captum used its default rule (Gauss–Legendre); pass baselines=baseline "
         "and method=\"riemann_middle\"", lambda: cap(n_steps=steps)),
        ("n_steps was not passed, so captum used its default of 50 steps; pass n_steps=steps",
         lambda: cap(baselines=base, method="riemann_middle")),
    ]


def _check_ig(ck: Checker, fn: Callable, hidden: bool, label: str, use_captum: bool = False,
              steps: int = 8) -> int:
    """Shared body of the two IG checks; returns the number of cases."""
    cases = fixtures.cases(hidden)
    for i, case in enumerate(cases):
        kind = "gray" if i % 2 == 0 else "black"
        m, x, t = case.model, case.x, case.target
        base = _baseline(kind, x)
        out = as_maps(ck, ck.call(fn, m, x, t, base, steps), x, f"your {label}")
        ref = explain(m, x, t, "integrated_gradients", baseline=base, steps=steps).signed.double()
        if close(out, ref):
            continue
        variants = _ig_variants(m, x, t, base, kind, steps)
        if use_captum:
            variants = _captum_variants(m, x, t, base, steps) + variants
        diagnose(ck, out, ref, variants, f"{case.name}, {kind} baseline, {steps} steps", f"your {label}")
    return len(cases)


def _completeness(ck: Checker, fn: Callable, label: str, steps: int = 32) -> None:
    case = fixtures.cases()[1]
    m, x, t = case.model, case.x, case.target
    base = _baseline("black", x)
    out = as_maps(ck, ck.call(fn, m, x, t, base, steps), x, f"your {label}")
    with torch.no_grad():
        diff = (m(x)[:, t] - m(base)[:, t]).double()
    total = out.flatten(1).sum(1)
    gap = (total - diff).abs()
    if float(gap.max()) > 0.05 * float(diff.abs().max()) + 1e-4:
        raise ck.fail(f"completeness fails: with {steps} steps your attributions sum to "
                      f"{[round(v, 4) for v in total.tolist()]} but f(x) − f(baseline) is "
                      f"{[round(v, 4) for v in diff.tolist()]}",
                      "the attributions of IG must add up to the difference of the class scores")
    ck.award(0.5, f"completeness: the attributions sum to f(x) − f(x′) (largest gap {float(gap.max()):.2g} "
                  f"with {steps} steps)")


@exercise("02_integrated_gradients", "Integrated Gradients (gray and black baselines)", points=3)
def integrated_gradients(ck: Checker, fn: Callable, hidden: bool = False) -> None:
    """Check ``fn(model, x, target, baseline, steps) -> (x − x′) ⊙ mean_α ∇f_c(x′ + α(x − x′))`` (signed)."""
    _require(ck, fn)
    n = _check_ig(ck, fn, hidden, "Integrated Gradients map")
    ck.award(2.5, f"matches labkit's Integrated Gradients on {n} seeded models, gray and black baselines")
    _completeness(ck, fn, "Integrated Gradients map")


@exercise("02_ig_captum", "Integrated Gradients with captum", points=1)
def ig_captum(ck: Checker, fn: Callable, hidden: bool = False) -> None:
    """Check ``fn(model, x, target, baseline, steps)`` built on captum's IntegratedGradients."""
    _require(ck, fn)
    n = _check_ig(ck, fn, hidden, "captum attribution", use_captum=True)
    ck.award(1, f"captum's attributions agree with labkit's Integrated Gradients on {n} seeded models")


# ---- 02: occlusion ----------------------------------------------------------------------------
def occlusion_reference(model: nn.Module, x: torch.Tensor, target: int, patch: int, stride: int, fill: float,
                        score: str = "prob", reduce: str = "mean", sign: int = 1) -> torch.Tensor:
    """Occlusion map and its usual mistakes (a straightforward loop; the fixture images are small)."""
    n, _, h, w = x.shape
    starts_y = list(range(0, h - patch + 1, stride))
    starts_x = list(range(0, w - patch + 1, stride))
    f = (lambda z: z.softmax(1)[:, target]) if score == "prob" else (lambda z: z[:, target])
    with torch.no_grad():
        base = f(model(x))
        total = torch.zeros(n, h, w, dtype=x.dtype)
        count = torch.zeros(h, w, dtype=x.dtype)
        batch, boxes = [], []
        for y0 in starts_y:
            for x0 in starts_x:
                occ = x.clone()
                occ[:, :, y0:y0 + patch, x0:x0 + patch] = fill
                batch.append(occ)
                boxes.append((y0, x0))
        scores = f(model(torch.cat(batch))).view(len(boxes), n)
        for (y0, x0), s in zip(boxes, scores):
            d = sign * (base - s)
            if reduce == "last":
                total[:, y0:y0 + patch, x0:x0 + patch] = d[:, None, None]
            elif reduce == "max":
                region = total[:, y0:y0 + patch, x0:x0 + patch]
                first = count[y0:y0 + patch, x0:x0 + patch] == 0
                total[:, y0:y0 + patch, x0:x0 + patch] = torch.where(first, d[:, None, None],
                                                                     torch.maximum(region, d[:, None, None]))
            else:
                total[:, y0:y0 + patch, x0:x0 + patch] += d[:, None, None]
            count[y0:y0 + patch, x0:x0 + patch] += 1
    if reduce == "mean":
        return total / count.clamp_min(1)
    return total


@exercise("02_occlusion", "Occlusion (probability drop, overlapping patches averaged)", points=2)
def occlusion(ck: Checker, fn: Callable, hidden: bool = False) -> None:
    """Check ``fn(model, x, target, patch, stride, fill)`` → mean drop of p_target over covering patches."""
    _require(ck, fn)
    cases = fixtures.cases(hidden)
    settings = ((8, 4, 0.0), (8, 8, -1.0), (16, 8, 0.5))
    for i, case in enumerate(cases):
        m, x, t = case.model, case.x[:2], case.target
        patch, stride, fill = settings[i % len(settings)]
        out = as_maps(ck, ck.call(fn, m, x, t, patch, stride, fill), x, "your occlusion map")
        ref = explain(m, x, t, "occlusion", patch=patch, stride=stride, fill=fill).maps.double()
        if close(out, ref):
            continue
        other_fill = 0.0 if fill != 0.0 else -1.0
        what = f"{case.name}, patch {patch}, stride {stride}, fill {fill}"
        diagnose(ck, out, ref, [
            ("you measured the drop of the logit; occlusion records the drop of the softmax probability "
             "p_target", lambda: occlusion_reference(m, x, t, patch, stride, fill, score="logit")),
            ("the sign is flipped: record p(original) − p(occluded), so evidence for the class is positive",
             lambda: occlusion_reference(m, x, t, patch, stride, fill, sign=-1)),
            ("you summed the drops of overlapping patches; average them (divide by the number of patches "
             "covering each pixel)", lambda: occlusion_reference(m, x, t, patch, stride, fill, reduce="sum")),
            ("each patch overwrites the pixels it covers, so the last patch wins; average over all patches "
             "covering a pixel", lambda: occlusion_reference(m, x, t, patch, stride, fill, reduce="last")),
            ("you kept the largest drop per pixel; average over the patches covering it",
             lambda: occlusion_reference(m, x, t, patch, stride, fill, reduce="max")),
            (f"the fill value is ignored: fill the patch with `fill` ({fill} here)",
             lambda: occlusion_reference(m, x, t, patch, stride, other_fill)),
            ("the logit drop with the sign flipped; record p(original) − p(occluded) of the softmax probability",
             lambda: occlusion_reference(m, x, t, patch, stride, fill, score="logit", sign=-1)),
        ], what, "your occlusion map")
    ck.award(2, f"matches labkit's occlusion on {len(cases)} seeded models with several patch sizes, strides and fills")


# ---- 02: Grad-CAM -----------------------------------------------------------------------------
def _acts_grads(model: nn.Module, x: torch.Tensor, target: int, layer: nn.Module,
                score: ScoreFn = _logit) -> tuple[torch.Tensor, torch.Tensor]:
    store: list[torch.Tensor] = []

    def hook(mod: nn.Module, inp: object, out: torch.Tensor) -> None:
        out.retain_grad()
        store.append(out)

    h = layer.register_forward_hook(hook)
    try:
        model.eval()
        with torch.enable_grad():
            xi = x.detach().clone().requires_grad_(True)
            s = score(model(xi), target).sum()
            (g,) = torch.autograd.grad(s, store[0])
    finally:
        h.remove()
    return store[0].detach(), g.detach()


def gradcam_reference(model: nn.Module, x: torch.Tensor, target: int, layer: nn.Module, relu: str = "relu",
                      weights: str = "mean", score: ScoreFn = _logit, mode: str = "bilinear",
                      align: bool = False, order: str = "relu_first", normalize: bool = False) -> torch.Tensor:
    """Grad-CAM and its usual mistakes, ``(N, H, W)``."""
    a, g = _acts_grads(model, x, target, layer, score)
    if weights == "mean":
        cam = (g.mean((2, 3), keepdim=True) * a).sum(1)
    elif weights == "sum":
        cam = (g.sum((2, 3), keepdim=True) * a).sum(1)
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
def gradcam(ck: Checker, fn: Callable, hidden: bool = False) -> None:
    """Check ``fn(model, x, target, layer) -> upsampled ReLU(Σ_k α_k A^k)`` ``(N, H, W)``."""
    _require(ck, fn)
    cases = fixtures.cases(hidden)
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
            ("you multiplied activations and gradients position by position; Grad-CAM first averages "
             "each channel's gradient over positions (α_k), then weights the whole feature map by it",
             lambda: gradcam_reference(m, x, t, lay, weights="elementwise")),
            ("the gradients are of the softmax probability; use the logit model(x)[:, target]",
             lambda: gradcam_reference(m, x, t, lay, score=_prob)),
            (f"you explained class {1 - t} instead of class {t}",
             lambda: gradcam_reference(m, x, t, lay, score=_other)),
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


__all__ = ["gradient", "grad_x_input", "smoothgrad", "integrated_gradients", "ig_captum", "occlusion", "gradcam",
           "grad", "smoothgrad_reference", "ig_reference", "occlusion_reference", "gradcam_reference"]
