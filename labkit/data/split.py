"""Tensor-resident data: a :class:`Split` is one tensor of images and one of labels,
already on the experiment's device; :class:`LabData` groups train/val/test."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from labkit.errors import InputError

if TYPE_CHECKING:
    from labkit.data.markers import MarkerSpec

CLASS_NAMES: tuple[str, ...] = ("normal", "pneumonia")


def normalize(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] → float32 in [-1, 1] (0.0 is mid-gray, -1.0 black)."""
    t = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images, copy=True))
    if t.dtype != torch.uint8:
        raise InputError(f"normalize() expects uint8 pixels in [0, 255], got dtype {t.dtype}")
    return t.float().div_(127.5).sub_(1.0)


def denormalize(images: torch.Tensor) -> torch.Tensor:
    """float images in [-1, 1] → uint8 in [0, 255]."""
    return ((images.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


@dataclass(frozen=True)
class Split:
    """One split: ``images (N, 1, H, W)`` float in [-1, 1], ``labels (N,)`` long.

    ``masks (N, H, W)`` bool are ground-truth lesion masks (phantom data only);
    ``marker`` is the shortcut marker planted in these images, if any.
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor | None = None
    marker: "MarkerSpec | None" = None

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.labels.dim() != 1 or len(self.images) != len(self.labels):
            raise InputError(
                f"split {self.name!r}: expected images (N, C, H, W) and labels (N,), "
                f"got {tuple(self.images.shape)} and {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def size(self) -> int:
        """Image side length in pixels."""
        return int(self.images.shape[-1])

    @property
    def device(self) -> torch.device:
        return self.images.device

    def class_counts(self, num_classes: int = 2) -> list[int]:
        """Images per class, e.g. ``[1214, 3494]`` for the training split."""
        return torch.bincount(self.labels.cpu(), minlength=num_classes).tolist()

    def select(self, index: torch.Tensor | list[int]) -> "Split":
        """The images at ``index`` (same device, same marker)."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.images.device)
        masks = None if self.masks is None else self.masks[idx]
        return replace(self, images=self.images[idx], labels=self.labels[idx], masks=masks)

    def subset(self, n: int, seed: int = 0, stratified: bool = True) -> "Split":
        """A seeded random subset of ``n`` images (class proportions kept when stratified)."""
        if n < 1:
            raise InputError(f"subset size must be ≥ 1, got {n}")
        if n >= len(self):
            return self
        gen = torch.Generator().manual_seed(seed)
        labels = self.labels.cpu()
        if not stratified:
            idx = torch.randperm(len(self), generator=gen)[:n]
        else:
            parts = []
            classes = labels.unique()
            for i, c in enumerate(classes.tolist()):
                members = (labels == c).nonzero().flatten()
                k = round(n * len(members) / len(self)) if i < len(classes) - 1 else n - sum(len(p) for p in parts)
                parts.append(members[torch.randperm(len(members), generator=gen)[:max(k, 0)]])
            idx = torch.cat(parts).sort().values
        return self.select(idx)

    def to(self, device: torch.device | str) -> "Split":
        """Copy of the split on ``device``."""
        masks = None if self.masks is None else self.masks.to(device)
        return replace(self, images=self.images.to(device), labels=self.labels.to(device), masks=masks)

    def with_marker(self, marker: "MarkerSpec") -> "Split":
        """The same images with ``marker`` planted according to each image's label."""
        return replace(self, images=marker.apply(self.images, self.labels), marker=marker)

    def with_permuted_labels(self, seed: int = 0) -> "Split":
        """Labels shuffled by a seeded permutation (the data-randomization control)."""
        gen = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(self), generator=gen).to(self.labels.device)
        return replace(self, name=f"{self.name}-permuted", labels=self.labels[perm])


class LazySplits(Mapping):
    """Splits made on first use: ``make(name)`` builds a :class:`Split` when it is first
    looked up, once (thread-safe). Names, ``in`` and ``len`` need no split; ``values()``
    and ``items()`` build them all. A lecture kernel that only shows test images thus
    never holds the training images (77 MB at 64 px) until a training needs them.
    """

    def __init__(self, names: tuple[str, ...], make: Callable[[str], Split],
                 labels: Mapping[str, torch.Tensor] | None = None) -> None:
        self._names, self._make = tuple(names), make
        self._labels = dict(labels or {})
        self._done: dict[str, Split] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Split:
        if name not in self._names:
            raise KeyError(name)
        with self._lock:
            if name not in self._done:
                self._done[name] = self._make(name)
            return self._done[name]

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def loaded(self) -> tuple[str, ...]:
        """Names of the splits built so far."""
        return tuple(n for n in self._names if n in self._done)

    def labels(self, name: str) -> torch.Tensor:
        """The labels of split ``name``, without making it when they were given up front."""
        return self._labels[name] if name in self._labels and name not in self._done else self[name].labels

    def map(self, fn: Callable[[Split], Split]) -> "LazySplits":
        """``fn`` of every split, each made when first looked up (labels unchanged)."""
        return LazySplits(self._names, lambda name: fn(self[name]), self._labels)


def map_splits(splits: Mapping[str, Split], fn: Callable[[Split], Split]) -> Mapping[str, Split]:
    """``fn`` applied to each split: lazily for :class:`LazySplits`, at once otherwise."""
    return splits.map(fn) if isinstance(splits, LazySplits) else {k: fn(v) for k, v in splits.items()}


@dataclass(frozen=True)
class LabData:
    """The splits of one data set, all on one device, plus what they are."""

    name: str
    splits: Mapping[str, Split]
    size: int
    class_names: tuple[str, ...] = CLASS_NAMES
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __getitem__(self, split: str) -> Split:
        if split not in self.splits:
            raise InputError(f"unknown split {split!r}; this data set has {list(self.splits)}")
        return self.splits[split]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def any_split(self) -> Split:
        """A split already in memory when there is one (the first otherwise)."""
        loaded = self.splits.loaded() if isinstance(self.splits, LazySplits) else ()
        return self.splits[loaded[0] if loaded else next(iter(self.splits))]

    @property
    def device(self) -> torch.device:
        return self.any_split().device

    @property
    def channels(self) -> int:
        """Image channels (1 for the X-rays)."""
        return int(self.any_split().images.shape[1])

    def to(self, device: torch.device | str) -> "LabData":
        return replace(self, splits=map_splits(self.splits, lambda s: s.to(device)))

    def with_marker(self, marker: "MarkerSpec") -> "LabData":
        """Marked view of every split (labels decide placement for label-coded markers)."""
        marker.check_fits(self.size)
        return replace(self, name=f"{self.name}+{marker.kind}",
                       splits=map_splits(self.splits, lambda s: s.with_marker(marker)))

    def summary(self) -> str:
        """One line per split with class counts."""
        lines = [f"{self.name} at {self.size}×{self.size} on {self.device}"]
        lazy = isinstance(self.splits, LazySplits)
        for name in self.splits:
            labels = self.splits.labels(name) if lazy else self.splits[name].labels
            per_class = torch.bincount(labels.cpu(), minlength=self.num_classes).tolist()
            counts = ", ".join(f"{n} {c}" for c, n in zip(self.class_names, per_class))
            lines.append(f"  {name:<6} {len(labels):>5} images ({counts})")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
