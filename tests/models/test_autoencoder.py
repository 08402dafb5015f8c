"""The ResNet-style convolutional autoencoder: shapes, range, residual blocks, bad arguments."""
from __future__ import annotations

import pytest
import torch

from labkit.errors import InputError
from labkit.models.autoencoder import ConvAutoencoder, ResBlock, num_stages


@pytest.mark.parametrize("size,side", [(64, 8), (28, 7), (32, 8)])
@pytest.mark.parametrize("bottleneck", [2, 8])
def test_shapes_and_range(size, side, bottleneck) -> None:
    torch.manual_seed(0)
    ae = ConvAutoencoder(size, bottleneck=bottleneck, width=4).eval()
    x = torch.rand(3, 1, size, size) * 2 - 1
    z = ae.encode(x)
    assert z.shape == (3, bottleneck, side, side) and ae.latent_shape == (bottleneck, side, side)
    out = ae.decode(z)
    assert out.shape == x.shape and out.abs().max() <= 1
    torch.testing.assert_close(ae(x), out)


def test_bottleneck_sets_the_code_size() -> None:
    small, large = ConvAutoencoder(64, bottleneck=4), ConvAutoencoder(64, bottleneck=16)
    assert small.latent_shape[0] * 4 == large.latent_shape[0]
    assert sum(p.numel() for p in small.encoder.parameters()) < sum(p.numel() for p in large.encoder.parameters())


def test_num_stages_halves_while_even_and_above_8() -> None:
    assert [num_stages(s) for s in (64, 28, 32, 16, 27)] == [3, 2, 2, 1, 0]


def test_resblock_is_residual() -> None:
    """With the last BatchNorm's scale and shift at zero the block is ReLU(x): the skip carries x."""
    block = ResBlock(3).eval()
    block.body[-1].weight.data.zero_()
    block.body[-1].bias.data.zero_()
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(block(x), x.relu())


def test_encoder_and_decoder_use_resblocks() -> None:
    ae = ConvAutoencoder(64)
    assert sum(isinstance(m, ResBlock) for m in ae.encoder) == 3
    assert sum(isinstance(m, ResBlock) for m in ae.decoder) == 3


def test_config_rebuilds_the_architecture() -> None:
    ae = ConvAutoencoder(28, bottleneck=5, width=6)
    twin = ConvAutoencoder(**ae.config())
    assert {k: v.shape for k, v in twin.state_dict().items()} == {k: v.shape for k, v in ae.state_dict().items()}


@pytest.mark.parametrize("kw,match", [({"size": 27}, "even"), ({"size": 8}, "size"), ({"bottleneck": 0}, "bottleneck"),
                                      ({"width": 2.5}, "width"), ({"in_channels": True}, "in_channels")])
def test_bad_arguments(kw, match) -> None:
    with pytest.raises(InputError, match=match):
        ConvAutoencoder(**kw)
