"""Instructor notebooks are valid nbgrader sources; the committed student versions are
exactly what ``labkit assign`` generates from them; points match the checks."""
from __future__ import annotations

import shutil

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

import nbhelp
from labkit.checks import EXERCISES
from labkit.course.assign import (AssignError, CODE_STUB, assign, clear_hidden_tests, clear_solutions, out_of_date,
                                  student_version, validate)
from labkit.cli import main


def _read(path):
    return nbformat.read(str(path), as_version=4)


def test_exercises_are_up_to_date():
    problems = out_of_date(nbhelp.SOLUTIONS, nbhelp.EXERCISES)
    assert not problems, "run `labkit assign` to regenerate exercises/:\n" + "\n".join(problems)


def test_cli_assign_check_and_write(tmp_path, capsys):
    assert main(["assign", "--check", "--source", str(nbhelp.SOLUTIONS), "--out", str(nbhelp.EXERCISES)]) == 0
    assert main(["assign", "--source", str(nbhelp.SOLUTIONS), "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == nbhelp.EXERCISE_NAMES
    assert main(["assign", "--check", "--source", str(nbhelp.SOLUTIONS), "--out", str(tmp_path)]) == 0
    nb = _read(tmp_path / nbhelp.EXERCISE_NAMES[0])
    nb.cells[0].source += "\nedited"
    nbformat.write(nb, str(tmp_path / nbhelp.EXERCISE_NAMES[0]))
    capsys.readouterr()
    assert main(["assign", "--check", "--source", str(nbhelp.SOLUTIONS), "--out", str(tmp_path)]) == 1
    assert "differs" in capsys.readouterr().out


@pytest.mark.parametrize("name", nbhelp.EXERCISE_NAMES)
def test_solution_metadata_is_valid_nbgrader(name):
    nb = _read(nbhelp.SOLUTIONS / name)
    MetadataValidator().validate_nb(nb)           # nbgrader's own schema check
    validate(nb, name)
    ids = [nbhelp.meta(c)["grade_id"] for c in nb.cells if nbhelp.meta(c)]
    assert len(ids) == len(set(ids))
    for cell in nb.cells:
        m = nbhelp.meta(cell)
        if m:
            assert m["schema_version"] == 3 and set(m) >= {"grade", "solution", "locked", "grade_id"}
        if "BEGIN SOLUTION" in cell.source:
            assert m.get("solution"), cell.source
        if "BEGIN HIDDEN TESTS" in cell.source:
            assert m.get("grade") and m.get("locked"), cell.source


@pytest.mark.parametrize("name", nbhelp.EXERCISE_NAMES)
def test_graded_cells_are_exercises_and_call_their_check(name):
    nb = _read(nbhelp.SOLUTIONS / name)
    for cell in nbhelp.test_cells(nb):
        gid = nbhelp.meta(cell)["grade_id"]
        exercise = EXERCISES[gid]
        assert exercise.points == nbhelp.meta(cell)["points"], f"{name}: {gid}"
        visible = [line for line in cell.source.splitlines() if line.strip().endswith(".grade()")]
        assert visible, f"{name}/{gid}: the visible check must end with .grade()"
        assert (f'question("{gid}"' in visible[0] if exercise.kind == "question"
                else f"checks.{exercise.check.__name__}(" in visible[0]), f"{name}/{gid} calls another check"


def test_every_exercise_is_graded_by_one_notebook_cell():
    graded = [nbhelp.meta(c)["grade_id"] for name in nbhelp.EXERCISE_NAMES for c in _read(nbhelp.SOLUTIONS / name).cells
              if nbhelp.meta(c).get("grade")]
    assert sorted(graded) == sorted(EXERCISES)


def test_points_come_from_the_registry(tmp_path, capsys):
    src, out = tmp_path / "solutions", tmp_path / "exercises"
    shutil.copytree(nbhelp.SOLUTIONS, src)
    assert main(["assign", "--source", str(src), "--out", str(out)]) == 0
    path = src / nbhelp.EXERCISE_NAMES[0]
    nb = _read(path)
    cell = nbhelp.test_cells(nb)[0]
    gid = nbhelp.meta(cell)["grade_id"]
    cell.metadata["nbgrader"]["points"] = 99
    nbformat.write(nb, str(path))
    capsys.readouterr()
    assert main(["assign", "--check", "--source", str(src), "--out", str(out)]) == 1
    assert f"{gid} is worth {EXERCISES[gid].points:g} points (the notebook said 99)" in capsys.readouterr().out
    assert main(["assign", "--source", str(src), "--out", str(out)]) == 0
    assert nbhelp.meta(nbhelp.test_cells(_read(path))[0])["points"] == EXERCISES[gid].points
    assert nbhelp.meta(nbhelp.test_cells(_read(out / path.name))[0])["points"] == EXERCISES[gid].points


def test_a_graded_cell_must_be_a_registered_exercise():
    cell = nbformat.v4.new_code_cell("1")
    cell.metadata["nbgrader"] = {"solution": False, "grade": True, "locked": True, "grade_id": "99_nothing",
                                 "points": 1, "schema_version": 3}
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell]
    with pytest.raises(AssignError, match="not a registered exercise"):
        student_version(nb)


def test_student_versions_hide_solutions_and_hidden_tests():
    for name in nbhelp.EXERCISE_NAMES:
        student = _read(nbhelp.EXERCISES / name)
        for cell in student.cells:
            assert "BEGIN SOLUTION" not in cell.source and "HIDDEN TESTS" not in cell.source
            assert "hidden=True" not in cell.source
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
            m = nbhelp.meta(cell)
            if m.get("solution") and cell.cell_type == "code":
                assert CODE_STUB.splitlines()[1] in cell.source
            if m.get("grade") and not m.get("solution"):
                assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False


def test_stub_keeps_the_indentation_of_the_region():
    cell = nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION")
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False, "grade_id": "f", "schema_version": 3}
    assert clear_solutions(cell).source == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"


def test_malformed_regions_are_errors():
    cell = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False, "grade_id": "x", "schema_version": 3}
    with pytest.raises(AssignError, match="without"):
        clear_solutions(cell)
    plain = nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS")
    with pytest.raises(AssignError, match="not a grade cell"):
        clear_hidden_tests(plain)
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell, cell]
    with pytest.raises(AssignError, match="duplicate grade_id"):
        student_version(nb)


def test_assign_requires_notebooks(tmp_path):
    with pytest.raises(AssignError):
        assign(tmp_path / "missing", tmp_path / "out")
