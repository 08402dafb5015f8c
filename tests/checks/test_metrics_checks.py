"""Mutation tests of the exercise 01 checks (confusion matrix, clinical metrics)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, recall_score

from checkhelp import harness
from labkit import checks


# ---- confusion matrix --------------------------------------------------------------------------
def confusion_counts(labels, preds):
    tn = np.sum((labels == 0) & (preds == 0))
    fp = np.sum((labels == 0) & (preds == 1))
    fn = np.sum((labels == 1) & (preds == 0))
    tp = np.sum((labels == 1) & (preds == 1))
    return np.array([[tn, fp], [fn, tp]])


def confusion_sklearn(labels, preds):
    return confusion_matrix(labels, preds, labels=[0, 1])


def confusion_bincount(labels, preds):
    return np.bincount(2 * labels + preds, minlength=4).reshape(2, 2).tolist()


def confusion_transposed(labels, preds):
    return confusion_counts(labels, preds).T


def confusion_reversed(labels, preds):
    return confusion_counts(labels, preds)[::-1, ::-1]


def confusion_fractions(labels, preds):
    return confusion_counts(labels, preds) / len(labels)


def confusion_sklearn_without_labels(labels, preds):
    return confusion_matrix(labels, preds) if len(set(preds)) > 1 else confusion_matrix(preds, preds)


def confusion_loop(labels, preds):
    out = np.zeros((2, 2), dtype=int)
    for y, p in zip(labels, preds):
        out[int(y), int(p)] += 1
    return out


def confusion_row_fractions(labels, preds):
    m = confusion_counts(labels, preds).astype(float)
    return m / m.sum(1, keepdims=True).clip(1)


def confusion_tp_tn_swapped(labels, preds):
    (tn, fp), (fn, tp) = confusion_counts(labels, preds)
    return np.array([[tp, fp], [fn, tn]])


def confusion_stub(labels, preds):
    raise NotImplementedError()


def confusion_labkit(labels, preds):
    from labkit.train import clinical_metrics

    m = clinical_metrics(labels, preds.astype(float), 0.5)
    return np.array(m.confusion)


test_confusion = harness(checks.confusion, accept=[confusion_counts, confusion_sklearn, confusion_bincount, confusion_loop],
    reject=[
    (confusion_transposed, "you returned the transpose"),
    (confusion_reversed, "class order is reversed"),
    (confusion_fractions, "not fractions of all images"),
    (confusion_sklearn_without_labels, "labels=[0, 1]"),
    (confusion_row_fractions, 'fractions of each row'),
    (confusion_tp_tn_swapped, 'TP and TN are swapped'),
    (confusion_stub, 'NotImplementedError'),
], game=[
    (confusion_labkit, 'your function called labkit.train'),
])


# ---- clinical metrics ----------------------------------------------------------------------------
def metrics_by_hand(labels, scores, threshold=0.5):
    preds = (scores >= threshold).astype(int)
    tp = np.sum((preds == 1) & (labels == 1))
    fn = np.sum((preds == 0) & (labels == 1))
    tn = np.sum((preds == 0) & (labels == 0))
    fp = np.sum((preds == 1) & (labels == 0))
    sens, spec = tp / (tp + fn), tn / (tn + fp)
    return {"sensitivity": sens, "specificity": spec, "balanced_accuracy": (sens + spec) / 2}


def metrics_sklearn(labels, scores, threshold=0.5):
    preds = np.where(scores >= threshold, 1, 0)
    return {"sensitivity": recall_score(labels, preds, pos_label=1),
            "specificity": recall_score(labels, preds, pos_label=0),
            "balanced_accuracy": balanced_accuracy_score(labels, preds)}


def metrics_swapped(labels, scores, threshold=0.5):
    m = metrics_by_hand(labels, scores, threshold)
    return {**m, "sensitivity": m["specificity"], "specificity": m["sensitivity"]}


def metrics_strict_threshold(labels, scores, threshold=0.5):
    return metrics_by_hand(labels, scores + 0.0 - 1e-9 * (scores == threshold), threshold)


def metrics_accuracy_as_balanced(labels, scores, threshold=0.5):
    m = metrics_by_hand(labels, scores, threshold)
    return {**m, "balanced_accuracy": float(np.mean((scores >= threshold) == labels))}


def metrics_fixed_threshold(labels, scores, threshold=0.5):
    return metrics_by_hand(labels, scores, 0.5)


def metrics_false_positive_rate(labels, scores, threshold=0.5):
    m = metrics_by_hand(labels, scores, threshold)
    return {**m, "specificity": 1 - m["specificity"]}


def metrics_stub(labels, scores, threshold=0.5):
    raise NotImplementedError()


def metrics_labkit(labels, scores, threshold=0.5):
    from labkit.train import clinical_metrics

    m = clinical_metrics(labels, scores, threshold)
    return {"sensitivity": m.sensitivity, "specificity": m.specificity, "balanced_accuracy": m.balanced_accuracy}


test_clinical_metrics = harness(checks.clinical_metrics_by_hand, accept=[metrics_by_hand, metrics_sklearn], reject=[
    (metrics_swapped, "sensitivity and specificity are swapped"),
    (metrics_strict_threshold, "score >= threshold (not >)"),
    (metrics_accuracy_as_balanced, "plain accuracy"),
    (metrics_fixed_threshold, "threshold argument is ignored"),
    (metrics_false_positive_rate, "false-positive rate"),
    (metrics_stub, 'NotImplementedError'),
], game=[
    (metrics_labkit, 'your function called labkit.train'),
])


def test_clinical_metrics_gives_partial_credit():
    result = checks.clinical_metrics_by_hand(metrics_accuracy_as_balanced)
    assert result.points == 2 and result.max_points == 3 and result.status == "partial"
