"""Clinical metrics, thresholds and predictions against hand-computed values and sklearn."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as sk
from sklearn.metrics import roc_auc_score

from labkit.data import Split
from labkit.errors import InputError
from labkit.models import SmallCNN
from labkit.train import ClinicalMetrics, choose_threshold, clinical_metrics, evaluate, predict
from labkit.train.metrics import auroc, roc_curve

# 4 normal, 6 pneumonia; at threshold 0.5: TN 3, FP 1 (0.6), FN 2 (0.3, 0.45), TP 4
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
SCORES = np.array([0.1, 0.4, 0.6, 0.2, 0.9, 0.8, 0.3, 0.7, 0.55, 0.45])


def test_hand_computed_confusion_matrix() -> None:
    m = clinical_metrics(LABELS, SCORES)
    assert m.confusion == ((3, 1), (2, 4))  # rows true normal/pneumonia, cols predicted
    assert m.n == 10 and m.threshold == 0.5
    assert m.accuracy == pytest.approx(7 / 10)
    assert m.sensitivity == pytest.approx(4 / 6)   # TP / (TP + FN): pneumonia found
    assert m.specificity == pytest.approx(3 / 4)   # TN / (TN + FP): normals cleared
    assert m.balanced_accuracy == pytest.approx((4 / 6 + 3 / 4) / 2)
    assert m.ppv == pytest.approx(4 / 5) and m.npv == pytest.approx(3 / 5)


def test_sensitivity_and_specificity_are_not_swapped() -> None:
    # a model that calls everything pneumonia: perfect sensitivity, zero specificity
    m = clinical_metrics(LABELS, np.full(10, 0.9))
    assert m.sensitivity == 1.0 and m.specificity == 0.0
    assert m.confusion == ((0, 4), (0, 6))
    assert m.ppv == pytest.approx(0.6) and math.isnan(m.npv)  # no negative predictions


def test_threshold_is_inclusive_and_changes_the_operating_point() -> None:
    assert clinical_metrics(LABELS, SCORES, threshold=0.55).confusion == ((3, 1), (2, 4))  # 0.55 ≥ 0.55
    strict = clinical_metrics(LABELS, SCORES, threshold=0.85)
    assert strict.confusion == ((4, 0), (5, 1))
    assert strict.auroc == clinical_metrics(LABELS, SCORES).auroc  # AUROC ignores the threshold


def test_auroc_matches_sklearn_and_tensors_are_accepted() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.clip(0.3 * labels + rng.random(300) * 0.8, 0, 1)
    m = clinical_metrics(torch.as_tensor(labels), torch.as_tensor(scores))
    assert m.auroc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert clinical_metrics(LABELS, SCORES).auroc == pytest.approx(roc_auc_score(LABELS, SCORES))


@pytest.mark.parametrize("decimals", [None, 1, 2], ids=["distinct", "many-ties", "some-ties"])
def test_roc_curve_and_auroc_equal_sklearn_with_and_without_ties(decimals: int | None) -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 500)
    scores = np.clip(0.2 * labels + 0.8 * rng.random(500), 0, 1)
    if decimals is not None:
        scores = scores.round(decimals)  # runs of equal scores: one ROC point per distinct value
    for ours, theirs in zip(roc_curve(labels, scores), sk.roc_curve(labels, scores, drop_intermediate=False)):
        np.testing.assert_array_equal(ours, theirs)
    assert auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert auroc(labels, 1 - scores) == pytest.approx(1 - roc_auc_score(labels, scores), abs=1e-12)


def test_confusion_matrix_equals_sklearn() -> None:
    rng = np.random.default_rng(2)
    labels, scores = rng.integers(0, 2, 200), rng.random(200)
    m = clinical_metrics(labels, scores, 0.3)
    assert np.array_equal(m.confusion, sk.confusion_matrix(labels, scores >= 0.3, labels=[0, 1]))


def test_single_class_gives_nan_auroc() -> None:
    m = clinical_metrics(np.ones(5, dtype=int), np.linspace(0.1, 0.9, 5))
    assert math.isnan(m.auroc) and math.isnan(m.specificity) and m.sensitivity == pytest.approx(0.6)


def test_choose_threshold_maximizes_youden_j_on_a_toy_example() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.35, 0.6, 0.3, 0.5, 0.7, 0.8, 0.9])
    # by hand: cutting between 0.6 and 0.7 gives sensitivity 3/5 and specificity 4/4 → J = 0.6, the unique
    # maximum; the threshold sits halfway between those two validation scores
    t = choose_threshold(labels, scores)
    assert t == pytest.approx(0.65)
    best = clinical_metrics(labels, scores, t)
    assert best.sensitivity + best.specificity - 1 == pytest.approx(0.6)
    for cand in np.unique(scores):
        assert clinical_metrics(labels, scores, cand).balanced_accuracy <= best.balanced_accuracy + 1e-12


def test_choose_threshold_sits_in_the_middle_of_a_gap_between_classes() -> None:
    # a shortcut model separates validation perfectly: the cut goes between the classes, not onto
    # the lowest pneumonia score, so unmarked images near the gap are not all called normal
    labels = np.array([0, 0, 0, 1, 1, 1])
    scores = np.array([0.01, 0.02, 0.10, 0.9990, 0.9995, 0.9999])
    t = choose_threshold(labels, scores)
    assert t == pytest.approx((0.10 + 0.9990) / 2)
    assert clinical_metrics(labels, scores, t).balanced_accuracy == 1.0


def test_choose_threshold_brute_force_on_random_scores() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 60)
    scores = np.clip(0.25 * labels + 0.75 * rng.random(60), 0, 1)
    t = choose_threshold(labels, scores)
    assert 0.0 <= t <= 1.0
    best = clinical_metrics(labels, scores, t).balanced_accuracy
    assert best == pytest.approx(max(clinical_metrics(labels, scores, c).balanced_accuracy for c in np.unique(scores)))


@pytest.mark.parametrize("fn", [clinical_metrics, choose_threshold])
@pytest.mark.parametrize("labels,scores,match", [
    ([0, 1, 2], [0.1, 0.2, 0.3], "0 \\(normal\\) or 1"),
    ([0, 1, -1], [0.1, 0.2, 0.3], "0 \\(normal\\) or 1"),
    ([0, 1, 1], [0.1, float("nan"), 0.3], "NaN"),
    ([0, 1, 1], [0.1, float("inf"), 0.3], "NaN or inf"),
    ([0, 1, 1], [0.1, 0.3], "same length"),
])
def test_bad_inputs(fn, labels: list, scores: list, match: str) -> None:
    with pytest.raises(InputError, match=match):
        fn(np.array(labels), np.array(scores))


def test_choose_threshold_needs_both_classes() -> None:
    with pytest.raises(InputError, match="both classes"):
        choose_threshold(np.zeros(4, dtype=int), np.linspace(0, 1, 4))


def test_summary_and_as_dict() -> None:
    m = clinical_metrics(LABELS, SCORES)
    text = m.summary()
    for word in ("sensitivity 0.667", "specificity 0.750", "AUROC", "[[3, 1], [2, 4]]"):
        assert word in text
    d = m.as_dict()
    assert d["confusion"] == ((3, 1), (2, 4)) and ClinicalMetrics(**d) == m


def test_predict_and_evaluate_on_a_split() -> None:
    torch.manual_seed(0)
    model = SmallCNN(width=4, hidden=8).train()
    x = torch.rand(10, 1, 28, 28) * 2 - 1
    y = torch.tensor([0, 1] * 5)
    full = predict(model, x)
    assert model.training  # mode restored
    assert torch.allclose(predict(model, x, batch_size=3), full, atol=1e-6)
    p = evaluate(model, Split("test", x, y))
    assert p.logits.shape == (10, 2) and torch.allclose(p.probs.sum(1), torch.ones(10))
    assert torch.equal(p.preds, p.probs.argmax(1)) and torch.equal(p.labels, y)
    assert p.scores.shape == (10,) and np.allclose(p.scores, p.probs[:, 1].numpy())
    assert p.accuracy == float((p.preds == y).float().mean())
