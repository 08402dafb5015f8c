"""``ExperimentState``: the single source of truth a kernel holds.

Device, data (tensors on the device), models by name, the shortcut marker, the
:class:`~labkit.session.selection.Selection` (which image every view shows), the
:class:`~labkit.session.jobs.TrainingJob` and a :class:`~labkit.session.cache.LockedCache`
cleared whenever a model or the data changes. Panels, the CLI, the zoo and
notebooks all go through these calls. This package never imports ipywidgets.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from traitlets import Dict, Instance, Int, Unicode, observe, validate

from labkit.checkpoint import ModelEntry, load_experiment, save_experiment
from labkit.data import LabData, MarkerSpec, Split, load_phantom, load_pneumonia, marker_from_dict
from labkit.device import resolve_device
from labkit.errors import CheckpointError, InputError, LabkitError
from labkit.models import build_user_model, describe, list_models, load_user_model
from labkit.session import recipes
from labkit.session.cache import LockedCache
from labkit.session.jobs import TrainingJob
from labkit.session.selection import Selection
from labkit.session.traits import CheckedTraits
from labkit.train import TrainConfig
from labkit.validation import check_images

VARIANTS = recipes.VARIANTS


class ExperimentState(CheckedTraits):
    """Shared experiment state; every panel of a session holds the same instance."""

    device = Unicode("cpu", help="resolved torch device of every tensor and model")
    data = Instance(LabData, allow_none=True)
    models = Dict(help="name → ModelEntry; replaced (not mutated) on every change")
    active_model = Unicode("")
    model_version = Int(0, help="bumped whenever a model is added, replaced or removed")
    marker = Instance(MarkerSpec, allow_none=True, help="the shortcut marker of the marked data")
    autoencoder = Instance(torch.nn.Module, allow_none=True,
                           help="the Latent Shift autoencoder (labkit train-ae, or session.autoencoders)")
    message = Unicode("", help="the latest thing worth telling the user")

    def __init__(self, device: str | torch.device = "auto", data: LabData | None = None, **kwargs: Any) -> None:
        dev = resolve_device(device)
        super().__init__(device=str(dev), **kwargs)
        self.cache = LockedCache()
        self.selection = Selection(self)
        self.training = TrainingJob()
        self._views: dict[Any, Split] = {}
        if data is not None:
            self.data = data.to(dev)

    # ---- validation ------------------------------------------------------------------
    @validate("active_model")
    def _valid_active(self, proposal: dict) -> str:
        if proposal["value"] and proposal["value"] not in self.models:
            raise InputError(f"no model named {proposal['value']!r}; available: {sorted(self.models)}")
        return proposal["value"]

    @validate("marker")
    def _valid_marker(self, proposal: dict) -> MarkerSpec | None:
        marker = proposal["value"]
        if marker is not None and self.data is not None:
            marker.check_fits(self.data.size)
        return marker

    @validate("autoencoder")
    def _valid_autoencoder(self, proposal: dict) -> torch.nn.Module | None:
        from labkit.explain.latent_shift import check_autoencoder

        ae = proposal["value"]
        if ae is None:
            return None
        data = self.data
        channels = None if data is None else data.channels
        check_autoencoder(ae, channels, None if data is None else data.size)
        return ae.to(self.device).eval()

    @observe("models", "data", "autoencoder")
    def _invalidate(self, change: dict) -> None:
        self.cache.clear()
        if change["name"] == "data":
            self._views.clear()
            self.selection.clamp()
            ae, data = self.autoencoder, self.data
            if ae is not None and data is not None and getattr(ae, "size", data.size) != data.size:
                self.autoencoder = None  # made for another image size

    @observe("marker")
    def _marker_changed(self, change: dict) -> None:
        self._views = {k: v for k, v in self._views.items() if k[0] != "marked"}
        self.selection.clamp()

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
        if self.marker is not None:
            self.marker.check_fits(data.size)
        self.data = data
        self.message = data.summary().splitlines()[0]
        return data

    def require_data(self) -> LabData:
        if self.data is None:
            raise InputError("no data loaded: call state.load_data() first (or load the phantom demo)")
        return self.data

    def view(self, variant: str = "clean", split: str = "train") -> Split:
        """A split of the clean, marked (current marker) or label-permuted data."""
        data = self.require_data()
        if variant not in VARIANTS:
            raise InputError(f"unknown data variant {variant!r}; choose from {VARIANTS}")
        if split not in data.splits:
            raise InputError(f"unknown split {split!r}; choose from {list(data.splits)}")
        if variant == "clean":
            return data[split]
        key = (variant, split, repr(self.marker))
        if key not in self._views:
            if variant == "marked":
                if self.marker is None:
                    raise InputError("no marker set: choose a marker (state.marker = CornerSquare()) before "
                                     "using the marked data")
                self._views[key] = data[split].with_marker(self.marker)
            else:
                self._views[key] = data[split].with_permuted_labels(seed=0)
        return self._views[key]

    # ---- models ------------------------------------------------------------------------
    def add_model(self, entry: ModelEntry, activate: bool = True) -> None:
        """Add or replace a model; observers of ``models`` fire and caches clear."""
        if not isinstance(entry, ModelEntry):
            raise InputError(f"add_model expects a ModelEntry (e.g. from labkit.session.zoo.pretrained_entry), "
                             f"got {type(entry).__name__}")
        entry.model.to(self.device).eval()
        self.models = {**self.models, entry.name: entry}
        self.model_version += 1
        if activate or not self.active_model:
            self.active_model = entry.name

    def add_user_model(self, name: str, *, weights: str | Path | None = None, arch: str | None = None,
                       builder: str | None = None, activate: bool = True) -> ModelEntry:
        """Add a course's own classifier: a weights file plus a registered architecture name
        (``resnet18``, ``densenet121``, …), or an importable ``"module:function"`` that builds it.

        The model must take the loaded images and return one row of class scores per
        image; it is then scored like a trained model (threshold on validation,
        clinical metrics on test). Nothing changes when any check fails.
        """
        data = self.require_data()
        recipes.TrainingPlan(name=name)  # the same name rules as trained models
        if (builder is None) == (weights is None):
            raise InputError("give either a weights file with its architecture (weights=..., arch='resnet18') "
                             "or a builder 'package.module:function', not both")
        if weights is not None:
            if not arch:
                raise InputError(f"a weights file needs its architecture: one of {list_models()}")
            model, arch_name = load_user_model(weights, arch), arch
        else:
            model, arch_name = build_user_model(builder), f"user:{builder}"
        model = model.to(self.device).eval()
        x = data["test" if "test" in data.splits else next(iter(data.splits))].images[:2]
        spec = describe(model)
        if spec.in_channels != x.shape[1]:
            raise InputError(f"the model takes {spec.in_channels}-channel images but the loaded data have {x.shape[1]} "
                             "channel(s); build it for grayscale X-rays (labkit's resnet18/densenet121 repeat "
                             "them to RGB inside) or attach a ModelSpec (labkit.models.attach_spec)")
        check_images(x, spec=spec, name="the loaded images")  # what explain will check: size and range
        try:
            with torch.no_grad():
                out = model(x)
        except Exception as exc:  # noqa: BLE001 — the user's forward may raise anything
            raise InputError(f"the model cannot take the loaded {data.size}×{data.size} images "
                             f"({type(exc).__name__}); load the data at the size it expects") from None
        if out.shape != (len(x), data.num_classes):
            raise InputError(f"the model returns {tuple(out.shape)} for {len(x)} images; expected "
                             f"({len(x)}, {data.num_classes}): one score per class ({', '.join(data.class_names)})")
        entry = ModelEntry(name=name, arch=arch_name, model=model)
        recipes.score_entry(entry, data)
        self.add_model(entry, activate)
        auroc = entry.metrics.get("test", {}).get("auroc", float("nan"))
        self.message = f"added {name} ({arch_name}): test AUROC {auroc:.3f} at threshold {entry.threshold:.2f}"
        return entry

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
    def start_training(self, name: str = "", arch: str = "small_cnn", variant: str = "clean",
                       config: TrainConfig | None = None, subset: int | None = None,
                       background: bool = True, **model_kwargs: Any) -> TrainingJob:
        """Train a new model on the chosen data variant; progress goes to ``state.training``.

        Every input is checked before anything starts. With ``background=True``
        training runs on a thread; :meth:`pause_training`, :meth:`resume_training`
        and :meth:`stop_training` control it. Inline (``background=False``) errors
        are raised.
        """
        plan = recipes.TrainingPlan(name=name, arch=arch, variant=variant, config=config or TrainConfig(),
                                    subset=subset or None, marker=self.marker, model_kwargs=model_kwargs)
        return self.train(plan, background)

    def continue_training(self, name: str | None = None, epochs: int = 5, background: bool = True) -> TrainingJob:
        """Train the model called ``name`` (default: the active one) for ``epochs`` more epochs, as a new run
        from its weights, on the data variant it was trained on; the result replaces it."""
        name = name or self.active_model
        if name not in self.models:
            raise InputError(f"no model named {name!r} to continue; available: {sorted(self.models)}")
        entry = self.models[name]
        try:
            config = TrainConfig(**{**entry.config, "epochs": epochs})
        except TypeError:
            raise InputError(f"model {name!r} has no training recipe to continue (it was not trained by labkit); "
                             "train a new model instead") from None
        marker = entry.marker if entry.variant == "marked" else None
        plan = recipes.TrainingPlan(name=name, arch=entry.arch, variant=entry.variant, config=config, marker=marker,
                                    model_kwargs=dict(entry.kwargs),
                                    initial_weights={k: v.detach().clone() for k, v in entry.model.state_dict().items()})
        return self.train(plan, background)

    def train(self, plan: recipes.TrainingPlan, background: bool = True) -> TrainingJob:
        """Run a :class:`~labkit.session.recipes.TrainingPlan`; the model is added when it ends."""
        data = self.require_data()
        self.training.ensure_idle()
        trainer = recipes.build_trainer(plan, data)
        self.training.run(f"training {plan.name} ({plan.variant} data)", trainer,
                          finish=lambda t: recipes.finish_entry(plan, t, data), on_done=self.add_model,
                          describe=recipes.summary, stop_at_train_acc=plan.stop_at_train_acc,
                          background=background)
        return self.training

    def pause_training(self) -> None:
        self.training.pause()

    def resume_training(self, background: bool = True) -> None:
        self.training.resume(background)

    def stop_training(self) -> None:
        self.training.stop()

    def wait(self, timeout: float | None = None) -> ModelEntry | None:
        """Block until the training run ends; its model entry, or its error raised."""
        return self.training.wait(timeout)

    # ---- checkpoints -------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Save every model, its config/history/metrics and the marker into ``folder``."""
        if not self.models:
            raise InputError("nothing to save: train or load a model first")
        try:
            return save_experiment(folder, self.models, image_size=self.data.size if self.data else 64,
                                   dataset=self.data.name if self.data else "", marker=self.marker)
        except OSError as exc:
            raise CheckpointError(f"cannot write the checkpoint to {folder}: {exc.strerror or exc}; "
                                  "choose a folder you can write to") from None

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
