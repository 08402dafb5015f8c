"""HiResCAM against pytorch-grad-cam and its faithfulness property."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.explain import explain
from pgc_reference import min_max, reference_maps

from pytorch_grad_cam import HiResCAM  # noqa: E402


@pytest.mark.parametrize("layer", ["features.relu3", "features.conv2"])
def test_matches_pytorch_grad_cam(cnn, images, targets, layer) -> None:
    attr = explain(cnn, images, targets, method="hirescam", layer=layer)
    ref = reference_maps(HiResCAM, cnn, layer, images, targets.tolist())
    torch.testing.assert_close(min_max(attr.maps), ref, atol=2e-4, rtol=0)


class GapLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 5, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu(self.conv(x)).mean((2, 3)))


def test_sums_to_the_score_on_a_gap_linear_model(images) -> None:
    """With global average pooling and one linear layer, Σ_ij HiResCAM (before the ReLU) · h·w = f_c − b_c."""
    torch.manual_seed(0)
    model = GapLinear()
    attr = explain(model, images, 1, method="hirescam", layer="relu")
    with torch.no_grad():
        acts = model.relu(model.conv(images))
        per_location = (model.fc.weight[1][None, :, None, None] * acts).sum(1)  # ∂f/∂A ⊙ A · h·w
    expected = torch.relu(per_location / acts[0, 0].numel())
    torch.testing.assert_close(attr.extras["layer_cam"], expected, rtol=1e-5, atol=1e-8)
