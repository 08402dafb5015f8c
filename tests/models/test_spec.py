"""ModelSpec: one description of a model's input, declared by labkit's models and inferred for others."""
from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from labkit.errors import InputError
from labkit.explain import explain, make_baseline
from labkit.models import SmallCNN
from labkit.models.spec import IMAGENET_MEAN, IMAGENET_STD, LAB_SPEC, ModelSpec, attach_spec, default_blocks, describe
from labkit.validation import check_images


def test_lab_spec_is_minus_one_to_one() -> None:
    assert LAB_SPEC.low == (-1.0,) and LAB_SPEC.high == (1.0,) and LAB_SPEC.lab_range
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(LAB_SPEC.gray(x), torch.zeros_like(x))
    assert torch.equal(LAB_SPEC.black(x), torch.full_like(x, -1.0))
    assert ModelSpec.from_range(-1, 1) == LAB_SPEC


def test_imagenet_spec_gives_per_channel_range_and_baselines() -> None:
    spec = ModelSpec(in_channels=3, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    x = torch.zeros(1, 3, 4, 4)
    for c in range(3):
        assert spec.gray(x)[0, c, 0, 0].item() == pytest.approx((0.5 - IMAGENET_MEAN[c]) / IMAGENET_STD[c])
        assert spec.black(x)[0, c, 0, 0].item() == pytest.approx(-IMAGENET_MEAN[c] / IMAGENET_STD[c])
    big = torch.full((1, 3, 4, 4), 10.0)
    assert torch.allclose(spec.clamp(big)[0, :, 0, 0], torch.tensor(spec.high))
    noise = spec.uniform(torch.zeros(64, 3, 8, 8), torch.Generator().manual_seed(0))
    assert (noise.amin((0, 2, 3)) >= torch.tensor(spec.low) - 1e-6).all()
    assert (noise.amax((0, 2, 3)) <= torch.tensor(spec.high) + 1e-6).all()


def test_zero_std_is_refused() -> None:
    with pytest.raises(InputError, match="std must be > 0.*std=\\(0.2, 0.0, 0.2\\)"):
        ModelSpec(in_channels=3, mean=(0.5,), std=(0.2, 0.0, 0.2))


def test_zero_std_leaves_the_model_as_it_was() -> None:
    net = torchvision.models.resnet18()
    with pytest.raises(InputError, match="a zero std divides by zero"):
        attach_spec(net, ModelSpec(in_channels=3, std=0.0))
    assert not hasattr(net, "model_spec") and describe(net).std == (0.229, 0.224, 0.225)


def test_wrong_number_of_means_is_refused() -> None:
    with pytest.raises(InputError, match="one per input channel"):
        ModelSpec(in_channels=3, mean=(0.5, 0.5))


def test_labkit_models_declare_their_spec() -> None:
    spec = describe(SmallCNN())
    assert spec.declared and spec.in_channels == 1 and spec.lab_range and spec.cam_layer == "features.relu3"
    assert spec.class_names == ("normal", "pneumonia") and spec.min_size == 8


def test_torchvision_spec_is_inferred() -> None:
    net = torchvision.models.resnet18(num_classes=3)
    spec = describe(net)
    assert not spec.declared and spec.in_channels == 3 and spec.mean == IMAGENET_MEAN
    assert spec.cam_layer == "layer4" and len(spec.class_names) == 3
    assert default_blocks(net) == ["conv1", "layer1", "layer2", "layer3", "layer4", "fc"]


def test_attach_spec_checks_names() -> None:
    net = SmallCNN()
    with pytest.raises(InputError, match="does not have; valid names: .*features.conv1"):
        attach_spec(net, ModelSpec(blocks=("features.conv1", "layer9")))
    assert describe(net).blocks is None  # nothing changed
    attach_spec(net, ModelSpec(blocks=("features.conv1", "head")))
    assert default_blocks(net) == ["features.conv1", "head"]


def test_explain_a_torchvision_resnet_on_imagenet_normalised_rgb() -> None:
    """The issue's example: it used to raise 'images must have 1 channel(s)'."""
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=4).eval()
    pixels = torch.rand(2, 3, 64, 64)
    x = (pixels - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    attr = explain(net, x, 1, "gradient")
    xg = x.clone().requires_grad_(True)
    net(xg)[:, 1].sum().backward()
    assert torch.allclose(attr.maps, xg.grad.abs().sum(1), atol=1e-5)


def test_ig_gray_baseline_follows_the_spec() -> None:
    spec = describe(torchvision.models.resnet18())
    x = torch.zeros(1, 3, 8, 8)
    assert torch.allclose(make_baseline("gray", x, spec=spec), spec.gray(x))
    assert torch.equal(make_baseline("gray", torch.zeros(1, 1, 4, 4)), torch.zeros(1, 1, 4, 4))


@pytest.mark.parametrize("images, message", [
    (torch.zeros(1, 3, 64, 64), "must have 1 channel\\(s\\) \\(grayscale\\) for this model.*3 channel"),
    (torch.zeros(1, 1, 4, 4), "too small for this network: it takes at least 8×8"),
])
def test_images_that_do_not_fit_the_model(images: torch.Tensor, message: str) -> None:
    with pytest.raises(InputError, match=message):
        explain(SmallCNN(), images, 0, "gradient")


def test_rgb_range_is_checked_per_channel() -> None:
    spec = describe(torchvision.models.resnet18())
    with pytest.raises(InputError, match="normalised for this model, per channel"):
        check_images(torch.full((1, 3, 32, 32), 5.0), spec=spec)


class Broken(nn.Module):
    def __init__(self, out: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.out = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.out == "raise":
            raise RuntimeError("boom in forward")
        return self.conv(x)  # (N, 2, h, w), not (N, classes)


@pytest.mark.parametrize("kind, message", [
    ("raise", "raised RuntimeError in forward on images of shape \\(1, 1, 16, 16\\): boom"),
    ("maps", "logits of shape \\(N, num_classes\\), got \\(1, 2, 14, 14\\)"),
])
def test_models_that_are_not_classifiers(kind: str, message: str) -> None:
    model = Broken(kind)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(InputError, match=message):
        explain(model, torch.zeros(2, 1, 16, 16), 0, "gradient")
    assert model.training and all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert all(p.requires_grad for p in model.parameters())


def test_to_model_input_resizes_converts_and_normalises() -> None:
    from labkit.models import ResNet18, to_model_input

    rgb = torch.randint(0, 256, (2, 3, 50, 70), dtype=torch.uint8)
    spec = describe(torchvision.models.resnet18())
    x = to_model_input(rgb, spec)
    assert x.shape == (2, 3, 224, 224)
    check_images(x, spec=spec)  # in the model's valid range
    gray = to_model_input(torch.full((28, 28), 255, dtype=torch.uint8), describe(ResNet18()), size=64)
    assert gray.shape == (1, 1, 64, 64) and torch.allclose(gray, torch.ones_like(gray))  # white = 1 in [-1, 1]
    lab = to_model_input(torch.rand(3, 1, 32, 32), LAB_SPEC)
    assert lab.shape == (3, 1, 32, 32) and lab.min() >= -1 and lab.max() <= 1
    mean_gray = to_model_input(torch.tensor([[[[0.0]], [[0.5]], [[1.0]]]]), LAB_SPEC)
    assert mean_gray.shape == (1, 1, 1, 1) and mean_gray.item() == pytest.approx(0.0)
    with pytest.raises(InputError, match="1 \\(grayscale\\) or 3 \\(RGB\\) channels"):
        to_model_input(torch.rand(1, 2, 8, 8), LAB_SPEC)
    with pytest.raises(InputError, match="uint8 \\(0–255\\) or finite floats in \\[0, 1\\]"):
        to_model_input(torch.full((1, 1, 8, 8), 3.0), LAB_SPEC)
