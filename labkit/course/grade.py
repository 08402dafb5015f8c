"""A local grade report for one notebook, without an nbgrader course or database.

:func:`grade_notebook` executes the notebook (nbclient, a kernel per run, 30 s a
cell like nbgrader, errors allowed) and scores each graded cell the way
nbgrader's autograder does: an error or anything on stderr gives 0; a number as
the cell's result is partial credit; otherwise full points. Markdown answers
are listed as "manual". The feedback lines are the checks' own reports.

Grading a student's submission, pass the instructor notebook (``source``): like
nbgrader's autograder, every test cell is replaced by the instructor's version
(hidden tests included) before the notebook runs, so the points come from the hidden
tests' fresh grading process (:mod:`labkit.course.hidden`), not from anything the
submission can change. Without it the report is a self-check of the visible tests.
"""
from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from labkit.course.assign import is_grade, is_solution, nbgrader, read
from labkit.errors import LabkitError

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class GradeRow:
    """Score of one graded cell."""

    grade_id: str
    kind: str  # "auto" or "manual"
    points: float | None
    max_points: float
    feedback: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        if self.points is None:
            return "manual"
        if self.points >= self.max_points:
            return "passed"
        return "partial" if self.points > 0 else "failed"


@dataclass
class GradeReport:
    """All graded cells of a notebook and the totals."""

    notebook: str
    rows: list[GradeRow] = field(default_factory=list)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(r.points or 0.0 for r in self.rows)

    @property
    def max_points(self) -> float:
        return sum(r.max_points for r in self.rows)

    @property
    def auto_max_points(self) -> float:
        return sum(r.max_points for r in self.rows if r.kind == "auto")

    def as_dict(self) -> dict:
        return {"notebook": self.notebook, "points": self.points, "max_points": self.max_points,
                "seconds": round(self.seconds, 1), "errors": self.errors,
                "cells": [dict(asdict(r), status=r.status) for r in self.rows]}

    def to_text(self, verbose: bool = False) -> str:
        width = max([len("grade_id")] + [len(r.grade_id) for r in self.rows])
        lines = [f"{self.notebook}", f"{'grade_id':<{width}}  {'points':^11}  status"]
        for r in self.rows:
            pts = "—" if r.points is None else f"{r.points:g}"
            lines.append(f"{r.grade_id:<{width}}  {pts:>5} / {r.max_points:<3g}  {r.status}")
            shown = r.feedback if verbose else r.feedback[:1] if r.status in ("failed", "partial") else ()
            lines.extend(f"{'':<{width}}    {line}" for line in shown)
        manual = sum(r.max_points for r in self.rows if r.kind == "manual")
        lines.append(f"{'total':<{width}}  {self.points:>5g} / {self.max_points:<3g}"
                     + (f"  ({manual:g} points graded by hand)" if manual else ""))
        lines.extend(f"note: {e}" for e in self.errors)
        return "\n".join(lines)


def cell_points(cell: NotebookNode) -> float:
    """Points of an executed autograded code cell, decided like nbgrader's ``determine_grade``."""
    max_points = float(nbgrader(cell).get("points", 0))
    for out in cell.get("outputs", []):
        if out.output_type == "error" or (out.output_type == "stream" and out.get("name") == "stderr"):
            return 0.0
        if out.output_type == "execute_result":
            text = out.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            try:
                return max(0.0, min(float(text), max_points))
            except ValueError:
                return max_points
    return max_points


def cell_feedback(cell: NotebookNode) -> tuple[str, ...]:
    """Plain-text feedback of an executed cell: the checks' reports (their output metadata) and error lines."""
    lines: list[str] = []
    for out in cell.get("outputs", []):
        if out.output_type == "error" and out.ename in ("KeyboardInterrupt", "CellTimeoutError"):
            lines.append("the cell was stopped: it ran longer than the time limit")
        elif out.output_type == "error":
            lines.append(f"{out.ename}: {_ANSI.sub('', out.evalue)}".strip())
        elif out.output_type in ("display_data", "execute_result"):  # a check's report: its feedback lines
            lines.extend(out.get("metadata", {}).get("labkit", {}).get("feedback", []))
        elif out.output_type == "stream" and out.get("name") == "stderr":
            lines.append(f"stderr: {out.text.strip().splitlines()[0] if out.text.strip() else ''}")
    return tuple(lines)


def execute(nb: NotebookNode, cwd: str | Path, timeout: int = 30, kernel_name: str | None = None) -> NotebookNode:
    """Run every cell (errors allowed, ``timeout`` seconds a cell) and return the notebook."""
    from nbclient import NotebookClient

    name = kernel_name or nb.metadata.get("kernelspec", {}).get("name", "python3")
    timeout_error = {"ename": "CellTimeoutError", "evalue": f"the cell ran longer than {timeout} s",
                     "traceback": [f"CellTimeoutError: the cell ran longer than {timeout} s"]}
    client = NotebookClient(nb, timeout=timeout, kernel_name=name, allow_errors=True,
                            error_on_timeout=timeout_error, interrupt_on_timeout=True,  # like nbgrader: go on
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def restore_tests(nb: NotebookNode, source: NotebookNode) -> list[str]:
    """Put the instructor's version of every test cell into ``nb`` (by grade_id); returns notes."""
    tests = {nbgrader(c)["grade_id"]: c for c in source.cells if is_grade(c) and not is_solution(c)}
    found = set()
    for cell in nb.cells:
        gid = nbgrader(cell).get("grade_id")
        if gid in tests:
            cell.source, cell.metadata = tests[gid].source, copy.deepcopy(tests[gid].metadata)
            found.add(gid)
    missing = sorted(set(tests) - found)
    return [f"test cell {gid!r} is missing from the submission: 0 points" for gid in missing]


def _source_for(path: Path, source: str | Path) -> NotebookNode:
    source = Path(source)
    source = source / path.name if source.is_dir() else source
    if not source.is_file():
        raise LabkitError(f"no instructor notebook at {source} (expected the solution notebook of {path.name})")
    return read(source)


def grade_notebook(path: str | Path, execute_first: bool = True, timeout: int = 30,
                   kernel_name: str | None = None, source: str | Path | None = None) -> GradeReport:
    """Execute ``path`` (unless ``execute_first`` is False) and score every graded cell.

    ``source`` (an instructor notebook, or the folder holding it) restores the test cells
    first, hidden tests included.
    """
    path = Path(path)
    if not path.is_file():
        raise LabkitError(f"no notebook at {path}")
    nb = read(path)
    report = GradeReport(notebook=str(path))
    if source is not None:
        instructor = _source_for(path, source)
        report.errors.extend(restore_tests(nb, instructor))
        graded = {nbgrader(c).get("grade_id") for c in nb.cells}
        report.rows.extend(GradeRow(str(nbgrader(c)["grade_id"]), "auto", 0.0, float(nbgrader(c).get("points", 0)),
                                    ("missing from the submission",))
                           for c in instructor.cells if is_grade(c) and not is_solution(c)
                           and nbgrader(c)["grade_id"] not in graded)
    t0 = time.perf_counter()
    if execute_first:
        try:
            execute(nb, path.parent, timeout, kernel_name)
        except Exception as exc:  # a dead kernel or a cell timeout ends the run; score what ran
            report.errors.append(f"execution stopped: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:200]}")
    report.seconds = time.perf_counter() - t0
    for cell in nb.cells:
        if not is_grade(cell):
            continue
        meta = nbgrader(cell)
        gid, max_points = str(meta.get("grade_id")), float(meta.get("points", 0))
        if cell.cell_type == "markdown" or is_solution(cell):
            report.rows.append(GradeRow(gid, "manual", None, max_points))
        elif execute_first and cell.get("execution_count") is None:
            report.rows.append(GradeRow(gid, "auto", 0.0, max_points, ("the cell did not run",)))
        else:
            report.rows.append(GradeRow(gid, "auto", cell_points(cell), max_points, cell_feedback(cell)))
    return report


def report_json(report: GradeReport) -> str:
    return json.dumps(report.as_dict(), indent=2)


__all__ = ["GradeRow", "GradeReport", "grade_notebook", "cell_points", "cell_feedback", "execute", "report_json"]
