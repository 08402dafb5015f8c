"""Student versions of the exercise notebooks, generated from the instructor versions.

The instructor notebooks (``solutions/``) use nbgrader's format: cell metadata
under ``metadata.nbgrader`` (``grade``, ``solution``, ``locked``, ``grade_id``,
``points``, ``schema_version`` 3), solutions between ``### BEGIN SOLUTION`` and
``### END SOLUTION``, hidden tests between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``. :func:`student_version` applies the same
transformations as ``nbgrader generate_assignment`` (one small function each):

1. :func:`clear_solutions` — a solution region becomes nbgrader's stub, indented
   like the ``BEGIN`` line: ``# YOUR CODE HERE`` / ``raise NotImplementedError()``
   (``YOUR ANSWER HERE`` in markdown); a solution cell without a region is
   replaced by the stub entirely;
2. :func:`clear_hidden_tests` — hidden test regions are removed;
3. :func:`lock_cells` — read-only and test cells cannot be edited or deleted;
4. :func:`clear_outputs` — outputs and execution counts are removed.

Points are declared once, with the check, in :mod:`labkit.checks.registry`: a graded
cell's ``grade_id`` is its exercise id, and :func:`fill_points` copies the registry's
points into the nbgrader metadata of the instructor notebook (which nbgrader reads)
and of the student version.

``labkit assign`` runs this over a folder; ``labkit assign --check`` and the tests
report a student version or points that are stale, and the tests compare the
committed ``exercises/`` with nbgrader's own release.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Iterable

import nbformat
from nbformat import NotebookNode

from labkit.checks import EXERCISES
from labkit.errors import LabkitError

BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
SCHEMA_VERSION = 3


class AssignError(LabkitError):
    """An instructor notebook is not in the expected nbgrader format."""


def nbgrader(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata (empty dict when it has none)."""
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def is_solution(cell: NotebookNode) -> bool:
    return bool(nbgrader(cell).get("solution", False))


def is_grade(cell: NotebookNode) -> bool:
    return bool(nbgrader(cell).get("grade", False))


def is_locked(cell: NotebookNode) -> bool:
    meta = nbgrader(cell)
    return bool(meta.get("locked", False)) or (bool(meta.get("grade")) and not meta.get("solution"))


def _replace_regions(source: str, begin: str, end: str, stub: list[str] | None) -> tuple[str, bool]:
    """Replace (``stub``) or drop (``None``) every ``begin`` … ``end`` region; nested regions are errors."""
    out: list[str] = []
    inside = found = False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise AssignError(f"nested {begin!r} regions in cell:\n{source}")
            inside = found = True
            indent = re.match(r"\s*", line).group(0)  # type: ignore[union-attr]
            out.extend(indent + s for s in (stub or []))
        elif end in line:
            if not inside:
                raise AssignError(f"{end!r} without {begin!r} in cell:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise AssignError(f"{begin!r} without {end!r} in cell:\n{source}")
    return "\n".join(out), found


def clear_solutions(cell: NotebookNode) -> NotebookNode:
    """Replace solution regions (or a whole solution cell) with nbgrader's stub."""
    stub = (CODE_STUB if cell.cell_type == "code" else TEXT_STUB).split("\n")
    source, found = _replace_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, stub)
    if found and not is_solution(cell):
        raise AssignError(f"solution region in a cell not marked as a solution cell:\n{cell.source}")
    if is_solution(cell) and not found:
        source = "\n".join(stub)
    cell.source = source
    return cell


def clear_hidden_tests(cell: NotebookNode) -> NotebookNode:
    """Remove hidden test regions (only allowed in grade cells)."""
    source, found = _replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, None)
    if found and not is_grade(cell):
        raise AssignError(f"hidden tests in a cell that is not a grade cell:\n{cell.source}")
    cell.source = source
    return cell


def lock_cells(cell: NotebookNode) -> NotebookNode:
    """Like nbgrader's LockCells: locked and test cells read-only, solution cells undeletable."""
    if is_solution(cell):
        cell.metadata["deletable"] = False
    elif is_locked(cell):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False
    return cell


def clear_outputs(cell: NotebookNode) -> NotebookNode:
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    meta = cell.get("metadata", {})
    for key in ("collapsed", "scrolled", "execution"):
        meta.pop(key, None)
    if "nbgrader" in meta:
        meta["nbgrader"].pop("checksum", None)
    return cell


STEPS = (clear_solutions, clear_hidden_tests, lock_cells, clear_outputs)


def validate(nb: NotebookNode, name: str = "notebook") -> None:
    """Raise :class:`AssignError` unless every graded/solution/locked cell has valid nbgrader metadata."""
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        meta = nbgrader(cell)
        if not meta:
            continue
        where = f"{name}, cell {i}"
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise AssignError(f"{where}: nbgrader schema_version must be {SCHEMA_VERSION}, got {meta.get('schema_version')}")
        for key in ("grade", "solution", "locked"):
            if not isinstance(meta.get(key), bool):
                raise AssignError(f"{where}: nbgrader metadata needs a boolean {key!r}")
        if meta["grade"] or meta["solution"] or meta["locked"]:
            gid = meta.get("grade_id")
            if not gid or not isinstance(gid, str):
                raise AssignError(f"{where}: missing grade_id")
            if gid in seen:
                raise AssignError(f"{where}: duplicate grade_id {gid!r}")
            seen.add(gid)
        if meta["grade"] and not isinstance(meta.get("points"), (int, float)):
            raise AssignError(f"{where}: grade cell {meta.get('grade_id')!r} has no points")
        if cell.cell_type == "markdown" and meta["grade"] and not meta["solution"]:
            raise AssignError(f"{where}: a graded markdown cell must also be a solution cell")


def fill_points(nb: NotebookNode, name: str = "notebook") -> list[str]:
    """Set every graded cell's points from the exercise registry; returns one line per change."""
    changes = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        gid = meta.get("grade_id")
        if gid not in EXERCISES:
            raise AssignError(f"{name}, cell {i}: graded cell {gid!r} is not a registered exercise; its grade_id "
                              "must be an exercise id of labkit.checks (see docs/course.md)")
        kind = EXERCISES[gid].kind
        if (cell.cell_type == "markdown") != (kind == "written"):
            raise AssignError(f"{name}, cell {i}: {gid!r} is a {kind} exercise but the cell is {cell.cell_type}")
        points = EXERCISES[gid].points
        if meta.get("points") != points:
            changes.append(f"{name}: {gid} is worth {points:g} points (the notebook said {meta.get('points')})")
            meta["points"] = points
    return changes


def student_version(nb: NotebookNode, name: str = "notebook") -> NotebookNode:
    """A new notebook: points from the registry, solutions stubbed, hidden tests removed, cells locked,
    outputs cleared."""
    out = copy.deepcopy(nb)
    fill_points(out, name)
    validate(out, name)
    for cell in out.cells:
        for step in STEPS:
            step(cell)
    out.metadata.pop("celltoolbar", None)
    return out


def notebooks(folder: str | Path) -> list[Path]:
    """The ``*.ipynb`` files of ``folder`` (not checkpoints), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AssignError(f"no folder {folder}: expected the instructor notebooks there")
    return sorted(p for p in folder.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def read(path: str | Path) -> NotebookNode:
    return nbformat.read(str(path), as_version=4)


def assign(source: str | Path = "solutions", out: str | Path = "exercises",
           names: Iterable[str] | None = None) -> list[Path]:
    """Write the student version of every notebook of ``source`` into ``out``; returns the written paths.

    An instructor notebook whose points differ from the registry is updated in place first.
    """
    paths = notebooks(source)
    if names is not None:
        wanted = set(names)
        paths = [p for p in paths if p.name in wanted or p.stem in wanted]
    if not paths:
        raise AssignError(f"no notebooks to convert in {source}")
    Path(out).mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        source = read(path)
        if fill_points(source, path.name):
            nbformat.write(source, str(path))
            written.append(path)
        target = Path(out) / path.name
        nbformat.write(student_version(source, path.name), str(target))
        written.append(target)
    return written


def out_of_date(source: str | Path = "solutions", out: str | Path = "exercises") -> list[str]:
    """Differences between ``out`` and a fresh generation from ``source`` (empty list: up to date)."""
    problems = []
    for path in notebooks(source):
        problems.extend(f"{p}: run `labkit assign`" for p in fill_points(read(path), str(path)))
        target = Path(out) / path.name
        if not target.is_file():
            problems.append(f"{target} is missing")
            continue
        fresh, committed = student_version(read(path), path.name), read(target)
        a = [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in fresh.cells]
        b = [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in committed.cells]
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            problems.append(f"{target} differs from the student version of {path} (first at cell {first})")
    for target in notebooks(out) if Path(out).is_dir() else []:
        if not (Path(source) / target.name).is_file():
            problems.append(f"{target} has no instructor version in {source}")
    return problems


__all__ = ["AssignError", "student_version", "assign", "out_of_date", "validate", "fill_points", "clear_solutions",
           "clear_hidden_tests", "lock_cells", "clear_outputs", "notebooks", "read", "CODE_STUB", "TEXT_STUB"]
