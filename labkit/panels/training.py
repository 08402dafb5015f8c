"""TrainingController: configure, start, pause/resume and stop training; watch
the loss/accuracy curves per epoch and read the clinical metrics at the end.

Training runs as the state's :class:`~labkit.session.TrainingJob`
(``state.start_training``), so the rest of the UI stays usable; this panel binds
its progress bar to ``state.training.progress`` and observes the job's
``history`` and ``status`` and the active model. The active model's charts (confusion
matrix, training curves: matplotlib) are drawn on a worker thread, so a page that opens
on a checkpoint shows its controls and metrics table without waiting for them.
"""
from __future__ import annotations

from typing import Any

import ipywidgets as W
from traitlets import dlink

from labkit.errors import one_line
from labkit.models import list_models
from labkit.panels.base import FORM, Coalescer, Panel, StatusLine, guarded, html_table, png_image
from labkit.render import confusion_png, training_curves_png
from labkit.session import VARIANT_NAMES, ExperimentState
from labkit.train import TrainConfig

VARIANT_OPTIONS = [("clean data", "clean"), ("marked data (current marker)", "marked"),
                   ("random labels", "random-labels")]
METRIC_ROWS = [("accuracy", "accuracy"), ("sensitivity", "sensitivity"), ("specificity", "specificity"),
               ("balanced accuracy", "balanced_accuracy"), ("AUROC", "auroc"), ("PPV", "ppv"), ("NPV", "npv")]


class TrainingController(Panel):
    """Train a classifier from the UI.

    Parameters
    ----------
    state, status:
        See :class:`~labkit.panels.base.Panel`.
    epochs, subset, width, batch_size:
        Initial values of the controls (``subset=0`` trains on the whole split).
    background:
        Train and draw the charts on threads (the default); ``False`` blocks (scripts, tests).
    """

    title = "Train"

    def __init__(self, state: ExperimentState, status: StatusLine | None = None, *, epochs: int = 10,
                 subset: int = 0, width: int = 16, batch_size: int = 128, background: bool = True) -> None:
        super().__init__(state, status)
        self.background = background
        self.arch = W.Dropdown(options=list_models(), value="small_cnn", description="model", style=FORM)
        self.width = W.IntSlider(value=width, min=2, max=64, step=2, description="width", style=FORM,
                                 tooltip="channels of the first conv block")
        self.variant = W.Dropdown(options=VARIANT_OPTIONS, value="clean", description="data", style=FORM)
        self.name = W.Text(value="baseline", description="model name", style=FORM)
        self.epochs = W.IntSlider(value=epochs, min=1, max=50, description="epochs", style=FORM)
        self.lr = W.FloatLogSlider(value=1e-3, base=10, min=-5, max=-1, step=0.25, description="learning rate",
                                   readout_format=".0e", style=FORM)
        self.batch_size = W.Dropdown(options=[8, 16, 32, 64, 128, 256, 512], value=batch_size,
                                     description="batch size", style=FORM)
        self.seed = W.BoundedIntText(value=0, min=0, max=2 ** 31 - 1, description="seed", style=FORM)
        self.subset = W.BoundedIntText(value=subset, min=0, max=10 ** 6, description="subset (0 = all)",
                                       style=FORM, tooltip="train on a seeded subset of N training images")
        self.start = W.Button(description="Start", button_style="success", icon="play")
        self.pause = W.Button(description="Pause", icon="pause", disabled=True)
        self.stop = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.resume_model = W.Button(description="Continue", icon="forward", disabled=True,
                                     tooltip="train the selected model for more epochs, from its weights")
        for b in (self.start, self.pause, self.stop, self.resume_model):
            b.add_class(f"labkit-train-{b.description.lower()}")
        self.progress = W.FloatProgress(value=state.training.progress, min=0.0, max=1.0, description="progress",
                                        style=FORM, layout=W.Layout(width="420px"))
        self.epoch_label = W.HTML()
        self.curves = png_image(layout=W.Layout(max_width="640px"))
        self.curves.add_class("labkit-curves")
        self.metrics_title = W.HTML()
        self.metrics = W.HTML()
        self.confusion = png_image(layout=W.Layout(max_width="560px"))
        self._charts = Coalescer(self._draw_charts, 0.05 if background else 0,
                                 on_error=lambda exc: self.status.error(one_line(exc)))
        # a course's own model
        self.user_weights = W.Text(placeholder="weights file (.pt)", description="weights", style=FORM)
        self.user_arch = W.Dropdown(options=list_models(), value="resnet18" if "resnet18" in list_models() else None,
                                    description="architecture", style=FORM)
        self.user_builder = W.Text(placeholder="or package.module:function", description="builder", style=FORM)
        self.user_name = W.Text(value="course_model", description="model name", style=FORM)
        self.add_user = W.Button(description="Add this model", icon="plus", layout=W.Layout(width="auto"))
        self.on_click(self.add_user, self.on_add_user)
        own = W.Accordion(children=[W.VBox([self.user_weights, self.user_arch, self.user_builder, self.user_name,
                                            self.add_user])])
        own.set_title(0, "Bring your own model")
        self._name_edited = False
        self._setting_name = False

        form = W.VBox([self.arch, self.width, self.variant, self.name, self.epochs, self.lr, self.batch_size,
                       self.seed, self.subset])
        self.body = W.VBox([
            W.HBox([form, W.VBox([W.HBox([self.start, self.pause, self.stop, self.resume_model]),
                                  W.HBox([self.progress, self.epoch_label]), self.curves])]),
            self.metrics_title, W.HBox([self.metrics, self.confusion]), own,
        ])
        self.on_click(self.start, self.on_start)
        self.on_click(self.pause, self.on_pause)
        self.on_click(self.stop, self.on_stop)
        self.on_click(self.resume_model, self.on_continue)
        self.watch(self.variant, self._variant_changed, "value")
        self.watch(self.name, self._name_typed, "value")
        dlink((state.training, "progress"), (self.progress, "value"))
        self.watch(state.training, self._history_changed, "history")
        self.watch(state.training, self._status_changed, "status")
        self.watch(state, self._model_changed, "active_model", "models")
        self._status_changed({"new": state.training.status})
        self._model_changed({})

    # ---- controls -> state -------------------------------------------------------------
    def config(self) -> TrainConfig:
        """The :class:`TrainConfig` the controls describe."""
        return TrainConfig(epochs=int(self.epochs.value), lr=float(self.lr.value),
                           batch_size=int(self.batch_size.value), seed=int(self.seed.value))

    def on_start(self) -> None:
        """Start button: train a new model on the chosen data variant."""
        name = self.name.value.strip() or VARIANT_NAMES[self.variant.value]
        self._show_metrics(None)
        self.curves.value = b""
        self.state.start_training(name, self.arch.value, self.variant.value, self.config(),
                                  subset=int(self.subset.value) or None, background=self.background,
                                  width=int(self.width.value))

    def on_pause(self) -> None:
        """Pause/Resume button."""
        if self.state.training.paused:
            self.state.resume_training(background=self.background)
        else:
            self.state.pause_training()

    def on_stop(self) -> None:
        """Stop button: end after the current batch and keep the model trained so far."""
        self.state.stop_training()

    def on_add_user(self) -> None:
        """Add the course model described by the weights/architecture or builder fields."""
        weights, builder = self.user_weights.value.strip(), self.user_builder.value.strip()
        self.state.add_user_model(self.user_name.value.strip(), weights=weights or None,
                                  arch=self.user_arch.value if weights else None, builder=builder or None)
        self.status.show(self.state.message, "ok")

    def on_continue(self) -> None:
        """Continue button: a new run of ``epochs`` epochs from the selected model's weights."""
        self._show_metrics(None)
        self.state.continue_training(self.state.active_model, epochs=int(self.epochs.value),
                                     background=self.background)

    def _variant_changed(self, change: dict) -> None:
        if not self._name_edited:
            self._set_name(VARIANT_NAMES[change["new"]])

    def _set_name(self, name: str) -> None:
        self._setting_name = True
        try:
            self.name.value = name
        finally:
            self._setting_name = False

    def _name_typed(self, change: dict) -> None:
        if not self._setting_name:
            self._name_edited = change["new"].strip() not in ("", *VARIANT_NAMES.values())

    # ---- state -> view -----------------------------------------------------------------
    def _history_changed(self, change: dict) -> None:
        history = change["new"]
        if history:
            last = history[-1]
            self.epoch_label.value = (f"epoch {last.epoch}/{self.epochs.value} · loss {last.train_loss:.3f} · "
                                      f"{last.seconds:.1f} s")
        self.curves.value = training_curves_png(history, title="training (this run)") if history else b""

    def _status_changed(self, change: dict) -> None:
        status = change["new"]
        running, paused = status == "running", status == "paused"
        self.start.disabled = running or paused
        self.pause.disabled = not (running or paused)
        self.pause.description, self.pause.icon = ("Resume", "play") if paused else ("Pause", "pause")
        self.stop.disabled = not (running or paused)
        self.resume_model.disabled = running or paused or self.state.active_model not in self.state.models
        self.progress.bar_style = {"done": "success", "stopped": "warning", "error": "danger"}.get(status, "")
        if status in ("done", "stopped"):  # the run's model was just added: show its metrics
            self._model_changed({})

    def _model_changed(self, change: dict) -> None:
        name = self.state.active_model
        busy = self.state.training.status in ("running", "paused")
        self.resume_model.disabled = busy or name not in self.state.models
        if busy or name not in self.state.models:
            return
        self._show_metrics(name)
        self._charts.request()

    def _draw_charts(self) -> None:
        """Confusion matrix and training curves of the active model (on the chart worker)."""
        name = self.state.active_model
        if self.state.training.status in ("running", "paused") or name not in self.state.models:
            return
        entry = self.state.models[name]
        column = _confusion_column(entry)
        if column is not None:
            label = "test (marked)" if column == "test_marked" else "test (clean)"
            self.confusion.value = confusion_png(entry.metrics[column]["confusion"], title=f"{name}: {label}")
        history = entry.history.get("epochs", []) if isinstance(entry.history, dict) else []
        if history:
            self.curves.value = training_curves_png(history, title=f"training of {name}")

    @guarded
    def _show_metrics(self, name: str | None) -> None:
        if name is None:
            self.metrics_title.value, self.metrics.value, self.confusion.value = "", "", b""
            return
        entry = self.state.models[name]
        cols = [k for k in ("test", "test_marked") if k in entry.metrics]
        if not cols:
            self.metrics_title.value = f"<b>{name}</b>: no test metrics (no test split was loaded)"
            self.metrics.value, self.confusion.value = "", b""
            return
        labels = {"test": "test (clean)", "test_marked": "test (marked)"}
        rows = [[label, *[_num(entry.metrics[c].get(key)) for c in cols]] for label, key in METRIC_ROWS]
        self.metrics_title.value = (f"<b>Clinical metrics of {name}</b> ({entry.variant} data, threshold "
                                    f"{entry.threshold:.3f} chosen on validation; pneumonia = positive)")
        self.metrics.value = html_table(rows, ["metric", *[labels[c] for c in cols]])


def _confusion_column(entry: Any) -> str | None:
    """The test split whose confusion matrix is shown: marked for a shortcut model, else clean."""
    cols = [k for k in ("test", "test_marked") if k in entry.metrics]
    if not cols:
        return None
    return cols[-1] if "test_marked" in cols and entry.variant == "marked" else cols[0]


def _num(v: Any) -> Any:
    return float(v) if isinstance(v, (int, float)) else ("—" if v is None else v)
