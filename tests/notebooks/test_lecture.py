"""The lecture walkthrough runs end to end in fast mode, every cell within 30 s."""
from __future__ import annotations

import nbhelp


def test_lecture_notebook_runs(pipeline):
    nb = pipeline.notebook("lecture")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) >= 8
    for i, cell in enumerate(code):
        errs = nbhelp.errors(cell)
        assert not errs, f"lecture code cell {i} raised {errs[0].ename}: {errs[0].evalue}\n{cell.source}"
        assert cell.metadata.get("labkit_seconds", 0) < nbhelp.CELL_TIMEOUT
        assert cell.outputs, f"lecture code cell {i} shows nothing"
    text = "\n".join(nbhelp.text_outputs(c) for c in code)
    for expected in ("sensitivity", "spearman_abs", "inside the marker", "stability"):
        assert expected in text
