"""The result of one check: passed, points, messages; renders as HTML in a notebook.

A :class:`CheckResult` is what every check returns. Jupyter shows it through
``_repr_html_``; ``str()`` gives the same report as plain text (terminals, the
``labkit grade`` report). :meth:`CheckResult.grade` is what the locked test cells
of the exercise notebooks end with: its value, :class:`Points`, is the cell's output,
whose text/plain form is the number nbgrader's autograder reads as partial credit and
whose HTML form, the one Jupyter shows, is the report. In the instructor notebooks the
hidden test's points come last and are the cell's value; the visible report then shows
as a display output at the end of the cell, which nbgrader does not read as points.

The text colours reach a WCAG contrast of at least 4.5:1 on JupyterLab's light and dark
backgrounds: no one colour does on both, so the report carries a small style sheet
that switches to :data:`PALETTE`'s dark colours under JupyterLab's dark themes
(``body[data-jp-theme-light="false"]``).
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["ok", "fail", "hint", "note"]
_ICONS = {"ok": "✔", "fail": "✘", "hint": "→", "note": "·"}
#: Text colour of each level on light and on dark backgrounds.
PALETTE = {"light": {"ok": "#187236", "fail": "#b3261e", "hint": "#7a4f00", "note": "#555555"},
           "dark": {"ok": "#5cc97b", "fail": "#ff8a80", "hint": "#e3b341", "note": "#a8a8a8"}}
#: The report's background: this grey at this opacity over the notebook's own background.
TINT = ((127, 127, 127), 0.06)
_CODE = re.compile(r"`([^`]+)`")


_STYLE = "<style>" + "".join(f"{scope}.labkit-check .labkit-{level}{{color:{c}}}"
                              for scope, theme in (("", "light"), ("body[data-jp-theme-light=false] ", "dark"))
                              for level, c in PALETTE[theme].items()) + "</style>"


def markup(text: str) -> str:
    """``text`` as HTML: escaped, with `backticked` spans as ``<code>``."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


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
        level = "note" if self.pending else "ok" if self.passed else ("hint" if self.points > 0 else "fail")
        items = "".join(f'<li class="labkit-{m.level}" style="list-style:none;margin:2px 0">'
                        f"{_ICONS[m.level]} {markup(m.text)}</li>" for m in self.messages)
        (r, g, b), alpha = TINT
        return (f'{_STYLE}<div class="labkit-check"><div class="labkit-{level}" style="border-left:5px solid;'
                f'padding:6px 10px;margin:4px 0;background:rgba({r},{g},{b},{alpha})">'
                f'<div style="font-weight:bold">{html.escape(self.headline())}</div>'
                f'<ul style="margin:4px 0 0 0;padding-left:4px">{items}</ul></div></div>')

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        """The text and HTML reports, and the feedback lines as output metadata (read by ``labkit grade``)."""
        return ({"text/plain": str(self), "text/html": self._repr_html_()},
                {"labkit": {"feedback": [str(m) for m in self.messages]}})

    def grade(self) -> "Points":
        """The points earned, as the value of the cell: Jupyter shows the report, nbgrader reads the number.

        The locked test cells of the exercise notebooks end with this call. Outside
        IPython (a script) the report is printed as well; in IPython, when the points are
        not the cell's value (the hidden test follows, or the line ends with ``;``), the
        report is displayed at the end of the cell, so it always shows exactly once.
        """
        points = Points(self)
        shell = _ipython()
        if shell is None:
            print(self)
        else:
            _show_at_end_of_cell(shell, points)
        return points

    def require(self) -> None:
        """Raise :class:`AssertionError` (one line) unless the check passed.

        The hidden tests of the instructor notebooks use this: a failure makes the
        test cell an error, which nbgrader scores as zero.
        """
        if not self.passed:
            first = next((m.text for m in self.messages if m.level == "fail"), "")
            raise AssertionError(f"{self.headline()}" + (f": {first}" if first else ""))


class Points(float):
    """A check's points as a test cell's value (``checks.gradient(fn).grade()`` on the last line).

    nbgrader's autograder reads the text/plain form of a test cell's result as partial
    credit (``nbgrader.utils.determine_grade``): here that form is the number alone.
    Jupyter shows the richest form, the HTML report, so no bare ``2.0`` appears under it.
    """

    result: CheckResult
    shown: bool

    def __new__(cls, result: CheckResult) -> "Points":
        self = super().__new__(cls, result.points)
        self.result, self.shown = result, False
        return self

    def __repr__(self) -> str:
        return repr(float(self))

    __str__ = __repr__

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        self.shown = True
        data, metadata = self.result._repr_mimebundle_(include, exclude)
        return {**data, "text/plain": repr(self)}, metadata


def _show_at_end_of_cell(shell: Any, points: Points) -> None:
    """After the running cell, display ``points``' report unless the cell already showed it.

    A display output, unlike the cell's value, is not read as points by nbgrader; its
    text/plain form is the report, not a number.
    """
    from IPython.display import display

    def show() -> None:
        shell.events.unregister("post_execute", show)
        if not points.shown:
            display(points.result)

    shell.events.register("post_execute", show)


def _fmt(x: float) -> str:
    return f"{x:g}"


def _ipython() -> Any:
    """The running IPython shell, or None (a script)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with Jupyter
        return None
    return get_ipython()
