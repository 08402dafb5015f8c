"""channels_last_weights: conv weights in channels-last strides during the block, restored after."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from labkit.models import SmallCNN
from labkit.models.layers import channels_last_weights

CL_STRIDES = {(16, 1, 3, 3): (9, 1, 3, 1), (32, 16, 3, 3): (144, 1, 48, 16)}


def test_every_conv_weight_takes_channels_last_strides_even_with_one_input_channel() -> None:
    model = SmallCNN()
    convs = [model.features.conv1, model.features.conv2]
    before = [(c.weight.data_ptr(), c.weight.data.clone()) for c in convs]
    assert model.features.conv1.weight.is_contiguous(memory_format=torch.channels_last)  # ambiguous for C = 1
    with channels_last_weights(model.modules()):
        for conv in convs:
            assert conv.weight.stride() == CL_STRIDES[tuple(conv.weight.shape)]
        for conv, (_, values) in zip(convs, before):
            assert torch.equal(conv.weight, values)
    for conv, (ptr, values) in zip(convs, before):
        assert conv.weight.data_ptr() == ptr and conv.weight.is_contiguous() and torch.equal(conv.weight, values)


def test_weights_are_restored_on_error() -> None:
    conv = nn.Conv2d(1, 4, 3)
    ptr = conv.weight.data_ptr()
    with pytest.raises(RuntimeError, match="boom"):
        with channels_last_weights([conv]):
            assert conv.weight.data_ptr() != ptr
            raise RuntimeError("boom")
    assert conv.weight.data_ptr() == ptr and conv.weight.stride() == (9, 9, 3, 1)
