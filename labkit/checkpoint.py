"""Saving and loading an experiment as a folder.

Layout::

    experiment.json        metadata: image size, data set, marker, one entry per model
    models/<name>.pt       state_dict of each model (loaded with weights_only=True)

Loading checks everything (JSON, architecture, tensor shapes) before returning, so a
corrupt or mismatched checkpoint raises :class:`CheckpointError` and changes nothing.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from labkit.data.markers import MarkerSpec, marker_from_dict
from labkit.errors import CheckpointError, LabkitError
from labkit.models.registry import MODELS, build_model
from labkit.train.metrics import ClinicalMetrics

FORMAT, VERSION = "labkit-experiment", 1
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class ModelEntry:
    """A model plus what is needed to rebuild and describe it."""

    name: str
    arch: str
    model: nn.Module
    kwargs: dict[str, Any] = field(default_factory=dict)
    variant: str = "clean"  # clean | marked | random-labels
    config: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)
    threshold: float = 0.5
    metrics: dict[str, Any] = field(default_factory=dict)
    marker: MarkerSpec | None = None

    def clinical(self, key: str = "test") -> ClinicalMetrics:
        """The clinical metrics stored under ``key`` (``"test"``, ``"test_marked"``) as a typed record."""
        if key not in self.metrics:
            raise KeyError(f"model {self.name!r} has no {key!r} metrics; it has {sorted(self.metrics)}")
        return ClinicalMetrics.from_dict(self.metrics[key])

    def meta(self) -> dict[str, Any]:
        return {"arch": self.arch, "kwargs": self.kwargs, "variant": self.variant, "config": self.config,
                "history": self.history, "threshold": self.threshold, "metrics": self.metrics,
                "marker": None if self.marker is None else self.marker.to_dict()}


def load_weights(module: nn.Module, path: str | Path, what: str) -> None:
    """Load the state_dict saved at ``path`` into ``module`` (``weights_only=True``).

    Every failure is a :class:`CheckpointError` saying what was expected: a missing
    file, a damaged or non-state_dict file, or weights of another architecture
    (``what`` names the expected one).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint weights file missing: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 — unpickling errors of a damaged file come in many types
        raise CheckpointError(f"{path} is corrupt or not a saved state_dict ({type(exc).__name__}); save the "
                              "model again (or retrain it) and load the new file") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state_dict of {what}")
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"{path} does not match {what}: {detail}") from None


def save_experiment(folder: str | Path, entries: dict[str, ModelEntry], *, image_size: int,
                    dataset: str, marker: MarkerSpec | None = None) -> Path:
    """Write every model and the metadata into ``folder`` (created if needed)."""
    folder = Path(folder)
    for name, e in entries.items():
        if not _NAME.match(name):
            raise CheckpointError(f"model name {name!r} cannot be a file name; use letters, digits, '_', '-', '.'")
        if e.arch not in MODELS:
            raise CheckpointError(f"model {name!r} has architecture {e.arch!r}, which is not in the registry "
                                  f"{sorted(MODELS)}; register it in labkit.models.MODELS to save it")
    (folder / "models").mkdir(parents=True, exist_ok=True)
    for name, e in entries.items():
        torch.save({k: v.detach().cpu() for k, v in e.model.state_dict().items()}, folder / "models" / f"{name}.pt")
    meta = {"format": FORMAT, "version": VERSION, "image_size": image_size, "dataset": dataset,
            "marker": None if marker is None else marker.to_dict(),
            "models": {name: e.meta() for name, e in entries.items()}}
    (folder / "experiment.json").write_text(json.dumps(meta, indent=2, default=float))
    return folder


def load_experiment(folder: str | Path, device: torch.device | str = "cpu") -> tuple[dict, dict[str, ModelEntry]]:
    """Read a folder written by :func:`save_experiment`: ``(metadata, entries)``."""
    folder = Path(folder)
    meta_path = folder / "experiment.json"
    if not meta_path.is_file():
        raise CheckpointError(f"no checkpoint at {folder}: expected a folder with experiment.json and models/*.pt "
                              "(written by labkit train --out or ExperimentState.save)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{meta_path} is corrupt (not valid JSON: {exc}); re-create the checkpoint") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("models"), dict):
        raise CheckpointError(f"{meta_path} is not a labkit experiment (expected format {FORMAT!r} with a 'models' map)")
    if not isinstance(meta.get("version", 0), int):
        raise CheckpointError(f"{meta_path} is corrupt: 'version' must be an int, got {meta['version']!r}")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{meta_path} has version {meta['version']}; this labkit reads up to {VERSION}: upgrade labkit")
    entries = {}
    for name, m in meta["models"].items():
        entries[name] = _load_entry(folder, name, m, device)
    return meta, entries


def rebuild_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments to rebuild a saved model: a torchvision model's ``weights``
    (pretrained or a file) are not fetched again, the checkpoint's own state replaces them."""
    return {**kwargs, "weights": "random"} if "weights" in kwargs else dict(kwargs)


def _load_entry(folder: Path, name: str, m: dict, device: torch.device | str) -> ModelEntry:
    path = folder / "models" / f"{name}.pt"
    try:
        model = build_model(m["arch"], **rebuild_kwargs(m.get("kwargs", {})))
        marker = None if m.get("marker") is None else marker_from_dict(m["marker"])
        threshold = float(m.get("threshold", 0.5))
    except LabkitError as exc:
        raise CheckpointError(f"model {name!r} in {folder}: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"metadata of model {name!r} in {folder / 'experiment.json'} is incomplete: {exc}") from exc
    load_weights(model, path, f"architecture {m.get('arch')!r} {m.get('kwargs', {})}")
    model.to(device).eval()
    return ModelEntry(name=name, arch=m["arch"], model=model, kwargs=m.get("kwargs", {}),
                      variant=m.get("variant", "clean"), config=m.get("config", {}), history=m.get("history", {}),
                      threshold=threshold, metrics=m.get("metrics", {}), marker=marker)


# ------------------------------------------------------------ autoencoders
AE_FORMAT, AE_VERSION = "labkit-autoencoder", 1
AE_TRAIN_HINT = "train one with `labkit train-ae --size 64 --out DIR`"


def save_autoencoder(folder: str | Path, autoencoder: nn.Module, meta: dict[str, Any] | None = None) -> Path:
    """Write ``autoencoder.pt`` (state_dict) and ``autoencoder.json`` (architecture + ``meta``) into ``folder``.

    ``autoencoder`` is a :class:`~labkit.models.autoencoder.ConvAutoencoder`;
    ``meta`` holds JSON-able facts such as the recipe, the data set and the test MAE.
    """
    from labkit.models.autoencoder import ConvAutoencoder

    if not isinstance(autoencoder, ConvAutoencoder):
        raise CheckpointError(f"only labkit's ConvAutoencoder can be saved, got {type(autoencoder).__name__}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in autoencoder.state_dict().items()}, folder / "autoencoder.pt")
    info = {"format": AE_FORMAT, "version": AE_VERSION, "config": autoencoder.config(), "meta": meta or {}}
    (folder / "autoencoder.json").write_text(json.dumps(info, indent=2, default=float))
    return folder


def load_autoencoder(folder: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Read a folder written by :func:`save_autoencoder`: ``(autoencoder in eval mode, meta)``.

    Every failure (missing, corrupt, mismatched or foreign files) is a :class:`CheckpointError`.
    """
    from labkit.models.autoencoder import ConvAutoencoder

    folder = Path(folder)
    info_path, weights = folder / "autoencoder.json", folder / "autoencoder.pt"
    if not info_path.is_file() or not weights.is_file():
        raise CheckpointError(f"no autoencoder at {folder}: expected autoencoder.json and autoencoder.pt; "
                              f"{AE_TRAIN_HINT}")
    try:
        info = json.loads(info_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{info_path} is corrupt (not valid JSON: {exc}); {AE_TRAIN_HINT}") from exc
    if not isinstance(info, dict) or info.get("format") != AE_FORMAT or not isinstance(info.get("config"), dict):
        raise CheckpointError(f"{info_path} is not a labkit autoencoder (expected format {AE_FORMAT!r} with a "
                              f"'config' map); {AE_TRAIN_HINT}")
    if not isinstance(info.get("version"), int) or info["version"] > AE_VERSION:
        raise CheckpointError(f"{info_path} has version {info.get('version')!r}; this labkit reads up to "
                              f"{AE_VERSION}: upgrade labkit")
    try:
        ae = ConvAutoencoder(**info["config"])
    except (LabkitError, TypeError) as exc:
        raise CheckpointError(f"{info_path} has a bad architecture config {info['config']}: {exc}") from exc
    load_weights(ae, weights, f"the autoencoder {info['config']}")
    meta = info.get("meta") if isinstance(info.get("meta"), dict) else {}
    return ae.to(device).eval(), meta
