"""Mutation tests of the exercise 06 checks (Latent Shift frames, latentshift-max map)."""
from __future__ import annotations

import pytest
import torch

from checkhelp import assert_accepted, assert_rejected
from labkit import checks


def frames(model, ae, x, target, lambdas, logit=False, pixel=False, sign=1.0, unit=False, lam_first=False,
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


def good(model, ae, x, target, lambdas):
    return frames(model, ae, x, target, lambdas)


def test_correct_frames_pass() -> None:
    assert_accepted(checks.latent_shift_frames, good)
    assert_accepted(checks.latent_shift_frames, good, hidden=True)


@pytest.mark.parametrize("kw,fragment", [
    ({"logit": True}, "gradient of the logit"),
    ({"pixel": True}, "adversarial step"),
    ({"sign": -1.0}, "wrong way"),
    ({"unit": True}, "unit length"),
    ({"lam_first": True}, "λ first"),
    ({"no_decode": True}, "shape"),
])
def test_wrong_frames_are_named(kw, fragment) -> None:
    def wrong(model, ae, x, target, lambdas):
        return frames(model, ae, x, target, lambdas, **kw)

    assert_rejected(checks.latent_shift_frames, wrong, fragment)


def test_frames_none_returned() -> None:
    assert_rejected(checks.latent_shift_frames, lambda m, ae, x, t, lam: None, "return")


def lsmax(frames, recon):
    return (frames - recon[:, None]).abs().amax(1).sum(1)


def test_correct_max_map_passes() -> None:
    assert_accepted(checks.latentshift_max, lsmax)
    assert_accepted(checks.latentshift_max, lsmax, hidden=True)


@pytest.mark.parametrize("fn,fragment", [
    (lambda f, r: (f - r[:, None]).abs().mean(1).sum(1), "latentshift-mean"),
    (lambda f, r: (f[:, 0] - f[:, -1]).abs().sum(1), "minmax"),
    (lambda f, r: (f[:, 1:] - f[:, :-1]).abs().mean(1).sum(1), "sliding interval"),
    (lambda f, r: (f - r[:, None]).amax(1).sum(1), "absolute value"),
    (lambda f, r: (f - r[:, None]).abs().amax(1), "drop the channel axis"),
])
def test_wrong_max_maps_are_named(fn, fragment) -> None:
    assert_rejected(checks.latentshift_max, fn, fragment)


@pytest.mark.parametrize("qid,right,wrong,hint", [("06_q_negative_lambda", "a", "b", "against the gradient"),
                                                  ("06_q_why_latent", "c", "b", "bottleneck")])
def test_questions(qid, right, wrong, hint) -> None:
    assert checks.question(qid, right).passed
    result = checks.question(qid, wrong)
    assert not result.passed and hint in "\n".join(result.feedback)
