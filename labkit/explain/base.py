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

import math
from abc import ABC, abstractmethod
from typing import Callable, ClassVar, Sequence, TypeVar

import torch
from torch import nn

from labkit.device import model_device
from labkit.errors import InputError
from labkit.explain.calls import batches, cat, chunks, frozen_eval, model_sizes  # noqa: F401 - for the methods
from labkit.explain.spec import Attribution, Param
from labkit.registry import Registry
from labkit.models.layers import default_cam_layer, get_layer
from labkit.models.spec import describe
from labkit.validation import check_images, check_targets

#: Default budget of input pixels per forward pass, by device type. On CPU small
#: batches (16 images of 64×64) run fastest: 1.1–1.4× faster per image than 32 for
#: every method on SmallCNN, one image or 64, on a loaded 2-core machine (see
#: ``benchmarks/README.md``); on a GPU larger batches (256 images of 64×64: about
#: 0.5 GB of activations kept for the backward pass of SmallCNN(width=16), modest on
#: a shared course GPU) amortize kernel launches. On CPU the budget also grows with
#: the weights each pass reads (CPU_PIXELS_PER_MILLION × millions of parameters, at
#: most MAX_CPU_BATCH images): ResNet-18 takes 9 images of 224 px or 117 of 64 px,
#: 1.2–1.4× faster per image than 1 or 10.
DEFAULT_BUDGET_PIXELS: dict[str, int] = {"cpu": 2 ** 16, "cuda": 2 ** 20}
CPU_PIXELS_PER_MILLION = 2 ** 17
OTHER_DEVICE_BUDGET, MAX_CPU_BATCH = 2 ** 19, 128


def target_scores(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``logits[i, target[i]]`` for each row."""
    return logits.gather(1, target[:, None]).squeeze(1)


def target_gradient(logits: torch.Tensor, target: torch.Tensor, wrt: torch.Tensor
                    ) -> tuple[torch.Tensor | None, torch.Tensor]:
    """``∂(Σ_i logits[i, target[i]]) / ∂wrt`` and the target logits (detached).

    One backward pass seeded with the one-hot of ``target``: the same gradient
    as ``target_scores(logits, target).sum()`` would give, bit for bit, without
    the gather, sum and scatter ops in the graph (they cost as much as a small
    layer on one image). The gradient is None when ``wrt`` does not reach the logits.
    """
    index = target[:, None]
    scores = logits.detach().gather(1, index)[:, 0]  # before the backward: cheaper while the logits are in cache
    seed = torch.zeros_like(logits).scatter_(1, index, 1.0)
    (g,) = torch.autograd.grad(logits, wrt, grad_outputs=seed, allow_unused=True)
    return g, scores


def _detached(v: object) -> object:
    """``v.detach()`` for a tensor that requires grad, else ``v`` itself (no new tensor)."""
    return v.detach() if isinstance(v, torch.Tensor) and v.requires_grad else v


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
        ``DEFAULT_BUDGET_PIXELS[device] // (C·H·W)`` (16 images of 64×64 on CPU, 256 on CUDA; see above).
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
    _n_params: int | None = None  # the model's parameter count during a call

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
        with frozen_eval(self.model, channels_last=self.channels_last) as frozen:
            for p in frozen.params:
                if p.is_floating_point():
                    device, dtype = p.device, p.dtype
                    break
            else:
                device, dtype = model_device(self.model)
            if x.device != device or x.dtype != dtype:
                x = x.to(device=device, dtype=dtype)
            if x.requires_grad:
                x = x.detach()
            classes, self._n_params = model_sizes(self.model, x, frozen.shapes)  # for chunk_size, from the walk
            t = check_targets(target, x.shape[0], classes, device=device)
            try:
                result = self._attribute(x, t)
            finally:
                self._n_params = None
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
        n_params = self._n_params if self._n_params is not None else sum(p.numel() for p in self.model.parameters())
        millions = n_params // 10 ** 6 if x.device.type == "cpu" else 0
        return max(1, budget // pixels, min(MAX_CPU_BATCH, CPU_PIXELS_PER_MILLION * millions // pixels))

    def _result(self, maps: torch.Tensor, signed: torch.Tensor | None, **extras: object) -> Attribution:
        return Attribution(maps=_detached(maps), signed=None if signed is None else _detached(signed),
                           method=self.name, params=dict(self.config),
                           extras={k: _detached(v) for k, v in extras.items()})

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
