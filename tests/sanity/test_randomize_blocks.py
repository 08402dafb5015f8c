"""Randomization over named blocks: the lecture notes' ResNet-18 plan and a default plan for any model."""
from __future__ import annotations

import math

import pytest
import torch
import torchvision

from labkit.errors import InputError
from labkit.models import ResNet18
from labkit.sanity import randomization_plan, randomize_layers, run_cascade
from labkit.sanity.randomization import block_groups

LECTURE = ["layer4", "layer3", "layer2", "layer1", "conv1"]


@pytest.fixture(scope="module")
def resnet() -> ResNet18:
    torch.manual_seed(0)
    model = ResNet18().eval()
    with torch.no_grad():  # trained-looking BatchNorm state, so that re-initializing it shows
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.running_var.uniform_(0.5, 2.0)
    return model


def _changed(before: dict[str, torch.Tensor], model: torch.nn.Module) -> set[str]:
    return {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, before[k])}


def test_lecture_plan_cascade_order(resnet) -> None:
    plan = randomization_plan(resnet, "cascade", blocks="default")
    assert [name for name, _ in plan] == LECTURE
    assert "conv1" in plan[-1][1] and "bn1" in plan[-1][1]  # the stem's BatchNorm goes with conv1
    assert not any(m.startswith("fc") for _, ms in plan for m in ms)  # the head is not in the plan


@pytest.mark.parametrize("order, expected", [
    ("cascade", [{"layer4"}, {"layer4", "layer3"}]),
    ("independent", [{"conv1", "bn1"}, {"layer1"}]),
    ("bottom_up", [{"conv1", "bn1"}, {"conv1", "bn1", "layer1"}]),
])
def test_orders_change_the_right_blocks(resnet, order, expected) -> None:
    before = {k: v.clone() for k, v in resnet.state_dict().items()}
    steps = randomize_layers(resnet, order, blocks=LECTURE[::-1])
    for want in expected:
        _, model = next(steps)
        assert _changed(before, model) == want
    assert all(torch.equal(v, resnet.state_dict()[k]) for k, v in before.items())


def test_given_blocks_are_sorted_in_forward_order(resnet) -> None:
    assert [n for n, _ in block_groups(resnet, ["layer2", "conv1", "layer4.1"])] == ["conv1", "layer2", "layer4.1"]


def test_default_plan_for_any_model() -> None:
    net = torchvision.models.resnet18(num_classes=2)
    assert [n for n, _ in randomization_plan(net, "bottom_up", blocks="default")] == \
        ["conv1", "layer1", "layer2", "layer3", "layer4", "fc"]


def test_a_cascade_over_an_unknown_block_changes_nothing(resnet) -> None:
    before = {k: v.clone() for k, v in resnet.state_dict().items()}
    with pytest.raises(InputError, match="unknown block\\(s\\) \\['layer5'\\]; named blocks of ResNet18: .*'layer4'"):
        run_cascade(resnet, torch.zeros(1, 1, 32, 32), 1, methods=["gradient"], blocks=["layer4", "layer5"])
    assert all(torch.equal(v, resnet.state_dict()[k]) for k, v in before.items())


def test_unknown_block_lists_the_valid_names(resnet) -> None:
    with pytest.raises(InputError, match="unknown block\\(s\\) \\['layer5'\\].*'layer4'.*default plan"):
        randomization_plan(resnet, blocks=["layer4", "layer5"])
    with pytest.raises(InputError, match="either layers .* or blocks"):
        randomization_plan(resnet, layers=["fc"], blocks=["layer4"])


def test_cascade_over_blocks_has_signed_and_absolute_scores(resnet) -> None:
    torch.manual_seed(1)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    result = run_cascade(resnet, x, 1, methods=["gradient", "gradcam"], blocks="default", batch_size=2)
    assert result.layers == ["original"] + LECTURE
    grad = result.values("gradient", "spearman_signed")
    assert torch.allclose(grad[0], torch.ones(2, dtype=torch.float64))
    assert torch.isfinite(result.values("gradient", "ssim")).all()
    assert all(math.isnan(v) for v in result.values("gradcam", "spearman_signed").flatten().tolist())
    assert (result.values("gradient", "spearman_abs")[-1] < 0.9).all()  # all blocks random: the map changed
