"""Models: the tutorial CNN, a small ResNet, and layer helpers for any nn.Module."""
from labkit.models.cnn import SmallCNN
from labkit.models.layers import (cam_layer_choices, conv_layers, default_cam_layer, get_layer, last_conv_layer,
                                  parameterized_layers)
from labkit.models.registry import MODELS, build_model, list_models
from labkit.models.resnet import SmallResNet

__all__ = ["SmallCNN", "SmallResNet", "MODELS", "build_model", "list_models", "conv_layers",
           "get_layer", "last_conv_layer", "default_cam_layer", "cam_layer_choices", "parameterized_layers"]
