"""Input checks shared by every layer: clear messages, no state change on failure."""
from __future__ import annotations

import math

import torch

from labkit.errors import InputError

PIXEL_MIN, PIXEL_MAX = -1.0, 1.0


def check_images(x: object, *, channels: int | None = 1, name: str = "images",
                 check_range: bool = True, spec: object | None = None) -> torch.Tensor:
    """Check a batch of images ``(N, C, H, W)`` in [-1, 1] and return it.

    With ``spec`` (a :class:`labkit.models.ModelSpec`) the channels, the valid range
    and the smallest size are the model's instead.

    Raises :class:`InputError` for non-tensors, wrong rank or channels, non-float
    dtypes, NaN/inf pixels, images smaller than the network takes, or values
    outside the normalized range.
    """
    if spec is not None:
        channels = spec.in_channels
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise InputError(
            f"{name} must have shape (N, C, H, W), got {tuple(x.shape)}; "
            "add a batch axis with x.unsqueeze(0) for a single image"
        )
    if channels is not None and x.shape[1] != channels:
        kind = "grayscale" if channels == 1 else "RGB" if channels == 3 else "the model's input"
        raise InputError(f"{name} must have {channels} channel(s) ({kind}) for this model, got shape "
                         f"{tuple(x.shape)}; convert the images or use a model that takes {x.shape[1]} channel(s)")
    if not torch.is_floating_point(x):
        raise InputError(f"{name} must be a float tensor normalized to [-1, 1], got dtype {x.dtype}")
    if x.numel() == 0:
        raise InputError(f"{name} is empty: shape {tuple(x.shape)}")
    peak = float(x.abs().max())  # one pass (cheaper than aminmax); NaN and ±inf show in it
    if not math.isfinite(peak):
        raise InputError(f"{name} contain NaN or infinite pixels; expected finite values in [-1, 1]")
    if spec is not None and min(x.shape[-2:]) < spec.min_size:
        raise InputError(f"{name} of {x.shape[-2]}×{x.shape[-1]} pixels are too small for this network: it takes "
                         f"at least {spec.min_size}×{spec.min_size}; resize them first (torch.nn.functional.interpolate)")
    if check_range and spec is not None and not spec.lab_range:
        _check_channel_range(x, spec, name)
    elif check_range and peak > PIXEL_MAX + 1e-4:  # the range [-1, 1] is symmetric: |x| ≤ 1 is the check
        lo, hi = (float(v) for v in torch.aminmax(x.detach()))
        raise InputError(
            f"{name} must be normalized to [-1, 1], got values in [{lo:.3g}, {hi:.3g}]; "
            "use labkit.data.normalize() on uint8 images"
        )
    return x


def _check_channel_range(x: torch.Tensor, spec: object, name: str) -> None:
    lo, hi = x.amin((0, 2, 3)), x.amax((0, 2, 3))
    low = torch.tensor(spec.low, dtype=x.dtype, device=x.device) - 1e-4
    high = torch.tensor(spec.high, dtype=x.dtype, device=x.device) + 1e-4
    if bool((lo < low).any() or (hi > high).any()):
        raise InputError(f"{name} must be normalised for this model, {spec.range_text()} (pixels in [0, 1] with "
                         f"mean {spec.mean}, std {spec.std}), got values in [{float(lo.min()):.3g}, "
                         f"{float(hi.max()):.3g}]; normalise them as the model expects")


def check_targets(target: object, n: int, num_classes: int, *, device: torch.device | None = None) -> torch.Tensor:
    """Turn an int or a sequence/tensor of class indices into a ``(n,)`` long tensor.

    Raises :class:`InputError` when a class is outside ``[0, num_classes)`` or the
    length does not match the batch.
    """
    if isinstance(target, bool):
        raise InputError(f"target must be a class index in [0, {num_classes - 1}], got a bool")
    if isinstance(target, int):  # checked in Python: no tensor reduction for the common case
        if not 0 <= target < num_classes:
            _out_of_range(num_classes, [target])
        return torch.full((n,), target, dtype=torch.long, device=device)
    try:
        t = target if isinstance(target, torch.Tensor) else torch.as_tensor(target)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"target must be an int or a sequence of {n} ints, got {type(target).__name__}") from exc
    if t.is_floating_point() or t.dtype == torch.bool:
        raise InputError(f"target must hold integer class indices, got dtype {t.dtype}")
    if t.dim() != 1:
        t = t.reshape(-1)
    if t.dtype != torch.long:
        t = t.long()
    if t.numel() == 1 and n != 1:
        t = t.expand(n).clone()
    if t.numel() != n:
        raise InputError(f"target must have one class per image: expected {n}, got {t.numel()}")
    if t.numel():  # a few classes are read out in one go, many are reduced on their device
        lo, hi = (min(v := t.tolist()), max(v)) if t.numel() <= 64 else (int(v) for v in torch.aminmax(t))
        if lo < 0 or hi >= num_classes:
            _out_of_range(num_classes, t.tolist()[:8])
    return t if device is None or t.device == device else t.to(device)


def _out_of_range(num_classes: int, got: list[int]) -> None:
    raise InputError(
        f"target class out of range: expected values in [0, {num_classes - 1}] "
        f"(0 = normal, 1 = pneumonia), got {got}"
    )
