"""Pre-trained models on demand: train once with a fixed recipe, cache on disk.

Notebooks and the lecture app call :func:`pretrained_entry` to get a trained
baseline, shortcut or random-label model in seconds after the first call. The cache
key covers the recipe, the architecture, the marker and a fingerprint of the data,
so a different data set or marker never reuses stale weights.
Cache folder: ``cache_dir``, else ``$LABKIT_CACHE_DIR``, else ``~/.cache/labkit``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable


from labkit.checkpoint import ModelEntry, load_experiment, save_experiment
from labkit.data import CornerSquare, LabData, MarkerSpec
from labkit.errors import InputError
from labkit.session.jobs import TrainingJob
from labkit.session.recipes import VARIANT_NAMES, TrainingPlan, build_trainer, finish_entry
from labkit.train import TrainConfig

#: pre-trained kind → the data variant it is trained on (the default model names of the variants).
KIND_VARIANTS = {name: variant for variant, name in VARIANT_NAMES.items()}
KINDS = tuple(KIND_VARIANTS)
MEMORIZED = 0.97  # training accuracy at which a random-label model counts as having memorized
#: (training images, epochs) of the two recipes; "full" is the lab's reference recipe.
RECIPES = {"fast": (2000, 4), "full": (None, 10)}


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Folder holding cached models."""
    return Path(cache_dir or os.environ.get("LABKIT_CACHE_DIR") or Path.home() / ".cache" / "labkit").expanduser()


def fingerprint(data: LabData) -> str:
    """Short hash of the training split (images and labels) and the image size."""
    s = data["train"]
    h = hashlib.sha256()
    h.update(f"{data.name}|{data.size}|{len(s)}".encode())
    h.update(s.labels.cpu().numpy().tobytes())
    h.update(s.images[:: max(1, len(s) // 64)].cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def pretrained_entry(data: LabData, kind: str = "baseline", marker: MarkerSpec | None = None, *,
                     fast: bool = True, arch: str = "small_cnn", seed: int = 0,
                     cache_dir: str | os.PathLike | None = None) -> ModelEntry:
    """A trained model for ``data``: from the cache, or trained now and cached.

    ``kind`` is ``"baseline"`` (clean data), ``"shortcut"`` (label-coded ``marker``,
    default an 8-px corner square) or ``"random-labels"`` (permuted training labels).
    """
    folder, plan = _resolve(data, kind, marker, fast, arch, seed, cache_dir)
    if (folder / "experiment.json").is_file():
        _, entries = load_experiment(folder, data.device)
        return entries[kind]
    entry = _train(data, plan)
    store(folder, lambda tmp: save_experiment(tmp, {kind: entry}, image_size=data.size, dataset=data.name,
                                             marker=plan.marker))
    return entry


def is_cached(data: LabData, kind: str = "baseline", marker: MarkerSpec | None = None, *, fast: bool = True,
              arch: str = "small_cnn", seed: int = 0, cache_dir: str | os.PathLike | None = None) -> bool:
    """Whether :func:`pretrained_entry` with these arguments loads from the cache (no training)."""
    folder, _ = _resolve(data, kind, marker, fast, arch, seed, cache_dir)
    return (folder / "experiment.json").is_file()


def _resolve(data: LabData, kind: str, marker: MarkerSpec | None, fast: bool, arch: str, seed: int,
             cache_dir: str | os.PathLike | None) -> tuple[Path, TrainingPlan]:
    """The cache folder and the training plan of one pre-trained model."""
    if kind not in KINDS:
        raise InputError(f"unknown pre-trained kind {kind!r}; choose from {KINDS}")
    if kind == "shortcut":
        marker = marker or CornerSquare()
        marker.check_fits(data.size)
    else:
        marker = None
    n, epochs = RECIPES["fast" if fast else "full"]
    if kind == "random-labels":
        n, epochs = 256, 60 if fast else 120
    key_src = json.dumps({"kind": kind, "arch": arch, "seed": seed, "n": n, "epochs": epochs, "data": fingerprint(data),
                          "marker": None if marker is None else marker.to_dict()}, sort_keys=True)
    folder = cache_root(cache_dir) / f"{kind}-{hashlib.sha256(key_src.encode()).hexdigest()[:16]}"
    return folder, plan_for(kind, marker, arch, seed, n, epochs)


def store(folder: Path, write: Callable[[Path], object]) -> None:
    """Write a cache folder so that it appears only complete: ``write`` fills a temporary
    folder beside it, which is then renamed (when another process got there first, its
    copy is kept)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        write(tmp)
        try:
            tmp.rename(folder)
        except OSError:  # another process cached it first: keep its copy
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def plan_for(kind: str, marker: MarkerSpec | None, arch: str, seed: int, n: int | None, epochs: int) -> TrainingPlan:
    """The training plan of a pre-trained model of ``kind`` (the zoo's fixed recipes)."""
    memorizer = kind == "random-labels"
    config = TrainConfig(epochs=epochs, seed=seed, shift=0 if memorizer else 2, batch_size=64 if memorizer else 128,
                         select_best=not memorizer, weight_decay=0.0 if memorizer else 1e-4)
    return TrainingPlan(name=kind, arch=arch, variant=KIND_VARIANTS[kind],
                        config=config, subset=n, marker=marker, stop_at_train_acc=MEMORIZED if memorizer else None,
                        validate=not memorizer)


def _train(data: LabData, plan: TrainingPlan) -> ModelEntry:
    job = TrainingJob()
    job.run(f"training the pre-trained {plan.name} model", build_trainer(plan, data),
            finish=lambda t: finish_entry(plan, t, data), background=False)
    return job.result


__all__ = ["pretrained_entry", "is_cached", "store", "plan_for", "cache_root", "fingerprint", "KINDS", "RECIPES"]
