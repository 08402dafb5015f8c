"""The exercise registry: one check function per exercise id.

``@exercise("02_gradient", "Vanilla gradient", points=2)`` turns a body
``body(ck, *args, **kwargs)`` into a check ``check(*args, **kwargs) -> CheckResult``
and registers it, so ``check("02_gradient", fn)`` and ``checks.gradient(fn)`` are
the same call and tools (``labkit grade``, tests) can list every exercise.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Literal

from labkit.checks.result import CheckResult, Message
from labkit.checks.runner import Checker, run_check

Kind = Literal["code", "question"]


@dataclass(frozen=True)
class Exercise:
    """One graded exercise: id, title, points, kind and its check function."""

    id: str
    title: str
    points: float
    kind: Kind
    check: Callable[..., CheckResult]


EXERCISES: dict[str, Exercise] = {}


def exercise(exercise_id: str, title: str, points: float, kind: Kind = "code"
             ) -> Callable[[Callable[..., None]], Callable[..., CheckResult]]:
    """Register ``body(ck, *args, **kwargs)`` as the check of ``exercise_id``."""
    def deco(body: Callable[..., None]) -> Callable[..., CheckResult]:
        sig = inspect.signature(body)

        @functools.wraps(body)
        def check(*args: Any, **kwargs: Any) -> CheckResult:
            try:
                sig.bind(None, *args, **kwargs)
            except TypeError as exc:
                return CheckResult(exercise_id, title, False, 0.0, points, (
                    Message("fail", f"this check was called with the wrong arguments ({exc}); "
                                    f"expected {check.__name__}{_public_signature(sig)}"),))
            return run_check(exercise_id, title, points, lambda ck: body(ck, *args, **kwargs))

        check.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:],  # type: ignore[attr-defined]
                                          return_annotation=CheckResult)
        if exercise_id in EXERCISES and EXERCISES[exercise_id].check.__qualname__ != check.__qualname__:
            raise ValueError(f"exercise id {exercise_id!r} is registered twice")
        EXERCISES[exercise_id] = Exercise(exercise_id, title, points, kind, check)
        return check
    return deco


def _public_signature(sig: inspect.Signature) -> str:
    return str(sig.replace(parameters=list(sig.parameters.values())[1:], return_annotation=inspect.Signature.empty))


def check(exercise_id: str, *args: Any, **kwargs: Any) -> CheckResult:
    """Run the check of ``exercise_id``: ``check("02_gradient", gradient_saliency)``."""
    if exercise_id not in EXERCISES:
        close = [e for e in EXERCISES if e.split("_", 1)[0] == exercise_id.split("_", 1)[0]]
        return CheckResult(exercise_id, "unknown exercise", False, 0.0, 0.0, (
            Message("fail", f"no exercise called {exercise_id!r}; "
                            f"exercises{' of this notebook' if close else ''}: {close or sorted(EXERCISES)}"),))
    return EXERCISES[exercise_id].check(*args, **kwargs)


def list_checks(prefix: str = "") -> list[str]:
    """Exercise ids (optionally only those starting with ``prefix``, e.g. ``"02"``)."""
    return sorted(e for e in EXERCISES if e.startswith(prefix))


__all__ = ["Exercise", "EXERCISES", "exercise", "check", "list_checks", "Checker"]
