"""JobPanel: the base of panels that start one long analysis (cascade, evaluation, shortcuts).

The work is a :class:`labkit.session.Job`: this view only binds a progress bar to
``job.progress`` (``traitlets.dlink``), a Cancel button to ``job.cancel``, the
job's messages to the status line, and shows the result when the job hands it
over. ``background=False`` runs the work inline (tests, scripts).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable

import ipywidgets as W
from traitlets import dlink

from labkit.panels.base import Panel, StatusLine
from labkit.session import ExperimentState, Job


class JobPanel(Panel, ABC):
    """A panel with a Run button, a Cancel button and a progress bar bound to one session job."""

    def __init__(self, state: ExperimentState, status: StatusLine | None = None, *, run_label: str = "Run",
                 run_icon: str = "play", background: bool = True) -> None:
        super().__init__(state, status)
        self.background = background
        self.job: Job[Any] = Job(f"labkit-{type(self).__name__.lower()}")
        self.run = W.Button(description=run_label, button_style="primary", icon=run_icon)
        self.cancel = W.Button(description="Cancel", icon="times")
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, layout=W.Layout(width="300px"))
        dlink((self.job, "progress"), (self.progress, "value"))
        self.status.follow(self.job)
        self.on_click(self.run, self.start)
        self.on_click(self.cancel, self.job.cancel)

    @abstractmethod
    def start(self) -> None:
        """Read the controls and start the job (each panel implements it with :meth:`launch`)."""

    def launch(self, what: str, work: Callable[[Callable[[int, int], None]], Any],
               show: Callable[[Any], None]) -> None:
        """Run ``work(report)`` as this panel's job and ``show(result)`` when it succeeds."""
        try:
            self.job.start(what, work, show, background=self.background)
        except Exception:  # noqa: BLE001 — inline runs raise; the job's message already says why
            if self.background:
                raise

    def controls(self) -> W.HBox:
        """Run and Cancel side by side."""
        return W.HBox([self.run, self.cancel])
