"""Long work off the UI thread: a :class:`Job` with progress, cancel and a typed result.

A job reports through traits (``status``, ``progress``, ``message``), so a panel
binds a progress bar to it with ``traitlets.dlink`` and a script simply calls
:meth:`Job.wait`, which returns the result or raises the job's error. Run with
``background=False`` the work happens inline and an error is raised at once (the
CLI's error handler sees it). :class:`TrainingJob` adds pause/resume/stop and the
epoch history for training runs (:mod:`labkit.session.recipes` says what to train).
:func:`abort_forward` stops work that has no progress reports of its own (an explainer
call) at the model's next forward pass.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable, Generic, Iterator, TypeVar

from torch import nn
from traitlets import Float, List, Unicode

from labkit.errors import JobError, TrainingError, one_line
from labkit.session.traits import CheckedTraits

T = TypeVar("T")
Report = Callable[[int, int], None]
STATUSES = ("idle", "running", "paused", "stopped", "done", "cancelled", "error")


class Cancelled(Exception):
    """Raised inside a job's work by ``report`` once :meth:`Job.cancel` was called."""


@contextlib.contextmanager
def abort_forward(model: nn.Module, stop: Callable[[], bool] | None) -> Iterator[None]:
    """While active, a forward pass of ``model`` on this thread raises :class:`Cancelled` once ``stop()``
    is true (checked once per pass, e.g. per chunk of an explainer's batches); other threads using the
    same model are not affected. ``stop=None`` does nothing."""
    if stop is None:
        yield
        return
    owner = threading.get_ident()

    def check(module: nn.Module, args: object) -> None:
        if threading.get_ident() == owner and stop():
            raise Cancelled()

    handle = model.register_forward_pre_hook(check)
    try:
        yield
    finally:
        handle.remove()


class Job(CheckedTraits, Generic[T]):
    """One piece of long work at a time, on a daemon thread or inline."""

    status = Unicode("idle", help=f"one of {STATUSES}")
    progress = Float(0.0, help="fraction done, 0…1")
    message = Unicode("", help="what the job is doing, or how it ended")

    def __init__(self, name: str = "labkit-job") -> None:
        super().__init__()
        self.name = name
        self.result: T | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, what: str, work: Callable[[Report], T], on_done: Callable[[T], None] | None = None,
              background: bool = True, describe: Callable[[T], str] | None = None) -> None:
        """Run ``work(report)``; ``on_done(result)`` runs after success, on the same thread.

        ``describe(result)`` gives the final message (default: "<what>: done in N s").
        Raises :class:`JobError` when the job is already running. With
        ``background=False`` any error of ``work`` is raised here too.
        """
        if self.running:
            raise JobError(f"{what}: another run is still going — wait for it or press Cancel")
        self._cancel.clear()
        self.result, self.error = None, None
        self.progress, self.status, self.message = 0.0, "running", f"{what}…"
        if background:
            self._thread = threading.Thread(target=self._run, args=(what, work, on_done, describe), daemon=True,
                                            name=self.name)
            self._thread.start()
        else:
            self._run(what, work, on_done, describe)
            if self.error is not None:
                raise self.error

    def _run(self, what: str, work: Callable[[Report], T], on_done: Callable[[T], None] | None,
             describe: Callable[[T], str] | None = None) -> None:
        t0 = time.perf_counter()
        try:
            result = work(self.report)
            if on_done is not None:
                on_done(result)
        except Cancelled:
            self.status, self.message = "cancelled", f"{what}: cancelled"
        except Exception as exc:  # noqa: BLE001 — kept for wait() and shown as one line
            self.error = exc
            self.status, self.message = "error", f"{what}: {one_line(exc)}"
        else:
            self.result = result
            self.progress = 1.0
            self.status = self._final_status(result)
            self.message = describe(result) if describe else f"{what}: done in {time.perf_counter() - t0:.1f} s"

    def _final_status(self, result: T) -> str:
        return "done"

    def report(self, done: int, total: int) -> None:
        """Progress callback handed to the work; raises :class:`Cancelled` after :meth:`cancel`."""
        self.progress = min(1.0, done / max(total, 1))
        if self._cancel.is_set():
            raise Cancelled()

    def cancel(self) -> None:
        """Ask the work to stop at its next progress report."""
        self._cancel.set()

    @property
    def cancelling(self) -> bool:
        """True once :meth:`cancel` was called for the current run (work without progress reports can
        poll it, e.g. through :func:`abort_forward`)."""
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> T | None:
        """Block until the job ends; return its result or raise its error."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.result


class TrainingJob(Job[Any]):
    """A training run that can be paused, resumed and stopped; ``history`` grows per epoch.

    :meth:`run` takes a ready :class:`~labkit.train.Trainer` and a ``finish(trainer)``
    callable that turns the trained model into the job's result (a scored
    :class:`~labkit.checkpoint.ModelEntry`).
    """

    history = List(help="EpochRecord of the running or last training")

    def __init__(self) -> None:
        super().__init__("labkit-training")
        self.trainer: Any = None
        self._finish: Callable[[Any], Any] | None = None
        self._on_done: Callable[[Any], None] | None = None
        self._describe: Callable[[Any], str] | None = None
        self._pause = self._stopped = False
        self._last_batch: Any = None
        self.what = ""

    @property
    def paused(self) -> bool:
        return self.status == "paused" and self.trainer is not None

    @property
    def active(self) -> bool:
        """Running, or paused with a run to resume."""
        return self.running or self.paused

    def ensure_idle(self) -> None:
        """Raise :class:`TrainingError` while a run is running or paused."""
        if self.active:
            state = "paused" if self.paused else "running"
            raise TrainingError(f"a training run is {state}: resume or stop it before starting another")

    def run(self, what: str, trainer: Any, finish: Callable[[Any], Any], on_done: Callable[[Any], None] | None = None,
            describe: Callable[[Any], str] | None = None, stop_at_train_acc: float | None = None,
            background: bool = True) -> None:
        """Start training ``trainer``; refuses while another run is running or paused."""
        self.ensure_idle()
        trainer.on_batch = self._on_batch
        trainer.on_epoch = lambda rec: self._on_epoch(rec, stop_at_train_acc)
        self.trainer, self._finish, self._on_done, self._describe, self.what = trainer, finish, on_done, describe, what
        self.history, self._pause, self._last_batch = [], False, None
        self._go(self._fit, background)

    def _go(self, work: Callable[[Report], Any], background: bool) -> None:
        describe = self._describe
        self.start(self.what, work, self._done, background,
                   None if describe is None else lambda entry: describe(entry) if entry is not None else "")

    def _fit(self, report: Report) -> Any:
        try:
            self.trainer.fit()
        except BaseException:
            self.trainer = None  # a failed run cannot be resumed
            raise
        if self._pause and self.trainer.stopped:
            return None
        return self._finish_run()

    def _finish_run(self) -> Any:
        """The finished entry; a run stopped inside an epoch records how far that epoch got, since the
        kept weights include its batches (the history's epochs do not)."""
        entry = self._finish(self.trainer)
        b = self._last_batch
        if self.trainer.stopped and b is not None and b.batch < b.num_batches and hasattr(entry, "history"):
            entry.history["partial_epoch"] = {"epoch": b.epoch + 1, "batches": b.batch, "of": b.num_batches}
        return entry

    def _done(self, entry: Any) -> None:
        if entry is None:  # paused: the trainer stays for resume()
            return
        self._stopped, self.trainer = self.trainer.stopped, None
        if self._on_done is not None:
            self._on_done(entry)

    def _final_status(self, result: Any) -> str:
        if result is None:
            return "paused"
        return "stopped" if self._stopped else "done"

    def _run(self, what: str, work: Any, on_done: Any, describe: Any = None) -> None:
        super()._run(what, work, on_done, describe)
        if self.status == "paused":
            self.progress = self._last_batch.progress if self._last_batch is not None else 0.0
            b = self._last_batch
            where = f"epoch {b.epoch + 1}, batch {b.batch} of {b.num_batches}" if b is not None else "the start"
            self.message = f"{what}: paused at {where}"

    def _on_batch(self, info: Any) -> None:
        self._last_batch = info
        self.progress = info.progress

    def _on_epoch(self, record: Any, stop_at_train_acc: float | None) -> None:
        self.history = [*self.history, record]
        if stop_at_train_acc is not None and record.train_acc >= stop_at_train_acc:
            self.trainer.stop()

    def pause(self) -> None:
        """Pause after the current batch; :meth:`resume` continues where it stopped."""
        if not self.running:
            raise TrainingError("no training is running, so there is nothing to pause")
        self._pause = True
        self.trainer.stop()

    def resume(self, background: bool = True) -> None:
        """Continue a paused run."""
        if not self.paused:
            why = f" (the last run ended: {self.message})" if self.message else ""
            raise TrainingError(f"nothing to resume: no training is paused{why}")
        self._pause = False
        self._go(self._fit, background)

    def stop(self) -> None:
        """Stop after the current batch and keep the model trained so far."""
        if self.running:
            self._pause = False
            self.trainer.stop()
        elif self.paused:
            self.trainer.stopped = True
            self._pause = False
            self._go(lambda report: self._finish_run(), background=False)
        else:
            raise TrainingError("no training to stop: none is running or paused")
