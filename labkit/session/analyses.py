"""Analyses a panel starts and a script can run: method evaluation, shortcut analysis, cascade profile.

Each is a plain function of the model, the images and the settings, with an
optional ``report(done, total)`` progress callback (a :class:`~labkit.session.jobs.Job`
hands one in, which is how Cancel works).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from labkit.data import MarkerSpec
from labkit.errors import InputError
from labkit.evaluate import AgreementMatrix, agreement, agreement_matrix, method_maps
from labkit.evaluate import deletion_curve, insertion_curve, pointing_game, region_fraction, stability, topk_iou
from labkit.explain import explain
from labkit.sanity import CascadeResult
from labkit.train import evaluate

Report = Callable[[int, int], None] | None
#: A method whose maps keep a mean rank correlation at least this high over the
#: randomization steps "stays the same" (fails the sanity check).
SAME_THRESHOLD = 0.4


def _nanmean(t: torch.Tensor) -> float:
    t = t.double()
    t = t[~t.isnan()]
    return float(t.mean()) if len(t) else math.nan


def evaluate_methods(model: torch.nn.Module, x: torch.Tensor, target: int, methods: Sequence[str], *,
                     steps: int = 16, fill: Any = 0.0, sigma: float = 0.03, copies: int = 4,
                     masks: torch.Tensor | None = None, report: Report = None) -> dict[str, Any]:
    """Curves and scores per method: ``{"curves": {...}, "scores": {method: {metric: value}}}``."""
    out: dict[str, Any] = {"deletion": {}, "insertion": {}, "scores": {}}
    total = len(methods)
    has_masks = masks is not None and bool(masks.flatten(1).any(1).any())
    for k, m in enumerate(methods):
        maps = explain(model, x, target, m).maps
        d = deletion_curve(model, x, target, maps, steps=steps, fill=fill)
        i = insertion_curve(model, x, target, maps, steps=steps)
        st = stability(model, x, target, m, sigma=sigma, n=copies)
        out["deletion"][m] = (d.fractions.tolist(), d.scores.mean(0).tolist())
        out["insertion"][m] = (i.fractions.tolist(), i.scores.mean(0).tolist())
        row = {"deletion_auc": _nanmean(d.auc), "insertion_auc": _nanmean(i.auc),
               "stability": _nanmean(st.correlation)}
        if has_masks:
            keep = masks.flatten(1).any(1)
            mm, mk = maps[keep.to(maps.device)], masks[keep].to(maps.device)
            row.update(region_fraction=_nanmean(region_fraction(mm, mk)), topk_iou=_nanmean(topk_iou(mm, mk)),
                       pointing_game=_nanmean(pointing_game(mm, mk).double()))
        out["scores"][m] = row
        if report:
            report(k + 1, total)
    out["n"] = len(x)
    out["n_masks"] = int(masks.flatten(1).any(1).sum()) if has_masks else 0
    return out


def shortcut_analysis(model: torch.nn.Module, test: Any, marker: MarkerSpec, methods: list[str], n_attr: int,
                      report: Report = None, class_names: tuple[str, ...] = ("normal", "pneumonia")) -> dict[str, Any]:
    """Marker-removal effect on the whole test split and marker attribution fractions.

    Returns ``{"removal": {...}, "fractions": {method: mean}, "n_attr": int, "area": float}``.
    """
    total = 1 + len(methods)
    marked = test.with_marker(marker)
    p_marked = evaluate(model, marked).scores
    removed_images = marker.remove(marked.images, marked.labels, clean=test.images)
    p_removed = evaluate(model, replace(test, images=removed_images)).scores
    change = p_removed - p_marked
    i = int(np.argmax(np.abs(change)))
    removal = dict(n=len(test), mean_marked=float(p_marked.mean()), mean_removed=float(p_removed.mean()),
                   mean_abs_change=float(np.abs(change).mean()), index=i, label=class_names[int(test.labels[i])],
                   p_marked=float(p_marked[i]), p_removed=float(p_removed[i]))
    if report:
        report(1, total)
    # attribution: images of both classes with a marker (a control marker marks every image)
    has = marker.mask(marked.labels, marked.size).flatten(1).any(1).cpu()
    idx = has.nonzero().flatten()[:n_attr]
    if len(idx) == 0:
        raise InputError("no test image carries this marker")
    x, y = marked.images[idx.to(marked.images.device)], marked.labels[idx.to(marked.labels.device)]
    masks = marker.mask(y, marked.size)
    fractions = {}
    for k, m in enumerate(methods):
        maps = explain(model, x, y, m).maps
        fractions[m] = float(region_fraction(maps, masks.to(maps.device)).mean())
        if report:
            report(2 + k, total)
    area = float(masks.float().mean())
    return {"removal": removal, "fractions": fractions, "n_attr": len(idx), "area": area}


def similarity_profile(result: CascadeResult, metric: str = "spearman_abs") -> dict[str, dict[str, float]]:
    """Per method: mean similarity over the randomization steps, after the first step and after the last.

    Means are over images with a defined value (constant maps give none); NaN when
    no image has one.
    """
    out = {}
    for method in result.methods:
        v = result.values(method, metric)[1:]  # (steps, images) without the original
        per_step = [float(row[~row.isnan()].mean()) if (~row.isnan()).any() else math.nan for row in v]
        finite = [x for x in per_step if np.isfinite(x)]
        out[method] = {"mean": float(np.mean(finite)) if finite else math.nan,
                       "first": per_step[0] if per_step else math.nan,
                       "last": per_step[-1] if per_step else math.nan}
    return out


def cascade_verdicts(result: CascadeResult, threshold: float = SAME_THRESHOLD) -> dict[str, str]:
    """Per method: ``"fails"`` (its maps stay the same), ``"passes"`` or ``"undefined"`` (constant maps)."""
    out = {}
    for m, p in similarity_profile(result).items():
        out[m] = "undefined" if not np.isfinite(p["mean"]) else "fails" if p["mean"] >= threshold else "passes"
    return out


@dataclass(frozen=True)
class Comparison:
    """Two methods side by side over the same images, and the agreement matrix of all compared methods.

    ``order`` lists image positions from the strongest agreement of ``pair`` to the
    strongest disagreement; ``scores`` are the per-image ``metric`` values.
    """

    images: torch.Tensor
    indices: list[int]
    pair: tuple[str, str]
    maps: dict[str, torch.Tensor]
    metric: str
    scores: torch.Tensor
    order: list[int]
    matrix: AgreementMatrix


def compare_methods(model: torch.nn.Module, x: torch.Tensor, target: int, pair: tuple[str, str],
                    others: Sequence[str] = (), metric: str = "spearman", indices: Sequence[int] | None = None,
                    report: Report = None, params: Mapping[str, Mapping[str, Any]] | None = None) -> Comparison:
    """Where ``pair`` agree and disagree on the images ``x`` (the Carpentries comparison), plus the
    agreement matrix of ``pair`` and ``others`` (``params[method]`` are a method's parameters)."""
    if len(set(pair)) != 2:
        raise InputError(f"choose two different methods to compare, got {list(pair)}")
    methods = list(dict.fromkeys([*pair, *others]))
    params = dict(params or {})
    extra = sorted(set(params) - set(methods))
    if extra:
        raise InputError(f"params has entries for {extra}, which are not among the compared methods {methods}")
    maps = {}
    for k, m in enumerate(methods):
        maps.update(method_maps(model, x, target, [m], {m: params[m]} if m in params else None))
        if report:
            report(k + 1, len(methods))
    pair_agreement = agreement(maps[pair[0]], maps[pair[1]])
    return Comparison(x.detach().cpu(), list(indices) if indices is not None else list(range(len(x))), tuple(pair),
                      maps, metric, pair_agreement.score(metric), pair_agreement.order(metric),
                      agreement_matrix(maps, metric))
