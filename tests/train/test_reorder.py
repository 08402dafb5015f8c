"""Pools before ReLUs while training: the same values and gradients, the order restored."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labkit.models import SmallCNN
from labkit.train.reorder import pool_before_relu


def outputs_and_grads(model: nn.Module, x: torch.Tensor, dtype: torch.dtype | None) -> list[torch.Tensor]:
    model.zero_grad()
    torch.manual_seed(1)  # the same dropout mask
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        out = model(x)
    F.cross_entropy(out.float(), torch.arange(len(x)) % 2).backward()
    return [out] + [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("dtype", [None, torch.bfloat16], ids=["fp32", "bf16"])
def test_values_and_gradients_are_bit_identical(dtype: torch.dtype | None) -> None:
    torch.manual_seed(0)
    model = SmallCNN(width=8, hidden=16).to(memory_format=torch.channels_last)
    x = (torch.rand(16, 1, 32, 32) * 2 - 1).contiguous(memory_format=torch.channels_last)
    x[:4, :, :8] = -1.0  # flat dark regions: windows whose maximum is ≤ 0 after BN, ties within windows
    plain = outputs_and_grads(model, x, dtype)
    with pool_before_relu(model):
        order = [name for name, _ in model.features.named_children()]
        fast = outputs_and_grads(model, x, dtype)
    assert order[:4] == ["conv1", "bn1", "pool1", "relu1"] and order[-2:] == ["pool3", "relu3"]
    assert all(torch.equal(a, b) for a, b in zip(plain, fast))


def test_order_names_and_state_are_restored_even_after_an_error() -> None:
    model = SmallCNN(width=4, hidden=8)
    names, keys = list(model.features._modules), list(model.state_dict())
    with pytest.raises(RuntimeError, match="boom"):
        with pool_before_relu(model):
            assert list(model.state_dict()) == keys
            raise RuntimeError("boom")
    assert list(model.features._modules) == names and list(model.state_dict()) == keys


class GuidedReLU(nn.ReLU):
    """A ReLU subclass: its forward may differ, so it is never moved."""


@pytest.mark.parametrize("seq", [
    nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, return_indices=True)),
    nn.Sequential(GuidedReLU(), nn.MaxPool2d(2)),
    nn.Sequential(nn.MaxPool2d(2), nn.ReLU()),
    nn.Sequential(nn.ReLU(), nn.AvgPool2d(2)),
], ids=["indices", "relu-subclass", "already-after", "avg-pool"])
def test_only_plain_relu_then_max_pool_pairs_move(seq: nn.Sequential) -> None:
    before = list(seq._modules.values())
    with pool_before_relu(seq):
        assert list(seq._modules.values()) == before
