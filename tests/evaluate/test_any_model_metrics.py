"""Deletion and stability on a model with another normalisation read its ModelSpec."""
from __future__ import annotations

import torch
import torchvision

from labkit.evaluate import deletion_curve, stability
from labkit.models import describe


def _imagenet_batch(n: int = 2, size: int = 32) -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=2).eval()
    spec = describe(net)
    pixels = torch.rand(n, 3, size, size)
    return net, (pixels - torch.tensor(spec.mean).view(1, 3, 1, 1)) / \
        torch.tensor(spec.std).view(1, 3, 1, 1)


def test_deletion_ends_on_the_models_gray() -> None:
    net, x = _imagenet_batch()
    curve = deletion_curve(net, x, 1, torch.rand(2, 32, 32), steps=1)
    with torch.no_grad():
        gray = torch.softmax(net(describe(net).gray(x)), 1)[:, 1].double()
    torch.testing.assert_close(curve.scores[:, -1], gray, rtol=1e-5, atol=1e-6)


def test_stability_runs_on_imagenet_normalised_rgb() -> None:
    net, x = _imagenet_batch()
    result = stability(net, x, 1, "gradient", sigma=0.05, n=2)
    assert result.correlation.shape == (2,)
