"""A real nbgrader round trip on one assignment (exercise 01).

In a temporary course folder: ``nbgrader generate_assignment`` on the instructor
notebook, then ``nbgrader autograde`` of three submissions — one that fills in the
solutions (full points), the untouched release (zero points) and one that games the
autograder (patches labkit's comparison helpers, ``CheckResult.grade``/``require`` and
the hidden-test entry point, with empty implementations: zero points) — with scores
read from the gradebook database through nbgrader's Gradebook API. The autograded notebook
shows the visible check's report in every test cell, after the hidden tests' points.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

import nbhelp

ASSIGNMENT, COURSE = "ps01", "labkit-ci"
NOTEBOOK = "01_data_and_metrics.ipynb"


def _nbgrader(course: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("nbgrader")
    proc = subprocess.run([str(exe), *args], cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _solution_sources(nb) -> dict[str, str]:
    return {nbhelp.meta(c)["grade_id"]: c.source for c in nb.cells if nbhelp.meta(c).get("solution")}


def test_generate_and_autograde_with_real_nbgrader(warm_cache, tmp_path):
    course = tmp_path / "course"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(nbhelp.SOLUTIONS / NOTEBOOK, course / "source" / ASSIGNMENT / NOTEBOOK)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {COURSE!r}\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.Execute.timeout = 30\n")
    env = warm_cache.env

    _nbgrader(course, env, "generate_assignment", ASSIGNMENT, "--force")
    release = nbformat.read(str(course / "release" / ASSIGNMENT / NOTEBOOK), as_version=4)
    ours = nbformat.read(str(nbhelp.EXERCISES / NOTEBOOK), as_version=4)
    assert [c.source for c in release.cells] == [c.source for c in ours.cells], \
        "labkit assign and nbgrader generate_assignment disagree"

    solved = nbformat.read(str(course / "release" / ASSIGNMENT / NOTEBOOK), as_version=4)
    answers = _solution_sources(nbformat.read(str(nbhelp.SOLUTIONS / NOTEBOOK), as_version=4))
    for cell in solved.cells:
        if nbhelp.meta(cell).get("solution"):
            cell.source = answers[nbhelp.meta(cell)["grade_id"]]
    mallory = nbhelp.with_solutions(release, nbhelp.GAMED_01)
    for student, nb in (("alice", solved), ("bob", release), ("mallory", mallory)):
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / NOTEBOOK))

    _nbgrader(course, env, "autograde", ASSIGNMENT)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE) as gb:
        alice = gb.find_submission(ASSIGNMENT, "alice")
        bob = gb.find_submission(ASSIGNMENT, "bob")
        mallory = gb.find_submission(ASSIGNMENT, "mallory")
        max_score = gb.find_assignment(ASSIGNMENT).max_score
        assert max_score == 6
        assert alice.score == max_score, [(g.name, g.score) for g in alice.notebooks[0].grades]
        assert bob.score == 0, [(g.name, g.score) for g in bob.notebooks[0].grades]
        assert mallory.score == 0, [(g.name, g.score) for g in mallory.notebooks[0].grades]
    # the autograded notebook shows each test cell's visible report beside the hidden tests' points
    graded = nbformat.read(str(course / "autograded" / "alice" / ASSIGNMENT / NOTEBOOK), as_version=4)
    for cell in nbhelp.test_cells(graded):
        kinds = [o.output_type for o in cell.outputs if o.output_type != "stream"]
        assert kinds == ["execute_result", "display_data"], (nbhelp.meta(cell)["grade_id"], kinds)
        report = next(o for o in cell.outputs if o.output_type == "display_data")
        assert "labkit-check" in report.data["text/html"] and "hidden tests" not in report.data["text/plain"]
