"""PneumoniaMNIST through medmnist's own classes (Yang et al., Scientific Data 2023).

Search order for the ``.npz`` file: an explicit ``data_dir``, ``$LABKIT_DATA_DIR``,
then medmnist's default root (``~/.medmnist``). Download only when allowed.

Only medmnist's dataset module is imported (:func:`medmnist_module`): the package's
``__init__`` also imports its ``Evaluator``, and with it pandas and scikit-learn
(about 115 MB and a second per process), which loading images never uses.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F

from labkit.data.split import LabData, LazySplits, Split, normalize
from labkit.device import resolve_device
from labkit.errors import DataFileError, DataNotFoundError, InputError

FLAG = "pneumoniamnist"
SPLITS = ("train", "val", "test")
NATIVE_SIZES = (28, 64, 128, 224)


_ISOLATED: dict[str, ModuleType] = {}


def medmnist_module(name: str) -> ModuleType:
    """``medmnist.dataset`` or ``medmnist.info``, without running medmnist's ``__init__`` if it has not run.

    When the package is imported already, its own submodule is returned. Otherwise the
    submodules are imported under a bare package object (``importlib.util.module_from_spec``,
    not executed) and taken out of ``sys.modules`` again, so that a later
    ``import medmnist`` elsewhere runs the whole package as usual.
    """
    if "medmnist" in sys.modules:
        return importlib.import_module(f"medmnist.{name}")
    if not _ISOLATED:
        spec = importlib.util.find_spec("medmnist")
        if spec is None:
            raise ImportError("medmnist is not installed: pip install medmnist (a labkit dependency)")
        before = set(sys.modules)
        sys.modules["medmnist"] = importlib.util.module_from_spec(spec)
        try:
            for sub in ("info", "dataset"):
                _ISOLATED[sub] = importlib.import_module(f"medmnist.{sub}")
        finally:
            for mod in set(sys.modules) - before:
                if mod == "medmnist" or mod.startswith("medmnist."):
                    del sys.modules[mod]
    return _ISOLATED[name]


def file_name(size: int) -> str:
    """medmnist's file name for a size: ``pneumoniamnist.npz`` or ``pneumoniamnist_64.npz``."""
    return f"{FLAG}.npz" if size == 28 else f"{FLAG}_{size}.npz"


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched, in order: ``data_dir``, ``$LABKIT_DATA_DIR``, medmnist's root."""
    dirs = [data_dir, os.environ.get("LABKIT_DATA_DIR"), medmnist_module("info").DEFAULT_ROOT]
    out: list[Path] = []
    for d in dirs:
        if d and Path(d).expanduser() not in out:
            out.append(Path(d).expanduser())
    return out


def find_file(size: int, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first existing ``file_name(size)`` in :func:`search_dirs`, else ``None``."""
    for d in search_dirs(data_dir):
        if (d / file_name(size)).is_file():
            return d / file_name(size)
    return None


def _download(size: int, data_dir: str | os.PathLike | None) -> Path:
    root = search_dirs(data_dir)[0]
    root.mkdir(parents=True, exist_ok=True)
    try:
        medmnist_module("dataset").PneumoniaMNIST(split="test", root=str(root), size=size, download=True)
    except Exception as exc:  # medmnist wraps every network failure in RuntimeError
        raise _not_found(size, data_dir, f"download into {root} failed: {str(exc).strip().splitlines()[0]}") from exc
    return root / file_name(size)


def _not_found(size: int, data_dir: str | os.PathLike | None, why: str) -> DataNotFoundError:
    searched = "\n".join(f"  - {d}" for d in search_dirs(data_dir))
    url = medmnist_module("info").INFO[FLAG]["url" if size == 28 else f"url_{size}"]
    return DataNotFoundError(
        f"PneumoniaMNIST file {file_name(size)!r} not found ({why}). Folders searched:\n{searched}\n"
        f"To fix: run with network access and download allowed (labkit data --download), or fetch\n"
        f"  {url}\ninto one of these folders, or set LABKIT_DATA_DIR to the folder that has it. "
        "For an offline demo, use the phantom data set (labkit.data.load_phantom)."
    )


def _read_split(root: Path, split: str, size: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One split through medmnist's own loader; a damaged file raises :class:`DataFileError`."""
    try:
        ds = medmnist_module("dataset").PneumoniaMNIST(split=split, root=str(root), size=size, download=False)
        imgs, labels = np.asarray(ds.imgs), np.asarray(ds.labels).reshape(-1)
    except Exception as exc:  # noqa: BLE001 — zip, pickle and key errors of a damaged file
        raise _damaged(path, split, type(exc).__name__) from None
    if imgs.ndim != 3 or imgs.shape[1:] != (size, size) or len(imgs) != len(labels):
        raise DataFileError(f"{path} holds {split}_images of shape {imgs.shape} and {len(labels)} labels; expected "
                            f"(N, {size}, {size}) images and N labels: delete it and download it again")
    return imgs, labels


def _damaged(path: Path, split: str, why: str) -> DataFileError:
    return DataFileError(f"{path} cannot be read ({why}): it is truncated, empty or not a PneumoniaMNIST file "
                         f"(expected arrays {split}_images and {split}_labels); delete it and download it again "
                         "(labkit data --download)")


def _labels_only(path: Path, split: str) -> torch.Tensor:
    """``split``'s labels; the file must open and hold its images too (read later), else :class:`DataFileError`."""
    try:
        with np.load(path) as npz:
            missing = sorted({f"{split}_images", f"{split}_labels"} - set(npz.files))
            labels = None if missing else torch.as_tensor(np.asarray(npz[f"{split}_labels"]).reshape(-1),
                                                          dtype=torch.long)
    except Exception as exc:  # noqa: BLE001 — zip errors of a damaged file
        raise _damaged(path, split, type(exc).__name__) from None
    if labels is None:
        raise _damaged(path, split, f"no {' or '.join(missing)}")
    return labels


def load_pneumonia(size: int = 64, data_dir: str | os.PathLike | None = None, *, download: bool = True,
                   device: str | torch.device = "auto", splits: tuple[str, ...] = SPLITS) -> LabData:
    """Load PneumoniaMNIST as tensors on ``device``, pixels in [-1, 1].

    ``size`` 28 is the native release. Other sizes come from the native MedMNIST+ file
    (``pneumoniamnist_64.npz`` …) when it is found; otherwise the 28×28 file is
    resized with bilinear interpolation and a note (and a warning) says so.
    Raises :class:`DataNotFoundError` when no file is found and download is not
    allowed or fails. The training split is read when first used (a lecture kernel
    that only shows test images never holds it); its arrays are checked at once.
    """
    if not isinstance(size, int) or not 16 <= size <= 256:
        raise InputError(f"size must be an int between 16 and 256 (28 native, 64 the lab default), got {size!r}")
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise InputError(f"unknown split(s) {bad}; choose from {SPLITS}")
    dev = resolve_device(device)
    notes: list[str] = []
    path = find_file(size, data_dir) if size in NATIVE_SIZES else None
    src_size = size
    if path is None:
        path = find_file(28, data_dir)
        src_size = 28
        if path is None and download:
            path = _download(28 if size not in NATIVE_SIZES else size, data_dir)
            src_size = 28 if size not in NATIVE_SIZES else size
        if path is None:
            raise _not_found(28, data_dir, "download not allowed" if not download else "not on disk")
    if src_size != size:
        note = f"{size}×{size} images are upsampled from the 28×28 release (not the MedMNIST+ {size}×{size} file)"
        notes.append(note)
        warnings.warn(note, stacklevel=2)
    def make(split: str) -> Split:
        imgs, labels = _read_split(path.parent, split, src_size, path)
        x = normalize(imgs).unsqueeze(1)
        if src_size != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp_(-1, 1)
        return Split(split, x.to(dev), torch.as_tensor(labels, dtype=torch.long).to(dev))

    later = {"train": _labels_only(path, "train")} if "train" in splits else {}
    out = LazySplits(splits, make, later)  # the training images wait until a training or a view needs them
    for split in splits:
        if split not in later:
            out[split]
    return LabData(name="pneumoniamnist", splits=out, size=size, notes=tuple(notes) + (f"source: {path}",))
