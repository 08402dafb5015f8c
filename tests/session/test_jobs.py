"""Session jobs: progress, cancel, typed results, errors raised to scripts."""
import threading

import pytest

from labkit.errors import JobError
from labkit.session import Job


def test_inline_job_returns_its_result_and_reports_progress() -> None:
    job, seen = Job(), []
    job.observe(lambda ch: seen.append(ch["new"]), "progress")
    job.start("summing", lambda report: (report(1, 2), report(2, 2), 3)[-1], background=False)
    assert job.wait() == 3 and job.status == "done" and seen[-1] == 1.0 and 0.5 in seen
    assert job.message.startswith("summing: done in")


def test_inline_error_is_raised_and_kept() -> None:
    job = Job()
    with pytest.raises(ZeroDivisionError):
        job.start("failing", lambda report: 1 / 0, background=False)
    assert job.status == "error" and job.message == "failing: ZeroDivisionError: division by zero"
    with pytest.raises(ZeroDivisionError):
        job.wait()


def test_background_error_reaches_wait() -> None:
    job = Job()
    job.start("failing", lambda report: [][1])
    with pytest.raises(IndexError):
        job.wait(10)


def test_cancel_stops_at_the_next_report_and_on_done_is_skipped() -> None:
    gate, done = threading.Event(), []
    job = Job()

    def slow(report):
        for i in range(100):
            gate.wait(5)
            report(i, 100)
        return "finished"

    job.start("slow", slow, done.append)
    with pytest.raises(JobError, match="still going"):
        job.start("again", slow)
    assert not job.cancelling
    job.cancel()
    assert job.cancelling
    gate.set()
    assert job.wait(10) is None
    assert job.status == "cancelled" and job.message == "slow: cancelled" and done == []
    job.start("quick", lambda report: 1, background=False)
    assert not job.cancelling  # a new run starts uncancelled


def test_describe_gives_the_final_message() -> None:
    job = Job()
    job.start("x", lambda report: 41, background=False, describe=lambda r: f"answer {r + 1}")
    assert job.message == "answer 42"
