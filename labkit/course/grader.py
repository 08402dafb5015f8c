"""The grading process: ``python -m labkit.course.grader`` reads one JSON request on stdin.

Started by :func:`labkit.course.hidden.grade` in a fresh interpreter, so no object a
notebook changed exists here. For a code exercise it rebuilds the student's functions
from their source, takes an integrity :class:`~labkit.course.integrity.Snapshot`, runs
the exercise's check on the hidden cases of the request's seed, and gives 0 points if
the student's code replaced anything the checker relies on. For a question it compares
the normalized answer with the expected one sent by the instructor's hidden test.
Whatever the student's code prints is discarded; the one result line (JSON, with the
request's nonce, and the report as HTML) goes to the original stdout.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import linecache
import os
import sys
from typing import Any

from labkit.checks import EXERCISES, CheckResult, Message, fixtures
from labkit.checks.questions import QUESTIONS, AnswerFormatError
from labkit.course.integrity import Snapshot


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(f"labkit-hidden|{text}".encode()).digest()[:4], "big") & 0x7FFFFFFF


def _failed(exercise: str, points: float, text: str) -> CheckResult:
    title = EXERCISES[exercise].title if exercise in EXERCISES else exercise
    return CheckResult(exercise, title, False, 0.0, points, (Message("fail", text),))


def _rebuild(items: list[dict]) -> tuple[list[Any], str | None]:
    """The student's functions rebuilt from their sources, or an error message."""
    namespace: dict[str, Any] = {"__name__": "__student__"}
    functions = []
    for item in items:
        if "error" in item:
            return [], item["error"]
        filename = f"<your {item['name']}>"
        source = item["source"]
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - the point of this process
        except BaseException as exc:  # noqa: BLE001 - any failure is the student's feedback
            return [], f"your code could not be rebuilt for grading: {type(exc).__name__}: {exc}"
        functions.append(namespace[item["name"]])
    return functions, None


def grade_code(request: dict) -> CheckResult:
    exercise = EXERCISES[request["exercise"]]
    snapshot = Snapshot()
    changed = snapshot.changed
    functions, error = _rebuild(request["functions"])
    if error:
        return _failed(exercise.id, exercise.points, error)
    with fixtures.grading(_seed(f"{request['seed']}|{exercise.id}")):
        result = exercise.check(*functions)
    tampered = changed()
    if tampered:
        return _failed(exercise.id, exercise.points, "grading stopped, 0 points: your code replaced "
                       f"{', '.join(tampered[:4])}, which the checker relies on")
    return result


def _normalized(q: Any, answer: Any) -> str:
    """A hint's key: an answer in any form the question accepts, or its normalized text itself."""
    try:
        return q.normalize(answer)
    except AnswerFormatError:
        return str(answer)


def grade_answer(request: dict) -> CheckResult:
    q = QUESTIONS[request["exercise"]]
    answer = request.get("answer")
    try:
        if isinstance(answer, dict):
            raise AnswerFormatError(f"expected {q.expected_format()}, got {answer.get('unreadable')}")
        text = q.normalize(answer)
    except AnswerFormatError as exc:
        return _failed(q.id, q.points, f"your answer cannot be read: {exc}")
    if text == q.normalize(request["expected"]):
        return CheckResult(q.id, q.title, True, q.points, q.points, (Message("ok", f"{text!r} is correct"),))
    hints = {_normalized(q, k): v for k, v in request.get("hints", {}).items()}
    hint = hints.get(text) or q.hint
    return CheckResult(q.id, q.title, False, 0.0, q.points, (Message("fail", f"{text!r} is not correct"),
                                                            *([Message("hint", hint)] if hint else [])))


def main() -> int:
    result_fd = os.dup(1)
    sink = os.open(os.devnull, os.O_WRONLY)
    os.dup2(sink, 1)
    os.dup2(sink, 2)
    request = json.loads(sys.stdin.read())
    nonce = request.pop("nonce")
    try:
        kind = EXERCISES[request["exercise"]].kind
        result = grade_answer(request) if kind == "question" else grade_code(request)
    except BaseException as exc:  # noqa: BLE001 - a crash scores 0 and says why
        result = _failed(request.get("exercise", "?"), 0.0, f"grading failed: {type(exc).__name__}: {exc}")
    shown = dataclasses.replace(result, title=f"{result.title} (hidden tests)")
    line = json.dumps({"nonce": nonce, "points": result.points, "max_points": result.max_points,
                       "messages": [str(m) for m in result.messages], "html": shown._repr_html_()})
    os.write(result_fd, (line + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
