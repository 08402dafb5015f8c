"""Mutation tests of the exercise 05 checks (deletion AUC, region fraction, stability)."""
from __future__ import annotations

import math

import pytest
import torch

from checkhelp import assert_accepted, assert_rejected
from labkit import checks
from labkit.checks.evaluation import stability_reference
from labkit.evaluate import stability as labkit_stability
from labkit.explain import explain
from labkit.sanity import pearson, spearman


# ---- deletion AUC ------------------------------------------------------------------------------
def _deletion(model, x, target, saliency, steps, fill, descending=True, logits=False, dx=None, start=0):
    n = x.shape[0]
    flat_x = x.reshape(n, -1)
    order = saliency.reshape(n, -1).argsort(dim=1, descending=descending, stable=True)
    m = flat_x.shape[1]
    scores = []
    with torch.no_grad():
        for k in range(start, steps + 1):
            cur = flat_x.clone()
            cur.scatter_(1, order[:, :round(k * m / steps)], fill)
            z = model(cur.view_as(x))
            scores.append(z[:, target] if logits else z.softmax(1)[:, target])
    s = torch.stack(scores, 1)
    if dx is not None:
        return torch.trapezoid(s, dx=dx, dim=1)
    return torch.trapezoid(s, torch.linspace(start / steps, 1, s.shape[1]), dim=1)


def deletion(model, x, target, saliency, steps=16, fill=0.0):
    return _deletion(model, x, target, saliency, steps, fill)


def deletion_masks(model, x, target, saliency, steps=16, fill=0.0):
    n, _, h, w = x.shape
    ranks = saliency.reshape(n, -1).argsort(dim=1, descending=True, stable=True).argsort(dim=1).view(n, 1, h, w)
    fractions = torch.arange(steps + 1) / steps
    probs = []
    with torch.no_grad():
        for f in fractions:
            deleted = ranks < round(float(f) * h * w)
            probs.append(torch.softmax(model(torch.where(deleted, torch.full_like(x, fill), x)), 1)[:, target])
    probs = torch.stack(probs, dim=1)
    return ((probs[:, 1:] + probs[:, :-1]) / 2).sum(1) / steps


def deletion_ascending(model, x, target, saliency, steps=16, fill=0.0):
    return _deletion(model, x, target, saliency, steps, fill, descending=False)


def deletion_logits(model, x, target, saliency, steps=16, fill=0.0):
    return _deletion(model, x, target, saliency, steps, fill, logits=True)


def deletion_per_step(model, x, target, saliency, steps=16, fill=0.0):
    return _deletion(model, x, target, saliency, steps, fill, dx=1.0)


def deletion_no_start(model, x, target, saliency, steps=16, fill=0.0):
    return _deletion(model, x, target, saliency, steps, fill, start=1)


def deletion_gray_fill(model, x, target, saliency, steps=16, fill=0.0):
    return _deletion(model, x, target, saliency, steps, 0.0)


@pytest.mark.parametrize("fn", [deletion, deletion_masks])
def test_deletion_accepts(fn):
    assert_accepted(checks.deletion_auc, fn)
    assert_accepted(checks.deletion_auc, fn, hidden=True)


@pytest.mark.parametrize("fn, fragment", [
    (deletion_ascending, "least salient pixels first"),
    (deletion_logits, "tracked the logit"),
    (deletion_per_step, "times too large"),
    (deletion_no_start, "start at fraction 0"),
    (deletion_gray_fill, "fill value is ignored"),
])
def test_deletion_rejects(fn, fragment):
    assert_rejected(checks.deletion_auc, fn, fragment)


# ---- region fraction ----------------------------------------------------------------------------
def fraction(maps, mask, eps=1e-12):
    a = maps.abs()
    return (a * mask).flatten(1).sum(1) / (a.flatten(1).sum(1) + eps)


def fraction_where(maps, mask, eps=1e-12):
    mask = mask.expand_as(maps)
    inside = torch.where(mask, maps.abs(), torch.zeros_like(maps)).sum(dim=(1, 2))
    return inside / (maps.abs().sum(dim=(1, 2)) + eps)


def fraction_signed(maps, mask, eps=1e-12):
    return (maps * mask).flatten(1).sum(1) / (maps.flatten(1).sum(1) + eps)


def fraction_no_eps(maps, mask, eps=1e-12):
    a = maps.abs()
    return (a * mask).flatten(1).sum(1) / a.flatten(1).sum(1)


def fraction_outside(maps, mask, eps=1e-12):
    a = maps.abs()
    return (a * ~mask).flatten(1).sum(1) / (a.flatten(1).sum(1) + eps)


def fraction_by_area(maps, mask, eps=1e-12):
    a = maps.abs()
    m = mask.expand_as(a).float()
    return ((a * m).flatten(1).sum(1) / m.flatten(1).sum(1)) / (a.flatten(1).mean(1) + eps)


@pytest.mark.parametrize("fn", [fraction, fraction_where])
def test_region_fraction_accepts(fn):
    assert_accepted(checks.region_fraction, fn)
    assert_accepted(checks.region_fraction, fn, hidden=True)


@pytest.mark.parametrize("fn, fragment", [
    (fraction_signed, "summed the signed values"),
    (fraction_no_eps, "add eps to the denominator"),
    (fraction_outside, "share outside the mask"),
    (fraction_by_area, "normalized by area"),
])
def test_region_fraction_rejects(fn, fragment):
    assert_rejected(checks.region_fraction, fn, fragment)


# ---- stability --------------------------------------------------------------------------------
def _stability(model, x, target, saliency_fn, noise, keep_all=False, clamp=True, corr=pearson):
    n, k = noise.shape[:2]
    noisy = x[:, None] + noise
    if clamp:
        noisy = noisy.clamp(-1, 1)
    with torch.no_grad():
        pred = model(x).argmax(1)
    ref = saliency_fn(model, x, target)
    out = []
    for i in range(n):
        with torch.no_grad():
            same = model(noisy[i]).argmax(1) == pred[i]
        if keep_all:
            same = torch.ones_like(same)
        maps = saliency_fn(model, noisy[i], target)
        r = corr(ref[i:i + 1].expand_as(maps), maps)
        out.append(r[same].mean() if same.any() else torch.tensor(math.nan))
    return torch.stack(out)


def stability_loop(model, x, target, saliency_fn, noise):
    return _stability(model, x, target, saliency_fn, noise)


def stability_batched(model, x, target, saliency_fn, noise):
    n, k = noise.shape[:2]
    noisy = torch.clamp(x.unsqueeze(1) + noise, -1, 1).flatten(0, 1)
    with torch.no_grad():
        keep = model(noisy).argmax(1).view(n, k) == model(x).argmax(1)[:, None]
    r = pearson(saliency_fn(model, x, target).repeat_interleave(k, 0), saliency_fn(model, noisy, target)).view(n, k)
    return (r * keep).sum(1) / keep.sum(1)


def stability_keeps_all(model, x, target, saliency_fn, noise):
    return _stability(model, x, target, saliency_fn, noise, keep_all=True)


def stability_unclamped(model, x, target, saliency_fn, noise):
    return _stability(model, x, target, saliency_fn, noise, clamp=False)


def stability_spearman(model, x, target, saliency_fn, noise):
    return _stability(model, x, target, saliency_fn, noise, corr=spearman)


@pytest.mark.parametrize("fn", [stability_loop, stability_batched])
def test_stability_accepts(fn):
    assert_accepted(checks.stability, fn)
    assert_accepted(checks.stability, fn, hidden=True)


@pytest.mark.parametrize("fn, fragment", [
    (stability_keeps_all, "kept every noisy copy"),
    (stability_unclamped, "clamp the noisy copies"),
    (stability_spearman, "Spearman"),
])
def test_stability_rejects(fn, fragment):
    assert_rejected(checks.stability, fn, fragment)


def test_stability_reference_agrees_with_labkit():
    """The checker's reference (noise given) equals labkit.evaluate.stability with the same noise."""
    from labkit.checks import fixtures

    case = fixtures.cases()[0]
    x, n, sigma, seed = case.x, 5, 0.2, 3
    noise = torch.randn((x.shape[0], n, *x.shape[1:]), generator=torch.Generator().manual_seed(seed)) * sigma

    def grad_maps(model, xb, tb):
        return explain(model, xb, tb, "gradient").maps

    ours = stability_reference(case.model, x, case.target, lambda m, xb, t: grad_maps(m, xb, t), noise)
    theirs = labkit_stability(case.model, x, case.target, grad_maps, sigma=sigma, n=n, seed=seed).correlation
    torch.testing.assert_close(ours.double(), theirs.double(), rtol=1e-5, atol=1e-6, equal_nan=True)
