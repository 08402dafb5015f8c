"""Checks of exercise 04: planting shortcuts and measuring what they do.

The fixtures here are hand-made models whose behaviour is known exactly: a
"mean intensity" classifier (makes errors in both classes) and a "corner
reader" that, like a shortcut model, reads the marker corners.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import torch
from torch import nn

from labkit.checks import fixtures
from labkit.checks.compare import one_number, to_tensor
from labkit.checks.registry import exercise
from labkit.checks.runner import Checker
from labkit.data.markers import BorderStripe


class MeanIntensityModel(nn.Module):
    """logit(pneumonia) − logit(normal) = scale · (mean pixel value − center)."""

    def __init__(self, scale: float = 20.0, center: float = -0.2) -> None:
        super().__init__()
        self.scale, self.center = scale, center

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.scale * (x.mean((1, 2, 3)) - self.center)
        return torch.stack([torch.zeros_like(z), z], 1)


class CornerReader(nn.Module):
    """Reads the two marker corners (8×8) and the center: a stand-in for a shortcut model."""

    def __init__(self, weight: float = 3.0, center_weight: float = 4.0) -> None:
        super().__init__()
        self.weight, self.center_weight = weight, center_weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tl = x[:, 0, :8, :8].mean((1, 2))
        br = x[:, 0, -8:, -8:].mean((1, 2))
        h = x.shape[-1]
        mid = x[:, 0, h // 4:3 * h // 4, h // 4:3 * h // 4].mean((1, 2))
        z = self.weight * (tl - br) + self.center_weight * mid
        return torch.stack([torch.zeros_like(z), z], 1)


# ---- border stripe ---------------------------------------------------------------------------
def _stripe(images: torch.Tensor, labels: torch.Tensor, width: int, intensity: float,
            placement: Any = None) -> torch.Tensor:
    spec = BorderStripe(width=width, intensity=intensity, placement=placement or {1: "left", 0: "right"})
    return spec.apply(images, labels)


@exercise("04_border_stripe", "Border stripe marker (left: pneumonia, right: normal)", points=2)
def border_stripe(ck: Checker, fn: Callable) -> None:
    """Check ``fn(images, labels, width, intensity) -> marked copy`` against :class:`labkit.data.BorderStripe`."""
    ck.require_callable(fn, "function")
    seed = fixtures.seed(4)
    x, y = fixtures.images(6, seed=seed), fixtures.labels(6, seed=seed)
    y[:2] = torch.tensor([0, 1])  # both classes, whatever the seed
    for width, intensity in ((3, 1.0), (2, -1.0), (5, 0.6)):
        given_x, given_y = x.clone(), y.clone()
        out = ck.call_uncopied(fn, given_x, given_y, width, intensity)  # so that in-place edits show
        if not torch.equal(given_x, x):
            raise ck.fail("your function changed the input images in place; return a marked copy and leave the "
                          "input as it was (start from images.clone())")
        got = to_tensor(ck, out, "your marked images")
        ref = _stripe(x, y, width, intensity).double()
        case = f"width {width}, intensity {intensity}"
        if tuple(got.shape) != tuple(x.shape):
            raise ck.fail(f"your marked images have shape {tuple(got.shape)}; expected {tuple(x.shape)}, like the input")
        if torch.allclose(got, ref, atol=1e-6):
            continue
        if float(got.max()) > 1.0 + 1e-6:
            raise ck.fail(f"your stripe has pixel values up to {float(got.max()):g}; pixels are in [-1, 1] "
                          "(1.0 is white): use the intensity as given")
        variants = [
            (lambda: _stripe(x, y, width, intensity, {1: "right", 0: "left"}),
             "the sides are swapped: pneumonia (1) gets the stripe on the left, normal (0) on the right"),
            (lambda: _stripe(x, y, width, intensity, {1: "top", 0: "bottom"}),
             "your stripes run along the top and bottom rows; the stripe is a band of columns at the left or "
             "right edge (images[..., :width] / images[..., -width:])"),
            (lambda: _stripe(x, y, width, intensity, "left"),
             "every image got the stripe on the left; the side must encode the label (left: pneumonia, right: normal)"),
            (lambda: _stripe(x, y, width + 1, intensity), "the stripe is one pixel too wide"),
            (lambda: _stripe(x, y, max(width - 1, 1), intensity), "the stripe is one pixel too narrow"),
            (lambda: _stripe(x, y, width, 1.0), f"the intensity argument is ignored ({intensity} asked for)"),
        ]
        for thunk, message in variants:
            wrong = thunk().double()
            if torch.allclose(got, wrong, atol=1e-6) and not torch.allclose(wrong, ref, atol=1e-6):
                raise ck.fail(f"with {case}: {message}")
        bad = int((got - ref).abs().gt(1e-6).sum())
        raise ck.fail(f"with {case}: {bad} pixels differ from labkit's BorderStripe",
                      "set images[..., :width] for pneumonia images and images[..., -width:] for normal ones")
    ck.award(2, "matches labkit.data.BorderStripe for several widths and intensities; the input is left unchanged")


# ---- per-class errors ------------------------------------------------------------------------
def _error_rates(model: nn.Module, x: torch.Tensor, y: torch.Tensor, thr: float, rule: str = "threshold",
                 ) -> dict[str, float]:
    with torch.no_grad():
        logits = model(x)
    p = logits.softmax(1)[:, 1]
    pred = {"threshold": (p >= thr), "strict": (p > thr), "argmax": logits.argmax(1) == 1}[rule].long()
    wrong = pred != y
    return {"normal": float(wrong[y == 0].float().mean()), "pneumonia": float(wrong[y == 1].float().mean()),
            "normal_count": float(wrong[y == 0].sum()), "pneumonia_count": float(wrong[y == 1].sum()),
            "normal_all": float((wrong & (y == 0)).sum()) / len(y), "pneumonia_all": float((wrong & (y == 1)).sum()) / len(y)}


THRESHOLDS = (0.5, 0.3, 0.8)
#: Smallest distance of any p(pneumonia) from a threshold, except the deliberate exact tie at 0.5.
MARGIN = 1e-3


def threshold_margin(model: nn.Module, x: torch.Tensor) -> float:
    """Smallest |p(pneumonia) − threshold| over images and thresholds, exact ties (0.0) left out."""
    with torch.no_grad():
        p = model(x).softmax(1)[:, 1].double()
    gaps = torch.cat([(p - t).abs() for t in THRESHOLDS])
    return float(gaps[gaps > 0].min())


def error_fixture() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A mean-intensity model and 40 images: the median image sits exactly at p = 0.5 (a tie that tests
    ``>=``), every other p is at least :data:`MARGIN` from every threshold (the scale is nudged until so)."""
    seed = fixtures.seed(6)
    x, y = fixtures.images(40, seed=seed), fixtures.labels(40, seed=seed)
    means = x.mean((1, 2, 3))
    for k in range(50):
        model = MeanIntensityModel(scale=(2.0 + 0.05 * k) / float(means.std()), center=float(means.median())).eval()
        if threshold_margin(model, x) >= MARGIN:
            break
    return model, x, y


@exercise("04_per_class_errors", "Per-class error rates on clean data", points=2)
def per_class_errors(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, images, labels, threshold) -> {"normal": error rate, "pneumonia": error rate}``."""
    ck.require_callable(fn, "function")
    model, x, y = error_fixture()
    for thr in THRESHOLDS:
        out = ck.call(fn, model, x, y, thr)
        if not isinstance(out, Mapping) or not {"normal", "pneumonia"} <= set(out):
            raise ck.fail(f"your function returned {type(out).__name__}"
                          f"{' with keys ' + str(list(out)) if isinstance(out, Mapping) else ''}; "
                          "return a dict {'normal': error rate, 'pneumonia': error rate}")
        got = {k: one_number(ck, out[k], f"your {k} error rate") for k in ("normal", "pneumonia")}
        ref = _error_rates(model, x, y, thr)
        if all(math.isclose(got[k], ref[k], abs_tol=1e-6) for k in got):
            continue
        strict, argmax = _error_rates(model, x, y, thr, "strict"), _error_rates(model, x, y, thr, "argmax")

        def match(values: Mapping[str, float], keys: tuple[str, str] = ("normal", "pneumonia")) -> bool:
            return all(math.isclose(got[k], values[v], abs_tol=1e-6) for k, v in zip(("normal", "pneumonia"), keys)) \
                and not all(math.isclose(ref[k], values[v], abs_tol=1e-6) for k, v in zip(("normal", "pneumonia"), keys))

        acc = {k: 1 - ref[k] for k in ("normal", "pneumonia")}
        variants = [
            (match(ref, ("pneumonia", "normal")), "the classes are swapped: 'normal' is the error rate on the "
                                                  "normal images (label 0)"),
            (match(ref, ("normal_count", "pneumonia_count")), "you returned counts; return rates (errors divided "
                                                               "by the number of images of that class)"),
            (match(ref, ("normal_all", "pneumonia_all")), "you divided by the number of all images; divide each "
                                                          "class's errors by the number of images of that class"),
            (match(acc), "you returned per-class accuracies; the question asks for error rates (1 − accuracy)"),
            (match(argmax), "the threshold argument is ignored (you used argmax); predict pneumonia when "
                            "p(pneumonia) >= threshold"),
            (match(strict), "an image with p(pneumonia) equal to the threshold counts as pneumonia (>=, not >)"),
        ]
        message = next((m for hit, m in variants if hit), None)
        raise ck.fail(f"with threshold {thr} you returned {got}, expected "
                      f"{{'normal': {ref['normal']:.4f}, 'pneumonia': {ref['pneumonia']:.4f}}}"
                      + (f": {message}" if message else ""))
    ck.award(2, "per-class error rates match for several thresholds")


# ---- the image with the largest drop -----------------------------------------------------------
def _drop_fixture() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clean images, their labels and marked copies (8×8 square: top-left pneumonia, bottom-right normal).

    Built so that the largest probability drop, the largest logit drop, the largest
    absolute change and the largest increase are four different images.
    """
    n, s = 6, fixtures.SIZE
    x = torch.full((n, 1, s, s), -0.2)
    labels = torch.tensor([1, 1, 1, 0, 0, 1])
    # center brightness sets each image's base logit (4 · mid); the corner content sets the marker's effect
    mid = torch.tensor([1.0, 0.15, -0.3, 0.1, 0.9, 0.5])
    tl = torch.tensor([-1.0, 0.0, 0.2, 0.0, 0.0, 0.6])
    br = torch.tensor([0.0, 0.0, 0.0, -0.9, 0.2, 0.0])
    if fixtures.grading_seed() is not None:
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(fixtures.seed(0)))
        labels, mid, tl, br = labels[perm], mid[perm], tl[perm], br[perm]
    q = s // 4
    for i in range(n):
        x[i, 0, q:3 * q, q:3 * q] = mid[i]
        x[i, 0, :8, :8] = tl[i]
        x[i, 0, -8:, -8:] = br[i]
    marked = x.clone()
    for i in range(n):
        if labels[i] == 1:
            marked[i, 0, :8, :8] = 1.0
        else:
            marked[i, 0, -8:, -8:] = 1.0
    return x, labels, marked


def _drops(model: nn.Module, marked: torch.Tensor, clean: torch.Tensor, kind: str = "prob") -> torch.Tensor:
    with torch.no_grad():
        zm, zc = model(marked), model(clean)
    if kind == "logit":
        return zm[:, 1] - zc[:, 1]
    return zm.softmax(1)[:, 1] - zc.softmax(1)[:, 1]


@exercise("04_largest_drop", "Image whose p(pneumonia) drops most when the marker is removed", points=2)
def largest_drop(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, marked, clean) -> (index, drop)`` with drop = p(pneumonia | marked) − p(pneumonia | clean)."""
    ck.require_callable(fn, "function")
    clean, _, marked = _drop_fixture()
    model = CornerReader().eval()
    out = ck.call(fn, model, marked, clean)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ck.fail(f"your function returned {type(out).__name__}; return a pair (index, drop)")
    try:
        index = int(out[0])
    except (TypeError, ValueError):
        raise ck.fail(f"the index must be an int (the position of the image in the batch), got {out[0]!r}") from None
    drop = one_number(ck, out[1], "your drop")
    d = _drops(model, marked, clean)
    best = int(d.argmax())
    if index == best and math.isclose(drop, float(d[best]), rel_tol=1e-4, abs_tol=1e-6):
        ck.award(2, f"image {best}: p(pneumonia) drops by {float(d[best]):.3f} when the marker is removed")
        return
    if index == best:
        hint = ("you reported the change of the logit; report the drop of the probability" if math.isclose(
            drop, float(_drops(model, marked, clean, "logit")[best]), rel_tol=1e-4) else
            "drop = p(pneumonia | marked) − p(pneumonia | clean), a positive number here" if math.isclose(
                drop, -float(d[best]), rel_tol=1e-4) else None)
        ck.award(1, f"right image ({best})")
        raise ck.fail(f"the drop is {float(d[best]):.4f}, you reported {drop:.4f}", hint)
    candidates = [
        (int(_drops(model, marked, clean, "logit").argmax()), "you ranked the images by the drop of the logit; "
                                                              "rank by the drop of the probability p(pneumonia)"),
        (int(d.argmin()), "that image's p(pneumonia) rises when its marker is removed: you took the largest "
                          "increase or the largest absolute change. drop = p(marked) − p(clean) keeps its sign; "
                          "take the largest (argmax)"),
    ]
    message = next((m for i, m in candidates if i == index and i != best), None)
    raise ck.fail(f"you picked image {index}; the largest drop is image {best} ({float(d[best]):.4f})"
                  + (f": {message}" if message else ""))


__all__ = ["border_stripe", "per_class_errors", "largest_drop", "MeanIntensityModel", "CornerReader"]
