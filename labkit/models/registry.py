"""Model registry: build architectures by name with keyword arguments.

torchvision's networks are registered as builders that import
:mod:`labkit.models.torchvision_models` when called: importing torchvision also imports
``torch._dynamo`` (about 170 MB and a second), which the lab's own CNNs never need.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from labkit.errors import InputError, LabkitError
from labkit.models.cnn import SmallCNN
from labkit.models.resnet import SmallResNet
from labkit.models.tutorial import TutorialCNN
from labkit.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
MODELS.add("small_cnn", SmallCNN)
MODELS.add("small_resnet", SmallResNet)
MODELS.add("tutorial_cnn", TutorialCNN)


def resnet18(**kwargs: object) -> nn.Module:
    """torchvision's ResNet-18 (:class:`labkit.models.torchvision_models.ResNet18`)."""
    from labkit.models.torchvision_models import ResNet18

    return ResNet18(**kwargs)  # type: ignore[arg-type]


def densenet121(**kwargs: object) -> nn.Module:
    """torchvision's DenseNet-121 (:class:`labkit.models.torchvision_models.DenseNet121`)."""
    from labkit.models.torchvision_models import DenseNet121

    return DenseNet121(**kwargs)  # type: ignore[arg-type]


MODELS.add("resnet18", resnet18)
MODELS.add("densenet121", densenet121)


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
