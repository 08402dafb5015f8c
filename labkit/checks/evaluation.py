"""Checks of exercise 05: quantitative evaluation of saliency maps.

References are :mod:`labkit.evaluate` (deletion curve, region fraction) and, for
stability with noise given by the checker, the same definition written out here
with :func:`labkit.sanity.pearson` (the tests check it against
:func:`labkit.evaluate.stability`).
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
from torch import nn

from labkit.checks import fixtures
from labkit.checks.compare import close, diagnose, match, to_tensor
from labkit.checks.registry import exercise
from labkit.checks.runner import Checker
from labkit.evaluate import deletion_curve, region_fraction as region_fraction_reference
from labkit.explain import explain
from labkit.sanity import pearson, spearman


# ---- deletion curve ----------------------------------------------------------------------------
def deletion_reference(model: nn.Module, x: torch.Tensor, target: int, saliency: torch.Tensor, steps: int,
                       fill: float, order: str = "desc", score: str = "prob", integrate: str = "trapz",
                       include_start: bool = True, counts: str = "round") -> torch.Tensor:
    """Deletion AUC per image and its usual mistakes (``(N,)``)."""
    n, _, h, w = x.shape
    m = h * w
    ranks = saliency.reshape(n, m).argsort(dim=1, descending=(order == "desc"), stable=True)
    fractions = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    sizes = ((fractions * m).round() if counts == "round" else (fractions * m).floor()).long()
    scores = []
    with torch.no_grad():
        for c in sizes:
            cur = x.reshape(n, m).clone()
            cur.scatter_(1, ranks[:, :int(c)], fill)
            z = model(cur.view_as(x))
            s = z.softmax(1)[:, target] if score == "prob" else z[:, target]
            scores.append(s.double())
    s = torch.stack(scores, 1)
    if not include_start:
        s, fractions = s[:, 1:], fractions[1:]
    if integrate == "trapz":
        return torch.trapezoid(s, fractions, dim=1)
    if integrate == "steps":
        return torch.trapezoid(s, dx=1.0, dim=1)
    return s.mean(1)


#: (steps, fill) of the deletion cases: with H·W = 1024 no step count divides evenly, so rounding matters.
DELETION_SETTINGS = ((12, 0.0), (7, -1.0), (20, 0.5))


@exercise("05_deletion", "Deletion curve AUC", points=3)
def deletion_auc(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, x, target, saliency, steps, fill) -> (N,)`` AUC of p_target over the deleted fraction."""
    ck.require_callable(fn, "function")
    gen = torch.Generator().manual_seed(fixtures.seed(9))
    for i, case in enumerate(fixtures.cases()):
        m, x, t = case.model, case.x, case.target
        sal = torch.rand(x.shape[0], *x.shape[-2:], generator=gen)
        steps, fill = DELETION_SETTINGS[i % 3]
        got = to_tensor(ck, ck.call(fn, m, x, t, sal, steps, fill), "your AUC")
        if got.dim() != 1 or got.shape[0] != x.shape[0]:
            raise ck.fail(f"your AUC has shape {tuple(got.shape)}; return one AUC per image: for images x of "
                          f"shape {tuple(x.shape)}, shape (N,) = ({x.shape[0]},)")
        ref = deletion_curve(m, x, t, sal, steps=steps, fill=fill).auc.double()
        if close(got, ref, 1e-4):
            continue
        what = f"{case.name}, {steps} steps, fill {fill}"
        diagnose(ck, got, ref, [
            ("you deleted the least salient pixels first; delete in order of decreasing saliency "
             "(argsort(descending=True))", lambda: deletion_reference(m, x, t, sal, steps, fill, order="asc")),
            ("you tracked the logit; the deletion curve tracks the softmax probability of the target class",
             lambda: deletion_reference(m, x, t, sal, steps, fill, score="logit")),
            (f"your AUC is {steps} times too large: integrate over the deleted fraction (0 … 1), not over "
             "the step number: torch.trapezoid(scores, fractions)",
             lambda: deletion_reference(m, x, t, sal, steps, fill, integrate="steps")),
            ("you averaged the scores; the AUC is the trapezoid area torch.trapezoid(scores, fractions)",
             lambda: deletion_reference(m, x, t, sal, steps, fill, integrate="mean")),
            ("the curve must start at fraction 0 (nothing deleted) and have steps + 1 points",
             lambda: deletion_reference(m, x, t, sal, steps, fill, include_start=False)),
            (f"the fill value is ignored: deleted pixels must be set to `fill` ({fill} here)",
             lambda: deletion_reference(m, x, t, sal, steps, 0.0 if fill != 0.0 else -1.0)),
            (f"you filled the deleted pixels with white (1.0); set them to `fill` ({fill} here)",
             lambda: deletion_reference(m, x, t, sal, steps, 1.0)),
            ("you rounded the number of deleted pixels down (int(fraction · H·W)); round it to the nearest "
             "whole pixel (round())", lambda: deletion_reference(m, x, t, sal, steps, fill, counts="floor")),
            ("two mistakes: you deleted the least salient pixels first, and you tracked the logit instead of "
             "the probability", lambda: deletion_reference(m, x, t, sal, steps, fill, order="asc", score="logit")),
        ], what, "your AUC", tol=1e-4)
    ck.award(3, "matches labkit.evaluate.deletion_curve on three models, step counts and fill values")


# ---- region fraction ----------------------------------------------------------------------------
@exercise("05_region_fraction", "Share of saliency inside a region", points=2)
def region_fraction(ck: Checker, fn: Callable) -> None:
    """Check ``fn(maps, mask, eps) -> Σ_mask |s| / (Σ |s| + eps)`` per image ``(N,)``."""
    ck.require_callable(fn, "function")
    gen = torch.Generator().manual_seed(fixtures.seed(11))
    n, s = 4, fixtures.SIZE
    maps = torch.randn(n, s, s, generator=gen)
    maps[:, :8, :8] += 2.0
    maps[-1] = 0.0  # an all-zero map: the fraction must be 0, not NaN
    corner = torch.zeros(s, s, dtype=torch.bool)
    corner[:8, :8] = True
    per_image = torch.rand(n, s, s, generator=gen) < 0.2
    for mask, what in ((corner, "a corner mask (H, W) shared by all images"),
                       (per_image, "a mask per image (N, H, W)")):
        raw = ck.call(fn, maps, mask, 1e-12)
        ref = region_fraction_reference(maps, mask, eps=1e-12).double()
        t = raw.detach() if isinstance(raw, torch.Tensor) else None
        if t is not None and t.shape == ref.shape and torch.isnan(t[-1]) and not torch.isnan(t[:-1]).any():
            raise ck.fail("an all-zero map gives NaN (0 / 0); add eps to the denominator: Σ_mask|s| / (Σ|s| + eps)")
        got = to_tensor(ck, raw, "your fraction")
        if got.dim() != 1 or got.shape[0] != n:
            raise ck.fail(f"your result has shape {tuple(got.shape)}; return one fraction per map: for maps of "
                          f"shape {tuple(maps.shape)}, shape (N,) = ({n},)")
        if close(got, ref, 1e-5):
            continue
        m = mask.expand_as(maps).double()
        a = maps.double()
        diagnose(ck, got, ref, [
            ("you summed the signed values; use the absolute saliency |s| (negative evidence is saliency too)",
             lambda: (a * m).flatten(1).sum(1) / (a.flatten(1).sum(1) + 1e-12)),
            ("you squared the saliency; the fraction uses |s|, Σ_mask|s| / Σ|s|",
             lambda: (a ** 2 * m).flatten(1).sum(1) / ((a ** 2).flatten(1).sum(1) + 1e-12)),
            ("you computed the share outside the mask; sum |s| inside the mask",
             lambda: (a.abs() * (1 - m)).flatten(1).sum(1) / (a.abs().flatten(1).sum(1) + 1e-12)),
            ("you compared mean saliency inside and outside (normalized by area); the fraction is a plain ratio "
             "of sums, Σ_mask|s| / Σ|s|",
             lambda: ((a.abs() * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(1))
             / (a.abs().flatten(1).mean(1) + 1e-12)),
        ], what, "your fraction", tol=1e-5)
    ck.award(2, "matches labkit.evaluate.region_fraction, including an all-zero map (0, not NaN)")


# ---- stability ------------------------------------------------------------------------------------
def stability_reference(model: nn.Module, x: torch.Tensor, target: int, saliency_fn: Callable, noise: torch.Tensor,
                        clamp: bool = True, keep: str = "same_prediction", measure: str = "pearson",
                        divide: str = "kept", against: str = "clean") -> torch.Tensor:
    """Mean correlation per image between the map of x and maps of x + noise (``noise``: ``(N, n, 1, H, W)``)."""
    n, k = noise.shape[:2]
    noisy = x[:, None] + noise
    if clamp:
        noisy = noisy.clamp(-1.0, 1.0)
    flat = noisy.reshape(n * k, *x.shape[1:])
    with torch.no_grad():
        pred = model(x).argmax(1)
        pred_noisy = model(flat).argmax(1).view(n, k)
    maps = saliency_fn(model, flat, target)
    ref = saliency_fn(model, x, target) if against == "clean" else maps.view(n, k, *maps.shape[1:])[:, 0]
    f = pearson if measure == "pearson" else spearman
    r = f(ref.repeat_interleave(k, 0), maps).view(n, k)
    if keep == "same_prediction":
        kept = pred_noisy == pred[:, None]
    elif keep == "target":
        kept = pred_noisy == target
    else:
        kept = torch.ones_like(pred_noisy, dtype=torch.bool)
    count = kept.sum(1).clamp_min(1) if divide == "kept" else torch.full_like(kept.sum(1), k)
    out = torch.where(kept, r, torch.zeros_like(r)).sum(1) / count
    return torch.where(kept.any(1), out, torch.full_like(out, math.nan))


def _abs_gradient(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    """The saliency function handed to the student's stability code: |gradient| maps."""
    if float(x.min()) < -1.0 - 1e-6 or float(x.max()) > 1.0 + 1e-6:
        raise ValueError(f"saliency_fn got images with values in [{float(x.min()):.3g}, {float(x.max()):.3g}], "
                         "outside the pixel range [-1, 1]: clamp the noisy copies with .clamp(-1, 1)")
    return explain(model, x, target, "gradient").maps


#: Smallest distance of any fixture logit margin from the decision boundary (no float rounding can flip it).
MARGIN = 1e-3


def _centered(case: fixtures.Case, noise: torch.Tensor) -> nn.Module:
    """The case's model with its last bias shifted so that about half the noisy copies change class.

    The boundary is put in the middle of the widest gap between the margins z₁ − z₀ of the
    middle half of all copies, so no copy (nor clean image) lies within :data:`MARGIN` of it.
    """
    model = copy.deepcopy(case.model)
    last = [mod for mod in model.modules() if isinstance(mod, nn.Linear)][-1]
    noisy = (case.x[:, None] + noise).clamp(-1.0, 1.0).flatten(0, 1)
    with torch.no_grad():
        z = model(torch.cat([case.x, noisy])).double()
        d = (z[:, 1] - z[:, 0]).sort().values
        lo, hi = len(d) // 4, 3 * len(d) // 4
        gaps = d[lo + 1:hi + 1] - d[lo:hi]
        k = lo + int(gaps.argmax())
        last.bias[1] -= float((d[k] + d[k + 1]) / 2)
    return model


def decision_margin(model: nn.Module, x: torch.Tensor, noise: torch.Tensor) -> float:
    """Smallest |z₁ − z₀| over the clean images and their noisy copies (the fixture's safety margin)."""
    noisy = (x[:, None] + noise).clamp(-1.0, 1.0).flatten(0, 1)
    with torch.no_grad():
        z = model(torch.cat([x, noisy])).double()
    return float((z[:, 1] - z[:, 0]).abs().min())


def _usable(model: nn.Module, x: torch.Tensor, noise: torch.Tensor) -> bool:
    """Clear margins, every image keeps a copy, and some copy changes class (so the filter matters)."""
    noisy = (x[:, None] + noise).clamp(-1.0, 1.0).flatten(0, 1)
    with torch.no_grad():
        same = model(noisy).argmax(1).view(noise.shape[:2]) == model(x).argmax(1)[:, None]
    return decision_margin(model, x, noise) >= MARGIN and bool(same.any(1).all()) and not bool(same.all())


def stability_cases() -> list[tuple[str, nn.Module, torch.Tensor, int, torch.Tensor, float]]:
    """(name, centred model, images, target, noise, σ) of the stability check (noise redrawn until usable)."""
    gen = torch.Generator().manual_seed(fixtures.seed(13))
    out = []
    for i, case in enumerate(fixtures.cases()[:2]):
        sigma = (0.3, 0.5)[i]
        for _ in range(50):
            noise = sigma * torch.randn((case.x.shape[0], 8, *case.x.shape[1:]), generator=gen)
            model = _centered(case, noise)
            if _usable(model, case.x, noise):
                break
        out.append((case.name, model, case.x, case.target, noise, sigma))
    return out


@exercise("05_stability", "Stability of a map under small noise", points=3,
          allowed=("labkit.sanity.pearson", "labkit.sanity.spearman"))
def stability(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, x, target, saliency_fn, noise) -> (N,)`` mean Pearson over copies with the same prediction."""
    ck.require_callable(fn, "function")
    for name, m, x, t, noise, sigma in stability_cases():
        got = to_tensor(ck, ck.call(fn, m, x, t, _abs_gradient, noise), "your stability")
        if got.dim() != 1 or got.shape[0] != x.shape[0]:
            raise ck.fail(f"your result has shape {tuple(got.shape)}; return one mean correlation per image: "
                          f"for images x of shape {tuple(x.shape)}, shape (N,) = ({x.shape[0]},)")
        match(ck, got, stability_reference(m, x, t, _abs_gradient, noise).double(), [
            ("you kept every noisy copy; keep only the copies whose predicted class equals the prediction on "
             "the clean image", lambda: stability_reference(m, x, t, _abs_gradient, noise, keep="all")),
            ("you kept the copies predicted as the target class; keep those whose prediction equals the "
             "prediction on the clean image", lambda: stability_reference(m, x, t, _abs_gradient, noise, keep="target")),
            ("the noisy images are not clamped to [-1, 1]",
             lambda: stability_reference(m, x, t, _abs_gradient, noise, clamp=False)),
            ("you used Spearman correlation; stability uses Pearson correlation (labkit.sanity.pearson)",
             lambda: stability_reference(m, x, t, _abs_gradient, noise, measure="spearman")),
            ("you divided by the number of all noisy copies; average over the kept copies only",
             lambda: stability_reference(m, x, t, _abs_gradient, noise, divide="all")),
            ("you compared with the map of the first noisy copy; compare every copy with the map of the clean image",
             lambda: stability_reference(m, x, t, _abs_gradient, noise, against="first")),
        ], f"{name}, σ = {sigma}", "your stability", tol=1e-4)
    ck.award(3, "matches the stability definition (Pearson, same-prediction copies only, clamped noise)")


__all__ = ["deletion_auc", "region_fraction", "stability", "deletion_reference", "stability_reference"]
