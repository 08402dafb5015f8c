"""Mutation tests of the exercise 05 checks (deletion AUC, region fraction, stability)."""
from __future__ import annotations

import math

import torch

from checkhelp import harness
from labkit import checks
from labkit.checks.evaluation import stability_reference
from labkit.evaluate import stability as labkit_stability
from labkit.explain import explain
from labkit.sanity import pearson, spearman


# ---- deletion AUC ------------------------------------------------------------------------------
def _deletion(model, x, target, saliency, steps, fill, descending=True, logits=False, dx=None, start=0,
              count=round):
    n = x.shape[0]
    flat_x = x.reshape(n, -1)
    order = saliency.reshape(n, -1).argsort(dim=1, descending=descending, stable=True)
    m = flat_x.shape[1]
    scores = []
    with torch.no_grad():
        for k in range(start, steps + 1):
            cur = flat_x.clone()
            cur.scatter_(1, order[:, :count(k * m / steps)], fill)
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


def deletion_floor(model, x, target, saliency, steps=16, fill=0.0):
    return _deletion(model, x, target, saliency, steps, fill, count=int)


def deletion_white(model, x, target, saliency, steps=16, fill=0.0):
    return _deletion(model, x, target, saliency, steps, 1.0)


def deletion_ascending_logits(model, x, target, saliency, steps=16, fill=0.0):
    return _deletion(model, x, target, saliency, steps, fill, descending=False, logits=True)


def deletion_per_image(model, x, target, saliency, steps=16, fill=0.0):
    return torch.cat([_deletion(model, x[i:i + 1], target, saliency[i:i + 1], steps, fill) for i in range(len(x))])


def deletion_labkit(model, x, target, saliency, steps=16, fill=0.0):
    from labkit.evaluate import deletion_curve

    return deletion_curve(model, x, target, saliency, steps=steps, fill=fill).auc


test_deletion = harness(checks.deletion_auc, accept=[deletion, deletion_masks, deletion_per_image], reject=[
    (deletion_ascending, "least salient pixels first"),
    (deletion_logits, "tracked the logit"),
    (deletion_per_step, "times too large"),
    (deletion_no_start, "start at fraction 0"),
    (deletion_gray_fill, "fill value is ignored"),
    (deletion_floor, 'rounded the number of deleted pixels down'),
    (deletion_white, 'white (1.0)'),
    (deletion_ascending_logits, 'two mistakes'),
], game=[
    (deletion_labkit, 'your function called labkit.evaluate'),
])


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


def fraction_squared(maps, mask, eps=1e-12):
    m = mask.expand_as(maps).float()
    return (maps ** 2 * m).flatten(1).sum(1) / ((maps ** 2).flatten(1).sum(1) + eps)


def fraction_one_number(maps, mask, eps=1e-12):
    return fraction(maps, mask, eps).mean()


def fraction_loop(maps, mask, eps=1e-12):
    masks = mask.expand_as(maps)
    return torch.stack([m.abs()[k].sum() / (m.abs().sum() + eps) for m, k in zip(maps, masks)])


def fraction_labkit(maps, mask, eps=1e-12):
    from labkit.evaluate import region_fraction

    return region_fraction(maps, mask, eps=eps)


test_region_fraction = harness(checks.region_fraction, accept=[fraction, fraction_where, fraction_loop],
    reject=[
    (fraction_signed, "summed the signed values"),
    (fraction_no_eps, "add eps to the denominator"),
    (fraction_outside, "share outside the mask"),
    (fraction_by_area, "normalized by area"),
    (fraction_squared, 'squared the saliency'),
    (fraction_one_number, 'one fraction per map'),
], game=[
    (fraction_labkit, 'your function called labkit.evaluate'),
])


# ---- stability --------------------------------------------------------------------------------
def _stability(model, x, target, saliency_fn, noise, keep_all=False, clamp=True, corr=pearson, over_all=False):
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
        if over_all:
            out.append(r[same].sum() / len(r))
        else:
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


def stability_over_all_copies(model, x, target, saliency_fn, noise):
    return _stability(model, x, target, saliency_fn, noise, over_all=True)


def stability_first_copy(model, x, target, saliency_fn, noise):
    n, k = noise.shape[:2]
    noisy = torch.clamp(x.unsqueeze(1) + noise, -1, 1).flatten(0, 1)
    with torch.no_grad():
        keep = model(noisy).argmax(1).view(n, k) == model(x).argmax(1)[:, None]
    maps = saliency_fn(model, noisy, target)
    first = maps.view(n, k, *maps.shape[1:])[:, 0]
    r = pearson(first.repeat_interleave(k, 0), maps).view(n, k)
    return (r * keep).sum(1) / keep.sum(1)


def stability_stub(model, x, target, saliency_fn, noise):
    raise NotImplementedError()


def stability_checker_reference(model, x, target, saliency_fn, noise):
    return stability_reference(model, x, target, saliency_fn, noise)


test_stability = harness(checks.stability, accept=[stability_loop, stability_batched], reject=[
    (stability_keeps_all, "kept every noisy copy"),
    (stability_unclamped, "clamp the noisy copies"),
    (stability_spearman, "Spearman"),
    (stability_over_all_copies, 'number of all noisy copies'),
    (stability_first_copy, 'first noisy copy'),
    (stability_stub, 'NotImplementedError'),
], game=[
    (stability_checker_reference, 'your function called labkit.checks.evaluation.stability_reference'),
])


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
