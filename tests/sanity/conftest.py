"""Seeded fixtures for the sanity tests: a tiny CNN with non-default BatchNorm state."""
from __future__ import annotations

import pytest
import torch

from labkit.models import SmallCNN, SmallResNet


def _perturb_norms(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Give every BatchNorm trained-looking (non-default) weights and statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(1 + 0.5 * torch.rand(c, generator=g))
                m.bias.copy_(0.3 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.num_batches_tracked.fill_(7)
    return model.eval()


@pytest.fixture
def tiny_cnn() -> SmallCNN:
    torch.manual_seed(0)
    return _perturb_norms(SmallCNN(width=4, hidden=16, dropout=0.0), 0)


@pytest.fixture
def tiny_resnet() -> SmallResNet:
    torch.manual_seed(1)
    return _perturb_norms(SmallResNet(width=4), 1)


@pytest.fixture
def images() -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    return torch.rand(6, 1, 16, 16, generator=g) * 2 - 1
