"""The checks framework: results, HTML, exceptions as one line, captured output, registry."""
from __future__ import annotations

import sys

import torch

from labkit import checks
from labkit.checks import CheckResult, Message
from labkit.checks.runner import describe_exception


def test_result_renders_html_and_text():
    r = CheckResult("02_gradient", "Vanilla <gradient>", False, 1.0, 2.0,
                    (Message("ok", "part one"), Message("fail", "a < b"), Message("hint", "try x")))
    html = r._repr_html_()
    assert "&lt;gradient&gt;" in html and "a &lt; b" in html and "1 / 2 points" in html
    assert str(r).splitlines()[0] == "◐ 02_gradient — Vanilla <gradient>: 1 / 2 points"
    assert r.status == "partial" and r.feedback == ["part one", "a < b", "try x"]


def test_grade_returns_points_and_prints_outside_ipython(capsys):
    r = CheckResult("x", "t", True, 2.0, 2.0, (Message("ok", "fine"),))
    assert r.grade() == 2.0
    assert "fine" in capsys.readouterr().out


def test_the_value_of_grade_shows_the_report_and_nbgrader_reads_the_points():
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell
    from nbgrader.utils import determine_grade

    r = CheckResult("02_gradient", "Vanilla gradient", False, 1.5, 2.0, (Message("ok", "part"), Message("fail", "no")))
    data, metadata = InteractiveShell.instance().display_formatter.format(r.grade())  # what the kernel sends
    assert set(data) == {"text/plain", "text/html"} and data["text/plain"] == "1.5"
    assert "1.5 / 2 points" in data["text/html"] and "✘ no" in data["text/html"]
    assert metadata == {"labkit": {"feedback": ["✔ part", "✘ no"]}}
    cell = nbformat.v4.new_code_cell("checks.gradient(fn).grade()")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "points": 2, "grade_id": "02_gradient"}
    cell.outputs = [nbformat.v4.new_output("execute_result", data, metadata=metadata, execution_count=1)]
    assert determine_grade(cell) == (1.5, 2.0)


def test_grade_shows_its_report_once_whether_or_not_it_is_the_cells_value(monkeypatch, capsys):
    """Last in the cell (student version) the points are the value and nothing else shows; followed by
    the hidden test (instructor version) the report is displayed at the end of the cell, as a display
    output whose text is the report, not a number, and the later value stays the cell's result."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    displayed: list[tuple[dict, dict]] = []  # what display() sends: display outputs, never the cell's value
    monkeypatch.setattr(shell.display_pub, "publish", lambda data, metadata=None, **kw: displayed.append((data, metadata)))
    shell.user_ns["r"] = CheckResult("02_gradient", "Vanilla gradient", True, 2.0, 2.0, (Message("ok", "fine"),))
    for source, value, shown in (("r.grade()", 2.0, 0), ("r.grade()\n0.5", 0.5, 1), ("r.grade();", None, 1)):
        displayed.clear()
        result = shell.run_cell(source, store_history=True)  # (`;` is read from the history)
        assert result.result == value and result.success, source
        assert len(displayed) == shown, source
        for data, metadata in displayed:
            assert data["text/plain"].splitlines()[0] == "✔ 02_gradient — Vanilla gradient: 2 / 2 points"
            assert "labkit-check" in data["text/html"] and metadata == {"labkit": {"feedback": ["✔ fine"]}}
    displayed.clear()
    shell.run_cell("1", store_history=False)
    assert displayed == [], "a report shows in its own cell only"
    assert "2.0" in capsys.readouterr().out  # the first cell's value, printed by the terminal's displayhook


def test_backticks_become_code_and_the_rest_is_escaped():
    r = CheckResult("x", "t", False, 0.0, 1.0, (Message("fail", "line 3: `return x<y` & `a` but a lone ` stays"),))
    html = r._repr_html_()
    assert "line 3: <code>return x&lt;y</code> &amp; <code>a</code> but a lone ` stays" in html
    assert "`return" in str(r)  # the plain-text report keeps the backticks


def _boom(model, x, target):
    values = [1, 2, 3]
    return values[10]


def test_student_exception_is_one_line_with_the_line_of_code():
    result = checks.gradient(_boom)
    assert not result.passed and len(result.messages) == 1
    text = result.feedback[0]
    assert "IndexError: list index out of range" in text
    assert "`return values[10]`" in text and "Traceback" not in text


def test_exception_raised_inside_torch_points_at_the_student_line():
    def bad(model, x, target):
        flat = x.flatten(1)
        return model(flat)

    text = checks.gradient(bad).feedback[0]
    assert "`return model(flat)`" in text


def test_not_implemented_gets_its_own_message():
    def stub(model, x, target):
        raise NotImplementedError()

    text = checks.gradient(stub).feedback[0]
    assert text.startswith("NotImplementedError") and "not implemented yet" in text


def test_output_and_warnings_of_student_code_are_captured(capfd):
    import warnings

    def noisy(model, x, target):
        print("debug print")
        print("to stderr", file=sys.stderr)
        warnings.warn("careful")
        x = x.clone().requires_grad_(True)
        model(x)[:, target].sum().backward()
        return x.grad.abs()[:, 0]

    result = checks.gradient(noisy)
    out, err = capfd.readouterr()
    assert result.passed
    assert "debug print" not in out and err == ""
    assert any("printed output" in m for m in result.feedback)
    assert any("UserWarning: careful" in m for m in result.feedback)


def test_student_code_cannot_change_the_checker_models():
    def vandal(model, x, target):
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        model.train()
        return torch.zeros(x.shape[0], *x.shape[-2:])

    checks.gradient(vandal)
    assert checks.gradient(_right_gradient).passed


def _right_gradient(model, x, target):
    x = x.clone().requires_grad_(True)
    model(x)[:, target].sum().backward()
    return x.grad.abs()[:, 0]


def test_passing_a_call_result_instead_of_a_function():
    result = checks.gradient(42)
    assert "pass the function itself" in result.feedback[0]


def test_wrong_arguments_to_a_check_are_feedback():
    result = checks.gradient()
    assert not result.passed and "wrong arguments" in result.feedback[0]


def test_registry_lists_every_exercise_and_dispatches():
    ids = checks.list_checks()
    assert "02_gradient" in ids and "03_q_cascade_order" in ids and len(ids) == len(set(ids))
    assert checks.check("02_gradient", _right_gradient).passed
    unknown = checks.check("02_gradinet", _right_gradient)
    assert not unknown.passed and "02_gradient" in unknown.feedback[0]
    assert checks.list_checks("01") == ["01_clinical_metrics", "01_confusion", "01_q_always_pneumonia",
                                        "01_q_which_metric"]


def test_checker_bug_becomes_feedback_without_debug(monkeypatch):
    from labkit.checks.runner import run_check

    monkeypatch.delenv("LABKIT_CHECKS_DEBUG", raising=False)

    def body(ck):
        raise RuntimeError("internal")

    r = run_check("x", "t", 1.0, body)
    assert not r.passed and "checker itself failed" in r.feedback[0]


def test_describe_exception_without_student_frames():
    try:
        int("x")
    except ValueError as exc:
        text = describe_exception(exc)
    assert text.startswith("your function raised ValueError")


def _gradient(model, x, target):
    x = x.clone().requires_grad_(True)
    model(x)[:, target].sum().backward()
    return x.grad.abs()


def test_shape_messages_relate_the_map_to_the_images_the_function_got():
    rule = ("for images x of shape (N, C, H, W) = (3, 1, 32, 32), as your function got them here, return one value "
            "per pixel of each image: (N, H, W) = (3, 32, 32)")
    assert checks.gradient(_gradient).feedback[0] == \
        f"your gradient map has shape (3, 1, 32, 32): it kept the images' channel axis; {rule}"
    one = checks.gradient(lambda m, x, t: _gradient(m, x, t)[0, 0]).feedback[0]
    assert one == f"your gradient map has shape (32, 32): one map for all 3 images; {rule}"
    cropped = checks.gradient(lambda m, x, t: _gradient(m, x, t)[:, 0, :5]).feedback[0]
    assert cropped == f"your gradient map has shape (3, 5, 32); {rule}"  # not Grad-CAM's "layer's resolution"
