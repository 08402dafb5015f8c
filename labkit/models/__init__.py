"""Models: the lab CNN (BatchNorm), the reference tutorial's CNN (no BatchNorm), a small ResNet, layer helpers."""
from labkit.models.cnn import SmallCNN
from labkit.models.layers import (cam_layer_choices, conv_layers, default_cam_layer, get_layer, last_conv_layer,
                                  parameterized_layers)
from labkit.models.registry import MODELS, build_model, list_models
from labkit.models.resnet import SmallResNet
from labkit.models.tutorial import TutorialCNN

__all__ = ["SmallCNN", "SmallResNet", "TutorialCNN", "MODELS", "build_model", "list_models", "conv_layers",
           "get_layer", "last_conv_layer", "default_cam_layer", "cam_layer_choices", "parameterized_layers"]
