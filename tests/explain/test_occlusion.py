"""Occlusion: captum agreement and the whole-image property."""
from __future__ import annotations

import pytest
import torch
from captum.attr import Occlusion

from labkit.explain import explain
from labkit.explain.occlusion import occlusion_masks, window_starts


@pytest.mark.parametrize("size,patch,stride,fill", [(32, 8, 4, 0.0), (30, 8, 4, -1.0), (32, 5, 3, 0.5)])
def test_matches_captum_on_softmax_probs(cnn, targets, size, patch, stride, fill) -> None:
    x = torch.rand(3, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    attr = explain(cnn, x, targets, method="occlusion", patch=patch, stride=stride, fill=fill)
    cnn.eval()
    ref = Occlusion(lambda inp: torch.softmax(cnn(inp), 1)).attribute(
        x, sliding_window_shapes=(1, patch, patch), strides=(1, stride, stride), baselines=fill,
        target=targets, perturbations_per_eval=16)[:, 0]
    torch.testing.assert_close(attr.maps, ref, rtol=1e-4, atol=1e-6)
    assert torch.equal(attr.maps, attr.signed)


def test_whole_image_patch_gives_constant_drop(cnn, images, targets) -> None:
    attr = explain(cnn, images, targets, method="occlusion", patch=32, stride=1, fill=-1.0)
    cnn.eval()
    with torch.no_grad():
        p = torch.softmax(cnn(images), 1)[range(3), targets]
        p_fill = torch.softmax(cnn(torch.full_like(images, -1.0)), 1)[range(3), targets]
    torch.testing.assert_close(attr.maps, (p - p_fill)[:, None, None].expand(3, 32, 32))
    torch.testing.assert_close(attr.extras["probability"], p)


def test_windows_cover_every_pixel() -> None:
    assert window_starts(64, 8, 4) == list(range(0, 57, 4))
    assert window_starts(30, 8, 4) == [0, 4, 8, 12, 16, 20, 24]  # last window cut at the border
    masks = occlusion_masks(30, 30, 8, 4, torch.device("cpu"))
    assert masks.shape == (49, 30, 30) and masks.any(0).all()


def test_region_the_model_uses_gets_the_drop(linear) -> None:
    """A model that only reads the top-left corner: only occluding it changes p."""
    with torch.no_grad():
        linear.fc.weight.zero_()
        linear.fc.weight.view(2, 32, 32)[1, :8, :8] = 1.0
        linear.fc.bias.zero_()
    x = torch.full((1, 1, 32, 32), 0.5)
    attr = explain(linear, x, 1, method="occlusion", patch=8, stride=8)
    # p = sigmoid(32) ≈ 1 before, sigmoid(0) = 0.5 with the corner filled with 0.0
    torch.testing.assert_close(attr.maps[0, :8, :8], torch.full((8, 8), 0.5))
    assert attr.maps[0, 8:, :].abs().max() == 0 and attr.maps[0, :, 8:].abs().max() == 0
