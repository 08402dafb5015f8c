"""What a saliency method declares and returns: :class:`Param` specs and :class:`Attribution` results.

Each method lists its parameters once as :class:`Param` records (kind, default,
range, description); panels build their sliders from them and the base class
validates calls against them.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Literal

import torch

from labkit.errors import InputError

ParamKind = Literal["int", "float", "choice", "bool", "layer"]
PARAM_KINDS: tuple[str, ...] = ("int", "float", "choice", "bool", "layer")


@dataclass(frozen=True)
class Param:
    """Specification of one explainer parameter (enough to build a slider).

    ``kind`` is ``"int"``, ``"float"``, ``"choice"``, ``"bool"`` or ``"layer"``
    (a module name of the model, offered from
    ``labkit.models.cam_layer_choices(model)``; ``None`` means the model's default
    CAM layer: its last conv block output, else its last conv layer). ``min`` and
    ``max`` are inclusive; ``None`` means unbounded (for ``patch``/``stride`` the
    image size is the bound, checked when the method runs). ``coarse`` is the
    value a quick preview uses (fewer samples or steps, a larger stride), on the
    cheap side of ``default``; ``None``: a preview keeps the chosen value.
    """

    name: str
    kind: ParamKind
    default: object
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple = ()
    description: str = ""
    coarse: object = None

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"Param kind must be one of {PARAM_KINDS}, got {self.kind!r}")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"default {self.default!r} of {self.name!r} is not among its choices {self.choices}")
        if self.coarse is not None:
            if self.kind not in ("int", "float") or self.coarse == self.default:
                raise ValueError(f"coarse value of {self.name!r} must be a number other than its default "
                                 f"{self.default!r}, got {self.coarse!r}")
            self.check(self.coarse)

    def expected(self) -> str:
        """Human-readable description of the valid values, used in error messages."""
        if self.kind in ("int", "float"):
            what = "an integer" if self.kind == "int" else "a number"
            if self.min is not None and self.max is not None:
                return f"{what} in [{self.min}, {self.max}]"
            if self.min is not None:
                return f"{what} ≥ {self.min}"
            if self.max is not None:
                return f"{what} ≤ {self.max}"
            return what
        if self.kind == "choice":
            return f"one of {list(self.choices)}"
        if self.kind == "bool":
            return "True or False"
        return "a layer name of the model, or None for its default CAM layer"

    def check(self, value: object) -> object:
        """Return ``value`` converted to the parameter's type, or raise :class:`InputError`."""
        given = value
        if self.kind == "bool":
            ok = isinstance(value, bool)
        elif self.kind == "choice":
            ok = isinstance(value, str) and value in self.choices
        elif self.kind == "layer":
            ok = value is None or isinstance(value, str)
        elif isinstance(value, bool) or not isinstance(value, numbers.Real) or (
                self.kind == "int" and not isinstance(value, numbers.Integral)):
            ok = False
        else:
            value = int(value) if self.kind == "int" else float(value)
            ok = (math.isfinite(value) and (self.min is None or value >= self.min)
                  and (self.max is None or value <= self.max))
        if not ok:  # the message is built only for a bad value: this runs on every explainer call
            raise InputError(f"parameter {self.name!r} must be {self.expected()}, got {given!r}")
        return value


@dataclass
class Attribution:
    """Result of one explainer call; every tensor is detached and on the model's device.

    Attributes
    ----------
    maps:
        ``(N, H, W)`` canonical map at input resolution: absolute attribution for
        gradient-family methods, the (upsampled) CAM for CAM methods, the drop of
        the target probability for occlusion.
    signed:
        ``(N, H, W)`` raw signed attribution summed over channels, or ``None``
        for methods without a sign (CAMs).
    method, params:
        Registry name of the method and the resolved parameter values.
    extras:
        Method-specific tensors (e.g. IG's ``completeness_gap``); always holds
        ``target`` (``(N,)`` class indices explained).
    """

    maps: torch.Tensor
    signed: torch.Tensor | None
    method: str
    params: dict[str, object]
    extras: dict[str, object] = field(default_factory=dict)

    def __repr__(self) -> str:  # shapes, not tensor contents
        signed = None if self.signed is None else tuple(self.signed.shape)
        return (f"Attribution(method={self.method!r}, maps={tuple(self.maps.shape)}, signed={signed}, "
                f"params={self.params}, extras={sorted(self.extras)})")
