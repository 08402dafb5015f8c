"""Every instructor notebook runs within nbgrader's 30 s per cell and passes every check; its
test cells show the visible check's report and score the hidden tests."""
from __future__ import annotations

import pytest
from nbgrader.utils import determine_grade

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


@pytest.mark.parametrize("name", nbhelp.EXERCISE_NAMES)
def test_solution_test_cells_show_the_visible_report_and_score_the_hidden_tests(pipeline, name):
    """Each test cell of an instructor notebook shows the visible check's report (a display output)
    and has one result, the hidden tests' points, which is what nbgrader's own reading finds."""
    nb = pipeline.notebook(f"solution/{name}")
    for cell in nbhelp.test_cells(nb):
        gid, points = nbhelp.meta(cell)["grade_id"], nbhelp.meta(cell)["points"]
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        reports = [o for o in cell.outputs if o.output_type == "display_data"
                   and "labkit-check" in o.data.get("text/html", "")]
        assert len(results) == 1, f"{name}/{gid}: {[o.output_type for o in cell.outputs]}"
        assert results[0].metadata["labkit"]["feedback"][0].startswith(f"hidden tests of {gid}: "), name
        assert float(results[0].data["text/plain"]) == points, f"{name}/{gid}"
        assert len(reports) == 1, f"{name}/{gid}: the visible check's report is not shown"
        headline = reports[0].data["text/plain"].splitlines()[0]
        assert headline.startswith((f"✔ {gid} — ", f"◌ {gid} — ")), f"{name}/{gid}: {headline}"
        assert determine_grade(cell) == (points, points), f"{name}/{gid}"
