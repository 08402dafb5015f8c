"""Shared plumbing for every saliency method: the :class:`Explainer` base class and the
method registry (parameter specs and results live in :mod:`labkit.explain.spec`).

A method is one small subclass of :class:`Explainer` that declares its
parameters once (``params``, a tuple of :class:`Param`) and implements
``_attribute(x, target)``. The base class validates parameters, checks images
and targets, puts the model in eval mode with frozen weights for the duration
of the call (and restores it afterwards), and offers a chunking helper so that
batched forward passes stay within a memory budget. Calls run in fp32 and in
the contiguous layout by default, like captum; ``channels_last=True`` holds conv
weights in channels-last layout during the call (faster oneDNN kernels on CPU,
but max-pool ties may break differently, so single-pixel gradients can differ).
"""
from __future__ import annotations

import contextlib
import math
import weakref
from abc import ABC, abstractmethod
from typing import Callable, ClassVar, Iterator, Sequence, TypeVar

import torch
from torch import nn

from labkit.device import model_device
from labkit.errors import InputError
from labkit.explain.spec import Attribution, Param
from labkit.registry import Registry
from labkit.models.layers import default_cam_layer, get_layer
from labkit.models.spec import describe
from labkit.validation import check_images, check_targets

#: Default budget of input pixels per forward pass, by device type. On CPU small
#: batches (32 images of 64×64) keep activations in cache and run fastest; on a
#: GPU larger batches (256 images of 64×64: about 0.5 GB of activations kept for
#: the backward pass of SmallCNN(width=16), modest on a shared course GPU)
#: amortize kernel launches. On CPU the budget grows with the weights each pass
#: reads (× millions of parameters, at most MAX_CPU_BATCH images): ResNet-18 takes
#: 9 images of 224 px or 117 of 64 px, 1.2–1.4× faster per image than 1 or 10.
DEFAULT_BUDGET_PIXELS: dict[str, int] = {"cpu": 2 ** 17, "cuda": 2 ** 20}
OTHER_DEVICE_BUDGET, MAX_CPU_BATCH = 2 ** 19, 128


_NUM_CLASSES: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, int]] = weakref.WeakKeyDictionary()


def num_classes(model: nn.Module, x: torch.Tensor, params: list[nn.Parameter] | None = None) -> int:
    """Number of logits the model returns, found by one forward pass on ``x[:1]``.

    Cached per model together with its parameter shapes (``params``, default
    ``model.parameters()``), so a replaced head is noticed and the extra forward
    pass is paid once per model, not per call.
    """
    signature = tuple(p.shape for p in (model.parameters() if params is None else params))
    cached = _NUM_CLASSES.get(model)
    if cached is not None and cached[0] == signature:
        return cached[1]
    try:
        with torch.no_grad():
            out = model(x[:1])
    except Exception as exc:  # noqa: BLE001 - a user's model may raise anything in forward
        raise InputError(f"the model raised {type(exc).__name__} in forward on images of shape "
                         f"{tuple(x[:1].shape)}: {str(exc).splitlines()[0] if str(exc) else ''}; expected a "
                         "classifier that takes these images (check its ModelSpec: channels, size)") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise InputError(f"model must return logits of shape (N, num_classes), got {shape} for N = 1")
    _NUM_CLASSES[model] = (signature, out.shape[1])
    return out.shape[1]


@contextlib.contextmanager
def frozen_eval(model: nn.Module, channels_last: bool = False) -> Iterator[list[nn.Parameter]]:
    """Put ``model`` in eval mode with ``requires_grad=False`` on every parameter;
    restore each module's mode and each parameter's flag afterwards, even on error.
    Yields the model's parameters.

    With ``channels_last`` every ``nn.Conv2d`` weight is also held in channels-last
    layout for the duration. On CPU this lets oneDNN use its channels-last conv
    and pooling kernels, which run the lab models 1.3–2× faster (a one-channel
    input otherwise takes the slow NCHW path). Values are unchanged: each
    weight's ``.data`` is swapped for a channels-last copy and the original
    tensor is put back afterwards.

    The model is walked once and only what is changed is restored, so the
    overhead is small (this runs on every explainer call).
    """
    modules = list(model.modules())
    params = list({id(p): p for m in modules for p in m._parameters.values() if p is not None}.values())
    training = [m for m in modules if m.training]
    trainable = [p for p in params if p.requires_grad]
    swapped: dict[int, tuple[nn.Parameter, torch.Tensor]] = {}  # by id: a shared weight is swapped once
    try:
        if training:
            model.eval()
        for p in trainable:
            p.requires_grad_(False)
        if channels_last:
            for w in (m.weight for m in modules if isinstance(m, nn.Conv2d)):
                if isinstance(w, nn.Parameter) and w.dim() == 4 and id(w) not in swapped:
                    swapped[id(w)] = (w, w.data)
                    w.data = torch.empty_like(w.data, memory_format=torch.channels_last).copy_(w.data)
        yield params
    finally:
        for w, original in swapped.values():
            w.data = original
        for m in training:
            m.training = True
        for p in trainable:
            p.requires_grad_(True)


def chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` items covering ``range(n)``.

    The fewest chunks that respect ``size``, balanced so that their lengths
    differ by at most one (no tiny last batch).
    """
    k = -(-n // size)
    for i in range(k):
        yield slice(i * n // k, (i + 1) * n // k)


def cat(parts: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat(parts)`` without a copy when there is a single chunk."""
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def target_scores(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``logits[i, target[i]]`` for each row."""
    return logits.gather(1, target[:, None]).squeeze(1)


def target_probs(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Softmax probability of ``target[i]`` for each row."""
    return target_scores(torch.softmax(logits, dim=1), target)


class Explainer(ABC):
    """Base class of every saliency method.

    Subclasses set the class attributes and implement :meth:`_attribute`.

    Parameters
    ----------
    model:
        A classifier mapping ``(N, C, H, W)`` images to ``(N, K)`` logits; its
        :class:`~labkit.models.ModelSpec` (``describe(model)``) gives the channels,
        the valid range and the baselines ([-1, 1] grayscale for labkit's models).
    max_batch:
        Most images per forward pass (noisy copies, IG steps, occluded images and
        masked images are batched up to this size). ``None`` chooses
        ``DEFAULT_BUDGET_PIXELS[device] // (C·H·W)`` (32 images of 64×64 on CPU, 256 on CUDA; see above).
    channels_last:
        Hold conv weights in channels-last layout during each call (off by
        default: maps then match captum's to float precision; on, max-pool ties
        can be broken differently and single pixels of a gradient map differ).
    **params:
        Values for the parameters in ``params``; missing ones take their default.
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""  # how people write it: "Integrated Gradients", "Grad-CAM++"
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    has_signed: ClassVar[bool] = True
    #: constructor arguments the method cannot run without besides the model
    #: (Latent Shift's ``autoencoder``); generic loops over the registry pass them
    needs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model: nn.Module, *, max_batch: int | None = None, channels_last: bool = False,
                 **params: object) -> None:
        if not isinstance(model, nn.Module):
            raise InputError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if max_batch is not None and (isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1):
            raise InputError(f"max_batch must be a positive int or None, got {max_batch!r}")
        if not isinstance(channels_last, bool):
            raise InputError(f"channels_last must be True or False, got {channels_last!r}")
        self.model = model
        self.spec = describe(model)
        self.max_batch = max_batch
        self.channels_last = channels_last
        self.config: dict[str, object] = self._check_params(params)

    # ----------------------------------------------------------------- params
    @classmethod
    def param_spec(cls, name: str) -> Param:
        """The :class:`Param` called ``name``."""
        for p in cls.params:
            if p.name == name:
                return p
        raise InputError(f"{cls.name or cls.__name__} has no parameter {name!r}; valid: {[p.name for p in cls.params]}")

    def _check_params(self, given: dict[str, object]) -> dict[str, object]:
        valid = {p.name for p in self.params}
        unknown = sorted(set(given) - valid)
        if unknown:
            raise InputError(
                f"unknown parameter(s) {unknown} for {self.name!r}; valid parameters: "
                + (", ".join(f"{p.name} ({p.expected()})" for p in self.params) or "none")
            )
        config = {}
        for spec in self.params:
            value = self._check_value(spec, given.get(spec.name, spec.default))
            if spec.kind == "layer":
                value = (self.spec.cam_layer or default_cam_layer(self.model)) if value is None else value
                get_layer(self.model, value)  # raises InputError listing the conv layers
            config[spec.name] = value
        return config

    def _check_value(self, spec: Param, value: object) -> object:
        """Validate one value; subclasses may accept extra forms (IG's tensor baseline)."""
        return spec.check(value)

    # ------------------------------------------------------------------- call
    def attribute(self, x: torch.Tensor, target: int | Sequence[int] | torch.Tensor) -> Attribution:
        """Explain ``target`` (an int or one class per image) for images ``x`` ``(N, 1, H, W)``."""
        self.spec = describe(self.model)
        x = check_images(x, spec=self.spec)
        device, dtype = model_device(self.model)
        x = x.detach().to(device=device, dtype=dtype)
        with frozen_eval(self.model, channels_last=self.channels_last) as params:
            t = check_targets(target, x.shape[0], num_classes(self.model, x, params), device=device)
            result = self._attribute(x, t)
        result.extras.setdefault("target", t)
        return result

    @abstractmethod
    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        """The method itself, on a validated batch on the model's device."""

    # ---------------------------------------------------------------- helpers
    def chunk_size(self, x: torch.Tensor) -> int:
        """Images per forward pass for inputs shaped like ``x``."""
        if self.max_batch is not None:
            return self.max_batch
        budget, pixels = DEFAULT_BUDGET_PIXELS.get(x.device.type, OTHER_DEVICE_BUDGET), math.prod(x.shape[1:])
        millions = sum(p.numel() for p in self.model.parameters()) // 10 ** 6 if x.device.type == "cpu" else 0
        return max(1, budget // pixels, min(MAX_CPU_BATCH, budget * millions // pixels))

    def _result(self, maps: torch.Tensor, signed: torch.Tensor | None, **extras: object) -> Attribution:
        det = {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in extras.items()}
        return Attribution(maps=maps.detach(), signed=None if signed is None else signed.detach(),
                           method=self.name, params=dict(self.config), extras=det)

    def _signed_result(self, attr: torch.Tensor, **extras: object) -> Attribution:
        """Result of a gradient-family method from a per-channel attribution ``(N, C, H, W)``."""
        signed = attr[:, 0] if attr.shape[1] == 1 else attr.sum(1)  # grayscale: a view, no reduction
        return self._result(signed.abs() if attr.shape[1] == 1 else attr.abs().sum(1), signed, **extras)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({type(self.model).__name__}{', ' if args else ''}{args})"


# ------------------------------------------------------------------- registry
EXPLAINERS: Registry[type[Explainer]] = Registry("saliency method")
E = TypeVar("E", bound=type[Explainer])


def register(name: str, label: str = "") -> Callable[[E], E]:
    """Class decorator adding an :class:`Explainer` subclass to the registry under ``name``.

    ``label`` is the name shown to people (default: ``name`` with spaces).
    Methods are listed in registration order (the package registers them in
    teaching order). Re-registering the same class (a reloaded module) replaces it.
    """
    def deco(cls: E) -> E:
        if not (isinstance(cls, type) and issubclass(cls, Explainer)):
            raise TypeError(f"@register({name!r}) expects an Explainer subclass, got {cls!r}")
        EXPLAINERS.add(name, cls)
        cls.name = name
        cls.label = label or name.replace("_", " ")
        return cls
    return deco


def list_explainers() -> list[str]:
    """Registered method names, in teaching order."""
    return EXPLAINERS.names()


def method_label(name: str) -> str:
    """The human-readable name of a registered method ("Integrated Gradients")."""
    return get_explainer(name).label


def get_explainer(name: str) -> type[Explainer]:
    """The :class:`Explainer` subclass registered as ``name``."""
    return EXPLAINERS.get(name)


def explain(model: nn.Module, x: torch.Tensor, target: int | Sequence[int] | torch.Tensor,
            method: str = "gradient", **params: object) -> Attribution:
    """Explain ``target`` for images ``x`` with the method called ``method``.

    ``params`` are the method's parameters (see ``get_explainer(method).params``)
    plus ``max_batch`` and ``channels_last``.
    """
    return get_explainer(method)(model, **params).attribute(x, target)
