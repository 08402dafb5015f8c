"""Finding layers in any ``nn.Module``: conv layers for CAM targets and
parameterized layers in forward order for randomization cascades."""
from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

import torch
from torch import nn

from labkit.errors import InputError

PARAM_LAYER_TYPES: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def conv_layers(model: nn.Module) -> dict[str, nn.Conv2d]:
    """All ``nn.Conv2d`` modules by qualified name, in definition order."""
    return {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def last_conv_layer(model: nn.Module) -> str:
    """Name of the last ``nn.Conv2d`` (the usual Grad-CAM target)."""
    convs = list(conv_layers(model))
    if not convs:
        raise InputError(f"{type(model).__name__} has no nn.Conv2d layer; Grad-CAM needs one")
    return convs[-1]


def default_cam_layer(model: nn.Module) -> str:
    """The layer CAM methods hook by default: ``model.cam_layer`` when the model names
    one (the output of its last conv block, after BatchNorm and ReLU), else the last
    ``nn.Conv2d``. Hooking a raw conv output before BatchNorm/ReLU can make
    ``ReLU(Σ_k α_k A^k)`` vanish everywhere, so the block output is preferred.
    """
    name = getattr(model, "cam_layer", None)
    return name if isinstance(name, str) and _submodule(model, name) is not None else last_conv_layer(model)


def cam_layer_choices(model: nn.Module) -> list[str]:
    """Layers offered to CAM methods: the conv layers plus the model's default CAM layer."""
    names = list(conv_layers(model))
    default = default_cam_layer(model) if names else None
    return names + [default] if default is not None and default not in names else names


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name``; the error lists valid conv layer names."""
    layer = _submodule(model, name) if isinstance(name, str) else None
    if layer is None:
        raise InputError(f"unknown layer {name!r}; conv layers of this model: {list(conv_layers(model))}")
    return layer


def _submodule(model: nn.Module, name: str) -> nn.Module | None:
    """The submodule at dotted path ``name`` (not the model itself), or ``None``.
    Walks only that path: explainers look their layer up on every call."""
    if not name:
        return None
    try:
        return model.get_submodule(name)
    except AttributeError:
        return None


def parameterized_layers(model: nn.Module, example: torch.Tensor | None = None) -> list[tuple[str, nn.Module]]:
    """Conv and Linear layers ``(name, module)`` in forward order (input first).

    With an ``example`` batch the order is recorded by forward hooks, which is right
    even when modules are defined in another order than they run; without one the
    definition order is used. BatchNorm layers are not listed: labkit treats them as
    part of the conv layer before them (see ``labkit.sanity``).
    """
    named = [(n, m) for n, m in model.named_modules() if isinstance(m, PARAM_LAYER_TYPES)]
    modules = dict(named)
    return [(n, modules[n]) for n in forward_order(model, [n for n, _ in named], example)]


def forward_order(model: nn.Module, names: list[str], example: torch.Tensor | None = None) -> list[str]:
    """The modules called ``names`` sorted in the order a forward pass of ``example``
    runs them (each once; modules that do not run are dropped). Without an example
    the given order is kept."""
    if example is None:
        return list(names)
    all_modules = dict(model.named_modules())
    order: list[str] = []
    hooks = [all_modules[n].register_forward_hook(lambda mod, i, o, n=n: order.append(n)) for n in names]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return list(dict.fromkeys(order))


@contextlib.contextmanager
def channels_last_weights(modules: Iterable[nn.Module]) -> Iterator[None]:
    """Hold every ``nn.Conv2d`` weight among ``modules`` in channels-last layout while active.

    On CPU this lets oneDNN use its channels-last conv and pooling kernels, which run
    the lab models 1.3–2× faster (a one-channel input otherwise takes the slow NCHW
    path). Values are unchanged: each weight's ``.data`` is swapped for a
    channels-last copy (weights already in that layout are left alone) and the
    original tensor is put back afterwards, even on error.
    """
    swapped: dict[int, tuple[nn.Parameter, torch.Tensor]] = {}  # by id: a shared weight is swapped once
    try:
        for w in (m.weight for m in modules if isinstance(m, nn.Conv2d)):
            if not isinstance(w, nn.Parameter) or w.dim() != 4 or id(w) in swapped:
                continue
            # compared by strides: a one-input-channel weight passes is_contiguous(channels_last) in
            # either layout, but only channels-last strides make oneDNN pick channels-last kernels
            layout = torch.empty_like(w.data, memory_format=torch.channels_last)
            if w.stride() != layout.stride():
                swapped[id(w)] = (w, w.data)
                w.data = layout.copy_(w.data)
        yield
    finally:
        for w, original in swapped.values():
            w.data = original


def folded_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with each BatchNorm that directly follows a conv folded into it.

    For forward-only passes (Score-CAM's masked images): outputs equal the model's to
    float rounding, one elementwise pass per BatchNorm less. The copy is traced with
    ``torch.fx``; ``model`` itself is returned when it has no BatchNorm, or cannot be
    copied or traced (data-dependent control flow). Training's ``predict`` uses
    :func:`labkit.train.inference.inference_model` instead: it folds only pairs inside an
    ``nn.Sequential`` but keeps the module tree, so ReLUs can also be moved after their
    max-pools; the graph copy here also folds pairs held as attributes (ResNet-18's).

    References
    ----------
    S. Ioffe, C. Szegedy. "Batch Normalization: Accelerating Deep Network Training by
    Reducing Internal Covariate Shift." ICML, 2015 (inference-time folding, Sec. 3.1).
    """
    from torch.fx.experimental.optimization import fuse

    if model.training or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    try:
        return fuse(model)
    except Exception:  # noqa: BLE001 - any untraceable or uncopyable model runs as it is
        return model
