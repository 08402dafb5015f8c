"""``labkit grade`` scores a notebook per grade_id without a course database."""
from __future__ import annotations

import json
import shutil

import nbformat

import nbhelp
from labkit.course.grade import cell_feedback, cell_points, grade_notebook
from labkit.cli import main


def test_grade_executes_a_student_notebook(warm_cache, tmp_path, capsys, monkeypatch):
    for key, value in warm_cache.env.items():
        monkeypatch.setenv(key, value)
    nb = tmp_path / "01.ipynb"
    shutil.copy(nbhelp.EXERCISES / "01_data_and_metrics.ipynb", nb)
    assert main(["grade", str(nb), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["points"] == 0 and report["max_points"] == 6
    assert {c["grade_id"] for c in report["cells"]} == {"01_confusion", "01_clinical_metrics",
                                                       "01_q_always_pneumonia", "01_q_which_metric"}
    assert all(c["status"] == "failed" and c["feedback"] for c in report["cells"])


def test_grade_with_the_instructor_source_scores_hidden_tests_and_resists_tampering(warm_cache, tmp_path, capsys,
                                                                                  monkeypatch):
    for key, value in warm_cache.env.items():
        monkeypatch.setenv(key, value)
    release = nbformat.read(str(nbhelp.EXERCISES / "01_data_and_metrics.ipynb"), as_version=4)
    answers = {nbhelp.meta(c)["grade_id"]: c.source for c in
               nbformat.read(str(nbhelp.SOLUTIONS / "01_data_and_metrics.ipynb"), as_version=4).cells
               if nbhelp.meta(c).get("solution")}
    for name, sources, expected in (("solved", answers, 6), ("gamed", nbhelp.GAMED_01, 0)):
        path = tmp_path / name / "01_data_and_metrics.ipynb"
        path.parent.mkdir()
        nbformat.write(nbhelp.with_solutions(release, sources), str(path))
        assert main(["grade", str(path), "--source", str(nbhelp.SOLUTIONS), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["points"] == expected, report
    assert all("hidden tests of" in "\n".join(c["feedback"]) for c in report["cells"]), report


def test_grade_reads_saved_outputs_of_a_solution(pipeline, tmp_path, capsys):
    executed = pipeline.notebook("solution/02_saliency_from_scratch.ipynb")
    path = tmp_path / "02.ipynb"
    nbformat.write(executed, str(path))
    assert main(["grade", str(path), "--no-execute"]) == 0
    out = capsys.readouterr().out
    assert "02_describe_three_maps" in out and "manual" in out
    report = grade_notebook(path, execute_first=False)
    assert report.points == report.auto_max_points == 16 and report.max_points == 19


def test_cell_points_follow_nbgrader_rules():
    cell = nbformat.v4.new_code_cell("x")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "points": 3}
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "1.5"}, execution_count=1)]
    assert cell_points(cell) == 1.5
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="warning")]
    assert cell_points(cell) == 0 and cell_feedback(cell) == ("stderr: warning",)
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="no", traceback=[])]
    assert cell_points(cell) == 0
    cell.outputs = []
    assert cell_points(cell) == 3


def test_a_cell_timeout_scores_zero_and_grading_goes_on(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    slow = nbformat.v4.new_code_cell("import time\ntime.sleep(5)\n1.0")
    fast = nbformat.v4.new_code_cell("2.0")
    for i, cell in enumerate((slow, fast)):
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": f"t{i}",
                                     "points": 2, "schema_version": 3}
    nb.cells = [slow, fast]
    path = tmp_path / "slow.ipynb"
    nbformat.write(nb, str(path))
    report = grade_notebook(path, timeout=2)
    assert [r.points for r in report.rows] == [0.0, 2.0]
    assert "longer than the time limit" in report.rows[0].feedback[0]
