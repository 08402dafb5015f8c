"""Models: the lab CNN (BatchNorm), the reference tutorial's CNN (no BatchNorm), a small ResNet, torchvision's
ResNet-18 and DenseNet-121, layer helpers, and the :class:`ModelSpec` every method reads."""
from labkit.models.cnn import SmallCNN
from labkit.models.layers import (cam_layer_choices, conv_layers, default_cam_layer, get_layer, last_conv_layer,
                                  parameterized_layers)
from labkit.models.registry import MODELS, build_model, list_models
from labkit.models.resnet import SmallResNet
from labkit.models.spec import ModelSpec, attach_spec, block_names, default_blocks, describe, to_model_input
from labkit.models.tutorial import TutorialCNN
from labkit.models.user import build_user_model, check_model, load_user_model

__all__ = ["SmallCNN", "SmallResNet", "TutorialCNN", "MODELS", "build_model", "list_models", "conv_layers",
           "get_layer", "last_conv_layer", "default_cam_layer", "cam_layer_choices", "parameterized_layers",
           "ModelSpec", "describe", "to_model_input", "attach_spec", "default_blocks", "block_names", "ResNet18", "DenseNet121",
           "load_user_model", "build_user_model", "check_model"]


def __getattr__(name: str) -> object:
    """``ResNet18`` and ``DenseNet121`` import torchvision on first use (see :mod:`labkit.models.registry`)."""
    if name in ("ResNet18", "DenseNet121"):
        from labkit.models import torchvision_models

        return getattr(torchvision_models, name)
    raise AttributeError(f"module 'labkit.models' has no attribute {name!r}")
