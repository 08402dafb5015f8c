"""What every panel shares: the status line, the error guard, background jobs and
the coalescing renderer.

* :class:`StatusLine` — one HTML line; shows the state's messages and every error.
* :func:`reporting` — context manager (and :func:`guarded`, its decorator form):
  any exception inside becomes a one-line message in the status line, never a
  traceback on screen.
* :class:`Coalescer` — runs a render function for the *latest* request only, on a
  worker thread after a short quiet time (``delay``); ``delay=0`` renders
  synchronously (tests, benchmarks).
* :class:`Job` — long work (cascades, evaluations) on a thread with progress,
  cancel and a synchronous mode.
* :class:`Panel` — base class: holds the state and the status line, observes
  traits through the guard and unobserves them on :meth:`Panel.close`.
"""
from __future__ import annotations

import contextlib
import functools
import html
import threading
import time
from typing import Any, Callable, Iterator, TypeVar

import ipywidgets as W
from traitlets import All, HasTraits, TraitError

from labkit.errors import LabkitError
from labkit.state import ExperimentState

F = TypeVar("F", bound=Callable[..., Any])
COLORS = {"info": "#333", "ok": "#1a7f37", "warn": "#9a6700", "error": "#cf222e", "busy": "#0550ae"}


def one_line(exc: BaseException) -> str:
    """A short message for an exception: its first line, type named when it is not ours."""
    text = str(exc).strip()
    if isinstance(exc, TraitError) and "'" in text and "trait of" in text:
        text = text.split(" trait of ")[0] + " is not valid"
    first = text.splitlines()[0] if text else ""
    if isinstance(exc, (LabkitError, TraitError)):
        return first or type(exc).__name__
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class StatusLine:
    """An HTML line showing the latest message; errors in red, the full text on hover.

    It mirrors ``state.message`` (set by training, loading, …) and the training
    status; panels call :meth:`show` / :meth:`error` directly.
    """

    def __init__(self, state: ExperimentState | None = None) -> None:
        self.widget = W.HTML(layout=W.Layout(min_height="1.6em", width="100%"))
        self.widget.add_class("labkit-status")
        self.text = ""
        self.kind = "info"
        self._state = state
        self._lock = threading.Lock()
        if state is not None:
            state.observe(self._on_message, "message")
            if state.message:
                self.show(state.message)

    def _on_message(self, change: dict) -> None:
        if change["new"]:
            kind = "error" if self._state is not None and self._state.status == "error" else "info"
            if self._state is not None and self._state.status in ("done", "stopped") and kind == "info":
                kind = "ok"
            self.show(change["new"], kind)

    def show(self, message: str, kind: str = "info") -> None:
        """Show ``message`` (first line; the rest on hover). ``kind``: info, ok, warn, error, busy."""
        message = str(message)
        first = message.strip().splitlines()[0] if message.strip() else ""
        icon = {"error": "⚠ ", "warn": "⚠ ", "ok": "✓ ", "busy": "… "}.get(kind, "")
        with self._lock:
            self.text, self.kind = first, kind
            self.widget.value = (f'<div title="{html.escape(message, quote=True)}" style="color:{COLORS.get(kind, "#333")};'
                                 f'white-space:nowrap;overflow:hidden;text-overflow:ellipsis">'
                                 f'{icon}{html.escape(first)}</div>')

    def error(self, message: str) -> None:
        self.show(message, "error")

    def close(self) -> None:
        if self._state is not None:
            with contextlib.suppress(ValueError):
                self._state.unobserve(self._on_message, "message")


@contextlib.contextmanager
def reporting(status: StatusLine, what: str = "") -> Iterator[None]:
    """Turn any exception in the block into a one-line message in ``status``."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 — the projector must never show a traceback
        prefix = f"{what}: " if what else ""
        status.error(prefix + one_line(exc))


def guarded(method: F) -> F:
    """Decorator for panel methods: exceptions go to ``self.status`` (the method returns None)."""
    @functools.wraps(method)
    def wrapper(self: "Panel", *args: Any, **kwargs: Any) -> Any:
        with reporting(self.status):
            return method(self, *args, **kwargs)
        return None
    return wrapper  # type: ignore[return-value]


class Coalescer:
    """Run ``fn`` for the latest of a burst of requests.

    With ``delay > 0`` a daemon worker waits until no request has come for
    ``delay`` seconds, then calls ``fn`` once; requests arriving meanwhile cause
    one more call afterwards, so the last request is always rendered. ``fn`` reads
    the current widget values itself, which is what makes coalescing correct.
    With ``delay == 0`` :meth:`request` calls ``fn`` at once (synchronous path).
    Exceptions of ``fn`` go to ``on_error``.
    """

    def __init__(self, fn: Callable[[], None], delay: float = 0.05,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.fn, self.delay, self.on_error = fn, float(delay), on_error
        self._cv = threading.Condition()
        self._requested = self._done = 0
        self._last_request = 0.0
        self._worker: threading.Thread | None = None
        self._run_lock = threading.Lock()
        self.runs = 0

    def request(self) -> None:
        if self.delay <= 0:
            with self._cv:
                self._requested += 1
                target = self._requested
            self._call(target)
            return
        with self._cv:
            self._requested += 1
            self._last_request = time.monotonic()
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._loop, daemon=True, name="labkit-render")
                self._worker.start()
            self._cv.notify_all()

    def _call(self, target: int) -> None:
        with self._run_lock:
            try:
                self.fn()
            except Exception as exc:  # noqa: BLE001
                if self.on_error is not None:
                    self.on_error(exc)
            finally:
                self.runs += 1
                with self._cv:
                    self._done = max(self._done, target)
                    self._cv.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cv:
                if not self._cv.wait_for(lambda: self._requested > self._done, timeout=60.0):
                    self._worker = None
                    return
                while (quiet := time.monotonic() - self._last_request) < self.delay:
                    self._cv.wait(self.delay - quiet)
                target = self._requested
            self._call(target)

    @property
    def idle(self) -> bool:
        with self._cv:
            return self._done >= self._requested

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every request so far is rendered; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: self._done >= self._requested, timeout=timeout)


class Cancelled(Exception):
    """Raised inside a :class:`Job` when its cancel button was pressed."""


class Job:
    """Long work on a background thread (or inline with ``background=False``).

    ``work(report)`` receives a ``report(done, total)`` callback that updates
    ``progress`` (a FloatProgress) and raises :class:`Cancelled` once
    :meth:`cancel` was called. ``on_done(result)`` runs after success; any error
    goes to the status line.
    """

    def __init__(self, status: StatusLine, progress: W.FloatProgress, background: bool = True) -> None:
        self.status, self.progress, self.background = status, progress, background
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, what: str, work: Callable[[Callable[[int, int], None]], Any],
              on_done: Callable[[Any], None]) -> None:
        if self.running:
            self.status.show(f"{what}: already running — wait or press Cancel", "warn")
            return
        self._cancel.clear()
        self.progress.value = 0.0
        self.status.show(f"{what}…", "busy")

        def report(done: int, total: int) -> None:
            self.progress.value = done / max(total, 1)
            if self._cancel.is_set():
                raise Cancelled()

        def run() -> None:
            t0 = time.perf_counter()
            try:
                result = work(report)
                on_done(result)
            except Cancelled:
                self.status.show(f"{what}: cancelled", "warn")
            except Exception as exc:  # noqa: BLE001
                self.status.error(f"{what}: {one_line(exc)}")
            else:
                if self.status.kind == "busy":
                    self.status.show(f"{what}: done in {time.perf_counter() - t0:.1f} s", "ok")
                self.progress.value = 1.0

        if self.background:
            self._thread = threading.Thread(target=run, daemon=True, name="labkit-job")
            self._thread.start()
        else:
            run()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


class Panel:
    """Base class of the panels: a view of an :class:`ExperimentState`.

    Parameters
    ----------
    state:
        The shared experiment state (panels hold no experiment data of their own).
    status:
        A shared :class:`StatusLine`; a panel made without one gets its own, shown
        under it.
    """

    title = ""

    def __init__(self, state: ExperimentState, status: StatusLine | None = None) -> None:
        if not isinstance(state, ExperimentState):
            raise TypeError(f"a panel needs an ExperimentState, got {type(state).__name__}")
        self.state = state
        self._own_status = status is None
        self.status = status or StatusLine(state)
        self._observers: list[tuple[HasTraits, Callable[[dict], None], tuple[str, ...]]] = []
        self.body: W.Widget = W.VBox()
        self._widget: W.Widget | None = None

    @property
    def widget(self) -> W.Widget:
        """The root widget (the body, plus the status line when the panel owns it)."""
        if self._widget is None:
            self._widget = W.VBox([self.body, self.status.widget]) if self._own_status else self.body
            self._widget.add_class("labkit-panel")
        return self._widget

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def watch(self, obj: HasTraits, handler: Callable[[dict], None], *names: str) -> None:
        """``obj.observe(handler, names)`` with the guard; undone by :meth:`close`."""
        @functools.wraps(handler)
        def safe(change: dict) -> None:
            with reporting(self.status):
                handler(change)
        obj.observe(safe, list(names) if names else All)
        self._observers.append((obj, safe, names))

    def on_click(self, button: W.Button, handler: Callable[[], None]) -> None:
        """Bind a button to ``handler()`` through the guard."""
        def safe(_: W.Button) -> None:
            with reporting(self.status):
                handler()
        button.on_click(safe)

    def close(self) -> None:
        """Stop observing the state (the widgets can then be garbage-collected)."""
        for obj, handler, names in self._observers:
            with contextlib.suppress(ValueError):
                obj.unobserve(handler, list(names) if names else All)
        self._observers.clear()
        if self._own_status:
            self.status.close()


def png_image(keep_space: bool = False, **kwargs: Any) -> W.Image:
    """An ``Image`` widget for PNG bytes that is hidden while it has none (no broken-image icon).

    ``keep_space=True`` hides it but keeps its place (tiles in a grid do not jump).
    """
    img = W.Image(format="png", **kwargs)

    def toggle(change: dict | None = None) -> None:
        empty = not img.value
        if keep_space:
            img.layout.visibility = "hidden" if empty else "visible"
        else:
            img.layout.display = "none" if empty else None

    img.observe(toggle, "value")
    toggle()
    return img


def html_table(rows: list[list[Any]], header: list[str] | None = None) -> str:
    """A small HTML table (values escaped; floats with 3 decimals)."""
    def cell(v: Any, tag: str) -> str:
        text = f"{v:.3f}" if isinstance(v, float) else str(v)
        return f"<{tag} style='padding:2px 8px;text-align:left'>{html.escape(text)}</{tag}>"
    out = ["<table style='border-collapse:collapse;font-size:90%'>"]
    if header:
        out.append("<tr style='border-bottom:1px solid #999'>" + "".join(cell(h, "th") for h in header) + "</tr>")
    out += ["<tr>" + "".join(cell(v, "td") for v in r) + "</tr>" for r in rows]
    out.append("</table>")
    return "".join(out)
