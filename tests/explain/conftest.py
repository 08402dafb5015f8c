"""Seeded fixtures for the explain tests: a tiny random SmallCNN and hand-made models."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.models import SmallCNN

SIZE = 32


def randomize_bn(model: nn.Module) -> nn.Module:
    """Give BatchNorm layers non-trivial running statistics and affine weights."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    return model


class LinearModel(nn.Module):
    """f(x) = W·flatten(x) + b: gradient is W, IG is exact for any number of steps."""

    def __init__(self, size: int = SIZE) -> None:
        super().__init__()
        self.fc = nn.Linear(size * size, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


class InplaceNet(nn.Module):
    """Two conv layers with in-place ReLUs (the case where naive hooks break)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2, padding=1)
        self.relu2 = nn.ReLU(inplace=True)
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


@pytest.fixture
def cnn() -> SmallCNN:
    """Tiny SmallCNN (width 4) with random weights and BN statistics, in train mode."""
    torch.manual_seed(0)
    return randomize_bn(SmallCNN(width=4, hidden=16))


@pytest.fixture
def linear() -> LinearModel:
    torch.manual_seed(1)
    return LinearModel()


@pytest.fixture
def inplace_net() -> InplaceNet:
    torch.manual_seed(2)
    return InplaceNet()


@pytest.fixture
def images() -> torch.Tensor:
    """Three seeded 32×32 images in [-1, 1]."""
    gen = torch.Generator().manual_seed(3)
    return torch.rand(3, 1, SIZE, SIZE, generator=gen) * 2 - 1


@pytest.fixture
def targets() -> torch.Tensor:
    return torch.tensor([0, 1, 1])


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.flatten().double(), b.flatten().double()]))[0, 1])


@pytest.fixture
def corr():
    """Pearson correlation of two flattened tensors."""
    return _corr
