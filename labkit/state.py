"""``ExperimentState``: the single source of truth a kernel holds.

Device, data (tensors on the device), models by name, the selected image and target
class, the marker spec, training status/progress/history, and caches that are
cleared whenever a model changes. Panels observe these traits and call core
functions; long work (training) runs on a background thread and reports through
traits. This module never imports ipywidgets.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import torch
from traitlets import Dict, Float, HasTraits, Instance, Int, List, TraitError, Unicode, observe, validate

from labkit.checkpoint import ModelEntry, load_experiment, save_experiment
from labkit.data import LabData, MarkerSpec, Split, load_phantom, load_pneumonia, marker_from_dict
from labkit.device import resolve_device
from labkit.errors import CheckpointError, InputError, LabkitError, TrainingError
from labkit.models import build_model
from labkit.train import (BatchInfo, EpochRecord, TrainConfig, Trainer, choose_threshold, clinical_metrics,
                          evaluate)
from labkit.validation import check_images

VARIANTS = ("clean", "marked", "random-labels")
STATUSES = ("idle", "running", "paused", "stopped", "done", "error")


class ExperimentState(HasTraits):
    """Shared experiment state; every panel of a session holds the same instance."""

    device = Unicode("cpu", help="resolved torch device of every tensor and model")
    data = Instance(LabData, allow_none=True)
    models = Dict(help="name → ModelEntry; replaced (not mutated) on every change")
    active_model = Unicode("")
    model_version = Int(0, help="bumped whenever a model is added, replaced or removed")
    split = Unicode("test")
    image_index = Int(0)
    custom_image = Instance(torch.Tensor, allow_none=True, help="an uploaded image (1, 1, H, W)")
    target = Int(1)
    marker = Instance(MarkerSpec, allow_none=True)
    status = Unicode("idle")
    progress = Float(0.0)
    history = List(help="EpochRecord of the running or last training")
    message = Unicode("")

    def __init__(self, device: str | torch.device = "auto", data: LabData | None = None, **kwargs: Any) -> None:
        dev = resolve_device(device)
        super().__init__(device=str(dev), **kwargs)
        self.cache: dict[Any, Any] = {}
        self._views: dict[Any, Split] = {}
        self._thread: threading.Thread | None = None
        self._trainer: Trainer | None = None
        self._job: dict[str, Any] = {}
        if data is not None:
            self.data = data.to(dev)

    # ---- validation ------------------------------------------------------------------
    @validate("split")
    def _valid_split(self, proposal: dict) -> str:
        if self.data is not None and proposal["value"] not in self.data.splits:
            raise TraitError(f"unknown split {proposal['value']!r}; choose from {list(self.data.splits)}")
        return proposal["value"]

    @validate("image_index")
    def _valid_index(self, proposal: dict) -> int:
        i = proposal["value"]
        n = len(self.data[self.split]) if self.data is not None else 0
        if self.data is not None and not 0 <= i < n:
            raise TraitError(f"image index {i} out of range: the {self.split} split has images 0…{n - 1}")
        return i

    @validate("target")
    def _valid_target(self, proposal: dict) -> int:
        k = self.data.num_classes if self.data is not None else 2
        if not 0 <= proposal["value"] < k:
            raise TraitError(f"target class {proposal['value']} out of range: expected 0 (normal) … {k - 1} (pneumonia)")
        return proposal["value"]

    @validate("active_model")
    def _valid_active(self, proposal: dict) -> str:
        if proposal["value"] and proposal["value"] not in self.models:
            raise TraitError(f"no model named {proposal['value']!r}; available: {sorted(self.models)}")
        return proposal["value"]

    @validate("status")
    def _valid_status(self, proposal: dict) -> str:
        if proposal["value"] not in STATUSES:
            raise TraitError(f"status must be one of {STATUSES}")
        return proposal["value"]

    @observe("models", "data")
    def _invalidate(self, change: dict) -> None:
        self.cache.clear()
        if change["name"] == "data":
            self._views.clear()
            if self.data is not None and self.image_index >= len(self.data[self.split]):
                self.image_index = 0

    @observe("split")
    def _split_changed(self, change: dict) -> None:
        if self.data is not None and self.image_index >= len(self.data[self.split]):
            self.image_index = 0

    @observe("marker")
    def _marker_changed(self, change: dict) -> None:
        self._views = {k: v for k, v in self._views.items() if k[0] != "marked"}

    # ---- data --------------------------------------------------------------------------
    def load_data(self, dataset: str = "pneumoniamnist", size: int = 64, data_dir: str | None = None,
                  download: bool = True) -> LabData:
        """Load ``"pneumoniamnist"`` or ``"phantom"`` onto the state's device."""
        if dataset == "phantom":
            data = load_phantom(size=size, device=self.device)
        elif dataset in ("pneumoniamnist", "pneumonia"):
            data = load_pneumonia(size, data_dir, download=download, device=self.device)
        else:
            raise InputError(f"unknown data set {dataset!r}; choose 'pneumoniamnist' or 'phantom'")
        if self.split not in data.splits:
            self.split = "test"
        self.data = data
        self.message = data.summary().splitlines()[0]
        return data

    def _require_data(self) -> LabData:
        if self.data is None:
            raise InputError("no data loaded: call state.load_data() first (or load the phantom demo)")
        return self.data

    def view(self, variant: str = "clean", split: str = "train") -> Split:
        """A split of the clean, marked (current marker) or label-permuted data."""
        data = self._require_data()
        if variant not in VARIANTS:
            raise InputError(f"unknown data variant {variant!r}; choose from {VARIANTS}")
        if variant == "clean":
            return data[split]
        key = (variant, split, repr(self.marker))
        if key not in self._views:
            if variant == "marked":
                if self.marker is None:
                    raise InputError("no marker set: choose a marker (state.marker = CornerSquare()) before "
                                     "using the marked data")
                self.marker.check_fits(data.size)
                self._views[key] = data[split].with_marker(self.marker)
            else:
                self._views[key] = data[split].with_permuted_labels(seed=0)
        return self._views[key]

    def current_image(self) -> tuple[torch.Tensor, int | None]:
        """The selected image ``(1, 1, H, W)`` on the device and its label (None if uploaded)."""
        if self.custom_image is not None:
            return self.custom_image, None
        s = self._require_data()[self.split]
        return s.images[self.image_index:self.image_index + 1], int(s.labels[self.image_index])

    def set_custom_image(self, image: torch.Tensor | None) -> None:
        """Use an uploaded image instead of a data set image (None to go back)."""
        if image is not None:
            data = self._require_data()
            check_images(image, name="uploaded image")
            if image.shape[0] != 1 or image.shape[-1] != data.size or image.shape[-2] != data.size:
                raise InputError(f"uploaded image must be (1, 1, {data.size}, {data.size}); got {tuple(image.shape)}")
            image = image.to(self.device)
        self.custom_image = image

    # ---- models ------------------------------------------------------------------------
    def add_model(self, entry: ModelEntry, activate: bool = True) -> None:
        """Add or replace a model; observers of ``models`` fire and caches clear."""
        entry.model.to(self.device).eval()
        self.models = {**self.models, entry.name: entry}
        self.model_version += 1
        if activate or not self.active_model:
            self.active_model = entry.name

    def remove_model(self, name: str) -> None:
        if name not in self.models:
            raise InputError(f"no model named {name!r}; available: {sorted(self.models)}")
        models = dict(self.models)
        del models[name]
        if self.active_model == name:
            self.active_model = next(iter(models), "")
        self.models = models
        self.model_version += 1

    def model(self, name: str | None = None) -> torch.nn.Module:
        """The model called ``name`` (default: the active one)."""
        name = name or self.active_model
        if name not in self.models:
            raise InputError(f"no model named {name!r}; train or load one first (available: {sorted(self.models)})")
        return self.models[name].model

    # ---- training ----------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start_training(self, name: str = "baseline", arch: str = "small_cnn", variant: str = "clean",
                       config: TrainConfig | None = None, subset: int | None = None,
                       background: bool = True, **model_kwargs: Any) -> None:
        """Train a new model on the chosen data variant; progress goes to the traits.

        With ``background=True`` training runs on a thread (the UI stays usable);
        :meth:`pause_training`/:meth:`resume_training`/:meth:`stop_training` control it.
        """
        if self.training:
            raise TrainingError("a training run is already in progress: pause or stop it first")
        config = config or TrainConfig()
        train = self.view(variant, "train")
        val = self.view(variant if variant != "random-labels" else "clean", "val")
        if subset is not None:
            train = train.subset(subset, seed=config.seed)
        torch.manual_seed(config.seed)
        model = build_model(arch, **model_kwargs).to(self.device)
        self._trainer = Trainer(model, train, val, config, on_batch=self._on_batch, on_epoch=self._on_epoch)
        self._job = dict(name=name, arch=arch, variant=variant, kwargs=model_kwargs,
                         marker=self.marker if variant == "marked" else None)
        self.history = []
        self.progress = 0.0
        self._launch(background)

    def _launch(self, background: bool) -> None:
        self.status = "running"
        self.message = f"training {self._job['name']} ({self._job['variant']} data)…"
        if background:
            self._thread = threading.Thread(target=self._run, daemon=True, name="labkit-training")
            self._thread.start()
        else:
            self._run()

    def _run(self) -> None:
        trainer = self._trainer
        try:
            trainer.fit()
            paused = trainer.stopped and self._job.get("pause", False)
            self._finish(final=not paused)
        except Exception as exc:  # reported in the status line, never raised into a UI thread
            self.status = "error"
            self.message = f"training failed: {exc}"

    def _on_batch(self, info: BatchInfo) -> None:
        self.progress = info.progress

    def _on_epoch(self, record: EpochRecord) -> None:
        self.history = [*self.history, record]

    def _finish(self, final: bool) -> None:
        trainer, job = self._trainer, self._job
        if not final:
            self.status = "paused"
            self.message = f"paused after epoch {trainer.epoch}, batch {trainer._pos}"
            return
        entry = ModelEntry(name=job["name"], arch=job["arch"], model=trainer.model, kwargs=job["kwargs"],
                           variant=job["variant"], config=trainer.config.as_dict(),
                           history=trainer.history.as_dict(), marker=job["marker"])
        self._score(entry)
        self.add_model(entry)
        self.status = "stopped" if trainer.stopped else "done"
        m = entry.metrics.get("test", {})
        self.message = (f"{entry.name}: {self.status} after {len(trainer.history.epochs)} epoch(s); "
                        f"test AUROC {m.get('auroc', float('nan')):.3f}, "
                        f"balanced accuracy {m.get('balanced_accuracy', float('nan')):.3f}")
        self._trainer = None

    def _score(self, entry: ModelEntry) -> None:
        """Threshold on validation, clinical metrics on the test split (marked too if a marker)."""
        data = self._require_data()
        if "val" in data.splits:
            pv = evaluate(entry.model, self.view("clean", "val") if entry.marker is None
                          else data["val"].with_marker(entry.marker))
            try:
                entry.threshold = choose_threshold(pv.labels, pv.scores)
            except LabkitError:
                entry.threshold = 0.5
        if "test" in data.splits:
            pt = evaluate(entry.model, data["test"])
            entry.metrics["test"] = clinical_metrics(pt.labels, pt.scores, entry.threshold).as_dict()
            if entry.marker is not None:
                pm = evaluate(entry.model, data["test"].with_marker(entry.marker))
                entry.metrics["test_marked"] = clinical_metrics(pm.labels, pm.scores, entry.threshold).as_dict()

    def pause_training(self) -> None:
        """Pause after the current batch; :meth:`resume_training` continues."""
        if not self.training:
            raise TrainingError("no training is running")
        self._job["pause"] = True
        self._trainer.stop()

    def resume_training(self, background: bool = True) -> None:
        if self._trainer is None or self.training:
            raise TrainingError("nothing to resume: no paused training")
        self._job["pause"] = False
        self._launch(background)

    def stop_training(self) -> None:
        """Stop after the current batch and keep the model trained so far."""
        if self._trainer is None:
            raise TrainingError("no training to stop")
        self._job["pause"] = False
        if self.training:
            self._trainer.stop()
        else:  # paused: finish it as it is
            self._trainer.stopped = True
            self._finish(final=True)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the background training thread ends (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # ---- checkpoints -------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Save every model, its config/history/metrics and the marker into ``folder``."""
        if not self.models:
            raise InputError("nothing to save: train or load a model first")
        return save_experiment(folder, self.models, image_size=self.data.size if self.data else 64,
                               dataset=self.data.name if self.data else "", marker=self.marker)

    def load(self, folder: str | Path) -> dict:
        """Load a checkpoint folder; on any error the state is left as it was."""
        meta, entries = load_experiment(folder, self.device)
        if self.data is not None and meta.get("image_size") not in (None, self.data.size):
            raise InputError(f"checkpoint was trained at {meta['image_size']} px but the loaded data is "
                             f"{self.data.size} px; load the data at size {meta['image_size']}")
        marker = self.marker
        if meta.get("marker") and marker is None:
            try:
                marker = marker_from_dict(meta["marker"])
            except (LabkitError, TypeError, ValueError, AttributeError) as exc:
                raise CheckpointError(f"the marker in {Path(folder) / 'experiment.json'} is invalid: {exc}") from exc
        self.models = {**self.models, **entries}
        self.model_version += 1
        self.marker = marker
        self.active_model = next(iter(entries), self.active_model)
        self.message = f"loaded {len(entries)} model(s) from {folder}: {', '.join(entries)}"
        return meta
