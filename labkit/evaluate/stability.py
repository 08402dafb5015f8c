"""Stability of a saliency map under small input noise (Alvarez-Melis & Jaakkola 2018)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

import torch
from torch import nn

from labkit.errors import InputError
from labkit.device import model_device
from labkit.evaluate._checks import check_maps, check_positive_int
from labkit.evaluate.metric import STABILITY, Metric
from labkit.sanity.similarity import pearson
from labkit.models.spec import describe
from labkit.validation import check_images, check_targets

MapFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class StabilityResult:
    """Per-image stability.

    Attributes
    ----------
    correlation:
        ``(N,)`` mean Pearson correlation between the map of the image and the
        maps of the noisy copies whose prediction stayed the same (NaN when none
        did, or when a map is constant).
    same_rate:
        ``(N,)`` fraction of noisy copies with the same predicted class.
    per_copy:
        ``(N, n)`` correlation of each copy; NaN where the prediction changed.
    """

    correlation: torch.Tensor
    same_rate: torch.Tensor
    per_copy: torch.Tensor
    metric: ClassVar[Metric] = STABILITY


def _maps(model: nn.Module, x: torch.Tensor, target: torch.Tensor, method: str | MapFn,
          params: dict[str, Any], batch_size: int) -> torch.Tensor:
    out = []
    for i in range(0, len(x), batch_size):
        xb, tb = x[i:i + batch_size], target[i:i + batch_size]
        if callable(method):
            maps = method(model, xb, tb, **params)
        else:
            from labkit.explain import explain  # imported late: explain is a sibling core package

            maps = explain(model, xb, tb, method=method, **params).maps
        out.append(check_maps(maps.detach(), name=f"maps of {getattr(method, '__name__', method)}"))
    return torch.cat(out)


def stability(model: nn.Module, x: torch.Tensor, target: int | Sequence[int] | torch.Tensor,
              method: str | MapFn, sigma: float = 0.03, n: int = 8, seed: int = 0, *,
              batch_size: int = 64, **params: Any) -> StabilityResult:
    """Correlation between the map of ``x`` and the maps of ``x + noise``.

    Parameters
    ----------
    model:
        The classifier.
    x, target:
        Images ``(N, C, H, W)`` in [-1, 1] and the class explained per image.
    method:
        A name for :func:`labkit.explain.explain` or a callable
        ``method(model, x, target, **params) -> maps (N, H, W)``.
    sigma:
        Standard deviation of the Gaussian noise (pixel scale [-1, 1], converted
        to the model's normalisation); noisy images are clamped back to its valid range.
    n:
        Noisy copies per image.
    seed:
        Seeds the noise (the global random state is not used).
    batch_size:
        Images per call to the explainer.
    **params:
        Passed to the explainer.

    Returns
    -------
    StabilityResult
        Only copies whose predicted class equals the prediction on ``x`` count
        towards ``correlation``; ``same_rate`` says how many did. Maps are compared
        as the explainer returns them (canonical maps for named methods).

    References
    ----------
    Alvarez-Melis, D., Jaakkola, T. S. (2018). On the Robustness of
    Interpretability Methods. ICML Workshop on Human Interpretability.
    """
    spec = describe(model)
    x = check_images(x, name="x", spec=spec)
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma < 0:
        raise InputError(f"sigma must be a number >= 0, got {sigma!r}")
    check_positive_int(n, "n")
    check_positive_int(batch_size, "batch_size")
    if not callable(method) and not isinstance(method, str):
        raise InputError(f"method must be an explainer name or a callable, got {type(method).__name__}")
    device = model_device(model)[0]
    x = x.to(device)
    count = x.shape[0]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(x)
        t = check_targets(target, count, logits.shape[1], device=device)
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn((count, n, *x.shape[1:]), generator=gen, dtype=x.dtype).to(device) * sigma
        if not spec.lab_range:
            noise = noise * spec.noise_scale(x)
        noisy = spec.clamp(x[:, None] + noise).reshape(count * n, *x.shape[1:])
        with torch.no_grad():
            pred_noisy = torch.cat([model(noisy[i:i + batch_size]).argmax(1)
                                    for i in range(0, len(noisy), batch_size)])
        same = (pred_noisy.view(count, n) == logits.argmax(1)[:, None]).cpu()
        ref = _maps(model, x, t, method, params, batch_size)
        maps = _maps(model, noisy, t.repeat_interleave(n), method, params, batch_size)
    finally:
        model.train(was_training)
    if tuple(ref.shape[1:]) != tuple(maps.shape[1:]) or ref.shape[0] != count:
        raise InputError(f"the explainer returned maps of shape {tuple(ref.shape)}; expected ({count}, H, W)")
    r = pearson(ref.repeat_interleave(n, dim=0), maps).view(count, n).cpu()
    r = torch.where(same, r, torch.full_like(r, math.nan))
    kept = same & ~r.isnan()
    correlation = torch.where(kept.any(1), r.nan_to_num(0.0).sum(1) / kept.sum(1).clamp(min=1),
                              torch.full((count,), math.nan, dtype=torch.float64))
    return StabilityResult(correlation=correlation, same_rate=same.double().mean(1), per_copy=r)
