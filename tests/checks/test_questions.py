"""Conceptual questions: the visible check validates the form only; the hidden grading compares
the answer the instructor's hidden test sends (here: this file's key), with targeted hints."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from labkit import checks
from labkit.checks import questions
from labkit.checks.questions import QUESTIONS, AnswerFormatError, normalize
from labkit.course.grader import grade_answer
from labkit.course.hidden import _jsonable

# The answer key lives in the instructor side only (solution notebooks and these tests).
KEY = {
    "01_q_always_pneumonia": 390 / 624,
    "01_q_which_metric": "c",
    "02_q_black_baseline": "b",
    "03_q_cascade_order": "b",
    "03_q_without_weights": {"c", "d"},
    "03_q_linear_model": (True, True, False),
    "03_q_map_shape": (8, 64, 64),
    "03_q_gradcam_size": (16, 16),
    "03_q_gxi_zero": "b",
    "03_q_label_randomization": "b",
    "04_q_small_marker": "c",
    "04_q_control_marker": False,
    "05_q_curve_direction": "a",
    "05_q_batchnorm_stability": "b",
    "06_q_negative_lambda": "a",
    "06_q_why_latent": "c",
}


def test_every_question_has_a_key():
    assert set(KEY) == set(QUESTIONS)


HINTS = {"01_q_always_pneumonia": {"0.500": "balanced accuracy"}, "03_q_map_shape": {"8,1,64,64": "no channel axis"},
         "03_q_gxi_zero": {"a": "[0, 1]-scaled"}, "04_q_control_marker": {"true": "tells the model nothing"}}


def hidden(qid, answer, hints=None):
    """What the hidden test of ``qid`` gives ``answer`` (the grading process's comparison, in-process)."""
    return grade_answer({"exercise": qid, "answer": _jsonable(answer), "expected": _jsonable(KEY[qid]),
                         "hints": hints or {}})


@pytest.mark.parametrize("qid", sorted(KEY))
def test_visible_check_validates_the_form_only(qid):
    result = checks.question(qid, KEY[qid])
    assert result.pending and result.points == 0 and not result.passed, str(result)
    assert "graded after" in result.headline() and "✘" not in str(result)
    assert hidden(qid, KEY[qid]).passed and hidden(qid, KEY[qid]).points == QUESTIONS[qid].points


@pytest.mark.parametrize("qid, wrong", [
    ("01_q_always_pneumonia", 0.5), ("01_q_which_metric", "a"), ("03_q_without_weights", {"a", "b"}),
    ("03_q_linear_model", (True, True, True)), ("03_q_map_shape", (8, 1, 64, 64)),
    ("03_q_gradcam_size", (8, 8)), ("04_q_control_marker", True), ("05_q_curve_direction", "b"),
])
def test_wrong_answer_looks_like_the_right_one_until_hidden_grading(qid, wrong):
    visible_right, visible_wrong = checks.question(qid, KEY[qid]), checks.question(qid, wrong)
    assert visible_wrong.pending and visible_wrong.points == visible_right.points == 0
    assert [m.level for m in visible_wrong.messages] == [m.level for m in visible_right.messages]
    result = hidden(qid, wrong)
    assert not result.passed and result.points == 0
    assert any(m.level == "hint" for m in result.messages), str(result)


def test_numpy_booleans_are_answers():
    assert normalize(np.False_, "bool") == "false" and normalize(np.bool_(True), "bool") == "true"
    assert hidden("04_q_control_marker", np.False_).passed
    assert hidden("03_q_linear_model", np.array([True, True, False])).passed


@pytest.mark.parametrize("answer, kind, kwargs, expected", [
    ("B)", "choice", {"options": ("a", "b")}, "b"),
    (" c ", "choice", {"options": ("a", "b", "c")}, "c"),
    ("d, c", "multi", {"options": ("a", "b", "c", "d")}, "c,d"),
    (["c", "d", "c"], "multi", {"options": ("a", "b", "c", "d")}, "c,d"),
    ((True, "false", True), "bools", {"length": 3}, "t,f,t"),
    (0.62499999, "number", {"decimals": 3}, "0.625"),
    (torch.tensor(0.625), "number", {"decimals": 3}, "0.625"),
    (-0.0001, "number", {"decimals": 3}, "0.000"),
    (torch.Size([8, 64, 64]), "ints", {"length": 3}, "8,64,64"),
])
def test_normalize(answer, kind, kwargs, expected):
    assert normalize(answer, kind, **kwargs) == expected


@pytest.mark.parametrize("answer, kind, kwargs", [
    ("e", "choice", {"options": ("a", "b")}),
    (3, "choice", {"options": ("a", "b")}),
    ((True,), "bools", {"length": 3}),
    ("maybe", "bool", {}),
    ("many", "number", {}),
    (float("nan"), "number", {}),
    ((8, 64.5), "ints", {"length": 2}),
    ("8x64", "ints", {"length": 2}),
])
def test_normalize_rejects_bad_formats(answer, kind, kwargs):
    with pytest.raises(AnswerFormatError):
        normalize(answer, kind, **kwargs)


@pytest.mark.parametrize("qid, wrong, fragment", [
    ("01_q_always_pneumonia", 0.5, "balanced accuracy"),
    ("03_q_map_shape", (8, 1, 64, 64), "no channel axis"),
    ("03_q_gxi_zero", "a", "[0, 1]-scaled"),
    ("04_q_control_marker", True, "tells the model nothing"),
])
def test_common_wrong_answers_get_targeted_hints(qid, wrong, fragment):
    hints = {key: f"hint: {text}" for key, text in HINTS[qid].items()}
    assert fragment in hidden(qid, wrong, hints).feedback[-1]


def test_unanswered_and_unreadable_answers_are_feedback():
    none = checks.question("03_q_cascade_order", None)
    assert not none.passed and "no answer yet" in none.feedback[0]
    bad = checks.question("03_q_cascade_order", "z")
    assert "cannot be read" in bad.feedback[0] and "one letter" in bad.feedback[1]


def test_no_answer_is_in_the_package_or_the_student_notebooks():
    """Neither answers nor digests of them: nothing to brute-force offline."""
    import pathlib

    source = inspect.getsource(questions)
    for text in ("0.625", "8, 64, 64", "(16, 16)", "True, True, False", "sha256", "digest"):
        assert text not in source
    assert not any(hasattr(q, "digest") or hasattr(q, "answer") for q in QUESTIONS.values())
    student = "\n".join(p.read_text() for p in (pathlib.Path(__file__).parents[2] / "exercises").glob("*.ipynb"))
    assert "expected=" not in student and "hints=" not in student
