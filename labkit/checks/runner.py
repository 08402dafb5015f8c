"""Running student code safely and collecting feedback.

:class:`Checker` is the small toolbox every check uses: ``call`` runs the student's
function (on copies of the inputs, with output and warnings captured) and turns an
exception into one line of feedback naming the line of the student's code;
``fail`` stops the check with a message; ``award`` records a part that passed.
:func:`run_check` wraps a check function so that it always returns a
:class:`~labkit.checks.result.CheckResult` and never a traceback into labkit.
"""
from __future__ import annotations

import contextlib
import copy
import linecache
import os
import sysconfig
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

from labkit.checks.guard import CappedText, Reach, TimeLimit, time_limit
from labkit.checks.result import CheckResult, Message

_LABKIT_DIR = str(Path(__file__).resolve().parents[1])
_LIB_DIRS = tuple({str(Path(p).resolve()) for p in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
                                                     sysconfig.get_paths()["platlib"])})

#: Set LABKIT_CHECKS_DEBUG=1 to let errors inside the checker itself propagate (for developers).
DEBUG_ENV = "LABKIT_CHECKS_DEBUG"


class CheckFailed(Exception):
    """Raised inside a check to stop it; carries the feedback shown to the student."""

    def __init__(self, *messages: Message) -> None:
        super().__init__("; ".join(m.text for m in messages))
        self.messages = messages


def _is_library_file(filename: str) -> bool:
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return path.startswith(_LABKIT_DIR) or path.startswith(_LIB_DIRS)


def student_frame(exc: BaseException, fn: Callable | None = None) -> traceback.FrameSummary | None:
    """The innermost traceback frame that belongs to the student's code.

    Frames in the function's own file win; otherwise the innermost frame outside
    labkit, the standard library and installed packages.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    own = getattr(getattr(fn, "__code__", None), "co_filename", None)
    mine = [f for f in frames if own is not None and f.filename == own]
    if mine:
        return mine[-1]
    others = [f for f in frames if not _is_library_file(f.filename)]
    return others[-1] if others else None


def describe_exception(exc: BaseException, fn: Callable | None = None) -> str:
    """One line: exception type and message, and where in the student's code it was raised."""
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 240:
        text = text[:237] + "…"
    what = f"{name}: {text}" if text else name
    frame = student_frame(exc, fn)
    where = ""
    if frame is not None:
        line = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
        where = f" (line {frame.lineno} of your code" + (f": `{line}`)" if line else ")")
    if isinstance(exc, NotImplementedError):
        return (f"{what}{where} — not implemented yet: replace `raise NotImplementedError()` "
                "with your code")
    return f"your function raised {what}{where}"


def _function_name(fn: object) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


class Checker:
    """Feedback collector and safe caller for one check run."""

    #: Seconds a student's function may run in one call.
    seconds = 8.0

    def __init__(self, allowed: tuple[str, ...] = ()) -> None:
        self.allowed = allowed
        self.is_pending = False
        self.messages: list[Message] = []
        self.earned = 0.0

    # ---- feedback ----------------------------------------------------------------
    def ok(self, text: str) -> None:
        self.messages.append(Message("ok", text))

    def note(self, text: str) -> None:
        self.messages.append(Message("note", text))

    def hint(self, text: str) -> None:
        self.messages.append(Message("hint", text))

    def pending(self, text: str) -> None:
        """The answer is well formed and is graded after hand-in (0 points now)."""
        self.is_pending = True
        self.note(text)

    def award(self, points: float, text: str) -> None:
        """A part passed: add ``points`` and say what passed."""
        self.earned += points
        self.ok(text)

    def fail(self, text: str, hint: str | None = None) -> "CheckFailed":
        """Stop the check: ``raise ck.fail("...")``."""
        msgs = [Message("fail", text)] + ([Message("hint", hint)] if hint else [])
        return CheckFailed(*msgs)

    # ---- calling student code ------------------------------------------------------
    def require_callable(self, fn: object, what: str) -> None:
        if not callable(fn):
            raise self.fail(f"expected your {what} (a function), got {type(fn).__name__}: pass the function "
                            "itself, without calling it (no parentheses)")

    def call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn`` on deep copies of the arguments; an exception becomes feedback.

        Models are copied so that the student's code cannot change the checker's
        models (train mode, requires_grad, hooks); tensors are cloned so that in-place
        edits cannot leak. Anything printed and any warning is captured, so nothing
        reaches the notebook's stderr (which nbgrader would count as an error).
        """
        memo: dict[int, Any] = {}  # one memo: a layer passed beside its model stays a layer of the copy
        args = tuple(_copy_arg(a, memo) for a in args)
        kwargs = {k: _copy_arg(v, memo) for k, v in kwargs.items()}
        return self.call_uncopied(fn, *args, **kwargs)

    def call_uncopied(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Like :meth:`call` but on the arguments themselves (to see whether the student edits them in place).

        While ``fn`` runs, the labkit and captum functions it reaches are recorded (a call
        into a reference implementation fails the check), it has :attr:`seconds` to finish,
        and what it prints is kept out of the notebook.
        """
        handed = tuple(a for a in (*args, *kwargs.values()) if callable(a) and not isinstance(a, torch.nn.Module))
        reach = Reach(self.allowed, handed)
        out, err = CappedText(), CappedText()
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            warnings.simplefilter("always")
            try:
                with time_limit(self.seconds), reach.watching():
                    result = fn(*args, **kwargs)
            except TimeLimit:
                raise CheckFailed(Message("fail", f"your function did not finish within {self.seconds:g} s and was "
                                                  "stopped: look for an endless loop or far more model calls than "
                                                  "needed")) from None
            except (KeyboardInterrupt, CheckFailed):
                raise
            except BaseException as exc:  # the student's exception (even SystemExit) is feedback, not a crash
                raise CheckFailed(Message("fail", describe_exception(exc, fn))) from None
        self._captured(caught, out, err, fn)
        delegated = reach.message()
        if delegated:
            raise CheckFailed(Message("fail", delegated))
        return result

    def _captured(self, caught: list, out: CappedText, err: CappedText, fn: Callable) -> None:
        notes = [m for m in self.messages if m.level == "note"]
        if caught and not any("warning" in m.text for m in notes):
            w = caught[0]
            self.note(f"your {_function_name(fn)} raised a warning (hidden during the check): "
                      f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}")
        size = out.size + err.size
        if (out.getvalue().strip() or err.getvalue().strip()) and not any("printed" in m.text for m in notes):
            amount = f" ({size / 1e6:.1f} MB)" if size > 100_000 else ""
            self.note(f"your {_function_name(fn)} printed output{amount}; it was hidden during the check")


def _copy_arg(a: Any, memo: dict[int, Any]) -> Any:
    if isinstance(a, torch.nn.Module):
        return copy.deepcopy(a, memo)
    if isinstance(a, torch.Tensor):
        return a.detach().clone()
    return a


def run_check(exercise: str, title: str, max_points: float, body: Callable[[Checker], None],
              allowed: tuple[str, ...] = ()) -> CheckResult:
    """Run ``body(checker)`` and turn whatever happens into a :class:`CheckResult`.

    ``body`` awards points with ``checker.award`` and stops with
    ``raise checker.fail(...)``. Errors inside the checker itself become one line of
    feedback too (set ``LABKIT_CHECKS_DEBUG=1`` to see the traceback instead).
    """
    ck = Checker(allowed)
    t0 = time.perf_counter()
    failed = False
    threads = torch.get_num_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.set_num_threads(1)  # the fixtures are tiny: one thread is fastest, and fair on shared machines
            with torch.random.fork_rng(devices=[]):
                body(ck)
        except CheckFailed as exc:
            failed = True
            ck.messages.extend(exc.messages)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            failed = True
            ck.messages.append(Message("fail", f"the checker itself failed ({type(exc).__name__}: {exc}); "
                                               "please report this to your instructor"))
        finally:
            torch.set_num_threads(threads)
    points = min(round(ck.earned, 4), max_points)
    passed = not failed and points >= max_points - 1e-9
    return CheckResult(exercise=exercise, title=title, passed=passed, points=points, max_points=max_points, messages=tuple(ck.messages),
                       seconds=time.perf_counter() - t0, pending=ck.is_pending and not failed)


__all__ = ["Checker", "CheckFailed", "run_check", "describe_exception", "student_frame"]
