"""Checks of exercise 06: Latent Shift (the latent update and the latentshift-max map)."""
from __future__ import annotations

import functools
from typing import Callable

import torch
from torch import nn

from labkit.checks import fixtures
from labkit.checks.compare import as_maps, close, diagnose, match, to_tensor
from labkit.checks.registry import exercise
from labkit.checks.runner import Checker
from labkit.explain.latent_shift import latent_maps
from labkit.models.autoencoder import ConvAutoencoder


@functools.lru_cache(maxsize=8)
def _autoencoder(seed: int) -> ConvAutoencoder:
    """A seeded tiny autoencoder for 32×32 images with spread-out BatchNorm statistics."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        ae = ConvAutoencoder(fixtures.SIZE, bottleneck=2, width=4)
    g = torch.Generator().manual_seed(seed + 2000)
    with torch.no_grad():
        for m in ae.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.5 * torch.rand(m.num_features, generator=g))
                m.running_var.copy_(0.2 + 0.3 * torch.rand(m.num_features, generator=g))
    return ae.eval()


def autoencoder(seed: int) -> ConvAutoencoder:
    """A fresh copy of the seeded fixture autoencoder."""
    import copy

    return copy.deepcopy(_autoencoder(seed))


def shift_reference(model: nn.Module, ae: nn.Module, x: torch.Tensor, target: int, lambdas: torch.Tensor,
                    score: str = "prob", space: str = "latent", sign: float = 1.0,
                    unit: bool = False) -> torch.Tensor:
    """Frames ``(N, L, C, H, W)`` of ``D(E(x) + λ·∂p/∂z)`` and the usual mistakes (logit score,
    a pixel-space step ``x + λ·∂p/∂x``, the wrong sign, a unit-length gradient)."""
    with torch.no_grad():
        z = ae.encode(x) if space == "latent" else x
    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        out = model(ae.decode(z) if space == "latent" else z)
        s = out.softmax(1)[:, target] if score == "prob" else out[:, target]
        (g,) = torch.autograd.grad(s.sum(), z)
    if unit:
        g = g / g.flatten(1).norm(dim=1).view(-1, *[1] * (g.dim() - 1)).clamp_min(1e-12)
    lam = lambdas.to(z.dtype).view(1, -1, *[1] * (z.dim() - 1))
    shifted = (z.detach()[:, None] + sign * lam * g[:, None]).flatten(0, 1)
    with torch.no_grad():
        frames = ae.decode(shifted) if space == "latent" else shifted
    return frames.view(len(x), len(lambdas), *x.shape[1:])


def _lambdas(model: nn.Module, ae: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    """A λ sweep large enough to change the frames visibly for this model and autoencoder."""
    with torch.no_grad():
        z = ae.encode(x[:1])
    z.requires_grad_(True)
    (g,) = torch.autograd.grad(model(ae.decode(z)).softmax(1)[0, target], z)
    scale = 0.5 * float(z.detach().norm()) / max(float(g.norm()), 1e-12)
    return torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]) * scale


@exercise("06_latent_shift", "Latent Shift frames D(z + λ·∂p/∂z)", points=3)
def latent_shift_frames(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, ae, x, target, lambdas)`` → frames ``(N, L, C, H, W)``."""
    ck.require_callable(fn, "function")
    cases = fixtures.cases(n_images=2)
    for i, case in enumerate(cases):
        ae = autoencoder(fixtures.seed(40 + i))
        m, x, t = case.model, case.x, case.target
        lam = _lambdas(m, ae, x, t)
        out = to_tensor(ck, ck.call(fn, m, ae, x, t, lam), "your frames")
        want = (len(x), len(lam), *x.shape[1:])
        rule = (f"for images x of shape (N, C, H, W) = {tuple(x.shape)} and L = {len(lam)} values of λ, as your "
                f"function got them here, return (N, L, C, H, W) = {want}")
        if tuple(out.shape) == (len(lam), len(x), *x.shape[1:]) and len(lam) != len(x):
            raise ck.fail(f"your frames have shape {tuple(out.shape)}: λ first; {rule}",
                          "put the images first: frames.view(N, L, C, H, W) or .transpose(0, 1)")
        if tuple(out.shape) != want:
            raise ck.fail(f"your frames have shape {tuple(out.shape)}; {rule}")
        match(ck, out, shift_reference(m, ae, x, t, lam).double(), [
            ("you took the gradient of the logit; Latent Shift follows the softmax probability p_target of "
             "f(D(z))", lambda: shift_reference(m, ae, x, t, lam, score="logit")),
            ("you moved the pixels, x + λ·∂p/∂x: that is the adversarial step the paper avoids; shift the latent "
             "code z = E(x) along ∂p/∂z and decode", lambda: shift_reference(m, ae, x, t, lam, space="pixel")),
            ("the shift goes the wrong way: x′_λ = D(z + λ·∂p/∂z), so λ > 0 raises p_target",
             lambda: shift_reference(m, ae, x, t, lam, sign=-1.0)),
            ("you normalized the gradient to unit length; use ∂p/∂z as it is (λ sets the step)",
             lambda: shift_reference(m, ae, x, t, lam, unit=True)),
        ], f"{case.name}, λ = {[round(float(v), 1) for v in lam]}", "your frames")
    ck.award(3, f"matches D(E(x) + λ·∂p/∂z) on {len(cases)} seeded classifiers and autoencoders")


def _maps_variant(frames: torch.Tensor, recon: torch.Tensor, name: str) -> torch.Tensor:
    if name == "signed":
        return (frames - recon[:, None]).amax(1).sum(1)
    return latent_maps(frames, recon)[name]


@exercise("06_latentshift_max", "The latentshift-max map", points=2)
def latentshift_max(ck: Checker, fn: Callable) -> None:
    """Check ``fn(frames, recon)`` → per-pixel max over λ of ``|x′_λ − x′_0|`` summed over channels."""
    ck.require_callable(fn, "function")
    cases = fixtures.cases(n_images=2)
    for i, case in enumerate(cases):
        ae = autoencoder(fixtures.seed(40 + i))
        lam = _lambdas(case.model, ae, case.x, case.target)
        frames = shift_reference(case.model, ae, case.x, case.target, lam)
        recon = frames[:, 2]  # λ = 0
        out = as_maps(ck, ck.call(fn, frames, recon), case.x, "your latentshift-max map")
        ref = latent_maps(frames, recon)["max"].double()
        if close(out, ref):
            continue
        diagnose(ck, out, ref, [
            ("you averaged over the frames: that is latentshift-mean; take the per-pixel maximum",
             lambda: _maps_variant(frames, recon, "mean")),
            ("you compared the first and last frames (latentshift-minmax); compare every frame with x′_0",
             lambda: _maps_variant(frames, recon, "minmax")),
            ("you averaged differences of consecutive frames (the sliding interval map); compare every frame "
             "with x′_0", lambda: _maps_variant(frames, recon, "interval")),
            ("the absolute value is missing: take |x′_λ − x′_0| before the maximum",
             lambda: _maps_variant(frames, recon, "signed")),
        ], case.name, "your latentshift-max map")
    ck.award(2, f"matches max_λ |x′_λ − x′_0| on {len(cases)} seeded sweeps")


__all__ = ["latent_shift_frames", "latentshift_max", "shift_reference", "autoencoder"]
