"""Checks of exercise 02: Integrated Gradients from scratch and with captum (midpoint rule)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from labkit.checks import fixtures
from labkit.checks.compare import Variant, as_maps, close, diagnose
from labkit.checks.gradients import ScoreFn, grad, logit, prob
from labkit.checks.registry import exercise
from labkit.checks.runner import Checker
from labkit.explain import explain


# ---- 02: Integrated Gradients -----------------------------------------------------------------
def alphas_for(rule: str, steps: int) -> torch.Tensor:
    """The path positions α of a quadrature rule: midpoint (the reference), left, right, linspace, trapezoid."""
    k = torch.arange(steps, dtype=torch.float32)
    if rule == "trapezoid":
        return torch.linspace(0.0, 1.0, steps + 1)
    if rule == "midpoint":
        return (k + 0.5) / steps
    if rule == "left":
        return k / steps
    if rule == "right":
        return (k + 1) / steps
    return torch.linspace(0.0, 1.0, steps)


def ig_reference(model: nn.Module, x: torch.Tensor, target: int, baseline: torch.Tensor, steps: int,
                 factor: str = "delta", reduce: str = "mean", at_input: bool = False,
                 score: ScoreFn = logit, rule: str = "midpoint") -> torch.Tensor:
    """Integrated Gradients (midpoint rule) and its usual mistakes, signed ``(N, H, W)``."""
    alphas = alphas_for(rule, steps).to(x.dtype)
    n = len(alphas)
    path = x[None].expand(n, *x.shape) if at_input else baseline[None] + alphas.view(-1, 1, 1, 1, 1) * (x - baseline)[None]
    g = grad(model, path.flatten(0, 1), target, score).view(n, *x.shape)
    if rule == "trapezoid":
        g = torch.cat([g[:1] / 2, g[1:-1], g[-1:] / 2]) * (n / steps)
    avg = g.mean(0) if reduce == "mean" else g.sum(0)
    mult = {"delta": x - baseline, "x": x, "none": torch.ones_like(x)}[factor]
    return (mult * avg).sum(1)


def _baseline(kind: str, x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x) if kind == "gray" else torch.full_like(x, -1.0)


_RULE_TEXT = {"left": "α_k = k/steps (left Riemann sum)", "right": "α_k = (k + 1)/steps (right Riemann sum)",
              "linspace": "torch.linspace(0, 1, steps) (both ends included)",
              "trapezoid": "the trapezoid rule over α = 0, 1/steps, …, 1"}


def _ig_variants(m: nn.Module, x: torch.Tensor, t: int, base: torch.Tensor, kind: str, steps: int) -> list[Variant]:
    other = _baseline("gray" if kind == "black" else "black", x)
    rules: list[Variant] = [
        (f"your α values are {_RULE_TEXT[r]}; this exercise uses the midpoint rule α_k = (k + ½)/steps, "
         "k = 0 … steps − 1", (lambda r=r: ig_reference(m, x, t, base, steps, rule=r))) for r in _RULE_TEXT]
    return [
        ("the (x − baseline) factor is missing: multiply the averaged gradients by (x − baseline)",
         lambda: ig_reference(m, x, t, base, steps, factor="none")),
        (f"you used a single step instead of the {steps} asked for (steps is an argument)",
         lambda: ig_reference(m, x, t, base, 1)),
        ("your baseline equals the input x, so every attribution is 0: the path must start at the baseline "
         "argument", lambda: ig_reference(m, x, t, x, steps)),
        (f"two mistakes: the (x − baseline) factor is missing, and you summed the gradients over the {steps} "
         "steps instead of averaging them", lambda: ig_reference(m, x, t, base, steps, factor="none", reduce="sum")),
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
         lambda: ig_reference(m, x, t, base, steps, score=prob)),
        *rules,
    ]


def _captum_variants(m: nn.Module, x: torch.Tensor, t: int, base: torch.Tensor, steps: int) -> list[Variant]:
    def cap(**kw: object) -> torch.Tensor:
        from captum.attr import IntegratedGradients

        return IntegratedGradients(m.eval()).attribute(x, target=t, **kw).detach().sum(1)

    return [
        ("captum used its default rule (Gauss–Legendre), not the midpoint rule this exercise asks for: see the "
         "`method` argument of IntegratedGradients.attribute", lambda: cap(baselines=base, n_steps=steps)),
        ("baselines was not passed to attribute(), so captum used zeros (the gray image); pass baselines=baseline",
         lambda: cap(n_steps=steps, method="riemann_middle")),
        ("two mistakes: baselines was not passed (captum used zeros) and captum used its default rule "
         "(Gauss–Legendre), not the midpoint rule: see the `method` argument", lambda: cap(n_steps=steps)),
        ("n_steps was not passed, so captum used its default of 50 steps; pass n_steps=steps",
         lambda: cap(baselines=base, method="riemann_middle")),
    ]


def _check_ig(ck: Checker, fn: Callable, label: str, use_captum: bool = False,
              steps: int = 8) -> int:
    """Shared body of the two IG checks; returns the number of cases."""
    cases = fixtures.cases()
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
def integrated_gradients(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, x, target, baseline, steps) -> (x − x′) ⊙ mean_α ∇f_c(x′ + α(x − x′))`` (signed)."""
    ck.require_callable(fn, "function")
    n = _check_ig(ck, fn, "Integrated Gradients map")
    ck.award(2.5, f"matches labkit's Integrated Gradients on {n} seeded models, gray and black baselines")
    _completeness(ck, fn, "Integrated Gradients map")


@exercise("02_ig_captum", "Integrated Gradients with captum", points=1, allowed=("captum",))
def ig_captum(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, x, target, baseline, steps)`` built on captum's IntegratedGradients."""
    ck.require_callable(fn, "function")
    n = _check_ig(ck, fn, "captum attribution", use_captum=True)
    ck.award(1, f"captum's attributions agree with labkit's Integrated Gradients on {n} seeded models")


__all__ = ["integrated_gradients", "ig_captum", "ig_reference", "alphas_for"]
