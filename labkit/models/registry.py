"""Model registry: build architectures by name with keyword arguments."""
from __future__ import annotations

from typing import Callable

from torch import nn

from labkit.errors import InputError, LabkitError
from labkit.models.cnn import SmallCNN
from labkit.models.resnet import SmallResNet
from labkit.models.torchvision_models import DenseNet121, ResNet18
from labkit.models.tutorial import TutorialCNN
from labkit.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
MODELS.add("small_cnn", SmallCNN)
MODELS.add("small_resnet", SmallResNet)
MODELS.add("tutorial_cnn", TutorialCNN)
MODELS.add("resnet18", ResNet18)
MODELS.add("densenet121", DenseNet121)


def list_models() -> list[str]:
    """Names accepted by :func:`build_model`."""
    return sorted(MODELS.names())


def build_model(name: str, **kwargs: object) -> nn.Module:
    """Instantiate the architecture registered under ``name``."""
    factory = MODELS.get(name)
    try:
        return factory(**kwargs)
    except LabkitError:
        raise
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"bad arguments for model {name!r} ({kwargs or 'defaults'}): {str(exc).splitlines()[0]}; "
                         "expected positive sizes such as width=16") from None
