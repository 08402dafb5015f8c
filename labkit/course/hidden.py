"""Hidden tests: grade a student's work in a fresh Python process, away from the notebook.

The hidden part of a test cell (instructor notebooks only) ends with one call::

    import sys; [sys.modules.pop(m) for m in list(sys.modules) if m.split(".")[0] == "labkit"]
    from labkit.course.hidden import grade
    grade("02_gradient", gradient_saliency, seed=1202)

The first line drops every labkit module the notebook may have patched, so this
module is imported afresh. :func:`grade` then sends the *source* of the student's
function (with the imports, helper functions and plain constants it uses from the
notebook) to ``python -m labkit.course.grader``, which rebuilds it, runs the check on
the hidden cases of ``seed`` and reports the points. Nothing the notebook changed
(labkit, torch, ``CheckResult.grade``) exists in that process. What this function
returns, a :class:`Score`, is the cell's result: nbgrader reads its text/plain form,
the number, as partial credit; Jupyter shows its HTML form, the grading process's report.

For a conceptual question the right answer is an argument here, so it exists only on
the instructor's side: ``grade("03_q_cascade_order", cascade_order, expected="b",
hints={"a": "..."})``. ``$LABKIT_COURSE_SECRET``, when set on the grading machine,
is mixed into every seed, so a course whose solution notebooks are public still
grades on cases nobody has seen.

This module imports only the standard library.
"""
from __future__ import annotations

import ast
import html
import inspect
import json
import os
import secrets
import subprocess
import sys
import tempfile
import textwrap
import types
from pathlib import Path
from typing import Any

TIMEOUT = 26.0
SECRET_ENV = "LABKIT_COURSE_SECRET"
_NOTHING = object()


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _import_line(name: str, value: Any) -> str | None:
    """An import statement that rebuilds ``name`` in a fresh process, when there is one."""
    if isinstance(value, types.ModuleType):
        return f"import {value.__name__}" if value.__name__ == name else f"import {value.__name__} as {name}"
    module, qual = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if module and qual and module != "__main__" and "." not in qual and "<" not in qual:
        if getattr(sys.modules.get(module), qual, None) is value:
            return f"from {module} import {qual}" + (f" as {name}" if name != qual else "")
    return None


def _constant_line(name: str, value: Any) -> str | None:
    if isinstance(value, (bool, int, float, str, type(None), tuple)):
        try:
            if ast.literal_eval(repr(value)) == value:
                return f"{name} = {value!r}"
        except (ValueError, SyntaxError):
            return None
    return None


def bundle(fn: types.FunctionType) -> str:
    """The source that rebuilds ``fn`` in a fresh process: imports, constants, helpers, then ``fn``."""
    header: dict[str, str] = {}
    bodies: list[str] = []
    seen: set[int] = set()

    def visit(f: types.FunctionType) -> None:
        if id(f) in seen:
            return
        seen.add(id(f))
        try:
            source = textwrap.dedent(inspect.getsource(f))
        except (OSError, TypeError):
            raise ValueError(f"the source of {f.__name__} cannot be found: define it with `def` in a notebook "
                             "cell and run that cell") from None
        for name in sorted(_code_names(f.__code__)):
            if name not in f.__globals__ or name in header:
                continue
            value = f.__globals__[name]
            if isinstance(value, types.FunctionType) and value.__module__ == f.__module__:
                visit(value)
                continue
            line = _import_line(name, value) or _constant_line(name, value)
            if line:
                header[name] = line
        bodies.append(source)

    visit(fn)
    return "\n".join([*header.values(), "", *bodies])


def _jsonable(value: Any) -> Any:
    """A conceptual answer as JSON (strings, numbers, booleans, lists); anything else becomes its repr."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    elif hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or type(value) in (bool, int, float, str):
        return value
    return {"unreadable": f"{type(value).__name__}"}


def payload(exercise: str, objects: tuple, seed: int, expected: Any, hints: dict | None) -> dict:
    secret = os.environ.get(SECRET_ENV, "")
    out: dict[str, Any] = {"exercise": exercise, "seed": f"{secret}|{seed}", "nonce": secrets.token_hex(16)}
    if expected is not _NOTHING:
        out.update(answer=_jsonable(objects[0]) if objects else None, expected=_jsonable(expected),
                   hints=hints or {})
        return out
    functions = []
    for obj in objects:
        if not isinstance(obj, types.FunctionType):
            functions.append({"error": f"expected your function, got {type(obj).__name__}"})
            continue
        try:
            functions.append({"name": obj.__name__, "source": bundle(obj)})
        except ValueError as exc:
            functions.append({"error": str(exc)})
    out["functions"] = functions
    return out


def run_grader(data: dict, timeout: float = TIMEOUT) -> dict:
    """Run ``python -m labkit.course.grader`` on ``data``; its result, or a 0-point result saying why not."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    fail = {"points": 0.0, "max_points": None, "messages": []}
    with tempfile.TemporaryDirectory(prefix="labkit-grader-") as cwd:  # not the submission folder
        try:
            proc = subprocess.run([sys.executable, "-m", "labkit.course.grader"], input=json.dumps(data),
                                  capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
        except subprocess.TimeoutExpired:
            return dict(fail, messages=[f"✘ grading stopped after {timeout:g} s: your code did not finish"])
    lines = [ln for ln in proc.stdout.splitlines() if data["nonce"] in ln]
    if proc.returncode != 0 or len(lines) != 1:
        return dict(fail, messages=["✘ the grading process ended without a result (did your code exit the "
                                    f"process?){' ' + proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}"])
    result = json.loads(lines[0])
    return result if result.get("nonce") == data["nonce"] else fail


class Score(float):
    """The hidden tests' points as a test cell's value: the number for nbgrader, the report for Jupyter.

    Like :class:`labkit.checks.result.Points`, but defined here: this module is imported
    afresh by the hidden tests, while the notebook's copy of ``labkit.checks`` may be patched.
    """

    def __new__(cls, points: float, feedback: list[str], html_report: str) -> "Score":
        self = super().__new__(cls, points)
        self.feedback, self.html_report = feedback, html_report
        return self

    def __repr__(self) -> str:
        return repr(float(self))

    __str__ = __repr__

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        return ({"text/plain": repr(self), "text/html": self.html_report},
                {"labkit": {"feedback": list(self.feedback)}})


def grade(exercise: str, *objects: Any, seed: int = 0, expected: Any = _NOTHING, hints: dict | None = None,
          timeout: float = TIMEOUT) -> Score:
    """Grade ``objects`` (the student's functions, or their answer) in a fresh process; returns the points."""
    result = run_grader(payload(exercise, objects, seed, expected, hints), timeout)
    points = float(result["points"])
    total = result.get("max_points")
    lines = [f"hidden tests of {exercise}: {points:g}" + (f" / {total:g}" if total is not None else "") + " points",
             *result.get("messages", [])]
    text = "\n".join(lines)
    report = result.get("html") or f'<pre class="labkit-check">{html.escape(text)}</pre>'  # no grading process
    return Score(points, lines, report)


__all__ = ["grade", "Score", "bundle", "payload", "run_grader", "SECRET_ENV"]
