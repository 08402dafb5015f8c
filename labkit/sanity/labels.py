"""Data randomization: train a model to memorize permuted labels (Adebayo et al. 2018).

A faithful explanation method should give a very different map for a model that
learned nothing but a lookup table of random labels. The training loop here is
deliberately small and self-contained (Adam over minibatches of a tensor).
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from labkit.errors import InputError
from labkit.train.adam import adam
from labkit.sanity.randomization import randomize_model
from labkit.models.spec import describe
from labkit.validation import check_images

ProgressFn = Callable[[int, int], None]


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _check_labels(labels: object, n: int) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        raise InputError(f"labels must be a torch.Tensor of shape ({n},), got {type(labels).__name__}")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise InputError(f"labels must hold integer class indices, got dtype {labels.dtype}")
    labels = labels.reshape(-1).long()
    if labels.numel() != n:
        raise InputError(f"labels must have one class per image: expected {n}, got {labels.numel()}")
    if int(labels.min()) < 0:
        raise InputError("labels must be class indices >= 0")
    return labels


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    model.eval()
    correct = sum(int((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
                  for i in range(0, len(x), batch_size))
    return correct / len(x)


def train_random_labels(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, seed: int = 0,
                        target_acc: float = 0.95, max_epochs: int = 100, lr: float = 1e-3,
                        batch_size: int = 64, subset: int | None = 512, reinit: bool = True,
                        progress: ProgressFn | None = None) -> tuple[nn.Module, list[dict[str, float | int | bool]]]:
    """Train a copy of ``model`` on a seeded permutation of the labels until it memorizes them.

    Parameters
    ----------
    model:
        The architecture to train; never modified (a deep copy is trained).
    images, labels:
        Training images ``(N, C, H, W)`` in [-1, 1] and class indices ``(N,)``.
    seed:
        Seeds the subset, the label permutation, the shuffling, dropout and (with
        ``reinit``) the initial weights.
    target_acc:
        Stop once accuracy on the (permuted) training subset, measured in eval
        mode after an epoch, reaches this value (0.95 as in the reference lab).
    max_epochs:
        The budget; training stops after this many epochs whether or not the
        target was reached.
    lr, batch_size:
        Adam learning rate and minibatch size.
    subset:
        Number of training images to memorize (``None``: all). Memorizing random
        labels takes many epochs, so a few hundred images keep this quick.
    reinit:
        Start from freshly initialized weights (:func:`randomize_model`), as in
        the paper; ``False`` starts from the weights of ``model``.
    progress:
        Called as ``progress(epoch, max_epochs)`` after every epoch.

    Returns
    -------
    (nn.Module, list[dict])
        The trained copy (in eval mode) and one dict per epoch with ``epoch``,
        ``loss`` (mean training loss), ``acc`` (accuracy on the permuted labels)
        and ``reached`` (``acc >= target_acc``). ``history[-1]["reached"]`` says
        whether the target was reached within the budget.

    References
    ----------
    Adebayo et al. (2018). Sanity Checks for Saliency Maps. NeurIPS, section 4.
    Zhang et al. (2017). Understanding deep learning requires rethinking
    generalization. ICLR.
    """
    images = check_images(images, spec=describe(model))
    labels = _check_labels(labels, images.shape[0])
    if not 0 < target_acc <= 1:
        raise InputError(f"target_acc must be in (0, 1], got {target_acc}")
    for name, value in (("max_epochs", max_epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be an int >= 1, got {value!r}")
    if subset is not None and (isinstance(subset, bool) or not isinstance(subset, int) or subset < 2):
        raise InputError(f"subset must be None or an int >= 2, got {subset!r}")
    if not math.isfinite(lr) or lr <= 0:
        raise InputError(f"lr must be a positive number, got {lr}")

    device = _device_of(model)
    gen = torch.Generator().manual_seed(seed)
    keep = torch.randperm(images.shape[0], generator=gen)[: subset or images.shape[0]]
    x = images[keep.to(images.device)].to(device)
    y = labels[keep.to(labels.device)].to(device)
    y = y[torch.randperm(len(y), generator=gen).to(device)]

    net = randomize_model(model, seed=seed) if reinit else copy.deepcopy(model)
    opt = adam(net.parameters(), lr=lr)
    history: list[dict[str, float | int | bool]] = []
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for epoch in range(1, max_epochs + 1):
            net.train()
            order = torch.randperm(len(x), generator=gen).to(device)
            total = 0.0
            for i in range(0, len(x), batch_size):
                idx = order[i:i + batch_size]
                loss = F.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            acc = _accuracy(net, x, y, batch_size)
            history.append({"epoch": epoch, "loss": total / len(x), "acc": acc, "reached": acc >= target_acc})
            if progress is not None:
                progress(epoch, max_epochs)
            if acc >= target_acc:
                break
    return net.eval(), history
