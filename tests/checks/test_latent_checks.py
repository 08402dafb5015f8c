"""Mutation tests of the exercise 06 checks (Latent Shift frames, latentshift-max map)."""
from __future__ import annotations

import torch

from checkhelp import harness
from labkit import checks


def _frames(model, ae, x, target, lambdas, logit=False, pixel=False, sign=1.0, unit=False, lam_first=False,
            no_decode=False):
    z = (x if pixel else ae.encode(x)).detach().requires_grad_(True)
    out = model(z if pixel else ae.decode(z))
    score = out[:, target] if logit else out.softmax(1)[:, target]
    (g,) = torch.autograd.grad(score.sum(), z)
    if unit:
        g = g / g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    result = []
    for lam in lambdas:
        shifted = z.detach() + sign * float(lam) * g
        result.append(shifted if pixel or no_decode else ae.decode(shifted).detach())
    return torch.stack(result, 0 if lam_first else 1)


def frames_loop(model, ae, x, target, lambdas):
    return _frames(model, ae, x, target, lambdas)


def frames_batched(model, ae, x, target, lambdas):
    with torch.no_grad():
        z = ae.encode(x)
    z.requires_grad_(True)
    (g,) = torch.autograd.grad(model(ae.decode(z)).softmax(1)[:, target].sum(), z)
    shifted = (z.detach()[:, None] + lambdas.view(1, -1, *[1] * (z.dim() - 1)) * g[:, None]).flatten(0, 1)
    with torch.no_grad():
        return ae.decode(shifted).view(len(x), len(lambdas), *x.shape[1:])


def frames_torch_func(model, ae, x, target, lambdas):
    with torch.no_grad():
        z = ae.encode(x)
    g = torch.func.grad(lambda v: model(ae.decode(v)).softmax(1)[:, target].sum())(z)
    with torch.no_grad():
        return torch.stack([ae.decode(z + float(lam) * g) for lam in lambdas], 1)


def frames_logit(model, ae, x, target, lambdas):
    return _frames(model, ae, x, target, lambdas, logit=True)


def frames_pixels(model, ae, x, target, lambdas):
    return _frames(model, ae, x, target, lambdas, pixel=True)


def frames_wrong_way(model, ae, x, target, lambdas):
    return _frames(model, ae, x, target, lambdas, sign=-1.0)


def frames_unit_gradient(model, ae, x, target, lambdas):
    return _frames(model, ae, x, target, lambdas, unit=True)


def frames_lambda_first(model, ae, x, target, lambdas):
    return _frames(model, ae, x, target, lambdas, lam_first=True)


def frames_not_decoded(model, ae, x, target, lambdas):
    return _frames(model, ae, x, target, lambdas, no_decode=True)


def frames_none(model, ae, x, target, lambdas):
    _frames(model, ae, x, target, lambdas)


def frames_checker_reference(model, ae, x, target, lambdas):
    from labkit.checks.latent import shift_reference

    return shift_reference(model, ae, x, target, lambdas)


test_latent_shift = harness(checks.latent_shift_frames, accept=[frames_loop, frames_batched, frames_torch_func],
                            reject=[
    (frames_logit, "gradient of the logit"),
    (frames_pixels, "adversarial step"),
    (frames_wrong_way, "wrong way"),
    (frames_unit_gradient, "unit length"),
    (frames_lambda_first, "λ first"),
    (frames_not_decoded, "shape"),
    (frames_none, "`return`"),
], game=[
    (frames_checker_reference, "your function called labkit.checks.latent.shift_reference"),
])


def lsmax(frames, recon):
    return (frames - recon[:, None]).abs().amax(1).sum(1)


def lsmax_loop(frames, recon):
    return torch.stack([(f - r[None]).abs().amax(0).sum(0) for f, r in zip(frames, recon)])


def lsmax_mean(frames, recon):
    return (frames - recon[:, None]).abs().mean(1).sum(1)


def lsmax_minmax(frames, recon):
    return (frames[:, 0] - frames[:, -1]).abs().sum(1)


def lsmax_interval(frames, recon):
    return (frames[:, 1:] - frames[:, :-1]).abs().mean(1).sum(1)


def lsmax_signed(frames, recon):
    return (frames - recon[:, None]).amax(1).sum(1)


def lsmax_keeps_channel(frames, recon):
    return (frames - recon[:, None]).abs().amax(1)


def lsmax_stub(frames, recon):
    raise NotImplementedError()


def lsmax_labkit(frames, recon):
    from labkit.explain.latent_shift import latent_maps

    return latent_maps(frames, recon)["max"]


test_latentshift_max = harness(checks.latentshift_max, accept=[lsmax, lsmax_loop], reject=[
    (lsmax_mean, "latentshift-mean"),
    (lsmax_minmax, "minmax"),
    (lsmax_interval, "sliding interval"),
    (lsmax_signed, "absolute value"),
    (lsmax_keeps_channel, "drop the channel axis"),
    (lsmax_stub, "NotImplementedError"),
], game=[
    (lsmax_labkit, "your function called labkit.explain"),
])
