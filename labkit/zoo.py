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

import torch

from labkit.checkpoint import ModelEntry, load_experiment, save_experiment
from labkit.data import CornerSquare, LabData, MarkerSpec
from labkit.errors import InputError
from labkit.models import build_model
from labkit.train import TrainConfig, Trainer, choose_threshold, clinical_metrics, evaluate

KINDS = ("baseline", "shortcut", "random-labels")
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
    if (folder / "experiment.json").is_file():
        _, entries = load_experiment(folder, data.device)
        return entries[kind]
    entry = _train(data, kind, marker, arch, seed, n, epochs)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=_ensure(folder.parent)))
    save_experiment(tmp, {kind: entry}, image_size=data.size, dataset=data.name, marker=marker)
    try:
        tmp.rename(folder)
    except OSError:  # another process cached it first
        shutil.rmtree(tmp, ignore_errors=True)
    return entry


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _train(data: LabData, kind: str, marker: MarkerSpec | None, arch: str, seed: int,
           n: int | None, epochs: int) -> ModelEntry:
    train, val, test = data["train"], data["val"], data["test"]
    if marker is not None:
        train, val = train.with_marker(marker), val.with_marker(marker)
    if kind == "random-labels":
        train = train.subset(n, seed=seed).with_permuted_labels(seed)
    elif n is not None:
        train = train.subset(n, seed=seed)
    config = TrainConfig(epochs=epochs, seed=seed, shift=0 if kind == "random-labels" else 2,
                         batch_size=64 if kind == "random-labels" else 128,
                         select_best=kind != "random-labels", weight_decay=0.0 if kind == "random-labels" else 1e-4)
    torch.manual_seed(seed)
    model = build_model(arch).to(data.device)
    trainer = Trainer(model, train, None if kind == "random-labels" else val, config)
    if kind == "random-labels":  # stop once the permuted labels are memorized
        trainer.on_epoch = lambda rec: rec.train_acc >= MEMORIZED and trainer.stop()
    trainer.fit()
    pv = evaluate(model, val)
    threshold = choose_threshold(pv.labels, pv.scores) if kind != "random-labels" else 0.5
    pt = evaluate(model, test)
    metrics = {"test": clinical_metrics(pt.labels, pt.scores, threshold).as_dict(),
               "train_acc": trainer.history.epochs[-1].train_acc}
    if marker is not None:
        pm = evaluate(model, test.with_marker(marker))
        metrics["test_marked"] = clinical_metrics(pm.labels, pm.scores, threshold).as_dict()
    model.eval()
    return ModelEntry(name=kind, arch=arch, model=model, variant={"baseline": "clean", "shortcut": "marked"}.get(kind, kind),
                      config=config.as_dict(), history=trainer.history.as_dict(), threshold=threshold,
                      metrics=metrics, marker=marker)


__all__ = ["pretrained_entry", "cache_root", "fingerprint", "KINDS", "RECIPES"]
