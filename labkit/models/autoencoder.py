"""A small ResNet-style convolutional autoencoder for the lab's images.

The encoder halves the image with strided convolutions (each stage followed by a
residual block) until the side is odd or 8 pixels: 64 → 32 → 16 → 8 and
28 → 14 → 7. A 1×1 convolution then maps to ``bottleneck`` latent channels, so
the code ``z`` is ``(bottleneck, h, w)`` (``8×8`` at 64 px, ``7×7`` at 28 px).
The decoder mirrors it with nearest-neighbour upsampling and ends in ``tanh``,
so decoded images are in [-1, 1] like the inputs.

References
----------
J. P. Cohen, R. Brooks, S. En, E. Zucker, A. Pareek, M. P. Lungren, A. Chaudhari.
"Gifsplanation via Latent Shift: A Simple Autoencoder Approach to Counterfactual
Generation for Chest X-rays." MIDL 2021 (a ResNet autoencoder trained apart from
the classifier).
K. He, X. Zhang, S. Ren, J. Sun. "Deep Residual Learning for Image Recognition." CVPR 2016.
"""
from __future__ import annotations

import torch
from torch import nn

from labkit.errors import InputError


class ResBlock(nn.Module):
    """``x + conv-BN-ReLU-conv-BN(x)`` followed by a ReLU (channels unchanged)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
        )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.body(x))


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def num_stages(size: int) -> int:
    """How many times the encoder halves a ``size``-pixel side (while even and above 8)."""
    n = 0
    while size % 2 == 0 and size > 8:
        size //= 2
        n += 1
    return n


class ConvAutoencoder(nn.Module):
    """Encoder ``E`` and decoder ``D`` for ``(N, in_channels, size, size)`` images in [-1, 1].

    Parameters
    ----------
    size:
        Image side in pixels (28 and 64 in the lab; any side ≥ 16 with at least
        one halving works).
    in_channels:
        Image channels (1 for grayscale).
    bottleneck:
        Channels of the latent code; ``latent_shape`` is ``(bottleneck, h, w)``.
        Larger codes reconstruct more detail but make the latent shift act more
        like a pixel-space change.
    width:
        Channels of the first stage; stage ``i`` has ``width · 2**i``.
    """

    def __init__(self, size: int = 64, in_channels: int = 1, bottleneck: int = 8, width: int = 8) -> None:
        super().__init__()
        for name, v, lo in (("size", size, 16), ("in_channels", in_channels, 1), ("bottleneck", bottleneck, 1),
                            ("width", width, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise InputError(f"autoencoder {name} must be an int ≥ {lo}, got {v!r}")
        stages = num_stages(size)
        if stages == 0:
            raise InputError(f"autoencoder size must be even (e.g. 28 or 64), got {size}")
        self.size, self.in_channels, self.bottleneck, self.width = size, in_channels, bottleneck, width
        chans = [width * 2 ** i for i in range(stages)]
        enc: list[nn.Module] = []
        c = in_channels
        for out in chans:
            enc += _conv_bn_relu(c, out, stride=2) + [ResBlock(out)]
            c = out
        enc.append(nn.Conv2d(c, bottleneck, 1))
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = _conv_bn_relu(bottleneck, c)
        for out in list(reversed(chans[:-1])) + [chans[0]]:  # mirror of the encoder stages
            dec += [ResBlock(c), nn.Upsample(scale_factor=2, mode="nearest")] + _conv_bn_relu(c, out)
            c = out
        dec += [nn.Conv2d(c, in_channels, 3, padding=1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """Shape of one latent code ``z``."""
        side = self.size // 2 ** num_stages(self.size)
        return self.bottleneck, side, side

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``z = E(x)``, shape ``(N, *latent_shape)``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``D(z)``, images ``(N, in_channels, size, size)`` in [-1, 1]."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def config(self) -> dict[str, int]:
        """Constructor arguments (to rebuild the architecture from a checkpoint)."""
        return {"size": self.size, "in_channels": self.in_channels, "bottleneck": self.bottleneck, "width": self.width}
