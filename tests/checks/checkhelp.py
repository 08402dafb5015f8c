"""Assertions shared by the checks' mutation tests (imported as ``checkhelp``)."""
from __future__ import annotations

import time

from labkit.checks import CheckResult

#: Every check must finish within this many seconds on a 2-core CPU.
CHECK_SECONDS = 5.0


def run_timed(check, *args, **kwargs) -> CheckResult:
    t0 = time.perf_counter()
    result = check(*args, **kwargs)
    elapsed = time.perf_counter() - t0
    assert elapsed < CHECK_SECONDS, f"{result.exercise} took {elapsed:.1f} s (limit {CHECK_SECONDS} s)"
    return result


def assert_accepted(check, fn, **kwargs) -> CheckResult:
    result = run_timed(check, fn, **kwargs)
    assert result.passed, f"{fn.__name__} should pass:\n{result}"
    assert result.points == result.max_points
    return result


def assert_rejected(check, fn, fragment: str, **kwargs) -> CheckResult:
    result = run_timed(check, fn, **kwargs)
    assert not result.passed, f"{fn.__name__} should fail:\n{result}"
    text = "\n".join(result.feedback)
    assert fragment in text, f"{fn.__name__}: expected feedback containing {fragment!r}, got:\n{result}"
    return result
