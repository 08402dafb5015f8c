"""The reference tutorial's CNN: registry entry, layer layout, default CAM layer, Grad-CAM there."""
from __future__ import annotations

import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from labkit.explain import explain
from labkit.models import (TutorialCNN, build_model, cam_layer_choices, default_cam_layer, list_models,
                           parameterized_layers)


@pytest.fixture
def model() -> TutorialCNN:
    torch.manual_seed(0)
    return TutorialCNN().eval()


def test_registered_as_tutorial_cnn() -> None:
    assert "tutorial_cnn" in list_models()
    built = build_model("tutorial_cnn", width=8, hidden=32)
    assert isinstance(built, TutorialCNN)
    assert built.features.conv1.out_channels == 8 and built.head.fc1.out_features == 32


def test_conv_relu_pool_stack_without_batchnorm(model) -> None:
    kinds = [type(m) for m in model.features]
    assert kinds == [nn.Conv2d, nn.ReLU, nn.MaxPool2d] * 3
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    # the reference hooks features[6]: the third conv
    assert model.features[6] is model.features.conv3
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len({id(r) for r in relus}) == len(relus) == 4  # one module per ReLU, for Guided Backprop


def test_default_cam_layer_is_the_last_conv_declared_like_small_cnn(model) -> None:
    assert TutorialCNN.cam_layer == "features.conv3"
    assert default_cam_layer(model) == "features.conv3"
    assert cam_layer_choices(model) == ["features.conv1", "features.conv2", "features.conv3"]


def test_layers_in_forward_order(model) -> None:
    names = [n for n, _ in parameterized_layers(model, torch.zeros(1, 1, 64, 64))]
    assert names == ["features.conv1", "features.conv2", "features.conv3", "head.fc1", "head.fc2"]


@pytest.mark.parametrize("size", [28, 64])
def test_forward_shape_any_lab_size(model, size) -> None:
    with torch.no_grad():
        out = model(torch.rand(3, 1, size, size) * 2 - 1)
    assert out.shape == (3, 2) and torch.isfinite(out).all()


def test_gradcam_default_hooks_conv3_and_matches_captum(model) -> None:
    x = torch.rand(4, 1, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    t = torch.tensor([0, 1, 1, 0])
    attr = explain(model, x, t, method="gradcam")
    cam = LayerGradCam(model, model.features.conv3).attribute(x, target=t, relu_attributions=True)
    assert attr.extras["layer_cam"].shape == (4, 16, 16)
    torch.testing.assert_close(attr.extras["layer_cam"], cam[:, 0], rtol=1e-5, atol=1e-8)
    up = LayerAttribution.interpolate(cam, (64, 64), interpolate_mode="bilinear")[:, 0]
    torch.testing.assert_close(attr.maps, up, rtol=1e-5, atol=1e-8)
