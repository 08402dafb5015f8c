"""The reference tutorial's CNN: three conv/ReLU/pool blocks, no BatchNorm, a small MLP head.

The "When explanations lie" tutorial hooks Grad-CAM at ``features[6]``, the third
conv of a plain conv-ReLU-pool stack. :class:`TutorialCNN` is that stack with named
modules (``features[6]`` is ``features.conv3``), so labkit's hooks, Guided Backprop
and layer randomization address each layer by name.

Without BatchNorm, small input noise flips few ReLU states, so its gradient maps are
far more stable than :class:`~labkit.models.SmallCNN`'s: a property of the model,
not of the explanation method (see ``benchmarks/README.md``).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from labkit.models.spec import ModelSpec, class_names


class TutorialCNN(nn.Module):
    """Conv-ReLU-pool classifier for 1×H×W inputs in [-1, 1] (H, W ≥ 8), as in the reference tutorial.

    Parameters
    ----------
    in_channels, num_classes:
        Input channels (1 for grayscale) and output logits.
    width:
        Channels of the first conv; the convs have ``width``, ``2·width``, ``4·width``.
    hidden:
        Units of the hidden fully connected layer.
    grid:
        Side of the feature grid fed to the head (8: the 64×64 tutorial's 8×8 after
        three poolings; other input sizes are average-pooled to it).
    dropout:
        Dropout probability before the last layer.

    References
    ----------
    Selvaraju et al. (2017). Grad-CAM: Visual Explanations from Deep Networks via
    Gradient-based Localization. ICCV (the last conv as CAM target).
    """

    #: default Grad-CAM target: the last conv, as the reference (``features[6]``)
    cam_layer = "features.conv3"

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 16,
                 hidden: int = 128, grid: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        self.model_spec = ModelSpec(in_channels=in_channels, min_size=8, class_names=class_names(num_classes),
                                    cam_layer=self.cam_layer)
        chans = [in_channels, width, 2 * width, 4 * width]
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i in range(1, 4):
            layers[f"conv{i}"] = nn.Conv2d(chans[i - 1], chans[i], 3, padding=1)
            layers[f"relu{i}"] = nn.ReLU()
            layers[f"pool{i}"] = nn.MaxPool2d(2)
        self.features = nn.Sequential(layers)
        self.head = nn.Sequential(OrderedDict([
            ("grid", nn.AdaptiveAvgPool2d(grid)),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(chans[3] * grid * grid, hidden)),
            ("relu4", nn.ReLU()),
            ("dropout", nn.Dropout(dropout)),
            ("fc2", nn.Linear(hidden, num_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
