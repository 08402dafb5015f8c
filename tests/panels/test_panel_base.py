"""Shared panel plumbing: status line, error guard, coalescing renderer, jobs."""
from __future__ import annotations

import threading
import time

import ipywidgets as W
import pytest

from labkit.errors import InputError
from labkit.panels import Coalescer, Panel, StatusLine, reporting
from labkit.session import Job
from labkit.session import ExperimentState


def test_status_line_shows_one_line_and_escapes() -> None:
    st = StatusLine()
    st.show("first <line>\nsecond line")
    assert st.text == "first <line>"
    assert "&lt;line&gt;" in st.widget.value and "second line" in st.widget.value  # rest on hover only
    st.error("broken")
    assert st.kind == "error" and "⚠" in st.widget.value


def test_status_line_follows_state_message() -> None:
    state = ExperimentState(device="cpu")
    st = StatusLine(state)
    state.message = "hello from the state"
    assert st.text == "hello from the state"
    st.close()
    state.message = "not shown"
    assert st.text == "hello from the state"


@pytest.mark.parametrize("exc, expected", [(InputError("bad patch\nmore"), "bad patch"),
                                           (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero"),
                                           (RuntimeError(), "RuntimeError")])
def test_reporting_turns_any_exception_into_a_status_line(exc: Exception, expected: str) -> None:
    st = StatusLine()
    with reporting(st, "doing it"):
        raise exc
    assert st.kind == "error"
    assert st.text == f"doing it: {expected}"
    assert "Traceback" not in st.widget.value


def test_panel_guards_observers_and_buttons() -> None:
    state = ExperimentState(device="cpu")
    p = Panel(state)
    button = W.Button()

    def boom() -> None:
        raise InputError("button failed")

    p.on_click(button, boom)
    button.click()
    assert p.status.text == "button failed"
    p.watch(state, lambda ch: 1 / 0, "message")
    state.message = "x"
    assert p.status.text.startswith("ZeroDivisionError")
    p.close()
    state.message = "y"  # no observer left
    assert "ZeroDivisionError" in p.status.text
    with pytest.raises(TypeError):
        Panel(object())  # type: ignore[arg-type]


def test_coalescer_synchronous_mode_runs_every_request() -> None:
    calls = []
    c = Coalescer(lambda: calls.append(1), delay=0)
    for _ in range(5):
        c.request()
    assert len(calls) == 5 and c.idle


def test_coalescer_renders_the_last_of_a_burst() -> None:
    value = {"v": 0}
    seen: list[int] = []

    def render() -> None:
        time.sleep(0.01)
        seen.append(value["v"])

    c = Coalescer(render, delay=0.02)
    for i in range(100):
        value["v"] = i
        c.request()
    assert c.wait(10)
    assert seen[-1] == 99
    assert len(seen) < 20  # coalesced, not 100 renders


def test_coalescer_reports_errors_and_keeps_working() -> None:
    errors: list[BaseException] = []
    state = {"fail": True}

    def render() -> None:
        if state["fail"]:
            raise InputError("nope")

    c = Coalescer(render, delay=0.01, on_error=errors.append)
    c.request()
    assert c.wait(5) and isinstance(errors[0], InputError)
    state["fail"] = False
    c.request()
    assert c.wait(5) and len(errors) == 1


def test_status_line_follows_a_job_in_the_colour_of_its_status() -> None:
    st, job = StatusLine(), Job()
    st.follow(job)
    job.start("summing", lambda report: (report(1, 2), 3)[-1], background=False)
    assert st.kind == "ok" and st.text.startswith("summing: done")
    with pytest.raises(ZeroDivisionError):
        job.start("failing", lambda report: 1 / 0, background=False)
    assert st.kind == "error" and "failing: ZeroDivisionError" in st.text