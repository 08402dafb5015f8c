"""Every instructor notebook runs within nbgrader's 30 s per cell and passes every check."""
from __future__ import annotations

import pytest

import nbhelp
from labkit.course.grade import cell_points


@pytest.mark.parametrize("name", nbhelp.EXERCISE_NAMES)
def test_solution_notebook_passes_every_check(pipeline, name):
    nb = pipeline.notebook(f"solution/{name}")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errs = nbhelp.errors(cell)
        assert not errs, f"{name} cell {i} raised {errs[0].ename}: {errs[0].evalue}\n{cell.source}"
        assert cell.metadata.get("labkit_seconds", 0) < nbhelp.CELL_TIMEOUT, f"{name} cell {i} is too slow"
    graded = nbhelp.test_cells(nb)
    assert graded, f"{name} has no test cells"
    for cell in graded:
        gid, points = nbhelp.meta(cell)["grade_id"], nbhelp.meta(cell)["points"]
        assert nbhelp.stderr(cell) == "", f"{name}/{gid} wrote to stderr (nbgrader would give 0):\n{nbhelp.stderr(cell)}"
        text = nbhelp.text_outputs(cell)
        assert "✘" not in text, f"{name}/{gid} has a failing check:\n{text}"
        assert cell_points(cell) == points, f"{name}/{gid}: {cell_points(cell)} of {points} points\n{text}"
