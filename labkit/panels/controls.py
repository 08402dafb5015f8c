"""Widgets built from an explainer's :class:`~labkit.explain.Param` specs.

Each method declares its parameters once; :func:`param_widget` turns a spec into
a slider, a dropdown, a checkbox or a number box, so no panel hard-codes a
method's controls. Integer parameters without an upper bound (occlusion's patch
and stride) are bounded by the image size; very wide ranges (seeds) get a number
box instead of a slider.
"""
from __future__ import annotations

from typing import Any, Sequence

import ipywidgets as W
from torch import nn

from labkit.errors import InputError
from labkit.explain import Param, get_explainer, list_explainers
from labkit.models import cam_layer_choices, default_cam_layer
from labkit.panels.base import STYLE

SLIDER_MAX_STEPS = 1000
#: Style of toggle buttons: each button as wide as its label (a row of them stays short, nothing is cut).
TOGGLES = {**STYLE, "button_width": "auto"}


def labelled(label: str, widget: W.Widget) -> W.HBox:
    """``widget`` with ``label`` on its left, on one line (toggle buttons put their own description above)."""
    return W.HBox([W.Label(label), widget], layout=W.Layout(align_items="center"))


def layer_options(model: nn.Module | None) -> list[str]:
    """Layers a CAM method may hook (the choices of a ``"layer"`` parameter)."""
    return cam_layer_choices(model) if model is not None else []


def param_widget(spec: Param, image_size: int = 64, model: nn.Module | None = None) -> W.ValueWidget:
    """A widget for one parameter, initialised to its default; ``tooltip`` is its description."""
    common: dict[str, Any] = dict(description=spec.name, style=STYLE, tooltip=spec.description,
                                  continuous_update=False, layout=W.Layout(width="260px"))
    if spec.kind == "bool":
        common.pop("continuous_update")
        w: W.ValueWidget = W.Checkbox(value=bool(spec.default), indent=False, **common)
    elif spec.kind == "choice":
        common.pop("continuous_update")
        w = W.Dropdown(options=list(spec.choices), value=spec.default, **common)
    elif spec.kind == "layer":
        common.pop("continuous_update")
        opts = layer_options(model)
        value = (spec.default if spec.default in opts else (default_cam_layer(model) if opts else None))
        w = W.Dropdown(options=opts, value=value, **common)
    elif spec.kind == "int":
        lo = int(spec.min) if spec.min is not None else 0
        hi = int(spec.max) if spec.max is not None else max(image_size, lo + 1)
        step = int(spec.step or 1)
        value = min(max(int(spec.default), lo), hi)
        if (hi - lo) / step > SLIDER_MAX_STEPS:
            common.pop("continuous_update")
            w = W.BoundedIntText(value=value, min=lo, max=hi, step=step, **common)
        else:
            w = W.IntSlider(value=value, min=lo, max=hi, step=step, **common)
    else:  # float
        if spec.min is None or spec.max is None:
            common.pop("continuous_update")
            w = W.FloatText(value=float(spec.default), step=spec.step or 0.01, **common)
        else:
            w = W.FloatSlider(value=float(spec.default), min=float(spec.min), max=float(spec.max),
                              step=float(spec.step or (spec.max - spec.min) / 100), readout_format=".3g", **common)
    w.add_class(f"labkit-param-{spec.name}")
    return w


def update_layer_widget(w: W.Dropdown, model: nn.Module | None) -> None:
    """Refresh a layer dropdown's options for ``model``, keeping the choice when it still exists."""
    opts = layer_options(model)
    if list(w.options) == opts:
        return
    keep = w.value if w.value in opts else (default_cam_layer(model) if opts else None)
    w.options = opts
    w.value = keep


def param_values(widgets: dict[str, W.ValueWidget]) -> dict[str, Any]:
    """``{name: value}`` of a method's parameter widgets (None layers left out: the default)."""
    return {k: w.value for k, w in widgets.items() if w.value is not None}


def method_select(selected: Sequence[str], rows: int = 10) -> W.SelectMultiple:
    """Multi-select of every registered explainer that runs from the model alone (Latent Shift, which
    needs an autoencoder, has its own viewer), ``selected`` (when registered) chosen."""
    names = [m for m in list_explainers() if not get_explainer(m).needs]
    return W.SelectMultiple(options=[(get_explainer(m).label, m) for m in names],
                            value=tuple(m for m in selected if m in names),
                            rows=min(len(names), rows), description="methods", style=STYLE)


def chosen_methods(select: W.SelectMultiple) -> list[str]:
    """The methods chosen in a :func:`method_select`; :class:`InputError` when none is."""
    if not select.value:
        raise InputError("choose at least one method")
    return list(select.value)
