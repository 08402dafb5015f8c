"""Fixtures that no float rounding can flip: every compared quantity keeps ≥ 1e-3 from a decision
boundary (exact, deliberate ties aside), for the public cases and for any grading seed."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from labkit.checks import evaluation, fixtures, metrics, shortcut

MARGIN = 1e-3
SEEDS = (None, 1, 2, 3, 20261201, 424242)


def seeded(seed):
    return fixtures.grading(seed) if seed is not None else torch.no_grad()


@pytest.mark.parametrize("seed", SEEDS)
def test_stability_copies_keep_away_from_the_decision_boundary(seed):
    with seeded(seed):
        for _, model, x, _, noise, _ in evaluation.stability_cases():
            assert evaluation.decision_margin(model, x, noise) >= MARGIN


@pytest.mark.parametrize("seed", SEEDS)
def test_per_class_error_probabilities_keep_away_from_the_thresholds(seed):
    with seeded(seed):
        model, x, _ = shortcut.error_fixture()
    assert shortcut.threshold_margin(model, x) >= MARGIN


@pytest.mark.parametrize("seed", SEEDS)
def test_metric_scores_are_ties_or_clear_of_the_threshold(seed):
    with seeded(seed):
        cases = metrics._cases()
    for _, _, scores, thr in cases:
        gap = np.abs(scores - thr)
        assert ((gap == 0) | (gap >= MARGIN)).all() and (gap == 0).any()


@pytest.mark.parametrize("seed", SEEDS)
def test_largest_drop_has_a_clear_winner(seed):
    with seeded(seed):
        clean, _, marked = shortcut._drop_fixture()
    model = shortcut.CornerReader().eval()
    for kind in ("prob", "logit"):
        d = shortcut._drops(model, marked, clean, kind).sort(descending=True).values
        assert float(d[0] - d[1]) >= MARGIN and float(d[-2] - d[-1]) >= MARGIN


def test_deletion_step_counts_make_rounding_matter():
    pixels = fixtures.SIZE ** 2
    for steps, _ in evaluation.DELETION_SETTINGS:
        exact = np.arange(steps + 1) * pixels / steps
        frac = exact - np.floor(exact)
        assert (np.abs(frac - 0.5) >= MARGIN).all()          # round() is never a coin toss
        assert (np.round(exact) != np.floor(exact)).any()    # and floor() gives other counts
