"""Checks of exercise 01: the confusion matrix and clinical metrics by hand.

Pneumonia (1) is the positive class. Students' functions take numpy arrays of
labels and predictions (or scores and a threshold); the reference is
:func:`labkit.train.clinical_metrics`.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from labkit.checks import fixtures
from labkit.checks.compare import one_number, to_tensor
from labkit.checks.registry import exercise
from labkit.checks.runner import Checker
from labkit.train import clinical_metrics


def _cases() -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """(name, labels, scores, threshold); scores include values exactly at the threshold."""
    rng = np.random.default_rng(fixtures.seed(3))
    out = []
    for i, (n, thr, pos) in enumerate(((40, 0.5, 0.7), (57, 0.3, 0.4), (33, 0.7, 0.55))):
        labels = (rng.random(n) < pos).astype(int)
        scores = np.clip(0.45 * labels + 0.55 * rng.random(n), 0, 1).round(2)
        scores[:3] = thr  # ties at the threshold count as pneumonia (score >= threshold)
        out.append((f"case {i + 1} ({n} images, threshold {thr})", labels, scores, thr))
    return out


def _confusion(labels: np.ndarray, preds: np.ndarray) -> np.ndarray:
    tn = int(((labels == 0) & (preds == 0)).sum())
    fp = int(((labels == 0) & (preds == 1)).sum())
    fn = int(((labels == 1) & (preds == 0)).sum())
    tp = int(((labels == 1) & (preds == 1)).sum())
    return np.array([[tn, fp], [fn, tp]], dtype=float)


@exercise("01_confusion", "Confusion matrix (rows: true class, columns: predicted)", points=1)
def confusion(ck: Checker, fn: Callable) -> None:
    """Check ``fn(labels, preds) -> [[TN, FP], [FN, TP]]`` (counts; rows true normal/pneumonia)."""
    ck.require_callable(fn, "function")
    cases = [(name, labels, (scores >= thr).astype(int)) for name, labels, scores, thr in _cases()]
    labels = cases[0][1]
    cases.append(("a model that predicts pneumonia for every image", labels, np.ones_like(labels)))
    for name, labels, preds in cases:
        out = to_tensor(ck, ck.call(fn, labels.copy(), preds.copy()), "your confusion matrix").numpy()
        ref = _confusion(labels, preds)
        if out.shape != (2, 2):
            hint = ("when one class is never predicted, count it as zero; with sklearn pass labels=[0, 1]"
                    if out.size == 1 else None)
            raise ck.fail(f"your confusion matrix has shape {out.shape} on {name}; expected (2, 2)", hint)
        if np.allclose(out, ref):
            continue
        (tn, fp), (fn_, tp) = ref
        n = ref.sum()
        named = [
            (ref.T, "rows must be the true class and columns the predicted class: you returned the transpose"),
            (np.array([[tp, fn_], [fp, tn]]), "the class order is reversed: row/column 0 is normal (class 0), "
                                              "row/column 1 is pneumonia (class 1)"),
            (np.array([[tp, fp], [fn_, tn]]), "TP and TN are swapped: the top-left cell counts true normals "
                                              "predicted normal (TN)"),
            (ref / n, "return counts, not fractions of all images"),
            (ref / ref.sum(1, keepdims=True).clip(1), "return counts, not fractions of each row"),
        ]
        for wrong, message in named:
            if np.allclose(out, wrong) and not np.allclose(wrong, ref):
                raise ck.fail(f"on {name}: {message}")
        raise ck.fail(f"on {name} your matrix is {out.tolist()}, expected {ref.astype(int).tolist()} "
                      "(rows: true normal/pneumonia; columns: predicted normal/pneumonia)")
    ck.award(1, f"correct counts on {len(cases)} cases, including a model that never predicts normal")


KEYS = ("sensitivity", "specificity", "balanced_accuracy")


def _rates(labels: np.ndarray, scores: np.ndarray, thr: float, strict: bool = False) -> dict[str, float]:
    preds = (scores > thr if strict else scores >= thr).astype(int)
    (tn, fp), (fn, tp) = _confusion(labels, preds)

    def r(a: float, b: float) -> float:
        return a / b if b else math.nan

    sens, spec = r(tp, tp + fn), r(tn, tn + fp)
    return {"sensitivity": sens, "specificity": spec, "balanced_accuracy": (sens + spec) / 2,
            "accuracy": r(tp + tn, tp + tn + fp + fn), "ppv": r(tp, tp + fp), "npv": r(tn, tn + fn),
            "fpr": r(fp, fp + tn), "fnr": r(fn, fn + tp), "product": sens * spec,
            "harmonic": r(2 * sens * spec, sens + spec)}


def _mistakes(key: str, labels: np.ndarray, scores: np.ndarray, thr: float) -> list[tuple[float, str]]:
    """Values a wrong implementation of ``key`` would give, with the message naming the mistake."""
    right = _rates(labels, scores, thr)
    strict = _rates(labels, scores, thr, strict=True)
    half = _rates(labels, scores, 0.5)
    common = [(strict[key], "scores equal to the threshold must count as pneumonia: predict 1 when "
                            "score >= threshold (not >)"),
              (half[key], "the threshold argument is ignored: predict pneumonia when score >= threshold")]
    if key == "sensitivity":
        return [(right["specificity"], "sensitivity and specificity are swapped: sensitivity = TP / (TP + FN), "
                                       "the share of pneumonia cases the model finds"),
                (right["ppv"], "that is the precision (PPV = TP / (TP + FP)); sensitivity = TP / (TP + FN)"),
                (right["fnr"], "that is the miss rate FN / (FN + TP) = 1 − sensitivity"), *common]
    if key == "specificity":
        return [(right["sensitivity"], "sensitivity and specificity are swapped: specificity = TN / (TN + FP), "
                                       "the share of normal images the model calls normal"),
                (right["fpr"], "that is the false-positive rate FP / (FP + TN) = 1 − specificity"),
                (right["npv"], "that is the negative predictive value TN / (TN + FN); specificity = TN / (TN + FP)"),
                *common]
    return [(right["accuracy"], "that is the plain accuracy; balanced accuracy is the mean of sensitivity "
                                "and specificity"),
            (right["product"], "balanced accuracy is the mean (sensitivity + specificity) / 2, not the product"),
            (right["harmonic"], "balanced accuracy is the arithmetic mean (sensitivity + specificity) / 2, "
                                "not the harmonic mean"), *common]


def _value(ck: Checker, out: Mapping[str, Any], key: str) -> float:
    if key not in out:
        raise ck.fail(f"your result has no key {key!r}; return a dict with keys {list(KEYS)}")
    return one_number(ck, out[key], f"your {key}")


@exercise("01_clinical_metrics", "Sensitivity, specificity and balanced accuracy by hand", points=3)
def clinical_metrics_by_hand(ck: Checker, fn: Callable) -> None:
    """Check ``fn(labels, scores, threshold) -> {"sensitivity", "specificity", "balanced_accuracy"}``."""
    ck.require_callable(fn, "function")
    cases = _cases()
    outs = []
    for name, labels, scores, thr in cases:
        out = ck.call(fn, labels.copy(), scores.copy(), thr)
        if not isinstance(out, Mapping):
            raise ck.fail(f"your function returned {type(out).__name__}; return a dict with keys {list(KEYS)}")
        outs.append(out)
    failures = []
    for key in KEYS:
        problem = None
        for (name, labels, scores, thr), out in zip(cases, outs):
            got = _value(ck, out, key)
            ref = getattr(clinical_metrics(labels, scores, thr), key)
            if math.isclose(got, ref, rel_tol=1e-6, abs_tol=1e-9):
                continue
            why = next((msg for wrong, msg in _mistakes(key, labels, scores, thr)
                        if math.isclose(got, wrong, rel_tol=1e-6, abs_tol=1e-9)
                        and not math.isclose(wrong, ref, rel_tol=1e-6)), None)
            problem = (f"{key.replace('_', ' ')} on {name}: got {got:.4f}, expected {ref:.4f}"
                       + (f" — {why}" if why else ""))
            break
        if problem is None:
            ck.award(1, f"{key.replace('_', ' ')} matches labkit.train.clinical_metrics on {len(cases)} cases")
        else:
            failures.append(problem)
    if failures:
        raise ck.fail("; ".join(failures), "pneumonia (1) is the positive class; predict it when score >= threshold")


__all__ = ["confusion", "clinical_metrics_by_hand"]
