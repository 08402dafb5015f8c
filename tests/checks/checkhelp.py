"""The mutation-testing harness of the checks (imported as ``checkhelp``).

Every code exercise declares one table with :func:`harness`: correct alternatives
(captum where allowed, ``torch.func``, vectorised, per-image loops) that must pass the
visible and hidden cases, wrong implementations that must fail with the message naming
their mistake, and gaming attempts that must score 0. The rows are also collected in
:data:`ROWS`, so ``python tests/checks/harness.py`` can print the harness figures.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pytest

from labkit.checks import EXERCISES, CheckResult, fixtures

REPO = Path(__file__).resolve().parents[2]
#: Every check must finish within this many seconds on a 2-core CPU.
CHECK_SECONDS = 5.0
#: Grading seeds the hidden runs of the tests use (any seed must work: a course picks its own).
HIDDEN_SEEDS = (20261201, 7)
#: The fallback message of ``diagnose``: a rejection that names no mistake.
GENERIC = "largest difference"


@dataclass(frozen=True)
class Row:
    """One line of an exercise's table: ``kind`` is accept, reject or game."""

    exercise: str
    kind: str
    fn: Callable
    fragment: str = ""


ROWS: list[Row] = []


def exercise_of(check: Callable) -> str:
    return next(name for name, e in EXERCISES.items() if e.check is check)


def run_timed(check, *args, **kwargs) -> CheckResult:
    t0 = time.perf_counter()
    result = check(*args, **kwargs)
    elapsed = time.perf_counter() - t0
    assert elapsed < CHECK_SECONDS, f"{result.exercise} took {elapsed:.1f} s (limit {CHECK_SECONDS} s)"
    return result


def assert_accepted(check, fn, hidden: bool = False) -> CheckResult:
    """``fn`` passes the visible check and, with ``hidden``, the hidden cases of :data:`HIDDEN_SEEDS` too."""
    if hidden:
        for seed in HIDDEN_SEEDS:
            with fixtures.grading(seed):
                assert_accepted(check, fn)
    result = run_timed(check, fn)
    assert result.passed, f"{fn.__name__} should pass:\n{result}"
    assert result.points == result.max_points
    return result


def assert_rejected(check, fn, fragment: str) -> CheckResult:
    result = run_timed(check, fn)
    assert not result.passed, f"{fn.__name__} should fail:\n{result}"
    text = "\n".join(result.feedback)
    assert fragment in text, f"{fn.__name__}: expected feedback containing {fragment!r}, got:\n{result}"
    return result


def assert_scores_zero(check, fn, fragment: str) -> CheckResult:
    result = assert_rejected(check, fn, fragment)
    assert result.points == 0, f"{fn.__name__} is gaming and must score 0:\n{result}"
    return result


def run_row(check: Callable, row: Row) -> CheckResult:
    if row.kind == "accept":
        return assert_accepted(check, row.fn, hidden=True)
    if row.kind == "reject":
        return assert_rejected(check, row.fn, row.fragment)
    return assert_scores_zero(check, row.fn, row.fragment)


def harness(check: Callable, accept: Sequence[Callable] = (), reject: Sequence[tuple[Callable, str]] = (),
            game: Sequence[tuple[Callable, str]] = ()) -> Callable:
    """Declare an exercise's table and return the parametrized test that runs it."""
    exercise = exercise_of(check)
    rows = ([Row(exercise, "accept", f) for f in accept] + [Row(exercise, "reject", f, m) for f, m in reject]
            + [Row(exercise, "game", f, m) for f, m in game])
    ROWS.extend(rows)

    @pytest.mark.parametrize("row", rows, ids=[f"{r.kind}-{r.fn.__name__}" for r in rows])
    def test(row: Row) -> None:
        run_row(check, row)

    return test


def named(result: CheckResult, row: Row) -> bool:
    """A rejection names the mistake: the expected words, and not the generic mismatch message."""
    text = "\n".join(result.feedback)
    return row.fragment in text and GENERIC not in text
