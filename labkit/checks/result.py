"""The result of one check: passed, points, messages; renders as HTML in a notebook.

A :class:`CheckResult` is what every check returns. Jupyter shows it through
``_repr_html_``; ``str()`` gives the same report as plain text (terminals, the
``labkit grade`` report). :meth:`CheckResult.grade` is what the locked test cells
of the exercise notebooks call: it shows the report and returns the points, which
nbgrader's autograder reads as the cell's partial credit.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Literal

Level = Literal["ok", "fail", "hint", "note"]
_ICONS = {"ok": "✔", "fail": "✘", "hint": "→", "note": "·"}
_COLORS = {"ok": "#1b7f3b", "fail": "#b3261e", "hint": "#7a4f00", "note": "#555555"}


@dataclass(frozen=True)
class Message:
    """One line of feedback: ``ok`` (a part passed), ``fail``, ``hint`` (what to try) or ``note``."""

    level: Level
    text: str

    def __str__(self) -> str:
        return f"{_ICONS[self.level]} {self.text}"


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check.

    Attributes
    ----------
    exercise:
        Exercise id, e.g. ``"02_gradient"``.
    title:
        Human title, e.g. ``"Vanilla gradient"``.
    passed:
        True when every part passed (full points).
    points, max_points:
        Points earned and available.
    messages:
        Feedback, in order: what passed, what failed and why, hints.
    seconds:
        Time the check took.
    pending:
        True when the answer can only be graded after hand-in (conceptual questions:
        the visible check validates the form, the hidden test the content).
    """

    exercise: str
    title: str
    passed: bool
    points: float
    max_points: float
    messages: tuple[Message, ...] = field(default_factory=tuple)
    seconds: float = 0.0
    pending: bool = False

    @property
    def status(self) -> str:
        """``"passed"``, ``"partial"``, ``"failed"`` or ``"pending"``."""
        if self.pending:
            return "pending"
        if self.passed:
            return "passed"
        return "partial" if self.points > 0 else "failed"

    @property
    def feedback(self) -> list[str]:
        """The messages as plain strings."""
        return [m.text for m in self.messages]

    def headline(self) -> str:
        """One line: status, exercise, title and points."""
        if self.pending:
            return f"◌ {self.exercise} — {self.title}: graded after hand-in ({_fmt(self.max_points)} points)"
        mark = "✔" if self.passed else ("◐" if self.points > 0 else "✘")
        return f"{mark} {self.exercise} — {self.title}: {_fmt(self.points)} / {_fmt(self.max_points)} points"

    def __str__(self) -> str:
        return "\n".join([self.headline(), *(f"  {m}" for m in self.messages)])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        color = _COLORS["note"] if self.pending else _COLORS["ok"] if self.passed else (_COLORS["hint"] if self.points > 0 else _COLORS["fail"])
        items = "".join(
            f'<li style="color:{_COLORS[m.level]};list-style:none;margin:2px 0">'
            f"{_ICONS[m.level]} {html.escape(m.text)}</li>" for m in self.messages)
        return (f'<div class="labkit-check" style="border-left:5px solid {color};padding:6px 10px;'
                f'margin:4px 0;background:rgba(127,127,127,0.06)">'
                f'<div style="font-weight:bold;color:{color}">{html.escape(self.headline())}</div>'
                f'<ul style="margin:4px 0 0 0;padding-left:4px">{items}</ul></div>')

    def grade(self) -> float:
        """Show the report and return the points earned.

        The locked test cells of the exercise notebooks end with this call:
        nbgrader's autograder reads a number on the cell's last line as partial
        credit, so the cell is worth exactly :attr:`points`.
        """
        _show(self)
        return float(self.points)

    def require(self) -> None:
        """Raise :class:`AssertionError` (one line) unless the check passed.

        The hidden tests of the instructor notebooks use this: a failure makes the
        test cell an error, which nbgrader scores as zero.
        """
        if not self.passed:
            first = next((m.text for m in self.messages if m.level == "fail"), "")
            raise AssertionError(f"{self.headline()}" + (f": {first}" if first else ""))


def _fmt(x: float) -> str:
    return f"{x:g}"


def _show(obj: object) -> None:
    """Display ``obj`` rich in IPython, print it elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with Jupyter
        print(obj)
        return
    if get_ipython() is not None:
        display(obj)
    else:
        print(obj)
