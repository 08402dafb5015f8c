"""Conceptual questions: hashed answers, answer formats, targeted hints."""
from __future__ import annotations

import inspect

import pytest
import torch

from labkit import checks
from labkit.checks import questions
from labkit.checks.questions import QUESTIONS, AnswerFormatError, normalize

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
    "06_q_negative_lambda": "a",
    "06_q_why_latent": "c",
}


def test_every_question_has_a_key():
    assert set(KEY) == set(QUESTIONS)


@pytest.mark.parametrize("qid", sorted(KEY))
def test_right_answer_passes(qid):
    result = checks.question(qid, KEY[qid])
    assert result.passed and result.points == QUESTIONS[qid].points, str(result)
    assert checks.check(qid, KEY[qid]).passed


@pytest.mark.parametrize("qid, wrong", [
    ("01_q_always_pneumonia", 0.5), ("01_q_which_metric", "a"), ("03_q_without_weights", {"a", "b"}),
    ("03_q_linear_model", (True, True, True)), ("03_q_map_shape", (8, 1, 64, 64)),
    ("03_q_gradcam_size", (8, 8)), ("04_q_control_marker", True), ("05_q_curve_direction", "b"),
])
def test_wrong_answer_fails_with_a_hint(qid, wrong):
    result = checks.question(qid, wrong)
    assert not result.passed and result.points == 0
    assert any(m.level == "hint" for m in result.messages), str(result)


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
    assert fragment in checks.question(qid, wrong).feedback[-1]


def test_unanswered_and_unreadable_answers_are_feedback():
    none = checks.question("03_q_cascade_order", None)
    assert not none.passed and "no answer yet" in none.feedback[0]
    bad = checks.question("03_q_cascade_order", "z")
    assert "cannot be read" in bad.feedback[0] and "one letter" in bad.feedback[1]


def test_answers_are_not_in_the_source_as_plain_text():
    source = inspect.getsource(questions)
    for text in ("0.625", "8, 64, 64", "(16, 16)", "True, True, False"):
        assert text not in source
    for q in QUESTIONS.values():
        assert len(q.digest) == 64 and int(q.digest, 16) >= 0
