"""What a student's function may do while a check runs it.

:class:`Reach` records which labkit and captum functions the student's code calls
(``sys.settrace`` while it runs: new Python frames only, no line or C-call events). The model under test (``forward`` of a labkit
module, :mod:`labkit.models`) and the helpers an exercise hands out (its ``allowed``
prefixes, and any function the check passes in, such as ``saliency_fn``) are allowed;
calls made from inside them are theirs, not the student's. Anything else in labkit
(the reference explainers, metrics, the checks' own internals) or captum is a
delegation and fails the check.

:func:`time_limit` stops a function that runs too long (``SIGALRM``, main thread on
POSIX only; elsewhere the grading subprocess's own timeout applies) and
:class:`CappedText` keeps only the start of what a function prints.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import signal
import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, Iterator

from torch import nn

WATCHED = ("labkit", "captum")
ALWAYS_ALLOWED = ("labkit.models",)


class TimeLimit(BaseException):
    """Raised inside the student's code when its time is up (a BaseException: ``except Exception`` cannot stop it)."""


def _qualname(frame: FrameType) -> str:
    module = frame.f_globals.get("__name__", "?")
    return f"{module}.{getattr(frame.f_code, 'co_qualname', frame.f_code.co_name)}"


def _resolve(path: str) -> Callable | None:
    """The function an allowed entry such as ``"labkit.sanity.pearson"`` names (None for a package prefix)."""
    module, _, attr = path.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError):
        return None
    return obj if hasattr(obj, "__code__") else None


def _codes(code: CodeType | None) -> Iterator[CodeType]:
    """``code`` and the code objects nested in it (generator expressions, inner functions)."""
    if code is None:
        return
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _codes(const)


def _watched(name: str) -> bool:
    return any(name == w or name.startswith(w + ".") for w in WATCHED)


class Reach:
    """Profile hook recording the labkit/captum functions reached from the student's code."""

    def __init__(self, allowed: tuple[str, ...], handed_out: tuple[Callable, ...] = ()) -> None:
        self.names = tuple(allowed)
        functions = [_resolve(a) for a in allowed]
        self.allowed = ALWAYS_ALLOWED + tuple(a for a, f in zip(allowed, functions) if f is None)
        self.codes = {c for f in (*handed_out, *functions) for c in _codes(getattr(f, "__code__", None))}
        self.calls: list[str] = []
        self._inside: FrameType | None = None

    def _ok(self, frame: FrameType, name: str) -> bool:
        if frame.f_code in self.codes:
            return True
        if frame.f_code.co_name == "forward" and isinstance(frame.f_locals.get("self"), nn.Module):
            return True  # the model under test
        return any(name == a or name.startswith(a + ".") for a in self.allowed)

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Callable | None:
        """Global trace function: sees every new Python frame (no C calls, no lines)."""
        if self._inside is not None or event != "call":
            return None
        module = frame.f_globals.get("__name__", "")
        if not _watched(module) or module == __name__:
            return None
        name = _qualname(frame)
        if not self._ok(frame, name) and name not in self.calls:
            self.calls.append(name)
        self._inside = frame  # what this frame calls is its business, not the student's
        return self._leave

    def _leave(self, frame: FrameType, event: str, arg: Any) -> Callable | None:
        """Local trace function of the labkit/captum frame entered from the student's code."""
        if event == "return" and frame is self._inside:
            self._inside = None
        return self._leave

    @contextlib.contextmanager
    def watching(self) -> Iterator["Reach"]:
        previous = sys.gettrace()
        sys.settrace(self)
        try:
            yield self
        finally:
            sys.settrace(previous)
            self._inside = None

    def message(self) -> str | None:
        """The feedback for a delegation, or None when the student's code reached nothing it may not."""
        if not self.calls:
            return None
        return (f"implement it yourself: your function called {', '.join(self.calls[:3])} "
                f"(labkit's or captum's own implementation)"
                + (f"; this exercise allows only {', '.join(self.names)}" if self.names else ""))


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeLimit` in the running code after ``seconds`` (no-op where signals are unavailable)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TimeLimit()

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class CappedText(io.TextIOBase):
    """A text sink that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit, self.size, self._parts = limit, 0, io.StringIO()

    def write(self, s: str) -> int:
        if self.size < self.limit:
            self._parts.write(s[: self.limit - self.size])
        self.size += len(s)
        return len(s)

    def getvalue(self) -> str:
        return self._parts.getvalue()


__all__ = ["Reach", "TimeLimit", "time_limit", "CappedText", "WATCHED"]
