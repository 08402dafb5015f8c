"""The exercise registry: every graded cell of the lab, with its points, declared once.

``@exercise("02_gradient", "Vanilla gradient", points=2)`` turns a body
``body(ck, *args, **kwargs)`` into a check ``check(*args, **kwargs) -> CheckResult``
and registers it, so ``check("02_gradient", fn)`` and ``checks.gradient(fn)`` are
the same call. ``written(...)`` registers an answer graded by hand. The id is the
``grade_id`` of the graded cell in the notebooks; ``labkit assign`` copies the points
from here into the notebooks' nbgrader metadata, so they are written nowhere else.

``allowed`` names the labkit/captum functions an exercise hands out (prefixes of
qualified names such as ``"labkit.sanity.pearson"``): a student's function may call
them; any other labkit reference implementation it reaches fails the check.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Literal

from labkit.checks.result import CheckResult, Message
from labkit.checks.runner import Checker, run_check
from labkit.registry import Registry

Kind = Literal["code", "question", "written"]


@dataclass(frozen=True)
class Exercise:
    """One graded cell: id (= nbgrader grade_id), title, points, kind, check and allowed helpers."""

    id: str
    title: str
    points: float
    kind: Kind
    check: Callable[..., CheckResult] | None = None
    allowed: tuple[str, ...] = ()


def _same(old: Exercise, new: Exercise) -> bool:
    """A re-imported module registers the same exercise again; a different definition is refused."""
    if old.check is None or new.check is None:
        return old == new
    return (old.title, old.points, old.kind, old.check.__qualname__) == (new.title, new.points, new.kind,
                                                                         new.check.__qualname__)


EXERCISES: Registry[Exercise] = Registry("exercise", same=_same)


def exercise(exercise_id: str, title: str, points: float, kind: Kind = "code", allowed: tuple[str, ...] = ()
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
            return run_check(exercise_id, title, points, lambda ck: body(ck, *args, **kwargs), allowed)

        check.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:],  # type: ignore[attr-defined]
                                          return_annotation=CheckResult)
        EXERCISES.add(exercise_id, Exercise(exercise_id, title, points, kind, check, allowed))
        return check
    return deco


def written(exercise_id: str, title: str, points: float) -> Exercise:
    """Register a free-text answer graded by hand (a markdown solution cell)."""
    return EXERCISES.add(exercise_id, Exercise(exercise_id, title, points, "written"))


def _public_signature(sig: inspect.Signature) -> str:
    return str(sig.replace(parameters=list(sig.parameters.values())[1:], return_annotation=inspect.Signature.empty))


def check(exercise_id: str, *args: Any, **kwargs: Any) -> CheckResult:
    """Run the check of ``exercise_id``: ``check("02_gradient", gradient_saliency)``."""
    entry = EXERCISES.get(exercise_id) if exercise_id in EXERCISES else None
    if entry is None or entry.check is None:
        prefix = str(exercise_id).split("_", 1)[0]
        close = [e for e in list_checks() if e.split("_", 1)[0] == prefix]
        return CheckResult(str(exercise_id), "unknown exercise", False, 0.0, 0.0, (
            Message("fail", f"no check called {exercise_id!r}; "
                            f"checks{' of this notebook' if close else ''}: {close or list_checks()}"),))
    return entry.check(*args, **kwargs)


def list_checks(prefix: str = "") -> list[str]:
    """Ids of the exercises that have a check (optionally only those starting with ``prefix``)."""
    return sorted(name for name, e in EXERCISES.items() if e.check is not None and name.startswith(prefix))


__all__ = ["Exercise", "EXERCISES", "exercise", "written", "check", "list_checks", "Checker"]
