"""Conceptual questions: multiple choice, true/false, short numeric or shape answers.

The visible check validates only the *form* of an answer (one letter of the options,
a number, a tuple of the right length) and says it will be graded after hand-in.
The right answers and the hints for common wrong ones are nowhere in this package or
in the student notebooks: they are arguments of the hidden tests in the instructor
notebooks (:func:`labkit.course.hidden.grade`), compared in the grading process after
the same :func:`normalize`.

Normalization: letters are lower-cased and stripped (``"B)"`` → ``"b"``); a set
of letters is sorted (``"c, a"`` → ``"a,c"``); numbers are rounded to the
question's ``decimals``; shapes are tuples of ints (``torch.Size`` works too).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

from labkit.checks.registry import exercise
from labkit.checks.runner import Checker

Kind = Literal["choice", "multi", "bool", "bools", "number", "ints"]


class AnswerFormatError(ValueError):
    """The answer cannot be read in the question's format (the message says what is expected)."""


@dataclass(frozen=True)
class Question:
    """A question's form: ``options`` (letters of a choice question), ``length`` (statements of a
    ``bools`` question, entries of an ``ints`` answer), ``decimals`` (rounding of a number) and the
    general ``hint`` shown by the hidden test after a wrong answer."""

    id: str
    title: str
    kind: Kind
    points: float = 1.0
    options: tuple[str, ...] = ()
    length: int = 0
    decimals: int = 3
    hint: str = ""

    def normalize(self, answer: Any) -> str:
        return normalize(answer, self.kind, self.options, self.length, self.decimals)

    def expected_format(self) -> str:
        if self.kind == "choice":
            return f"one letter from {list(self.options)}, e.g. \"{self.options[0]}\""
        if self.kind == "multi":
            return f"a set of letters from {list(self.options)}, e.g. {{\"{self.options[0]}\"}} or \"a, b\""
        if self.kind == "bool":
            return "True or False"
        if self.kind == "bools":
            return f"a tuple of {self.length} booleans, e.g. ({', '.join(['True'] * self.length)})"
        if self.kind == "number":
            return f"a number (it is compared after rounding to {self.decimals} decimals)"
        return f"a tuple of {self.length} integers, e.g. ({', '.join(['1'] * self.length)})"


def _letter(v: Any, options: Sequence[str]) -> str:
    if not isinstance(v, str):
        raise AnswerFormatError(f"expected a letter, got {type(v).__name__} {v!r}")
    s = v.strip().lower().strip("().:[] ")
    if s not in options:
        raise AnswerFormatError(f"{v!r} is not one of the options {list(options)}")
    return s


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false", "t", "f"):
        return v.strip().lower().startswith("t")
    if isinstance(v, np.bool_):  # numpy's bool (np.bool_, called np.bool under numpy 2)
        return bool(v)
    raise AnswerFormatError(f"expected True or False, got {v!r}")


def normalize(answer: Any, kind: Kind, options: Sequence[str] = (), length: int = 0, decimals: int = 3) -> str:
    """The canonical text of ``answer`` that is hashed (raises :class:`AnswerFormatError`)."""
    if kind == "choice":
        return _letter(answer, options)
    if kind == "multi":
        items = [p for p in answer.replace(";", ",").replace(" ", ",").split(",") if p] if isinstance(answer, str) \
            else list(answer) if isinstance(answer, (set, frozenset, list, tuple)) else None
        if items is None:
            raise AnswerFormatError(f"expected a set of letters, got {type(answer).__name__}")
        return ",".join(sorted({_letter(v, options) for v in items}))
    if kind == "bool":
        return "true" if _bool(answer) else "false"
    if kind == "bools":
        if isinstance(answer, (str, bytes)) or not isinstance(answer, Sequence) or len(answer) != length:
            raise AnswerFormatError(f"expected {length} booleans in a tuple, got {answer!r}")
        return ",".join("t" if _bool(v) else "f" for v in answer)
    if kind == "number":
        if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
            try:
                answer = float(answer.item() if hasattr(answer, "item") else answer)
            except (TypeError, ValueError):
                raise AnswerFormatError(f"expected a number, got {type(answer).__name__} {answer!r}") from None
        if not math.isfinite(float(answer)):
            raise AnswerFormatError(f"expected a finite number, got {answer!r}")
        value = round(float(answer), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
        return f"{value:.{decimals}f}"
    if kind == "ints":
        try:
            values = [int(v) for v in answer]
        except (TypeError, ValueError):
            raise AnswerFormatError(f"expected a tuple of integers, got {answer!r}") from None
        if any(float(v) != int(v) for v in answer):
            raise AnswerFormatError(f"expected integers, got {answer!r}")
        return ",".join(str(v) for v in values)
    raise ValueError(f"unknown question kind {kind!r}")


ABCD = ("a", "b", "c", "d")

QUESTIONS: dict[str, Question] = {q.id: q for q in (
    Question("01_q_always_pneumonia", "Accuracy of a model that always says pneumonia", "number", decimals=3,
             hint="count the pneumonia images of the test split and divide by all test images"),
    Question("01_q_which_metric", "Which number exposes the always-pneumonia model", "choice", options=ABCD,
             hint="compute each number for the always-pneumonia model: which one is no better than a coin?"),
    Question("02_q_black_baseline", "Pixels that get zero attribution with the black baseline", "choice", options=ABCD,
             hint="IG multiplies by (x − x′): where is that factor zero when x′ = −1.0 everywhere?"),
    Question("03_q_cascade_order", "Why the cascade starts at the output layer", "choice", options=ABCD,
             hint="think about which layers turn features into the class decision"),
    Question("03_q_without_weights", "Checks that need no access to the trained weights", "multi", options=ABCD,
             hint="which checks change the trained parameters, and which only query the model or train a new one?"),
    Question("03_q_linear_model", "Gradient and Integrated Gradients on a linear model", "bools", length=3,
             hint="for f(x) = w·x + b the gradient is w everywhere; write IG's formula with that gradient"),
    Question("03_q_map_shape", "Shape of a batch of saliency maps", "ints", length=3,
             hint="one value per pixel of each image; the channel axis is summed away"),
    Question("03_q_gradcam_size", "Spatial size of SmallCNN's conv3 feature maps for a 64×64 input", "ints", length=2,
             hint="count the 2×2 max-pooling layers that run before conv3"),
    Question("03_q_gxi_zero", "Where Gradient × Input is zero whatever the model", "choice", options=ABCD,
             hint="the product x · ∂f/∂x is zero where x = 0; which color is 0.0 in labkit's [-1, 1] scale?"),
    Question("03_q_label_randomization", "Reading the data randomization test", "choice", options=ABCD,
             hint="a model trained on permuted labels learned nothing real about pneumonia"),
    Question("04_q_small_marker", "Which method misses a 4-pixel marker", "choice", options=ABCD,
             hint="which method works at a coarse feature-map resolution?"),
    Question("04_q_control_marker", "Can a class-independent marker be a shortcut?", "bool",
             hint="a shortcut is a feature that predicts the label in the training data"),
    Question("05_q_curve_direction", "Which way is better for deletion and insertion AUC", "choice", options=ABCD,
             hint="deletion removes the pixels the map ranks first: what should happen to the probability?"),
    Question("05_q_batchnorm_stability", "What a stability gap between two models says", "choice", options=ABCD,
             hint="the same explainer code ran on both models; what differs between them?"),
    Question("06_q_negative_lambda", "Which way does p move for a small negative λ", "choice", options=ABCD,
             hint="to first order, p(D(z + λg)) ≈ p(D(z)) + λ·‖g‖² with g = ∂p/∂z"),
    Question("06_q_why_latent", "Why shift the latent code and not the pixels", "choice", options=ABCD,
             hint="what does a small gradient step on the pixels do to a classifier's prediction?"),
)}


def _question_check(qid: str) -> None:
    q = QUESTIONS[qid]

    @exercise(qid, q.title, q.points, kind="question")
    def body(ck: Checker, answer: Any) -> None:
        _grade(ck, q, answer)

    body.__name__ = f"question_{qid}"


def _grade(ck: Checker, q: Question, answer: Any) -> None:
    if answer is None or answer is Ellipsis:
        raise ck.fail("no answer yet: set the answer variable in the cell above", f"expected {q.expected_format()}")
    try:
        text = q.normalize(answer)
    except AnswerFormatError as exc:
        raise ck.fail(f"your answer cannot be read: {exc}", f"expected {q.expected_format()}")
    ck.pending(f"your answer {text!r} has the expected form; it is graded after you hand in the notebook")


for _qid in QUESTIONS:
    _question_check(_qid)


def question(question_id: str, answer: Any):  # noqa: ANN201 - returns CheckResult
    """Check the answer to a conceptual question: ``question("03_q_cascade_order", "b")``."""
    from labkit.checks.registry import check

    return check(question_id, answer)


__all__ = ["Question", "QUESTIONS", "question", "normalize", "AnswerFormatError"]
