"""Latent Shift: counterfactual movies from an autoencoder's latent space.

For an image ``x`` and an autoencoder ``D(E(x))`` trained apart from the
classifier ``f``, the latent code ``z = E(x)`` is shifted along the gradient of
the target class probability of ``f(D(z))``; decoding ``z + λ·∂f/∂z`` for a
sweep of ``λ`` gives a short movie that removes (``λ < 0``) or exaggerates
(``λ > 0``) what drives the prediction. Shifting in ``z`` rather than in ``x``
keeps the frames near the images the autoencoder learned, instead of adding
imperceptible adversarial noise.
"""
from __future__ import annotations

import torch
from torch import nn

from labkit.errors import InputError
from labkit.explain.base import (Attribution, Explainer, Param, cat, chunks, frozen_eval, model_device,
                                 register, target_probs)

MAPS = ("max", "mean", "minmax", "interval")
#: a search direction ends once the probability has turned back this much from its best value
#: (well above float32 jitter of a saturated softmax, well below any visible change)
TURN_TOLERANCE = 1e-3
TRAIN_HINT = ("train one with `labkit train-ae --size 64 --out runs/ae` and load it with "
              "labkit.checkpoint.load_autoencoder('runs/ae'), or get the cached one with "
              "labkit.session.autoencoders.pretrained_autoencoder(data)")


def sweep_lambdas(lo: torch.Tensor, hi: torch.Tensor, n: int) -> torch.Tensor:
    """``(N, n)`` ascending λ values from ``lo[i] ≤ 0`` to ``hi[i] ≥ 0`` that include 0 exactly.

    Frames are shared between the two sides in proportion to their lengths
    (at least one frame on a side that is not empty).
    """
    rows = []
    for a, b in zip(lo.tolist(), hi.tolist()):
        span = b - a
        neg = 0 if span == 0 else round((n - 1) * -a / span)
        neg = min(max(neg, 1 if a < 0 else 0), n - 1 - (1 if b > 0 else 0))
        left = torch.linspace(a, 0.0, neg + 1, dtype=torch.float64)[:-1]
        rows.append(torch.cat([left, torch.linspace(0.0, b, n - neg, dtype=torch.float64)]))
    return torch.stack(rows).to(lo.device)


def latent_maps(frames: torch.Tensor, recon: torch.Tensor) -> dict[str, torch.Tensor]:
    """The four 2-D maps of a sweep (Appendix B), each ``(N, H, W)`` summed over channels.

    ``frames`` is ``(N, F, C, H, W)`` in ascending λ, ``recon`` ``(N, C, H, W)`` the
    λ = 0 frame: ``max`` = per-pixel max of ``|x′_λ − x′_0|``, ``mean`` = its mean,
    ``minmax`` = ``|x′_λmin − x′_λmax|``, ``interval`` = mean of consecutive-frame
    differences ``|x′_{k+1} − x′_k|``.
    """
    diff = (frames - recon[:, None]).abs()
    steps = (frames[:, 1:] - frames[:, :-1]).abs()
    return {"max": diff.amax(1).sum(1), "mean": diff.mean(1).sum(1),
            "minmax": (frames[:, 0] - frames[:, -1]).abs().sum(1), "interval": steps.mean(1).sum(1)}


def check_autoencoder(autoencoder: object, channels: int | None = None, size: int | None = None) -> nn.Module:
    """Return ``autoencoder`` if it can serve Latent Shift for ``channels``×``size``×``size`` images.

    Raises :class:`InputError` when there is none (the message says how to train
    one), when it has no ``encode``/``decode``, or when its image size or channels
    differ from the classifier's images.
    """
    if autoencoder is None:
        raise InputError(f"Latent Shift needs an autoencoder and none is trained or loaded: {TRAIN_HINT}")
    if not isinstance(autoencoder, nn.Module) or not all(callable(getattr(autoencoder, m, None))
                                                         for m in ("encode", "decode")):
        raise InputError(f"autoencoder must be a torch.nn.Module with encode() and decode() methods, "
                         f"got {type(autoencoder).__name__}")
    ae_c, ae_s = getattr(autoencoder, "in_channels", None), getattr(autoencoder, "size", None)
    if (channels is not None and ae_c is not None and ae_c != channels) or (
            size is not None and ae_s is not None and ae_s != size):
        raise InputError(f"the autoencoder works on {ae_c}×{ae_s}×{ae_s} images but the classifier's images are "
                         f"{channels}×{size}×{size}: train an autoencoder at this size with "
                         f"`labkit train-ae --size {size}`")
    return autoencoder


@register("latent_shift", "Latent Shift")
class LatentShift(Explainer):
    """Counterfactual frames ``x′_λ = D(E(x) + λ·∂p/∂z)`` and their 2-D maps.

    ``p`` is the softmax probability of the target class of ``f(D(z))``. The λ
    range is searched per image (Appendix C of the paper): λ is stepped down by
    ``step`` (each step also grows by ``growth`` times the current ``|λ|``, as in
    the authors' code) until the probability ``p_λ`` has dropped by the fraction
    ``drop`` of its value ``p_0`` at λ = 0 (``p_λ ≤ (1 − drop)·p_0``), or it stops
    moving down (turns back by more than ``TURN_TOLERANCE``), or ``budget``
    steps are taken; then upwards until it has risen by the fraction ``rise`` of
    its headroom (``p_λ ≥ p_0 + rise·(1 − p_0)``; the two readings of "rose by 5 %"
    agree at ``p_0 = 0.5`` and this one stays reachable near 1). ``n_frames``
    frames span the range and always include λ = 0 (the reconstruction
    ``D(E(x))``). All candidate λ of a search step block, all frames and all
    images go through the autoencoder and classifier as batches.

    ``maps`` is the 2-D map named by ``map``; ``extras`` holds the four maps
    (``map_max`` …), ``frames`` ``(N, F, C, H, W)``, ``lambdas`` and ``probs``
    ``(N, F)``, ``recon``, ``input_prob`` (probability on ``x`` itself),
    ``bounds`` ``(N, 2)`` and ``search_steps`` ``(N, 2)``.

    Parameters
    ----------
    model:
        The classifier; any model taking the autoencoder's image size works.
    autoencoder:
        An ``nn.Module`` with ``encode``/``decode`` (e.g.
        :class:`~labkit.models.autoencoder.ConvAutoencoder`), on the model's device.

    References
    ----------
    J. P. Cohen, R. Brooks, S. En, E. Zucker, A. Pareek, M. P. Lungren, A. Chaudhari.
    "Gifsplanation via Latent Shift: A Simple Autoencoder Approach to Counterfactual
    Generation for Chest X-rays." MIDL 2021 (§3, §4.2, Appendices B and C).
    """

    description = "Counterfactual movie: shift the autoencoder's latent code along the prediction's gradient."
    has_signed = False
    needs = ("autoencoder",)
    params = (
        Param("map", "choice", "max", choices=MAPS, description="2-D map of the sweep (Appendix B)"),
        Param("n_frames", "int", 20, min=2, max=100, step=1, description="frames of the movie", coarse=6),
        Param("drop", "float", 0.3, min=0.0, max=1.0, step=0.01,
              description="search down until p ≤ (1 − drop)·p0; a fraction in (0, 1)"),
        Param("rise", "float", 0.05, min=0.0, max=1.0, step=0.01,
              description="search up until p ≥ p0 + rise·(1 − p0); a fraction in (0, 1)"),
        Param("step", "float", 10.0, min=1e-6, max=1e6, description="λ step of the search"),
        Param("growth", "float", 0.1, min=0.0, max=1.0, step=0.01,
              description="each search step also grows by this fraction of |λ|"),
        Param("budget", "int", 100, min=1, max=10000, step=1, description="most search steps each way",
              coarse=10),
    )

    def __init__(self, model: nn.Module, autoencoder: nn.Module | None = None, *,
                 max_batch: int | None = None, channels_last: bool = False, **params: object) -> None:
        self.autoencoder = check_autoencoder(autoencoder)
        super().__init__(model, max_batch=max_batch, channels_last=channels_last, **params)

    def _check_value(self, spec: Param, value: object) -> object:
        value = spec.check(value)
        if spec.name in ("drop", "rise") and not 0.0 < value < 1.0:
            raise InputError(f"parameter {spec.name!r} must be a fraction in (0, 1), got {value!r}")
        return value

    # ------------------------------------------------------------------ call
    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        ae = check_autoencoder(self.autoencoder, x.shape[1], x.shape[2] if x.shape[2] == x.shape[3] else None)
        ae_dev, _ = model_device(ae)
        if ae_dev != x.device:
            raise InputError(f"the autoencoder is on {ae_dev} but the classifier is on {x.device}: "
                             f"move it with autoencoder.to('{x.device}')")
        with frozen_eval(ae, channels_last=self.channels_last):
            with torch.no_grad():
                input_prob = target_probs(self._logits(x), target)
            chunk = self.chunk_size(x)
            z, grad, recon, p0 = self._latent_gradient(x, target, chunk)
            with torch.no_grad():
                low_goal = p0 * (1 - float(self.config["drop"]))
                high_goal = p0 + float(self.config["rise"]) * (1 - p0)
                lo, n_lo = self._search(z, grad, target, p0, -1.0, low_goal, chunk)
                hi, n_hi = self._search(z, grad, target, p0, 1.0, high_goal, chunk)
                lambdas = sweep_lambdas(lo, hi, int(self.config["n_frames"]))
                probs, frames = self._probs_at(z, grad, lambdas, target, chunk, keep_frames=True)
        maps = latent_maps(frames, recon)
        return self._result(maps[str(self.config["map"])], None, frames=frames, lambdas=lambdas, probs=probs,
                            recon=recon, input_prob=input_prob, bounds=torch.stack([lo, hi], 1),
                            search_steps=torch.stack([n_lo, n_hi], 1), **{f"map_{k}": v for k, v in maps.items()})

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return cat([self.model(x[sl]) for sl in chunks(len(x), self.chunk_size(x))])

    def _latent_gradient(self, x: torch.Tensor, target: torch.Tensor, chunk: int
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``z = E(x)``, ``∂p/∂z``, ``D(z)`` and ``p`` at ``D(z)``, batched."""
        parts: list[tuple[torch.Tensor, ...]] = []
        for sl in chunks(len(x), chunk):
            with torch.no_grad():
                z = self.autoencoder.encode(x[sl])
            z.requires_grad_(True)
            with torch.enable_grad():
                recon = self.autoencoder.decode(z)
                if recon.shape[1:] != x.shape[1:]:
                    raise InputError(f"the autoencoder decodes to {tuple(recon.shape[1:])} but the images are "
                                     f"{tuple(x.shape[1:])}: train one at this size with `labkit train-ae`")
                p = target_probs(self.model(recon), target[sl])
                (grad,) = torch.autograd.grad(p.sum(), z)
            parts.append((z.detach(), grad, recon.detach(), p.detach()))
        return tuple(cat([p[i] for p in parts]) for i in range(4))  # type: ignore[return-value]

    def _probs_at(self, z: torch.Tensor, grad: torch.Tensor, lam: torch.Tensor, target: torch.Tensor,
                  chunk: int, keep_frames: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Target probability (and frames) at ``z[i] + lam[i, k]·grad[i]``; ``lam`` is ``(A, K)``."""
        a, k = lam.shape
        shifted = (z[:, None] + lam.to(z.dtype).view(a, k, *[1] * (z.dim() - 1)) * grad[:, None]).flatten(0, 1)
        t = target.repeat_interleave(k)
        probs, frames = [], []
        for sl in chunks(a * k, chunk):
            img = self.autoencoder.decode(shifted[sl])
            probs.append(target_probs(self.model(img), t[sl]))
            if keep_frames:
                frames.append(img)
        return cat(probs).view(a, k), (cat(frames).view(a, k, *frames[0].shape[1:]) if keep_frames else None)

    def _schedule(self) -> torch.Tensor:
        """``|λ|`` after each of the ``budget`` search steps."""
        step, growth, budget = float(self.config["step"]), float(self.config["growth"]), int(self.config["budget"])
        out, lam = [], 0.0
        for _ in range(budget):
            lam = lam + step + growth * lam
            out.append(lam)
        return torch.tensor(out, dtype=torch.float64)

    def _search(self, z: torch.Tensor, grad: torch.Tensor, target: torch.Tensor, p0: torch.Tensor,
                sign: float, goal: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
        """λ bound on one side per image and the number of search steps it took.

        Stops at the first λ whose probability is past ``goal`` (keeps that λ), or
        once the probability has turned back by more than ``TURN_TOLERANCE`` from
        its best value so far (keeps the λ of the best value); else at the budget.
        """
        n = len(z)
        sched = sign * self._schedule().to(z.device)
        bound = torch.zeros(n, dtype=torch.float64, device=z.device)
        steps = torch.zeros(n, dtype=torch.long, device=z.device)
        best = sign * p0.double()  # best signed probability so far, and its λ
        best_lam = torch.zeros_like(bound)
        active = torch.arange(n, device=z.device)
        k = 0
        while len(active) and k < len(sched):
            block = sched[k:k + max(1, chunk // len(active))]
            p, _ = self._probs_at(z[active], grad[active], block.expand(len(active), -1), target[active], chunk)
            sp = sign * p.double()
            run, idx = torch.cummax(torch.cat([best[active, None], sp], 1), 1)
            lams = torch.cat([best_lam[active, None], block.expand(len(active), -1)], 1)
            run_lam = lams.gather(1, idx)[:, 1:]
            reached = sp >= sign * goal[active, None]
            stop = reached | (sp < run[:, 1:] - TURN_TOLERANCE)
            any_stop = stop.any(1)
            first = stop.double().argmax(1, keepdim=True)
            at_stop = torch.where(reached.gather(1, first), block[first], run_lam.gather(1, first)).squeeze(1)
            bound[active] = torch.where(any_stop, at_stop, block[-1])
            steps[active] = k + torch.where(any_stop, first.squeeze(1) + 1, torch.full_like(any_stop, len(block),
                                                                                          dtype=torch.long))
            best[active], best_lam[active] = run[:, -1], run_lam[:, -1]
            active = active[~any_stop]
            k += len(block)
        return bound, steps
