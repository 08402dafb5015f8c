"""Model registry: build architectures by name with keyword arguments."""
from __future__ import annotations

from typing import Callable

from torch import nn

from labkit.errors import InputError
from labkit.models.cnn import SmallCNN
from labkit.models.resnet import SmallResNet

MODELS: dict[str, Callable[..., nn.Module]] = {
    "small_cnn": SmallCNN,
    "small_resnet": SmallResNet,
}


def list_models() -> list[str]:
    """Names accepted by :func:`build_model`."""
    return sorted(MODELS)


def build_model(name: str, **kwargs: object) -> nn.Module:
    """Instantiate the architecture registered under ``name``."""
    if name not in MODELS:
        raise InputError(f"unknown model {name!r}; choose one of {list_models()}")
    try:
        return MODELS[name](**kwargs)
    except TypeError as exc:
        raise InputError(f"bad arguments for model {name!r}: {exc}") from exc
