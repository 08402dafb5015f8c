"""One description of a classifier's input and structure, read by every explainer,
sanity check and metric: :class:`ModelSpec`.

A model's input ``x`` is ``(p − mean) / std`` per channel for pixels ``p`` in [0, 1].
labkit's own models take [-1, 1] (mean = std = 0.5); ImageNet networks take the
ImageNet normalisation. From that one normalisation follow the valid pixel range,
the gray (p = 0.5) and black (p = 0) baselines, the occlusion fill and the noise
clamp, instead of a hard-coded [-1, 1].

labkit's models declare theirs (a ``model_spec`` attribute); :func:`describe`
infers one for any other ``nn.Module`` where it can, and :func:`attach_spec` lets
the user give it otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from labkit.errors import InputError
from labkit.models.layers import conv_layers, default_cam_layer

CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: default CAM layers of torchvision's classifiers: the last block's output (ResNet), the final norm (DenseNet)
TORCHVISION_CAM_LAYERS = ("layer4", "features.norm5", "features")
LAB_CLASSES = ("normal", "pneumonia")


@dataclass(frozen=True)
class ModelSpec:
    """What a classifier expects and how labkit addresses its parts.

    Parameters
    ----------
    in_channels:
        Channels of the input the model takes.
    mean, std:
        Per-channel normalisation of pixels in [0, 1] (one value is repeated for
        every channel). ``(0.5,), (0.5,)`` is labkit's [-1, 1].
    image_size:
        The size it was trained at (``None``: any).
    min_size:
        Smallest height/width the network can take.
    class_names:
        Names of the output classes.
    cam_layer:
        Default CAM layer (``None``: the model's last conv block output or conv).
    blocks:
        Randomization plan: named blocks, input first (``None``: derived from the
        module tree, see :func:`default_blocks`).
    """

    in_channels: int = 1
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    image_size: int | None = None
    min_size: int = 1
    class_names: tuple[str, ...] = field(default=LAB_CLASSES, repr=False)
    cam_layer: str | None = None
    blocks: tuple[str, ...] | None = None
    declared: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.in_channels, bool) or not isinstance(self.in_channels, int) or self.in_channels < 1:
            raise InputError(f"in_channels must be an int ≥ 1, got {self.in_channels!r}")
        mean, std = _per_channel(self.mean, "mean", self.in_channels), _per_channel(self.std, "std", self.in_channels)
        bad = [s for s in std if not s > 0]
        if bad:
            raise InputError(f"normalisation std must be > 0 for every channel, got std={self.std!r}; "
                             "a zero std divides by zero: give the std of the pixels in [0, 1], e.g. 0.5")
        if isinstance(self.min_size, bool) or not isinstance(self.min_size, int) or self.min_size < 1:
            raise InputError(f"min_size must be an int ≥ 1, got {self.min_size!r}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.blocks is not None:
            object.__setattr__(self, "blocks", tuple(self.blocks))

    @classmethod
    def from_range(cls, low: float, high: float, **kwargs: object) -> "ModelSpec":
        """A spec for inputs that are pixels scaled linearly to ``[low, high]``."""
        if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
            raise InputError(f"value range must be finite with low < high, got [{low}, {high}]")
        return cls(mean=(-low / (high - low),), std=(1 / (high - low),), **kwargs)

    # ------------------------------------------------------------- pixel values
    def value(self, pixel: float, like: torch.Tensor | None = None) -> torch.Tensor:
        """The input value of pixel level ``pixel`` (0 black … 1 white) per channel, ``(C, 1, 1)``."""
        v = torch.tensor([(pixel - m) / s for m, s in zip(self.mean, self.std)], dtype=torch.float64)
        v = v.view(-1, 1, 1)
        return v if like is None else v.to(device=like.device, dtype=like.dtype)

    @property
    def low(self) -> tuple[float, ...]:
        """Smallest valid input value per channel (black)."""
        return tuple((0 - m) / s for m, s in zip(self.mean, self.std))

    @property
    def high(self) -> tuple[float, ...]:
        """Largest valid input value per channel (white)."""
        return tuple((1 - m) / s for m, s in zip(self.mean, self.std))

    @cached_property
    def lab_range(self) -> bool:
        """True for labkit's [-1, 1] on every channel (computed once: every explainer call reads it)."""
        return all(abs(a + 1) < 1e-9 for a in self.low) and all(abs(b - 1) < 1e-9 for b in self.high)

    def gray(self, x: torch.Tensor) -> torch.Tensor:
        """The mid-gray baseline (pixel 0.5) shaped like ``x``."""
        return self.value(0.5, x).expand_as(x).clone()

    def black(self, x: torch.Tensor) -> torch.Tensor:
        """The black baseline (pixel 0) shaped like ``x``."""
        return self.value(0.0, x).expand_as(x).clone()

    def level(self, lab_value: float, x: torch.Tensor) -> torch.Tensor:
        """A fill given on labkit's [-1, 1] scale (0 = mid-gray, -1 = black), per channel, ``(C, 1, 1)``."""
        return self.value((lab_value + 1) / 2, x)

    def noise_scale(self, x: torch.Tensor) -> torch.Tensor:
        """Input units per unit of labkit's [-1, 1] scale, per channel ``(C, 1, 1)`` (1 for [-1, 1])."""
        return torch.tensor([0.5 / s for s in self.std], dtype=x.dtype, device=x.device).view(-1, 1, 1)

    def clamp(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` clamped in place to the valid range of each channel."""
        if self.in_channels == 1 or len(set(self.low)) == 1 and len(set(self.high)) == 1:
            return x.clamp_(self.low[0], self.high[0])
        return torch.maximum(torch.minimum(x, self.value(1.0, x), out=x), self.value(0.0, x), out=x)

    def uniform(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Uniform noise over the valid range of each channel, shaped like ``x``."""
        r = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        if len(set(self.low)) == 1 and len(set(self.high)) == 1:
            return r * (self.high[0] - self.low[0]) + self.low[0]
        lo, hi = self.value(0.0, x), self.value(1.0, x)
        return r * (hi - lo) + lo

    def range_text(self) -> str:
        """The valid range in words, for messages."""
        if len(set(self.low)) == 1 and len(set(self.high)) == 1:
            return f"[{self.low[0]:.4g}, {self.high[0]:.4g}]"
        return "per channel " + ", ".join(f"[{a:.3g}, {b:.3g}]" for a, b in zip(self.low, self.high))


def class_names(n: int) -> tuple[str, ...]:
    """Default names of ``n`` classes: the lab's two, else ``class 0 …``."""
    return LAB_CLASSES if n == 2 else tuple(f"class {i}" for i in range(n))


def _per_channel(values: Sequence[float] | float, name: str, channels: int) -> tuple[float, ...]:
    vals = (values,) if isinstance(values, (int, float)) else tuple(values)
    if len(vals) == 1:
        vals = vals * channels
    if len(vals) != channels or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals):
        raise InputError(f"normalisation {name} must be one finite number or {channels} (one per input channel), "
                         f"got {values!r}")
    return tuple(float(v) for v in vals)


#: labkit's own input convention: one channel in [-1, 1]
LAB_SPEC = ModelSpec()


# ---------------------------------------------------------------- describing
def attach_spec(model: nn.Module, spec: ModelSpec) -> nn.Module:
    """Give ``model`` its description (returns the model); checks the names it refers to."""
    if not isinstance(spec, ModelSpec):
        raise InputError(f"spec must be a labkit.models.ModelSpec, got {type(spec).__name__}")
    modules = dict(model.named_modules())
    named = [spec.cam_layer] if spec.cam_layer is not None else []
    unknown = [b for b in named + list(spec.blocks or ()) if b not in modules or b == ""]
    if unknown:
        raise InputError(f"the spec names module(s) {unknown} that {type(model).__name__} does not have; "
                         f"valid names: {block_names(model)}")
    model.model_spec = spec
    return model


def describe(model: nn.Module) -> ModelSpec:
    """The :class:`ModelSpec` of ``model``: the declared one (``model.model_spec``), else inferred.

    Inferred: channels from the first ``nn.Conv2d``; ImageNet normalisation for
    torchvision's classifiers, labkit's [-1, 1] otherwise; class names from the
    last ``nn.Linear``; the CAM layer and randomization plan from the module tree.
    Give a spec with :func:`attach_spec` when the inference is wrong.
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    spec = getattr(model, "model_spec", None)
    if isinstance(spec, ModelSpec):
        return spec
    convs = list(conv_layers(model).values())
    channels = convs[0].in_channels if convs else 1
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    classes = linears[-1].out_features if linears else 2
    torchvision = type(model).__module__.startswith("torchvision.models")
    norm = dict(mean=IMAGENET_MEAN, std=IMAGENET_STD, image_size=224, min_size=32) \
        if torchvision and channels == 3 else {}
    modules = dict(model.named_modules())
    cam = next((n for n in TORCHVISION_CAM_LAYERS if n in modules), None) if torchvision else None
    return ModelSpec(in_channels=channels, class_names=class_names(classes), declared=False,
                     cam_layer=cam or (default_cam_layer(model) if convs else None), **norm)


def block_names(model: nn.Module) -> list[str]:
    """Every named submodule that holds parameters (valid block names)."""
    return [n for n, m in model.named_modules() if n and any(True for _ in m.parameters())]


def default_blocks(model: nn.Module) -> list[str]:
    """The randomization plan of ``model``, input first: its declared ``blocks``, else the
    children that hold parameters, opening ``nn.Sequential`` containers while there are
    fewer than three; normalization modules go with the block before them."""
    spec = describe(model)
    if spec.blocks is not None:
        return list(spec.blocks)
    blocks = _param_children(model, "")
    while len(blocks) < 3:
        i = next((i for i, (_, m) in enumerate(blocks) if isinstance(m, CONTAINERS) and _param_children(m, "")), None)
        if i is None:
            break
        name, m = blocks[i]
        blocks[i:i + 1] = _param_children(m, name + ".")
    return [n for n, m in blocks if not isinstance(m, NORM_TYPES)] or [n for n, _ in blocks]


def _param_children(module: nn.Module, prefix: str) -> list[tuple[str, nn.Module]]:
    return [(prefix + n, m) for n, m in module.named_children() if any(True for _ in m.parameters())]


def to_model_input(images: torch.Tensor, spec: ModelSpec, size: int | None = None) -> torch.Tensor:
    """Pixels of any size, grayscale or RGB, as the model with ``spec`` takes them.

    ``images`` are ``(H, W)``, ``(N, H, W)`` or ``(N, C, H, W)`` with ``C`` 1 or 3,
    as uint8 (0–255) or floats in [0, 1]. They are resized bilinearly to ``size``
    (default the spec's ``image_size``; ``None`` in both keeps the size), turned to
    the model's channels (RGB → gray as the channel mean, gray → RGB by repetition)
    and normalised with its mean and std. Returns float32 ``(N, C, size, size)``.
    """
    if not isinstance(images, torch.Tensor) or images.dim() not in (2, 3, 4) or images.numel() == 0:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise InputError(f"images must be a tensor (H, W), (N, H, W) or (N, C, H, W), got {shape}")
    x = images.reshape(1, 1, *images.shape) if images.dim() == 2 else images[:, None] if images.dim() == 3 else images
    if x.shape[1] not in (1, 3):
        raise InputError(f"images must have 1 (grayscale) or 3 (RGB) channels, got {x.shape[1]} in {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        x = x.float() / 255
    elif not torch.is_floating_point(x) or not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise InputError("images must be uint8 (0–255) or finite floats in [0, 1] (pixels before normalisation)")
    x = x.float()
    size = size or spec.image_size
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    if x.shape[1] != spec.in_channels:
        x = x.mean(1, keepdim=True) if spec.in_channels == 1 else x.expand(-1, spec.in_channels, -1, -1)
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    return (x - mean) / std
