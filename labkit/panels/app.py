"""LabApp: every panel in tabs on one state, a data/checkpoint loader row and one
status line — the lecture app Voilà serves (``labkit app``).

:meth:`LabApp.from_env` reads its settings from environment variables, which is
how ``labkit app`` passes them to the Voilà kernel:

=============================  ===================================================
``LABKIT_APP_CHECKPOINT``      checkpoint folder loaded at start (trained models)
``LABKIT_DATA_DIR``            folder with ``pneumoniamnist*.npz``
``LABKIT_APP_DATASET``         ``pneumoniamnist`` (default) or ``phantom``
``LABKIT_APP_DOWNLOAD``        ``1``: allow downloading PneumoniaMNIST (default 0)
``LABKIT_APP_SUBSET``          default training subset size (0 = all)
``LABKIT_APP_EPOCHS``          default epochs
``LABKIT_APP_WIDTH``           default model width
``LABKIT_APP_DEVICE``          ``auto`` (default), ``cpu``, ``cuda``, …
``LABKIT_APP_THREADS``         torch CPU threads of the kernel (default: torch's choice)
``LABKIT_APP_PRETRAINED``      ``1``: add the zoo's pre-trained baseline and shortcut models at start
``LABKIT_GPU_MEMORY_FRACTION`` cap on this kernel's share of GPU memory (0–1]
=============================  ===================================================
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Mapping

import ipywidgets as W
import torch
from traitlets import dlink

from labkit.device import GPU_FRACTION_ENV, apply_gpu_memory_cap
from labkit.errors import DataNotFoundError, InputError, one_line
from labkit.panels.base import StatusLine, reporting
from labkit.panels.cascade import CascadeViewer
from labkit.panels.counterfactual import CounterfactualViewer
from labkit.panels.evaluation import EvaluationPanel
from labkit.panels.explainer import ExplainerSelector
from labkit.panels.marker import MarkerEditor
from labkit.panels.training import TrainingController
from labkit.session import ExperimentState, Job

DATASETS = [("PneumoniaMNIST", "pneumoniamnist"), ("phantom (offline demo)", "phantom")]
ENV_PREFIX = "LABKIT_APP_"


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(ENV_PREFIX + name, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        raise InputError(f"{ENV_PREFIX}{name} must be an integer, got {raw!r}") from None


class LabApp:
    """All panels on one :class:`ExperimentState`, in tabs.

    Parameters
    ----------
    state:
        The state to show (a new one on the best device by default).
    dataset, data_dir, download:
        What :meth:`load_data` loads at start (``dataset=None``: nothing).
    checkpoint:
        A checkpoint folder loaded at start (the lecture path: trained models at once).
    subset, epochs, width:
        Defaults of the training controls.
    debounce, background:
        Passed to the panels (``debounce=0, background=False``: synchronous, for tests).
    """

    def __init__(self, state: ExperimentState | None = None, *, dataset: str | None = "pneumoniamnist",
                 data_dir: str | None = None, download: bool = False, checkpoint: str | None = None,
                 subset: int = 0, epochs: int = 10, width: int = 16, debounce: float = 0.05,
                 background: bool = True, device: str = "auto", pretrained: bool = False) -> None:
        self.state = state if state is not None else ExperimentState(device=device)
        self.status = StatusLine(self.state)
        s, st = self.state, self.status
        self.training = TrainingController(s, st, epochs=epochs, subset=subset, width=width, background=background)
        self.explainer = ExplainerSelector(s, st, debounce=debounce, grow=True)
        self.cascade = CascadeViewer(s, st, background=background)
        self.marker = MarkerEditor(s, st, epochs=min(epochs, 5), subset=subset, width=width, background=background)
        self.evaluation = EvaluationPanel(s, st, background=background)
        self.counterfactual = CounterfactualViewer(s, st, background=background)
        self.panels = [self.training, self.explainer, self.cascade, self.marker, self.evaluation, self.counterfactual]

        self.dataset = W.Dropdown(options=DATASETS, value=dataset if dataset in dict(DATASETS).values()
                                  else "pneumoniamnist", description="data", layout=W.Layout(width="230px"))
        self.data_dir = W.Text(value=data_dir or os.environ.get("LABKIT_DATA_DIR", ""), placeholder="data folder",
                               layout=W.Layout(width="170px"))
        self.load_data_button = W.Button(description="Load data", icon="database", layout=W.Layout(width="auto"))
        self.phantom_button = W.Button(description="Load phantom demo", icon="magic", button_style="info",
                                       layout=W.Layout(width="auto"),
                                       tooltip="synthetic chest-like images with lesion masks; needs no download")
        self.phantom_button.add_class("labkit-phantom")
        self.checkpoint = W.Text(value=checkpoint or "", placeholder="checkpoint folder",
                                 layout=W.Layout(width="170px"))
        self.load_ckpt_button = W.Button(description="Load models", icon="folder-open", layout=W.Layout(width="auto"))
        self.save_ckpt_button = W.Button(description="Save models", icon="save", layout=W.Layout(width="auto"))
        self.pretrained_button = W.Button(description="Pre-trained models", icon="download", layout=W.Layout(width="auto"),
                                          tooltip="baseline and shortcut models from labkit's cache "
                                                  "(trained once on this machine the first time)")
        self.pretrained_progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, layout=W.Layout(width="60px"))
        self.pretrained_job: Job[list[Any]] = Job("labkit-pretrained")
        dlink((self.pretrained_job, "progress"), (self.pretrained_progress, "value"))
        dlink((self.pretrained_job, "status"), (self.pretrained_progress.layout, "display"),
              lambda status: None if status == "running" else "none")  # room in the row when idle
        self.status.follow(self.pretrained_job)
        self.background = background
        self.header = W.HTML()
        self.header.add_class("labkit-header")
        self.download = download
        for b, fn in ((self.load_data_button, self.load_data), (self.phantom_button, self.load_phantom),
                      (self.load_ckpt_button, self.load_checkpoint), (self.save_ckpt_button, self.save_checkpoint),
                      (self.pretrained_button, self.load_pretrained)):
            b.on_click(lambda _, fn=fn: self._guard(fn))
        self.tabs = W.Tab(children=[p.widget for p in self.panels])
        for i, p in enumerate(self.panels):
            self.tabs.set_title(i, f"{i + 1} · {p.title}")
        loader = W.HBox([self.dataset, self.data_dir, self.load_data_button, self.phantom_button,
                         self.checkpoint, self.load_ckpt_button, self.save_ckpt_button, self.pretrained_button,
                         self.pretrained_progress],
                        layout=W.Layout(flex_flow="row wrap"))
        self.widget = W.VBox([self.header, loader, self.status.widget, self.tabs])
        self.widget.add_class("labkit-app")
        self.state.observe(lambda _: self._update_header(), ["data", "models"])
        self._update_header()
        if dataset:
            self._guard(lambda: self.load_data(dataset))
        if checkpoint:
            self._guard(self.load_checkpoint)
        if pretrained:
            self._guard(self.load_pretrained)

    # ---- construction from the environment --------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "LabApp":
        """Build the app from ``LABKIT_APP_*`` variables (see the module docstring).

        Never raises for a bad setting: the app opens and the status line says what
        is wrong.
        """
        env = os.environ if env is None else env
        problems = []
        kwargs: dict[str, Any] = dict(checkpoint=env.get(ENV_PREFIX + "CHECKPOINT") or None,
                                      data_dir=env.get("LABKIT_DATA_DIR") or None,
                                      dataset=env.get(ENV_PREFIX + "DATASET") or "pneumoniamnist",
                                      download=env.get(ENV_PREFIX + "DOWNLOAD", "0") == "1",
                                      device=env.get(ENV_PREFIX + "DEVICE") or "auto",
                                      pretrained=env.get(ENV_PREFIX + "PRETRAINED", "0") == "1")
        for name, default in (("subset", 0), ("epochs", 10), ("width", 16)):
            try:
                kwargs[name] = _env_int(env, name.upper(), default)
            except InputError as exc:
                problems.append(str(exc))
        try:
            threads = _env_int(env, "THREADS", 0)
            if threads > 0:  # many kernels on one machine: fewer threads each avoids oversubscription
                torch.set_num_threads(threads)
        except InputError as exc:
            problems.append(str(exc))
        try:
            apply_gpu_memory_cap(env.get(GPU_FRACTION_ENV) or None)
        except Exception as exc:  # noqa: BLE001
            problems.append(one_line(exc))
        kwargs.update(overrides)
        try:
            app = cls(**kwargs)
        except InputError as exc:  # e.g. an unknown device: fall back to the default one
            problems.append(one_line(exc))
            kwargs["device"] = "auto"
            app = cls(**kwargs)
        for p in problems:
            app.status.error(p)
        return app

    # ---- actions ------------------------------------------------------------------------
    def _guard(self, fn: Any) -> None:
        with reporting(self.status):
            fn()

    def load_data(self, dataset: str | None = None) -> None:
        """Load the chosen data set; without the file (and no network) offer the phantom demo."""
        dataset = dataset or self.dataset.value
        if dataset != self.dataset.value:
            self.dataset.value = dataset
        self.phantom_button.button_style = "info"
        try:
            with warnings.catch_warnings(record=True) as notes:  # shown in the status line, not on stderr
                warnings.simplefilter("always")
                self.state.load_data(dataset, data_dir=self.data_dir.value.strip() or None, download=self.download)
        except DataNotFoundError:
            self.phantom_button.button_style = "warning"
            raise DataNotFoundError("PneumoniaMNIST is not on this machine and cannot be downloaded here: "
                                    "press “Load phantom demo” for synthetic images, or set the data folder") from None
        note = "; ".join(str(n.message) for n in notes)
        self.status.show(self.state.message + (f" — note: {note}" if note else ""), "ok")

    def load_phantom(self) -> None:
        """The offline demo: synthetic chest-like images with lesion masks."""
        self.dataset.value = "phantom"
        self.load_data("phantom")

    def load_checkpoint(self) -> None:
        """Load the models of the checkpoint folder in the text box."""
        folder = self.checkpoint.value.strip()
        if not folder:
            raise InputError("type a checkpoint folder first (written by `labkit train --out` or “Save models”)")
        self.state.load(folder)
        self.status.show(self.state.message, "ok")

    def load_pretrained(self, kinds: tuple[str, ...] = ("baseline", "shortcut")) -> None:
        """Add the zoo's pre-trained models (cached; trained once, off the UI thread, the first time)."""
        from labkit.session.zoo import pretrained_entry

        data = self.state.data
        if data is None:
            raise InputError("load a data set first: pre-trained models are made for the loaded data")

        def work(report: Any) -> list[Any]:
            entries = []
            for i, kind in enumerate(kinds):
                entries.append(pretrained_entry(data, kind))
                report(i + 1, len(kinds))
            return entries

        def done(entries: list[Any]) -> None:
            for e in entries:
                if e.marker is not None and self.state.marker is None:
                    self.state.marker = e.marker
                self.state.add_model(e, activate=e.name == kinds[0])

        from labkit.session.zoo import is_cached

        cold = [k for k in kinds if not is_cached(data, k)]
        what = (f"pre-trained models (training {', '.join(cold)} once on this machine)" if cold
                else "pre-trained models (from the cache)")
        try:
            self.pretrained_job.start(what, work, done, background=self.background,
                                      describe=lambda es: f"pre-trained models ready: {', '.join(e.name for e in es)}")
        except Exception:  # noqa: BLE001 — inline: the job's message already says why
            if self.background:
                raise

    def save_checkpoint(self) -> None:
        """Save every model into the checkpoint folder in the text box."""
        folder = self.checkpoint.value.strip() or "runs/lab-app"
        self.checkpoint.value = folder
        out = self.state.save(folder)
        self.status.show(f"saved {len(self.state.models)} model(s) to {out}", "ok")

    def _update_header(self) -> None:
        s = self.state
        data = "no data loaded" if s.data is None else f"{s.data.name} {s.data.size}×{s.data.size}"
        self.header.value = (f"<h3 style='margin:4px 0'>When explanations lie — saliency maps on chest X-rays"
                             f"<span style='color:#666;font-size:75%;font-weight:normal'> · {data} · "
                             f"{len(s.models)} model(s) · device {s.device}</span></h3>")  # one line, not two

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        for p in self.panels:
            p.close()
        self.status.close()
