"""The tutorial CNN: three conv/BN/ReLU/pool blocks and a small MLP head.

Every layer is a named module (``conv1``, ``bn1``, ``relu1``, ... ``fc2``) and every
ReLU is its own ``nn.ReLU`` instance, so hooks (Grad-CAM, Guided Backprop) and
layer randomization can address each one.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from labkit.models.spec import ModelSpec, class_names


class SmallCNN(nn.Module):
    """Small chest X-ray classifier for 1×H×W inputs in [-1, 1] (H, W ≥ 8: three 2× max pools).

    Parameters
    ----------
    in_channels, num_classes:
        Input channels (1 for grayscale) and output logits.
    width:
        Channels of the first block; blocks use ``width``, ``2·width``, ``4·width``.
    hidden:
        Units of the hidden fully connected layer.
    dropout:
        Dropout probability before the last layer.
    """

    #: default Grad-CAM target: the output of the last conv block (after BN and ReLU)
    cam_layer = "features.relu3"

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 16,
                 hidden: int = 128, dropout: float = 0.3) -> None:
        super().__init__()
        self.model_spec = ModelSpec(in_channels=in_channels, min_size=8, class_names=class_names(num_classes),
                                    cam_layer=self.cam_layer)
        chans = [in_channels, width, 2 * width, 4 * width]
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i in range(1, 4):
            layers[f"conv{i}"] = nn.Conv2d(chans[i - 1], chans[i], 3, padding=1, bias=False)
            layers[f"bn{i}"] = nn.BatchNorm2d(chans[i])
            layers[f"relu{i}"] = nn.ReLU()
            layers[f"pool{i}"] = nn.MaxPool2d(2)
        self.features = nn.Sequential(layers)
        self.head = nn.Sequential(OrderedDict([
            ("gap", nn.AdaptiveAvgPool2d(4)),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(chans[3] * 16, hidden)),
            ("relu4", nn.ReLU()),
            ("dropout", nn.Dropout(dropout)),
            ("fc2", nn.Linear(hidden, num_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
