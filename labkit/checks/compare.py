"""Comparing a student's output with the reference and naming the likely mistake.

:func:`as_maps` turns whatever the student returned into an ``(N, H, W)`` float
tensor or stops with a message about the shape. :func:`diagnose` is called when
the output does not match the reference: it computes each known-wrong variant
(lazily, only then) and reports the first one the output matches, so feedback
says *what* went wrong ("you returned the signed gradient"), not just "wrong".
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

import numpy as np
import torch

from labkit.checks.runner import Checker

#: (message naming the mistake, thunk computing what that wrong implementation returns)
Variant = tuple[str, Callable[[], torch.Tensor]]


def to_tensor(ck: Checker, value: Any, what: str) -> torch.Tensor:
    """``value`` as a detached float64 CPU tensor, or a failure saying what was returned."""
    if isinstance(value, torch.Tensor):
        with torch._C.DisableTorchFunctionSubclass():  # a Tensor subclass cannot steer the comparisons
            t = value.detach().as_subclass(torch.Tensor).clone()
    elif isinstance(value, (numbers.Real, np.generic)) and not isinstance(value, (bool, np.bool_)):
        t = torch.tensor(float(value), dtype=torch.float64)
    elif isinstance(value, np.ndarray) or (isinstance(value, (list, tuple)) and value and
                                           all(isinstance(v, (int, float, np.number)) for v in np.ravel(value))):
        try:
            t = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise ck.fail(f"{what} could not be read as numbers ({exc})")
    elif value is None:
        raise ck.fail(f"{what} is None: did you forget the `return` statement?")
    else:
        raise ck.fail(f"{what} must be a torch.Tensor, got {type(value).__name__}")
    if t.is_complex() or t.dtype == torch.bool:
        raise ck.fail(f"{what} must hold real numbers, got dtype {t.dtype}")
    t = t.to("cpu", torch.float64)
    if not torch.isfinite(t).all():
        raise ck.fail(f"{what} contains NaN or infinite values",
                      "look for a division by zero or a log of 0")
    return t


def one_number(ck: Checker, value: Any, what: str) -> float:
    """``value`` as one float, or a failure saying how many values were returned."""
    t = to_tensor(ck, value, what)
    if t.numel() != 1:
        raise ck.fail(f"{what} must be one number, got {t.numel()} values (shape {tuple(t.shape)})")
    return float(t.reshape(-1)[0])


def as_maps(ck: Checker, value: Any, x: torch.Tensor, what: str = "your map",
            low_res: Sequence[tuple[int, int]] = ()) -> torch.Tensor:
    """Check that ``value`` is a map batch ``(N, H, W)`` for images ``x`` ``(N, C, H, W)``.

    A wrong shape fails with a message that relates it to the images the student's
    function was given (the check's own, whatever the size of the lab's images).
    """
    n, _, h, w = x.shape
    t = to_tensor(ck, value, what)
    shape = tuple(t.shape)
    if shape == (n, h, w):
        return t
    rule = (f"for images x of shape (N, C, H, W) = {tuple(x.shape)}, as your function got them here, return one "
            f"value per pixel of each image: (N, H, W) = {(n, h, w)}")
    if len(shape) == 4 and shape[0] == n and shape[2:] == (h, w):
        raise ck.fail(f"{what} has shape {shape}: it kept the images' channel axis; {rule}",
                      "drop the channel axis: sum over it (.sum(1)) or squeeze it (.squeeze(1))")
    if shape == (h, w) or (n == 1 and shape == (1, 1, h, w)):
        raise ck.fail(f"{what} has shape {shape}: one map for all {n} images; {rule}")
    if low_res and len(shape) == 3 and shape[0] == n and (shape[1:] in low_res or shape[1] < h):
        raise ck.fail(f"{what} has shape {shape}: it is at the layer's resolution {shape[1:]}, not the images' "
                      f"{(h, w)}; {rule}",
                      f"upsample it to the image size {(h, w)} with torch.nn.functional.interpolate("
                      "cam[:, None], size=(H, W), mode='bilinear', align_corners=False)[:, 0]")
    if len(shape) == 3 and shape[1:] == (h, w):
        raise ck.fail(f"{what} has {shape[0]} maps for {n} images; {rule}")
    raise ck.fail(f"{what} has shape {shape}; {rule}")


def rel_error(a: torch.Tensor, ref: torch.Tensor) -> float:
    """Largest absolute difference divided by the largest absolute reference value."""
    a, ref = a.double(), ref.double()
    scale = float(ref.abs().max())
    diff = float((a - ref).abs().max())
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


def close(a: torch.Tensor, ref: torch.Tensor, tol: float = 1e-3) -> bool:
    """True when ``a`` has the reference's shape and is within ``tol`` relative error."""
    return tuple(a.shape) == tuple(ref.shape) and rel_error(a, ref) <= tol


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two flattened tensors (NaN when one is constant)."""
    a, b = a.double().flatten(), b.double().flatten()
    a, b = a - a.mean(), b - b.mean()
    den = float(a.norm() * b.norm())
    return float((a * b).sum()) / den if den > 0 else math.nan


def _scale_mistake(s: torch.Tensor, ref: torch.Tensor, tol: float) -> str | None:
    """Name a rescaling: the output equals the reference times one constant, or per-map constants."""
    if s.dim() < 2 or float(ref.abs().max()) == 0:
        return None
    s2, r2 = s.flatten(1), ref.flatten(1)
    c = (s2 * r2).sum(1) / (r2 * r2).sum(1).clamp_min(1e-300)
    if not torch.isfinite(c).all() or (c <= 0).any():
        return None
    if rel_error(s2, c[:, None] * r2) > tol:
        return None
    if float((c - 1).abs().max()) <= tol:
        return None
    if float(c.max() - c.min()) <= tol * float(c.abs().max()):
        return (f"your values are the reference times a constant (×{float(c[0]):.4g}): check for an extra "
                "factor, a sum where a mean is asked for, or a rescaling")
    return ("each of your maps is the reference rescaled by its own factor: it looks normalized per map. "
            "Return the raw values; normalize only for display")


def match(ck: Checker, student: torch.Tensor, reference: torch.Tensor, variants: Sequence[Variant], case: str,
          what: str = "your map", tol: float = 1e-3) -> None:
    """Return when ``student`` matches ``reference``; otherwise stop with the mistake it matches."""
    if not close(student, reference, tol):
        diagnose(ck, student, reference, variants, case, what, tol)


def diagnose(ck: Checker, student: torch.Tensor, reference: torch.Tensor, variants: Sequence[Variant],
             case: str, what: str = "your map", tol: float = 1e-3, variant_tol: float | None = None) -> None:
    """Stop the check with the mistake the student's output matches (or a generic mismatch)."""
    variant_tol = tol if variant_tol is None else variant_tol
    for message, thunk in variants:
        try:
            wrong = thunk().detach().to("cpu", torch.float64)
        except Exception:  # a variant that cannot be computed for this case is skipped
            continue
        if tuple(wrong.shape) == tuple(student.shape) and not close(wrong, reference, tol) \
                and close(student, wrong, variant_tol):
            raise ck.fail(f"{what} does not match the reference on {case}: {message}")
    if float(student.abs().max()) == 0.0:
        raise ck.fail(f"{what} is zero everywhere on {case}, the reference is not",
                      "check that you return the computed values (not a fresh torch.zeros) and that gradients flow")
    scaled = _scale_mistake(student, reference, max(tol, 1e-6))
    if scaled:
        raise ck.fail(f"{what} does not match the reference on {case}: {scaled}")
    r = correlation(student, reference)
    err = rel_error(student, reference)
    detail = f"largest difference {err:.3g} × the largest reference value; correlation with the reference {r:.3f}"
    hint = ("close in shape but not in value: check signs, scaling and the exact formula"
            if r > 0.9 else "compare your code with the formula in the exercise text step by step")
    raise ck.fail(f"{what} does not match the reference on {case} ({detail})", hint)


__all__ = ["Variant", "to_tensor", "one_number", "as_maps", "rel_error", "close", "correlation", "diagnose", "match"]
