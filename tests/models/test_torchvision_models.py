"""ResNet-18 and DenseNet-121 as lab models: grayscale in [-1, 1] in, torchvision's network inside."""
from __future__ import annotations

import sys
import types
import urllib.error

import pytest
import torch
import torchvision

from labkit.errors import CheckpointError, InputError
from labkit.explain import explain
from labkit.models import build_model, list_models
from labkit.models.spec import IMAGENET_MEAN, IMAGENET_STD, describe
from labkit.models.torchvision_models import DenseNet121, ResNet18
from labkit.models.user import build_user_model, check_model, load_user_model


@pytest.fixture(scope="module")
def resnet() -> ResNet18:
    torch.manual_seed(0)
    return ResNet18().eval()


def test_registered() -> None:
    assert {"resnet18", "densenet121"} <= set(list_models())
    assert isinstance(build_model("densenet121", num_classes=3), DenseNet121)


def test_grayscale_is_repeated_and_normalised(resnet: ResNet18) -> None:
    """Same logits as torchvision's own ResNet-18 on the ImageNet-normalised RGB copy of the image."""
    net = torchvision.models.resnet18(num_classes=2).eval()
    net.load_state_dict(resnet.state_dict())
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    rgb = ((x + 1) / 2).repeat(1, 3, 1, 1)
    rgb = (rgb - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(resnet(x), net(rgb), atol=1e-5)


def test_spec_names_the_lecture_blocks(resnet: ResNet18) -> None:
    spec = describe(resnet)
    assert spec.blocks == ("conv1", "layer1", "layer2", "layer3", "layer4") and spec.cam_layer == "layer4"
    assert spec.in_channels == 1 and spec.lab_range and spec.min_size == 1


def test_explain_on_pneumonia_sized_xrays(resnet: ResNet18) -> None:
    attr = explain(resnet, torch.rand(2, 1, 64, 64) * 2 - 1, 1, "gradcam")
    assert attr.maps.shape == (2, 64, 64) and attr.extras["layer_cam"].shape == (2, 2, 2)


def test_too_small_image() -> None:
    """DenseNet-121 cannot take PneumoniaMNIST's native 28 px (ResNet-18 can: see test_models)."""
    with pytest.raises(InputError, match="28×28 pixels are too small for this network: it takes at least 29×29"):
        explain(DenseNet121().eval(), torch.zeros(1, 1, 28, 28), 0, "gradient")


def test_rgb_input_option() -> None:
    assert describe(ResNet18(in_channels=3)).in_channels == 3
    with pytest.raises(InputError, match="in_channels must be 1"):
        ResNet18(in_channels=2)


def test_weights_file_round_trip(resnet: ResNet18, tmp_path) -> None:
    path = tmp_path / "resnet18.pth"
    torch.save(resnet.state_dict(), path)
    loaded = load_user_model(path, "resnet18")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in resnet.state_dict().items())
    torch.save({"state_dict": resnet.state_dict()}, tmp_path / "wrapped.pth")
    assert torch.equal(load_user_model(tmp_path / "wrapped.pth", "resnet18").fc.weight, resnet.fc.weight)


def test_weights_file_for_another_architecture(tmp_path) -> None:
    path = tmp_path / "densenet.pth"
    torch.save(DenseNet121().state_dict(), path)
    with pytest.raises(CheckpointError, match="does not fit resnet18: missing .* another architecture"):
        load_user_model(path, "resnet18")


def test_weights_file_with_another_head(resnet: ResNet18, tmp_path) -> None:
    path = tmp_path / "r.pth"
    torch.save(resnet.state_dict(), path)
    with pytest.raises(CheckpointError, match="fc.weight \\(2, 512\\) in the file, \\(5, 512\\) in the model"):
        load_user_model(path, "resnet18", num_classes=5)


def test_unsafe_pickle_is_refused(tmp_path) -> None:
    path = tmp_path / "pickled.pth"
    torch.save({"fc.weight": torch.zeros(1), "obj": object()}, path)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_user_model(path, "resnet18")


def test_offline_pretrained_says_what_to_do(monkeypatch) -> None:
    def offline(self, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
    with pytest.raises(CheckpointError, match="download https://.*resnet18.*copy it into .*checkpoints"):
        build_model("resnet18", weights="imagenet")


def test_build_user_model_from_module_function(monkeypatch) -> None:
    mod = types.ModuleType("course_models")
    mod.tiny = lambda: torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.AdaptiveAvgPool2d(1),
                                           torch.nn.Flatten(), torch.nn.Linear(4, 2))
    mod.bad = lambda: torch.nn.Conv2d(1, 2, 3)
    monkeypatch.setitem(sys.modules, "course_models", mod)
    model = build_user_model("course_models:tiny")
    assert explain(model, torch.zeros(1, 1, 16, 16), 0, "gradient").maps.shape == (1, 16, 16)
    with pytest.raises(InputError, match="logits of shape \\(N, classes\\)"):
        build_user_model("course_models:bad")
    with pytest.raises(InputError, match="no function 'missing'"):
        build_user_model("course_models:missing")
    with pytest.raises(InputError, match="expected 'package.module:function'"):
        build_user_model("course_models.tiny")


def test_check_model_reports_a_channel_mismatch() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2))
    from labkit.models.spec import ModelSpec
    with pytest.raises(InputError, match="raised RuntimeError in forward .*1 channel"):
        check_model(net, ModelSpec(in_channels=1))
