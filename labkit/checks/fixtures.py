"""Seeded models and inputs the checks run students' code on.

Small on purpose (every check must finish in a few seconds on a laptop CPU):
32×32 phantom chest images and two tiny architectures, the lab's
:class:`~labkit.models.SmallCNN` at width 4 (with trained-looking BatchNorm
statistics) and a plain CNN without BatchNorm, so that code written against one
architecture's attribute names is caught.

A student's check uses the public seeds below. Hidden grading (``labkit.course``)
runs the same check inside :func:`grading` with a seed that only the instructor's
side knows; :func:`seed` then turns every public seed into one derived from it, so
neither the cases nor their seeds are in any file a student has.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from labkit.data.phantom import make_phantom
from labkit.models import SmallCNN

SIZE = 32
VISIBLE_SEEDS = (0, 1)
_GRADING: ContextVar[int | None] = ContextVar("labkit_grading_seed", default=None)


@contextlib.contextmanager
def grading(secret_seed: int) -> Iterator[None]:
    """Run checks on the hidden cases of ``secret_seed`` (instructor-side grading)."""
    token = _GRADING.set(int(secret_seed))
    try:
        yield
    finally:
        _GRADING.reset(token)


def grading_seed() -> int | None:
    """The seed of the hidden grading in progress, None in a student's own check."""
    return _GRADING.get()


def seed(public: int) -> int:
    """``public`` in a student's check; a 31-bit seed derived from it and the grading seed otherwise."""
    secret = _GRADING.get()
    if secret is None:
        return public
    digest = hashlib.sha256(f"labkit-cases|{secret}|{public}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class PlainCNN(nn.Module):
    """Two conv layers, no BatchNorm, global pooling and one linear layer."""

    def __init__(self, width: int = 6, num_classes: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.act1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.act2 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(2 * width * 16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act2(self.conv2(self.pool1(self.act1(self.conv1(x)))))
        return self.fc(torch.flatten(self.gap(h), 1))


@dataclass(frozen=True)
class Case:
    """One model, a batch of images and the class to explain."""

    name: str
    model: nn.Module
    x: torch.Tensor
    target: int
    layer_name: str

    @property
    def layer(self) -> nn.Module:
        """The conv layer a Grad-CAM check hooks (a module of :attr:`model`)."""
        return self.model.get_submodule(self.layer_name)


def _trained_looking(model: nn.Module, seed: int) -> nn.Module:
    """Non-default BatchNorm statistics and a last layer with spread-out logits."""
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(1 + 0.5 * torch.rand(c, generator=g))
                m.bias.copy_(0.2 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.2 + 0.3 * torch.rand(c, generator=g))
        last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        last.weight.mul_(20.0)
    return model.eval()


@functools.lru_cache(maxsize=32)
def _model(kind: str, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN(width=4, hidden=16, dropout=0.0) if kind == "small_cnn" else PlainCNN()
    for p in model.parameters():
        p.requires_grad_(False)
    return _trained_looking(model, seed)


def model(kind: str, seed: int) -> nn.Module:
    """A fresh copy of the seeded fixture model ``kind`` (``"small_cnn"`` or ``"plain_cnn"``)."""
    import copy

    m = copy.deepcopy(_model(kind, seed))
    for p in m.parameters():
        p.requires_grad_(True)
    return m.eval()


@functools.lru_cache(maxsize=32)
def _images(n: int, seed: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return make_phantom(n, size, seed=seed)


def images(n: int = 3, seed: int = 0, size: int = SIZE) -> torch.Tensor:
    """``n`` phantom chest images ``(n, 1, size, size)`` in [-1, 1] (a fresh copy)."""
    return _images(n, seed, size)[0].clone()


def labels(n: int = 3, seed: int = 0, size: int = SIZE) -> torch.Tensor:
    """The phantom labels of :func:`images` with the same arguments."""
    return _images(n, seed, size)[1].clone()


LAYERS = {"small_cnn": "features.conv3", "plain_cnn": "conv2"}


def cases(n_images: int = 3) -> list[Case]:
    """The models × inputs a saliency check runs on: both architectures, both classes (three cases)."""
    seeds = (seed(VISIBLE_SEEDS[0]), seed(VISIBLE_SEEDS[0] + 100), seed(VISIBLE_SEEDS[1]))
    if grading_seed() is None:
        seeds = (VISIBLE_SEEDS[0], VISIBLE_SEEDS[0], VISIBLE_SEEDS[1])
    plan = zip(seeds, ("small_cnn", "plain_cnn", "small_cnn"), (0, 1, 1))
    hidden = grading_seed() is not None
    return [Case(f"{kind} ({f'hidden case {i + 1}' if hidden else f'seed {seed}'}), class {target}", model(kind, seed),
                 images(n_images, seed=seed), target, LAYERS[kind]) for i, (seed, kind, target) in enumerate(plan)]


__all__ = ["Case", "PlainCNN", "SIZE", "cases", "images", "labels", "model", "grading", "grading_seed", "seed"]
