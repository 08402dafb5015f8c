"""Conceptual questions: multiple choice, true/false, short numeric or shape answers.

Answers are stored only as salted SHA-256 digests of the normalized answer, so
neither the student notebook nor this source shows them in plain text. A wrong
answer can get a targeted hint (also keyed by digest). To add a question, write
the :class:`Question` with ``digest=digest_of("<id>", <answer>, kind, ...)``
computed once in a Python shell, never the answer itself.

Normalization: letters are lower-cased and stripped (``"B)"`` → ``"b"``); a set
of letters is sorted (``"c, a"`` → ``"a,c"``); numbers are rounded to the
question's ``decimals``; shapes are tuples of ints (``torch.Size`` works too).
"""
from __future__ import annotations

import hashlib
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from labkit.checks.registry import exercise
from labkit.checks.runner import Checker

Kind = Literal["choice", "multi", "bool", "bools", "number", "ints"]
_SALT = "labkit/when-explanations-lie/v1"


class AnswerFormatError(ValueError):
    """The answer cannot be read in the question's format (the message says what is expected)."""


@dataclass(frozen=True)
class Question:
    """A question whose answer is stored as a digest.

    ``options`` are the letters of a choice question; ``length`` the number of
    statements of a ``bools`` question or of entries of an ``ints`` answer;
    ``decimals`` the rounding of a number; ``hints`` maps digests of wrong answers
    to a hint shown for exactly that answer.
    """

    id: str
    title: str
    kind: Kind
    digest: str
    points: float = 1.0
    options: tuple[str, ...] = ()
    length: int = 0
    decimals: int = 3
    hints: Mapping[str, str] = field(default_factory=dict)
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
    if type(v).__name__ == "bool_":  # numpy.bool_
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


def digest_of(question_id: str, answer: Any, kind: Kind, options: Sequence[str] = (), length: int = 0,
              decimals: int = 3) -> str:
    """Salted SHA-256 digest of a normalized answer (what :class:`Question` stores)."""
    text = normalize(answer, kind, options, length, decimals)
    return hashlib.sha256(f"{_SALT}|{question_id}|{text}".encode()).hexdigest()


ABCD = ("a", "b", "c", "d")

QUESTIONS: dict[str, Question] = {q.id: q for q in (
    Question("01_q_always_pneumonia", "Accuracy of a model that always says pneumonia", "number",
             "4b08f643a07b3ebb7f3e7f563d434a2930d6a754540b32ebf0249c13e9e7e2c8", decimals=3,
             hint="count the pneumonia images of the test split and divide by all test images"),
    Question("01_q_which_metric", "Which number exposes the always-pneumonia model", "choice",
             "fef8f1f0baee337f6a1a509deaedfff342393360f1c156a3c8c994a4aec3a80c", options=ABCD,
             hint="compute each number for the always-pneumonia model: which one is no better than a coin?"),
    Question("02_q_black_baseline", "Pixels that get zero attribution with the black baseline", "choice",
             "4541f4877262a149651f615bb561c0fb47c9c4bf659241c6e90fd7848a484b51", options=ABCD,
             hint="IG multiplies by (x − x′): where is that factor zero when x′ = −1.0 everywhere?"),
    Question("03_q_cascade_order", "Why the cascade starts at the output layer", "choice",
             "b95a37026675a1dea054659d5e2fc2d4d8ce73201511d735d9d95082f9968dff", options=ABCD,
             hint="think about which layers turn features into the class decision"),
    Question("03_q_without_weights", "Checks that need no access to the trained weights", "multi",
             "21ad00bcaf7036a3a684d7f744718dbbf3c0dddab1a2e9017367e46481325176", options=ABCD,
             hint="which checks change the trained parameters, and which only query the model or train a new one?"),
    Question("03_q_linear_model", "Gradient and Integrated Gradients on a linear model", "bools",
             "c9f9d35a7d86f893de5d88b592cfe3e1b7dd8f04eb6297b14391bcce62609b24", length=3,
             hint="for f(x) = w·x + b the gradient is w everywhere; write IG's formula with that gradient"),
    Question("03_q_map_shape", "Shape of a batch of saliency maps", "ints",
             "d63717b11c6977bac7bb0e1a28bdbe5c3159232345a9630bb896b81b071ca662", length=3,
             hint="one value per pixel of each image; the channel axis is summed away"),
    Question("03_q_gradcam_size", "Spatial size of SmallCNN's conv3 feature maps for a 64×64 input", "ints",
             "462b0c2a04800d6f18639b086ccd53a1744171bf8976305b7ff8b09f3253fec8", length=2,
             hint="count the 2×2 max-pooling layers that run before conv3"),
    Question("03_q_gxi_zero", "Where Gradient × Input is zero whatever the model", "choice",
             "0c33a628d975477bd25ab6cf4a52befa26068f12e1845cf5e7ca0d659b78e126", options=ABCD,
             hint="the product x · ∂f/∂x is zero where x = 0; which color is 0.0 in labkit's [-1, 1] scale?"),
    Question("03_q_label_randomization", "Reading the data randomization test", "choice",
             "8882c3e6173fa2af9b0da4c1b802bca689a88de551c51ff3b27d12eef26c88cd", options=ABCD,
             hint="a model trained on permuted labels learned nothing real about pneumonia"),
    Question("04_q_small_marker", "Which method misses a 4-pixel marker", "choice",
             "dd2e5602d55f9ae6adbf6f71e4c77b1c3006555b3306e6752c17e345a1a1b906", options=ABCD,
             hint="which method works at a coarse feature-map resolution?"),
    Question("04_q_control_marker", "Can a class-independent marker be a shortcut?", "bool",
             "a52f34c423931834517f4532545322fb532561306af29528dbb693f8c8ba0a82",
             hint="a shortcut is a feature that predicts the label in the training data"),
    Question("05_q_curve_direction", "Which way is better for deletion and insertion AUC", "choice",
             "b6fbdb82045847f7eaf75dbd472bd812b168531f232f65a3a203b198530b869f", options=ABCD,
             hint="deletion removes the pixels the map ranks first: what should happen to the probability?"),
    Question("06_q_negative_lambda", "Which way does p move for a small negative λ", "choice",
             "2f7ab363e35b8a47322a36257d5c883365df16d4d1fbee03cea8c0fc48815924", options=ABCD,
             hint="to first order, p(D(z + λg)) ≈ p(D(z)) + λ·‖g‖² with g = ∂p/∂z"),
    Question("06_q_why_latent", "Why shift the latent code and not the pixels", "choice",
             "868ca70fd535c971c10c2d9b0a59d939c487bc8b6e011f952dea934a24500345", options=ABCD,
             hint="what does a small gradient step on the pixels do to a classifier's prediction?"),
)}


#: Targeted hints for common wrong answers, keyed by the digest of that wrong answer.
_WRONG_ANSWER_HINTS: dict[str, dict[str, str]] = {
    '01_q_always_pneumonia': {
        '5e999552275bf05ff2b3b20562c3f2650f4e8db5eec9e255ed74daed54c96155':
            '0.5 is its balanced accuracy (sensitivity 1, specificity 0); the question asks for the plain accuracy',
        'b9a329696375de5dfa775833a88ae0c8a9a052d7651778ac031446f9f7e15774':
            'that is the share of normal test images, which this model gets all wrong',
    },
    '01_q_which_metric': {
        'ce0dc8970913a65231edeae691c6dab213fc12d4301c17798fe7d4909c21f6a7':
            'its accuracy looks respectable because most test images show pneumonia: that is the trap',
        '9929f8653ed5c041832797735ebcb95cd5b917438734460e184b5cea799cb4fe':
            'its sensitivity is perfect: it finds every pneumonia case',
    },
    '02_q_black_baseline': {
        '1c5f99fd5a9b3d4afd8a0945b808bb234a2cc6be773872929bfcaedb6ab7aabf':
            'mid-gray pixels get zero with the gray baseline; here x′ = −1.0',
    },
    '03_q_gxi_zero': {
        '7baac7eca34aed827c1c62729037d1c4fbb4cf35a9034b6564a55d67e01c3e56':
            "that holds in [0, 1]-scaled images, where black is 0; in labkit's scale black is −1.0",
    },
    '03_q_map_shape': {
        'd6a42791a9eff62ef8ad0b07d1fb28399ab60fcb568a35126d7494d8909642e3':
            "labkit's maps have no channel axis: it is summed away",
    },
    '03_q_gradcam_size': {
        '3104b9e7274db8b1826960847b27ba8f6c96c645fcc5825cb1c06b473bf629b3':
            'that is the size after upsampling; the feature maps themselves are smaller',
    },
    '03_q_linear_model': {
        'd000f0b4bf526b9891728b7d4d6c94a847fc44b00c52e42aacd8b1c5d41e609f':
            'IG multiplies the gradient by (x − x′), so IG and the plain gradient differ',
        '104f61689354de9a705af9bbd441fbff3ce87910d57288021d3ef33e00ac07a5':
            'the gradient of w·x + b is w, whatever the image',
    },
    '04_q_control_marker': {
        '3a1bb19903c76626fb3bd87fd991548a740eb8970e4bb30237296b0ea91d7cc9':
            'a marker that is the same for both classes tells the model nothing about the label',
    },
    '06_q_negative_lambda': {
        '40d706b2c7b74c98250c3008e6b94591b5af26b10d9767dfb887e3b78f450782':
            'the shift follows +∂p/∂z, so a negative λ steps against the gradient',
    },
    '06_q_why_latent': {
        'fb88c46928b4a8a63ad61ec4dfd0fc8603f555ed58c34d2bd89ccf500036d9cf':
            'the code is smaller than the image: it is a bottleneck',
    },
    '04_q_small_marker': {
        '2e498bce8d5d9952f4792dab39ba90d5843a90486953ad897f5fd7a727c95fa7':
            'an 8×8 patch covers a 4-pixel marker completely, so hiding it changes the prediction',
    },
}



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
    d = hashlib.sha256(f"{_SALT}|{q.id}|{text}".encode()).hexdigest()
    if d != q.digest:
        hint = _WRONG_ANSWER_HINTS.get(q.id, {}).get(d) or q.hints.get(d) or q.hint or None
        raise ck.fail(f"{text!r} is not correct", hint)
    ck.award(q.points, f"{text!r} is correct")


for _qid in QUESTIONS:
    _question_check(_qid)


def question(question_id: str, answer: Any):  # noqa: ANN201 - returns CheckResult
    """Check the answer to a conceptual question: ``question("03_q_cascade_order", "b")``."""
    from labkit.checks.registry import check

    return check(question_id, answer)


__all__ = ["Question", "QUESTIONS", "question", "digest_of", "normalize", "AnswerFormatError"]
