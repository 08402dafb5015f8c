"""SmoothGrad: the gradient averaged over noisy copies of the image."""
from __future__ import annotations

import torch

from labkit.explain.base import Attribution, Explainer, Param, chunks, register
from labkit.explain.gradient import input_gradients
from labkit.models.spec import ModelSpec


@register("smoothgrad", "SmoothGrad")
class SmoothGrad(Explainer):
    """Mean gradient over ``n_samples`` copies ``x + ε``, ``ε ~ N(0, σ²)``.

    Noisy copies are clamped back to the model's valid range (``sigma`` is in units
    of labkit's [-1, 1] scale, converted through the model's normalisation). ``maps`` is the mean of ``|∇|``
    over samples (the convention of Smilkov et al.); ``signed`` is the mean of the
    signed gradients. All copies go through the model as batches; noise is drawn
    one sample at a time from a generator seeded with ``seed``, so results do not
    depend on ``max_batch``. With ``n_samples=1`` and ``sigma=0`` the result is
    exactly :class:`~labkit.explain.gradient.Gradient`.

    References
    ----------
    D. Smilkov, N. Thorat, B. Kim, F. Viégas, M. Wattenberg. "SmoothGrad: removing
    noise by adding noise." ICML Workshop on Visualization for Deep Learning, 2017.
    """

    description = "Gradient averaged over noisy copies of the image (less speckle)."
    params = (
        Param("n_samples", "int", 25, min=1, max=100, step=1, description="noisy copies averaged", coarse=8),
        Param("sigma", "float", 0.15, min=0.0, max=2.0, step=0.01,
              description="noise standard deviation in units of the [-1, 1] pixel scale"),
        Param("seed", "int", 0, min=0, max=2 ** 31 - 1, step=1, description="random seed of the noise"),
    )

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        n, sigma = int(self.config["n_samples"]), float(self.config["sigma"])
        gen = torch.Generator(device=x.device).manual_seed(int(self.config["seed"]))
        chunk = self.chunk_size(x)
        per_pass = max(1, chunk // x.shape[0])  # samples per batched pass
        sum_grad, sum_abs = torch.zeros_like(x), torch.zeros_like(x)
        for sl in chunks(n, per_pass):
            k = sl.stop - sl.start
            noisy = self._noisy(x, k, sigma, gen, self.spec)
            grads, _ = input_gradients(self.model, noisy.flatten(0, 1), target.repeat(k), chunk)
            grads = grads.view(k, *x.shape)
            sum_grad += grads.sum(0)
            sum_abs += grads.abs_().sum(0)
        return self._result((sum_abs / n).sum(1), (sum_grad / n).sum(1))

    @staticmethod
    def _noisy(x: torch.Tensor, k: int, sigma: float, gen: torch.Generator, spec: ModelSpec) -> torch.Tensor:
        """``k`` noisy copies of ``x``, ``(k, N, C, H, W)``, clamped to the valid range.

        The noise is drawn one copy at a time (the same stream for any ``max_batch``)
        into one buffer, then scaled, shifted and clamped in place: a few ops per pass,
        not four per copy.
        """
        if sigma == 0:
            return x.expand(k, *x.shape)
        noise = torch.empty((k, *x.shape), device=x.device, dtype=x.dtype)
        for copy in noise:
            copy.normal_(generator=gen)
        if not spec.lab_range:
            noise.mul_(spec.noise_scale(x))
        return spec.clamp(noise.mul_(sigma).add_(x))
