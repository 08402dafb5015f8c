"""Model registry, forward shapes and layer helpers (forward order, conv targets)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.errors import InputError
from labkit.models import (MODELS, SmallCNN, SmallResNet, build_model, conv_layers, get_layer, last_conv_layer,
                           list_models, parameterized_layers)
from labkit.models.spec import describe


class OutOfOrder(nn.Module):
    """A user model whose modules are defined in another order than they run."""

    def __init__(self) -> None:
        super().__init__()
        self.classifier = nn.Linear(8 * 4 * 4, 2)
        self.conv_b = nn.Conv2d(4, 8, 3, padding=1)
        self.conv_a = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_a(x))
        x = torch.relu(self.conv_b(x))
        return self.classifier(self.pool(x).flatten(1))


def test_registry_lists_and_builds() -> None:
    assert list_models() == sorted(MODELS) and {"small_cnn", "small_resnet"} <= set(list_models())
    assert isinstance(build_model("small_cnn"), SmallCNN)
    assert isinstance(build_model("small_resnet", width=8), SmallResNet)


def test_unknown_model_error_lists_the_names() -> None:
    with pytest.raises(InputError) as info:
        build_model("vgg16")
    assert "vgg16" in str(info.value)
    for name in list_models():
        assert name in str(info.value)


def test_bad_model_kwargs_raise_input_error() -> None:
    with pytest.raises(InputError, match="small_cnn"):
        build_model("small_cnn", depth=50)


@pytest.mark.parametrize("arch", ["small_cnn", "small_resnet"])
@pytest.mark.parametrize("size", [28, 64])
def test_forward_shapes(arch: str, size: int) -> None:
    torch.manual_seed(0)
    model = build_model(arch).eval()
    with torch.no_grad():
        out = model(torch.rand(3, 1, size, size) * 2 - 1)
    assert out.shape == (3, 2) and torch.isfinite(out).all()


@pytest.mark.parametrize("arch", list_models())
def test_declared_min_size_is_the_smallest_side_that_forwards(arch: str) -> None:
    """What ``ModelSpec.min_size`` says is what the network takes: it forwards at that side,
    and one pixel less fails (sides below 1 do not exist)."""
    model = build_model(arch).eval()
    side = describe(model).min_size
    with torch.no_grad():
        assert model(torch.zeros(2, 1, side, side)).shape == (2, 2)
        if side > 1:
            with pytest.raises(RuntimeError):
                model(torch.zeros(2, 1, side - 1, side - 1))


def test_kwargs_change_the_architecture() -> None:
    model = build_model("small_cnn", width=4, hidden=16, num_classes=3).eval()
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 3)
    assert model.features.conv1.out_channels == 4 and model.head.fc1.out_features == 16


def test_small_cnn_layers_are_named_and_relus_are_separate() -> None:
    model = SmallCNN()
    assert list(conv_layers(model)) == ["features.conv1", "features.conv2", "features.conv3"]
    assert last_conv_layer(model) == "features.conv3"
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 4 and len({id(r) for r in relus}) == 4
    assert get_layer(model, "features.conv2") is model.features.conv2


def test_small_resnet_conv_layers() -> None:
    model = SmallResNet()
    convs = list(conv_layers(model))
    assert convs[0] == "stem.0" and len(convs) == 1 + 2 + 3 + 3  # stem, block1, blocks 2–3 with projections
    assert last_conv_layer(model) == convs[-1] and last_conv_layer(model).startswith("layer3.")


def test_last_conv_layer_and_get_layer_errors() -> None:
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(InputError, match="no nn.Conv2d"):
        last_conv_layer(mlp)
    with pytest.raises(InputError, match="features.conv1"):
        get_layer(SmallCNN(), "conv9")
    with pytest.raises(InputError):
        get_layer(SmallCNN(), "")


@pytest.mark.parametrize("with_example", [False, True])
def test_parameterized_layers_small_cnn(with_example: bool) -> None:
    model = SmallCNN()
    layers = parameterized_layers(model, torch.zeros(2, 1, 28, 28) if with_example else None)
    assert [n for n, _ in layers] == ["features.conv1", "features.conv2", "features.conv3", "head.fc1", "head.fc2"]
    assert all(m is get_layer(model, n) for n, m in layers)


@pytest.mark.parametrize("with_example", [False, True])
def test_parameterized_layers_small_resnet(with_example: bool) -> None:
    model = SmallResNet()
    names = [n for n, _ in parameterized_layers(model, torch.zeros(2, 1, 28, 28) if with_example else None)]
    assert names == ["stem.0", "layer1.conv1", "layer1.conv2", "layer2.conv1", "layer2.conv2", "layer2.shortcut.0",
                     "layer3.conv1", "layer3.conv2", "layer3.shortcut.0", "fc"]


def test_parameterized_layers_follow_forward_order_with_an_example() -> None:
    model = OutOfOrder()
    assert [n for n, _ in parameterized_layers(model)] == ["classifier", "conv_b", "conv_a"]  # definition order
    ordered = parameterized_layers(model, torch.zeros(1, 1, 8, 8))
    assert [n for n, _ in ordered] == ["conv_a", "conv_b", "classifier"]
    assert ordered[0][1] is model.conv_a


def test_parameterized_layers_leave_the_model_as_it_was() -> None:
    model = SmallCNN().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    parameterized_layers(model, torch.rand(4, 1, 28, 28))
    assert model.training  # mode restored
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN stats untouched
    assert not any(m._forward_hooks for m in model.modules())  # hooks removed


def test_shared_module_is_listed_once() -> None:
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in parameterized_layers(model, torch.zeros(1, 4))] == ["0"]
