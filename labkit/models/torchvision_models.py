"""torchvision's ResNet-18 and DenseNet-121 as lab models: grayscale X-rays in labkit's
[-1, 1] go in, the network's own ImageNet normalisation is applied inside.

Module names are torchvision's (``conv1``, ``layer4``, ``features.denseblock4``, …),
so a torchvision weights file loads as it is and the lecture notes' block names
address the same layers.

References
----------
K. He, X. Zhang, S. Ren, J. Sun. "Deep Residual Learning for Image Recognition." CVPR, 2016.
G. Huang, Z. Liu, L. van der Maaten, K. Q. Weinberger. "Densely Connected Convolutional
Networks." CVPR, 2017.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm

from labkit.errors import CheckpointError, InputError
from labkit.models.spec import IMAGENET_MEAN, IMAGENET_STD, ModelSpec, class_names

WEIGHT_CHOICES = ("random", "imagenet")


class InputAdapter(nn.Module):
    """labkit images ``(N, C, H, W)`` in [-1, 1] → the network's normalised RGB input.

    Pixels ``p = (x + 1)/2`` are repeated to three channels when ``C == 1`` and
    normalised as ``(p − mean)/std``. Holds no state of its own (non-persistent buffers).
    """

    def __init__(self, in_channels: int, mean: tuple[float, ...] = IMAGENET_MEAN,
                 std: tuple[float, ...] = IMAGENET_STD) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise InputError(f"in_channels must be 1 (grayscale, repeated to RGB) or 3 (RGB), got {in_channels!r}")
        self.in_channels = in_channels
        std_t, mean_t = torch.tensor(std), torch.tensor(mean)
        self.register_buffer("scale", (0.5 / std_t).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", ((0.5 - mean_t) / std_t).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 1:
            x = x.expand(-1, 3, -1, -1)
        return x * self.scale + self.shift


def _spec(in_channels: int, num_classes: int, cam_layer: str, blocks: tuple[str, ...], min_size: int) -> ModelSpec:
    return ModelSpec(in_channels=in_channels, min_size=min_size, image_size=224, class_names=class_names(num_classes),
                     cam_layer=cam_layer, blocks=blocks)


class ResNet18(tvm.ResNet):
    """torchvision's ResNet-18 for labkit images (see :class:`InputAdapter`).

    It takes images of any size (padded strided convs, adaptive pooling): ``min_size`` 1.

    Parameters
    ----------
    in_channels:
        1 (grayscale X-rays, repeated to RGB) or 3.
    num_classes:
        Output logits (the ImageNet head is replaced when it differs from 1000).
    weights:
        ``"random"``, ``"imagenet"`` (torchvision's pretrained weights; needs them
        downloaded or in the torch hub cache) or the path of a weights file.
    """

    arch = "resnet18"
    cam_layer = "layer4"

    def __init__(self, in_channels: int = 1, num_classes: int = 2, weights: str = "random") -> None:
        super().__init__(tvm.resnet.BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
        self.adapt = InputAdapter(in_channels)
        self.model_spec = _spec(in_channels, num_classes, self.cam_layer,
                                ("conv1", "layer1", "layer2", "layer3", "layer4"), min_size=1)
        load_network_weights(self, weights, tvm.ResNet18_Weights.IMAGENET1K_V1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.adapt(x))


class DenseNet121(tvm.DenseNet):
    """torchvision's DenseNet-121 (the Gifsplanation paper's architecture) for labkit images.

    It takes images of at least 29×29 (``min_size``): the stem halves the side twice
    (rounding up), then each of the three transitions halves it rounding down (28 → 0).

    Parameters are those of :class:`ResNet18`.
    """

    arch = "densenet121"
    cam_layer = "features.norm5"

    def __init__(self, in_channels: int = 1, num_classes: int = 2, weights: str = "random") -> None:
        super().__init__(32, (6, 12, 24, 16), 64, num_classes=num_classes)
        self.adapt = InputAdapter(in_channels)
        blocks = ("features.conv0",) + tuple(f"features.{kind}{i}" for i in range(1, 5)
                                             for kind in ("denseblock", "transition") if (kind, i) != ("transition", 4))
        self.model_spec = _spec(in_channels, num_classes, self.cam_layer, blocks, min_size=29)
        load_network_weights(self, weights, tvm.DenseNet121_Weights.IMAGENET1K_V1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.adapt(x))


# -------------------------------------------------------------------- weights
_OLD_DENSENET_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def load_network_weights(model: nn.Module, weights: str | Path, pretrained: tvm.WeightsEnum) -> None:
    """Fill ``model`` with ``weights``: ``"random"`` (keep the init), ``"imagenet"`` or a file path.

    A file is read with ``torch.load(weights_only=True)``; it may hold a state dict
    or ``{"state_dict": …}``. Raises :class:`CheckpointError` when the file is
    missing or does not fit the architecture, and when the pretrained weights are
    not available offline (the message says where to put them).
    """
    if isinstance(weights, str) and weights == "random":
        return
    if isinstance(weights, str) and weights == "imagenet":
        state = _pretrained_state(pretrained, getattr(model, "arch", type(model).__name__))
        head = model.fc if hasattr(model, "fc") else model.classifier
        if head.out_features != 1000:
            state = {k: v for k, v in state.items() if not k.startswith(("fc.", "classifier."))}
        _load_state(model, state, "torchvision's ImageNet weights", strict_head=False)
        return
    path = Path(weights)
    if not path.is_file():
        raise CheckpointError(f"weights must be 'random', 'imagenet' or a weights file; {str(path)!r} is not a file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same error for the user
        raise CheckpointError(f"{path} is not a PyTorch weights file readable with weights_only=True "
                              f"({type(exc).__name__}); save one with torch.save(model.state_dict(), path)") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a state dict (name → tensor); "
                              "save one with torch.save(model.state_dict(), path)")
    _load_state(model, state, str(path), strict_head=True)


def _pretrained_state(weights: tvm.WeightsEnum, arch: str) -> dict[str, torch.Tensor]:
    try:
        state = weights.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # noqa: BLE001 - offline: URLError, OSError, socket errors
        cache = Path(torch.hub.get_dir()) / "checkpoints"
        raise CheckpointError(
            f"torchvision's pretrained {arch} weights are not available ({type(exc).__name__}: no network?); "
            f"download {weights.url} on a machine with a network and copy it into {cache}, "
            f"or pass weights='random' or weights='path/to/weights.pth'") from None
    return {_OLD_DENSENET_KEY.sub(r"\1\2", k): v for k, v in state.items()}


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], source: str, strict_head: bool) -> None:
    own = model.state_dict()
    state = {k.removeprefix("module."): v for k, v in state.items()}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(v.shape)} in the file, {tuple(own[k].shape)} in the model"
             for k, v in state.items() if k in own and v.shape != own[k].shape]
    if not strict_head:
        missing = [k for k in missing if not k.startswith(("fc.", "classifier."))]
    if missing or unexpected or wrong:
        arch = getattr(model, "arch", type(model).__name__)
        detail = "; ".join(part for part in (
            f"missing {len(missing)} tensor(s) such as {missing[:3]}" if missing else "",
            f"{len(unexpected)} unknown tensor(s) such as {unexpected[:3]}" if unexpected else "",
            f"shape mismatch: {wrong[:2]}" if wrong else "") if part)
        raise CheckpointError(f"{source} does not fit {arch}: {detail}; is it a weights file for another "
                              f"architecture or number of classes? Expected {arch}'s own state_dict")
    model.load_state_dict(state, strict=strict_head)
