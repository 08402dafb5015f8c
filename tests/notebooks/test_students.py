"""The student notebooks run unmodified: every stub raises NotImplementedError, every check
reports the failure as feedback (0 points) instead of crashing, and nothing else breaks."""
from __future__ import annotations

import pytest

import nbhelp
from labkit.course.grade import cell_points


@pytest.mark.parametrize("name", nbhelp.EXERCISE_NAMES)
def test_student_notebook_fails_cleanly(pipeline, name):
    nb = pipeline.notebook(f"student/{name}")
    for i, cell in enumerate(nb.cells):
        for err in nbhelp.errors(cell):
            assert err.ename == "NotImplementedError", (
                f"{name} cell {i}: only the stubs may fail, got {err.ename}: {err.evalue}\n{cell.source}")
        if nbhelp.meta(cell).get("solution") and cell.cell_type == "code" and "def " not in cell.source:
            assert [e.ename for e in nbhelp.errors(cell)] == ["NotImplementedError"], f"{name} cell {i}"
    for cell in nbhelp.test_cells(nb):
        gid = nbhelp.meta(cell)["grade_id"]
        assert not nbhelp.errors(cell), f"{name}/{gid}: the check crashed instead of reporting"
        shown = [o.output_type for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
        assert shown == ["execute_result"], f"{name}/{gid}: the report must be the cell's one value, got {shown}"
        assert nbhelp.stderr(cell) == ""
        text = nbhelp.text_outputs(cell)
        assert "✘" in text and ("NotImplementedError" in text or "no answer yet" in text), f"{name}/{gid}:\n{text}"
        assert "Traceback" not in text
        assert cell_points(cell) == 0.0, f"{name}/{gid} gives points to an empty answer"
