"""What every panel shares: the status line, the error guard, background jobs and
the coalescing renderer.

* :class:`StatusLine` — one HTML line; shows the state's messages and every error.
* :func:`reporting` — context manager (and :func:`guarded`, its decorator form):
  any exception inside becomes a one-line message in the status line, never a
  traceback on screen.
* :class:`Coalescer` — runs a render function for the *latest* request only, on a
  worker thread: at once after an idle spell, at most once per ``delay`` seconds
  while requests keep coming; ``delay=0`` renders synchronously (tests, benchmarks).
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
from traitlets import All, HasTraits

from labkit.errors import one_line
from labkit.session import ExperimentState

F = TypeVar("F", bound=Callable[..., Any])
COLORS = {"info": "#333", "ok": "#1a7f37", "warn": "#9a6700", "error": "#cf222e", "busy": "#0550ae"}
#: Widget style of every labelled control (descriptions sized to their text).
STYLE = {"description_width": "initial"}
#: Style of form-like columns of controls (aligned labels).
FORM = {"description_width": "120px"}
#: Training/job status → status-line kind.
KINDS = {"done": "ok", "stopped": "ok", "error": "error", "cancelled": "warn", "paused": "warn", "running": "busy"}


class StatusLine:
    """An HTML line showing the latest message; errors in red, the full text on hover.

    It mirrors ``state.message`` (loading, checkpoints) and the training job's
    message in the colour of its status; panels call :meth:`show` / :meth:`error`
    directly and :meth:`follow` other jobs.
    """

    def __init__(self, state: ExperimentState | None = None) -> None:
        # stretched, not width 100%: with the widget's margin, 100% would overflow (a horizontal scrollbar)
        self.widget = W.HTML(layout=W.Layout(min_height="1.6em", width="auto", align_self="stretch"))
        self.widget.add_class("labkit-status")
        self.text = ""
        self.kind = "info"
        self._lock = threading.Lock()
        self._followed: list[HasTraits] = []
        self._state = state
        if state is not None:
            state.observe(self._on_message, "message")
            self.follow(state.training)
            if state.message:
                self.show(state.message)

    def _on_message(self, change: dict) -> None:
        if change["new"]:
            self.show(change["new"])

    def follow(self, job: HasTraits) -> None:
        """Show a job's messages, coloured by its status (busy, ok, warn, error)."""
        job.observe(self._on_job, "message")
        self._followed.append(job)

    def _on_job(self, change: dict) -> None:
        if change["new"]:
            self.show(change["new"], KINDS.get(change["owner"].status, "info"))

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

    def clear_error(self) -> None:
        """The user moved on: an error shown so far no longer applies."""
        if self.kind in ("error", "warn"):
            self.show("", "info")

    def close(self) -> None:
        if self._state is not None:
            with contextlib.suppress(ValueError):
                self._state.unobserve(self._on_message, "message")
        for job in self._followed:
            with contextlib.suppress(ValueError):
                job.unobserve(self._on_job, "message")
        self._followed.clear()


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

    With ``delay > 0`` a daemon worker calls ``fn`` at once for a request after an
    idle spell (a key press is answered without waiting), and at most once per
    ``delay`` seconds (counted from the start of the previous call) while requests
    keep coming (a drag shows intermediate values, not every one of them). Requests
    arriving during a call cause one more call afterwards, so the last request is
    always rendered. ``fn`` reads the current widget values itself, which is what
    makes coalescing correct.
    With ``delay == 0`` :meth:`request` calls ``fn`` at once (synchronous path).
    Exceptions of ``fn`` go to ``on_error``.
    """

    def __init__(self, fn: Callable[[], None], delay: float = 0.05,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.fn, self.delay, self.on_error = fn, float(delay), on_error
        self._cv = threading.Condition()
        self._requested = self._done = 0
        self._last_start = -float("inf")
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
                while (early := self._last_start + self.delay - time.monotonic()) > 0:
                    self._cv.wait(early)
                target = self._requested
                self._last_start = time.monotonic()
            self._call(target)

    @property
    def idle(self) -> bool:
        with self._cv:
            return self._done >= self._requested

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every request so far is rendered; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: self._done >= self._requested, timeout=timeout)


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
