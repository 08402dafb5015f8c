"""Training the Latent Shift autoencoder: images only, no labels, no classifier.

The loss is the elastic loss of the Latent Shift paper, the mean squared error
plus the mean absolute error between ``D(E(x))`` and ``x``. The autoencoder
never sees a label or a classifier, so it cannot learn the classifier's shortcuts.

References
----------
J. P. Cohen et al. "Gifsplanation via Latent Shift: A Simple Autoencoder Approach
to Counterfactual Generation for Chest X-rays." MIDL 2021.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch import nn

from labkit.data.split import Split
from labkit.errors import InputError
from labkit.train.adam import adam
from labkit.models.autoencoder import ConvAutoencoder
from labkit.train.trainer import BatchInfo


@dataclass(frozen=True)
class AEConfig:
    """Autoencoder architecture and recipe (the default trains in under 3 min on 2 CPU cores at 64 px)."""

    epochs: int = 6
    bottleneck: int = 8
    width: int = 8
    lr: float = 5e-3
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "bottleneck", "width", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"autoencoder {name} must be an int ≥ 1, got {v!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < self.lr < 1:
            raise InputError(f"autoencoder learning rate must be in (0, 1), got {self.lr!r}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class AEHistory:
    """Mean elastic training loss per epoch, validation MAE per epoch (when a split was given), wall-clock
    seconds and process CPU seconds (all threads; on a shared machine the closer measure of the work)."""

    train_loss: list[float] = field(default_factory=list)
    val_mae: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def elastic_loss(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error plus mean absolute error (the paper's elastic loss)."""
    diff = recon - x
    return diff.pow(2).mean() + diff.abs().mean()


@torch.no_grad()
def reconstruct(ae: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``D(E(x))`` in eval mode, batched; on the autoencoder's device."""
    was = ae.training
    ae.eval()
    dev = next(ae.parameters()).device
    out = torch.cat([ae(x[i:i + batch_size].to(dev)) for i in range(0, len(x), batch_size)])
    ae.train(was)
    return out


def train_autoencoder(train: Split, config: AEConfig = AEConfig(), val: Split | None = None, *,
                      device: torch.device | str | None = None,
                      on_batch: Callable[[BatchInfo], None] | None = None) -> tuple[ConvAutoencoder, AEHistory]:
    """Train a :class:`ConvAutoencoder` on the images of ``train`` (labels are ignored).

    ``on_batch`` is called after every optimizer step with the progress. The model
    is returned in eval mode on ``device`` (default: the split's device), with
    the history of training losses (and validation MAE per epoch when ``val`` is given).
    """
    if len(train) == 0:
        raise InputError("the training split is empty: the autoencoder needs images to train on")
    dev = torch.device(device) if device is not None else train.device
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    _, c, h, _ = train.images.shape
    ae = ConvAutoencoder(h, c, config.bottleneck, config.width).to(dev)
    fmt = torch.channels_last if dev.type == "cpu" else torch.contiguous_format  # faster CPU conv kernels
    ae = ae.to(memory_format=fmt)
    opt = adam(ae.parameters(), lr=config.lr)
    n, bs = len(train), config.batch_size
    num_batches = -(-n // bs)
    history, t0, cpu0 = AEHistory(), time.perf_counter(), time.process_time()
    for epoch in range(config.epochs):
        ae.train()
        perm, total = torch.randperm(n, generator=gen), 0.0
        for b in range(num_batches):
            x = train.images[perm[b * bs:(b + 1) * bs].to(train.device)].to(dev).contiguous(memory_format=fmt)
            loss = elastic_loss(ae(x), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(x)
            if on_batch is not None:
                on_batch(BatchInfo(epoch, b + 1, num_batches, float(loss.detach()),
                                   (epoch * num_batches + b + 1) / (config.epochs * num_batches)))
        history.train_loss.append(total / n)
        if val is not None and len(val):
            history.val_mae.append(float((reconstruct(ae, val.images) - val.images.to(dev)).abs().mean()))
    history.seconds, history.cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
    return ae.to(memory_format=torch.contiguous_format).eval(), history
