"""Shortcut markers: non-clinical artifacts whose position can encode the label.

A marker spec is a small frozen dataclass. ``placement`` is either a mapping
class → position (label-coded: the marker is a shortcut) or one position for every
image (class-independent: a control). Specs give exact boolean pixel masks, apply
themselves to a whole batch on its device, and remove themselves again.
Reference setting (the lab's tutorial): an 8×8 bright square, top-left for
pneumonia (1), bottom-right for normal (0).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import ClassVar, Mapping

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from labkit.errors import InputError
from labkit.registry import Registry

CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
SIDES = ("top", "bottom", "left", "right")
Placement = Mapping[int, str] | str


def whole(value: object, what: str, minimum: int) -> int:
    """``value`` as a whole number of pixels ≥ ``minimum``; :class:`InputError` otherwise (2.5, "8", True)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{what} must be a whole number of pixels ≥ {minimum}, e.g. {max(minimum, 8)}; got {value!r}")
    return int(value)


@dataclass(frozen=True, eq=True)
class MarkerSpec(ABC):
    """Base class: subclasses define ``kind``, ``positions`` and :meth:`stamp`."""

    kind: ClassVar[str] = ""
    positions: ClassVar[tuple[str, ...]] = ()
    intensity: float = 1.0
    placement: Placement = field(default_factory=lambda: {1: "top-left", 0: "bottom-right"})

    def __post_init__(self) -> None:
        if isinstance(self.intensity, bool) or not isinstance(self.intensity, (int, float)) \
                or not -1.0 <= float(self.intensity) <= 1.0:
            raise InputError(f"marker intensity must be in [-1, 1] (1.0 = white), got {self.intensity}")
        if isinstance(self.placement, str):
            places = [self.placement]
        else:
            object.__setattr__(self, "placement", {int(k): v for k, v in dict(self.placement).items()})
            places = list(self.placement.values())
            if not self.placement:
                raise InputError("marker placement mapping is empty; map each class to a position")
        for p in places:
            if p not in self.positions:
                raise InputError(f"unknown {self.kind} position {p!r}; choose from {self.positions}")

    @property
    def label_coded(self) -> bool:
        """True when the position depends on the class (a shortcut), False for a control."""
        return not isinstance(self.placement, str)

    def position_for(self, label: int) -> str | None:
        """Position used for class ``label`` (None: this class gets no marker)."""
        if isinstance(self.placement, str):
            return self.placement
        return self.placement.get(int(label))

    @abstractmethod
    def stamp(self, position: str, size: int) -> np.ndarray:
        """Boolean ``(size, size)`` mask of the marker at ``position``."""

    def check_fits(self, size: int) -> None:
        """Raise :class:`InputError` if the marker does not fit a ``size``×``size`` image."""
        for p in self._places():
            self._stamp_cached(p, size)

    def _places(self) -> list[str]:
        return [self.placement] if isinstance(self.placement, str) else sorted(set(self.placement.values()))

    def _stamp_cached(self, position: str, size: int) -> np.ndarray:
        key = (repr(self), position, size)
        if key not in _STAMPS:
            if len(_STAMPS) > 512:
                _STAMPS.clear()
            m = self.stamp(position, size)
            m.setflags(write=False)
            _STAMPS[key] = m
        return _STAMPS[key]

    def mask(self, labels: torch.Tensor, size: int) -> torch.Tensor:
        """Boolean ``(N, size, size)`` marker mask for each label, on the labels' device."""
        labels = torch.as_tensor(labels).reshape(-1)
        out = torch.zeros((len(labels), size, size), dtype=torch.bool, device=labels.device)
        for c in labels.unique().tolist():
            pos = self.position_for(c)
            if pos is not None:
                m = torch.tensor(self._stamp_cached(pos, size), device=labels.device)
                out[labels == c] = m
        return out

    def apply(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """A copy of ``images (N, C, H, W)`` with the marker set to ``intensity``."""
        _check_batch(images, labels)
        m = self.mask(labels.to(images.device), images.shape[-1]).unsqueeze(1).expand_as(images)
        return images.masked_fill(m, float(self.intensity))

    def remove(self, images: torch.Tensor, labels: torch.Tensor, clean: torch.Tensor | None = None,
               fill: float = 0.0) -> torch.Tensor:
        """Undo the marker: restore ``clean`` pixels when given, else fill with ``fill``."""
        _check_batch(images, labels)
        m = self.mask(labels.to(images.device), images.shape[-1]).unsqueeze(1).expand_as(images)
        if clean is not None:
            if clean.shape != images.shape:
                raise InputError(f"clean images must match marked ones {tuple(images.shape)}, got {tuple(clean.shape)}")
            return torch.where(m, clean, images)
        return images.masked_fill(m, float(fill))

    def to_dict(self) -> dict:
        """JSON-ready description (``marker_from_dict`` reads it back)."""
        d = asdict(self)
        if isinstance(self.placement, dict):
            d["placement"] = {str(k): v for k, v in self.placement.items()}
        return {"kind": self.kind, **d}

    def describe(self) -> str:
        """Short human description for status lines."""
        if isinstance(self.placement, str):
            where = f"{self.placement} for every image (control)"
        else:
            where = ", ".join(f"class {k} → {v}" for k, v in sorted(self.placement.items()))
        return f"{self.kind} ({where})"


_STAMPS: dict[tuple[str, str, int], np.ndarray] = {}


def _check_batch(images: torch.Tensor, labels: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise InputError(f"images must be a tensor (N, C, H, W), got {getattr(images, 'shape', type(images))}")
    if images.shape[-1] != images.shape[-2]:
        raise InputError(f"markers need square images, got {tuple(images.shape[-2:])}")
    if len(torch.as_tensor(labels).reshape(-1)) != len(images):
        raise InputError(f"one label per image expected: {len(images)} images, {len(labels)} labels")


def _corner_box(position: str, h: int, w: int, size: int, margin: int) -> tuple[int, int]:
    top = margin if position.startswith("top") else size - margin - h
    left = margin if position.endswith("left") else size - margin - w
    return top, left


@dataclass(frozen=True, eq=True)
class CornerSquare(MarkerSpec):
    """A filled square of ``size`` pixels in a corner, ``margin`` pixels from the edges."""

    kind: ClassVar[str] = "corner"
    positions: ClassVar[tuple[str, ...]] = CORNERS
    size: int = 8
    margin: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        whole(self.size, "corner square size", 1)
        whole(self.margin, "corner square margin", 0)

    def stamp(self, position: str, size: int) -> np.ndarray:
        if self.size + self.margin > size:
            raise InputError(f"a {self.size}-pixel marker with margin {self.margin} does not fit a {size}×{size} image")
        m = np.zeros((size, size), dtype=bool)
        top, left = _corner_box(position, self.size, self.size, size, self.margin)
        m[top:top + self.size, left:left + self.size] = True
        return m


@dataclass(frozen=True, eq=True)
class BorderStripe(MarkerSpec):
    """A stripe ``width`` pixels wide along one side of the image."""

    kind: ClassVar[str] = "stripe"
    positions: ClassVar[tuple[str, ...]] = SIDES
    placement: Placement = field(default_factory=lambda: {1: "left", 0: "right"})
    width: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        whole(self.width, "stripe width", 1)

    def stamp(self, position: str, size: int) -> np.ndarray:
        if self.width >= size:
            raise InputError(f"a {self.width}-pixel stripe does not fit a {size}×{size} image")
        m = np.zeros((size, size), dtype=bool)
        sl = {"top": (slice(0, self.width), slice(None)), "bottom": (slice(size - self.width, size), slice(None)),
              "left": (slice(None), slice(0, self.width)), "right": (slice(None), slice(size - self.width, size))}
        m[sl[position]] = True
        return m


@dataclass(frozen=True, eq=True)
class BurnedText(MarkerSpec):
    """Burned-in text (like a scanner's "L"/"PORTABLE" label) in a corner.

    Rendered with Pillow's bundled font at ``font_size`` pixels; the mask is the set
    of pixels the glyphs cover (no font download).
    """

    kind: ClassVar[str] = "text"
    positions: ClassVar[tuple[str, ...]] = CORNERS
    text: str = "R"
    font_size: int = 12
    margin: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not str(self.text).strip():
            raise InputError("burned-in text must not be empty; e.g. text='R' or 'PORTABLE'")
        whole(self.font_size, "font_size", 4)
        whole(self.margin, "text margin", 0)

    def stamp(self, position: str, size: int) -> np.ndarray:
        font = ImageFont.load_default(size=self.font_size)
        x0, y0, x1, y1 = font.getbbox(self.text)
        w, h = x1 - x0, y1 - y0
        if w + self.margin > size or h + self.margin > size:
            raise InputError(f"text {self.text!r} at font size {self.font_size} is {w}×{h} px and does not "
                             f"fit a {size}×{size} image; use a shorter text or a smaller font")
        top, left = _corner_box(position, h, w, size, self.margin)
        canvas = Image.new("L", (size, size), 0)
        ImageDraw.Draw(canvas).text((left - x0, top - y0), self.text, fill=255, font=font)
        return np.asarray(canvas) >= 128


MARKERS: Registry[type[MarkerSpec]] = Registry("marker kind")
for _cls in (CornerSquare, BorderStripe, BurnedText):
    MARKERS.add(_cls.kind, _cls)


def make_marker(kind: str, **params: object) -> MarkerSpec:
    """Build a marker spec by kind name: ``corner``, ``stripe`` or ``text``."""
    cls = MARKERS.get(kind)
    try:
        return cls(**params)
    except TypeError as exc:
        raise InputError(f"bad parameters for marker {kind!r}: {exc}") from exc


def marker_from_dict(d: Mapping) -> MarkerSpec:
    """Inverse of :meth:`MarkerSpec.to_dict`."""
    d = dict(d)
    kind = d.pop("kind", None)
    place = d.get("placement")
    if isinstance(place, Mapping):
        d["placement"] = {int(k): v for k, v in place.items()}
    return make_marker(str(kind), **d)
