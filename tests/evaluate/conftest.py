"""Fixtures for the evaluation tests: hand-made linear classifiers with known outputs."""
from __future__ import annotations

import pytest
import torch
from torch import nn


def make_linear_classifier(weight: torch.Tensor, bias: float = 0.0) -> nn.Module:
    """Two-class model with logits ``[0, w·x + b]`` on flattened ``(N, 1, H, W)`` images."""
    w = weight.flatten().double()
    fc = nn.Linear(w.numel(), 2).double()
    with torch.no_grad():
        fc.weight.zero_()
        fc.weight[1] = w
        fc.bias.zero_()
        fc.bias[1] = bias
    return nn.Sequential(nn.Flatten(), fc).eval()


@pytest.fixture
def four_pixel_model() -> nn.Module:
    """p(class 1) = sigmoid(2·x0 + x1 − x2 + 0.5·x3) on 2×2 images."""
    return make_linear_classifier(torch.tensor([[2.0, 1.0], [-1.0, 0.5]]))


@pytest.fixture
def wide_margin_model() -> nn.Module:
    """A 16×16 linear model whose class does not change under small noise on ``bright_images``."""
    g = torch.Generator().manual_seed(0)
    return make_linear_classifier(torch.rand(16, 16, generator=g, dtype=torch.float64) + 0.5)


@pytest.fixture
def bright_images() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return (0.5 + 0.4 * torch.rand(3, 1, 16, 16, generator=g, dtype=torch.float64))


def _abs_gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """|∂ logit_target / ∂x| per pixel (a minimal explainer for tests)."""
    x = x.detach().clone().requires_grad_(True)
    logits = model(x)
    logits.gather(1, target[:, None]).sum().backward()
    return x.grad.abs().sum(1)


@pytest.fixture
def linear_classifier():
    """Factory: ``linear_classifier(weight, bias=0.0)`` builds a two-class linear model."""
    return make_linear_classifier


@pytest.fixture
def abs_gradient():
    """A minimal explainer ``(model, x, target) -> |gradient|`` maps."""
    return _abs_gradient
