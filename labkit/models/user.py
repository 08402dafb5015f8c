"""A course's own model: from a weights file plus an architecture name, or from an
importable ``module:function`` that builds it; and the check that it is a classifier
labkit can explain."""
from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from labkit.errors import InputError, LabkitError
from labkit.models.registry import MODELS, build_model
from labkit.models.spec import ModelSpec, attach_spec, describe


def load_user_model(path: str | Path, arch: str, **kwargs: object) -> nn.Module:
    """The registered architecture ``arch`` filled with the weights file at ``path``.

    The file is read with ``weights_only=True``; a file for another architecture
    raises :class:`~labkit.errors.CheckpointError` listing what does not fit.
    Only architectures that take a ``weights`` argument (``resnet18``,
    ``densenet121``) load this way; for labkit's own models use a checkpoint folder.
    """
    if arch not in MODELS:
        raise InputError(f"unknown architecture {arch!r}; choose one of {sorted(MODELS.names())}")
    return check_model(build_model(arch, weights=str(path), **kwargs))


def build_user_model(target: str, spec: ModelSpec | None = None, **kwargs: object) -> nn.Module:
    """Call the function named by ``"package.module:function"`` (with ``kwargs``) and check the model.

    ``spec`` describes its input when :func:`~labkit.models.spec.describe` cannot
    infer it (channels, normalisation, class names, CAM layer, blocks).
    """
    if not isinstance(target, str) or target.count(":") != 1 or not all(target.split(":")):
        raise InputError(f"expected 'package.module:function', got {target!r}")
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"cannot import {module_name!r} ({exc}); is it on the Python path?") from None
    factory = getattr(module, func_name, None)
    if not callable(factory):
        raise InputError(f"{module_name!r} has no function {func_name!r}")
    try:
        model = factory(**kwargs)
    except LabkitError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        raise InputError(f"{target}() raised {type(exc).__name__}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise InputError(f"{target}() must return a torch.nn.Module, got {type(model).__name__}")
    return check_model(attach_spec(model, spec) if spec is not None else model)


def check_model(model: nn.Module, spec: ModelSpec | None = None) -> nn.Module:
    """Run ``model`` once on two mid-gray images of its input size and check it returns
    ``(2, len(class_names))`` logits; raise :class:`InputError` otherwise. Returns the model.

    The model's training mode and parameters are left as they were.
    """
    spec = spec or describe(model)
    p = next(model.parameters(), None)
    size = spec.image_size or max(spec.min_size, 64)
    x = spec.gray(torch.zeros(2, spec.in_channels, size, size,
                              device=p.device if p is not None else None, dtype=p.dtype if p is not None else None))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            out = model(x)
    except Exception as exc:  # noqa: BLE001 - the user's forward may raise anything
        raise InputError(f"the model raised {type(exc).__name__} in forward on images of shape {tuple(x.shape)} "
                         f"(expected by its spec: {spec.in_channels} channel(s), {size}×{size}): "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}; give a ModelSpec that matches it") from None
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or out.shape != (2, len(spec.class_names)):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise InputError(f"the model must return logits of shape (N, classes) = (2, {len(spec.class_names)}) "
                         f"for 2 images, got {shape}; return one row of class scores per image")
    return model
