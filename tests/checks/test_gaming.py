"""Gaming the autograder: every route scores 0 in hidden grading, and bad input is feedback.

The hidden routes run the hidden-test code of the instructor notebooks (the lines of a
solution notebook's hidden region, so the test exercises what nbgrader runs) in this
process, after tampering with this process the way a student's notebook cell could.
Delegation routes (a student function calling labkit's or captum's own code) are rows
of the exercise tables in the other test files.
"""
from __future__ import annotations

import contextlib
import json

import pytest
import torch

import labkit.checks.compare as compare
from labkit import checks
from labkit.checks import CheckResult, fixtures
from labkit.checks.runner import Checker

from checkhelp import REPO

SOLUTION = REPO / "solutions" / "02_saliency_from_scratch.ipynb"


def hidden_cell_lines() -> list[str]:
    """The hidden region of the gradient test cell of the solution notebook, minus its grade call."""
    cells = json.loads(SOLUTION.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells
                  if c["metadata"].get("nbgrader", {}).get("grade_id") == "02_gradient")
    region = source.split("### BEGIN HIDDEN TESTS\n")[1].split("### END HIDDEN TESTS")[0]
    return [line for line in region.splitlines() if not line.startswith("grade(")]


def hidden_grade(fn, timeout: float = 60.0) -> float:
    """Run the notebook's hidden-test lines here and grade ``fn`` as nbgrader would."""
    namespace: dict = {}
    exec("\n".join(hidden_cell_lines()), namespace)  # noqa: S102 - the instructor's own cell
    return namespace["grade"]("02_gradient", fn, seed=1005, timeout=timeout)


def zeros(model, x, target):
    return torch.zeros(x.shape[0], *x.shape[-2:])


def right(model, x, target):
    x = x.clone().requires_grad_(True)
    model(x)[:, target].sum().backward()
    return x.grad.abs()[:, 0]


# ---- tampering in the notebook (this process) ---------------------------------------------------
@contextlib.contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


@contextlib.contextmanager
def patched_hidden_module():
    import labkit.course.hidden as hidden

    with patched(hidden, "grade", lambda *a, **k: 2.0):
        yield


NOTEBOOK_ROUTES = {
    "compare.close always true": lambda: patched(compare, "close", lambda *a, **k: True),
    "compare.diagnose does nothing": lambda: patched(compare, "diagnose", lambda *a, **k: None),
    "CheckResult.grade returns full points": lambda: patched(CheckResult, "grade", lambda self: self.max_points),
    "CheckResult.require passes": lambda: patched(CheckResult, "require", lambda self: None),
    "labkit.course.hidden.grade replaced": patched_hidden_module,
}


@pytest.mark.parametrize("route", sorted(NOTEBOOK_ROUTES))
def test_tampering_in_the_notebook_scores_zero(route):
    with NOTEBOOK_ROUTES[route]():
        assert checks.gradient(zeros).grade() == 0 or route.startswith("CheckResult.grade")
        assert hidden_grade(zeros) == 0


# ---- tampering from inside the student's function (runs in the grading process) -----------------
def patches_the_checker(model, x, target):
    import labkit.checks.compare as c
    import labkit.checks.gradients as g

    c.close = g.close = lambda *a, **k: True
    return torch.zeros(x.shape[0], *x.shape[-2:])


def patches_torch(model, x, target):
    import torch as t

    t.Tensor.abs = lambda self: t.zeros_like(self)
    t.Tensor.max = lambda self, *a, **k: t.tensor(0.0)
    return t.zeros(x.shape[0], *x.shape[-2:])


def delegates(model, x, target):
    from labkit.explain import explain

    return explain(model, x, target, "gradient").maps


def exits(model, x, target):
    import os

    os._exit(0)


def forges_a_result(model, x, target):
    import os

    fake = '{"nonce": "0", "points": 2, "max_points": 2, "messages": []}\n'.encode()
    for fd in range(3, 12):
        try:
            os.write(fd, fake)
        except OSError:
            pass
    os._exit(0)


def hangs(model, x, target):
    while True:
        pass


GRADER_ROUTES = [patches_the_checker, patches_torch, delegates, exits, forges_a_result]


@pytest.mark.parametrize("fn", GRADER_ROUTES, ids=lambda f: f.__name__)
def test_tampering_in_the_grading_process_scores_zero(fn):
    score = hidden_grade(fn)
    text = "\n".join(score.feedback)
    assert score == 0 and ("0 /" in text or "without a result" in text), text


def test_the_right_answer_still_scores_in_the_grading_process(capsys):
    score = hidden_grade(right)
    assert score == 2 and score.feedback[0] == "hidden tests of 02_gradient: 2 / 2 points"
    data, metadata = score._repr_mimebundle_()
    assert data["text/plain"] == "2.0" and metadata["labkit"]["feedback"] == score.feedback
    assert "(hidden tests): 2 / 2 points" in data["text/html"]
    assert capsys.readouterr().out == ""  # the report is the cell's value, not printed text


def test_a_hanging_function_is_stopped(monkeypatch):
    monkeypatch.setattr(Checker, "seconds", 1.0)
    result = checks.gradient(hangs)
    assert result.points == 0 and "did not finish within 1 s" in result.feedback[0]
    score = hidden_grade(hangs, timeout=20)
    assert score == 0 and "did not finish" in "\n".join(score.feedback)
    assert "did not finish" in score._repr_mimebundle_()[0]["text/html"]


# ---- hidden cases and answers are not on the student's side -------------------------------------
def test_hidden_cases_cannot_be_requested():
    result = checks.gradient(right, hidden=True)
    assert result.points == 0 and "wrong arguments" in result.feedback[0]
    assert not hasattr(fixtures, "HIDDEN_SEEDS")
    assert fixtures.seed(9) == 9  # without the instructor's grading seed, only the public cases
    student = "\n".join(p.read_text() for p in (REPO / "exercises").glob("*.ipynb"))
    assert "seed=1" not in student and "labkit.course" not in student and "expected=" not in student


# ---- bad input is feedback --------------------------------------------------------------------
def returns_nan(model, x, target):
    return torch.full((x.shape[0], *x.shape[-2:]), float("nan"))


def returns_strings(model, x, target):
    return ["not", "a", "map"]


def returns_nothing(model, x, target):
    right(model, x, target)


def returns_wrong_shape(model, x, target):
    return right(model, x, target)[:, :5]


def raises(model, x, target):
    raise KeyError("oops")


def prints_megabytes(model, x, target):
    for _ in range(50):
        print("x" * 100_000)
    return right(model, x, target)


class Liar(torch.Tensor):
    """A tensor subclass whose every operation returns 0 (so any difference would look like 0)."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return torch.tensor(0.0)


def returns_a_lying_tensor(model, x, target):
    return torch.zeros(x.shape[0], *x.shape[-2:]).as_subclass(Liar)


@pytest.mark.parametrize("fn, fragment", [
    (returns_nan, "NaN"), (returns_strings, "must be a torch.Tensor, got list"), (returns_nothing, "`return`"),
    (returns_wrong_shape, "has shape"), (raises, "KeyError: 'oops'"), (returns_a_lying_tensor, "zero everywhere"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_bad_output_is_feedback_not_a_traceback(fn, fragment):
    result = checks.gradient(fn)
    assert result.points == 0 and fragment in "\n".join(result.feedback) and "Traceback" not in str(result)


def test_megabytes_of_print_stay_out_of_the_notebook(capfd):
    result = checks.gradient(prints_megabytes)
    assert result.passed and any("printed output (5.0 MB)" in m for m in result.feedback)
    out, err = capfd.readouterr()
    assert len(out) < 10_000 and err == ""

