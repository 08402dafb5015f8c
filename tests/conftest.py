"""Fixtures shared by the whole suite: the real data folder and PneumoniaMNIST on CPU.

The data live beside the project (``../shared/data`` from the repository root) or in
``$LABKIT_DATA_DIR``. They are never copied into the repository and never downloaded
by tests: a missing file fails the tests that need it with a message saying where to
put it (it is not skipped, so CI cannot pass silently without real data).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
import torch

from labkit.data import LabData, load_pneumonia

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_FILE = "pneumoniamnist.npz"


def _find_data_dir() -> Path | None:
    for d in (REPO_ROOT.parent / "shared" / "data", os.environ.get("LABKIT_DATA_DIR")):
        if d and (Path(d) / DATA_FILE).is_file():
            return Path(d)
    return None


DATA_DIR = _find_data_dir()
if DATA_DIR is not None:
    os.environ.setdefault("LABKIT_DATA_DIR", str(DATA_DIR))

# The suite runs on shared 2-core machines: one intra-op thread avoids oversubscription
# (several times faster under load) and keeps CPU results reproducible.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder holding ``pneumoniamnist.npz`` (28×28 PneumoniaMNIST)."""
    if DATA_DIR is None:
        pytest.fail(f"{DATA_FILE} not found in {REPO_ROOT.parent / 'shared' / 'data'} nor in $LABKIT_DATA_DIR; "
                    "put the PneumoniaMNIST release there (https://zenodo.org/records/10519652) or set "
                    "LABKIT_DATA_DIR to the folder that holds it", pytrace=False)
    return DATA_DIR


@pytest.fixture(scope="session")
def pneumonia28(data_dir: Path) -> LabData:
    """The real splits at the native 28×28, on CPU."""
    return load_pneumonia(28, data_dir, download=False, device="cpu")


@pytest.fixture(scope="session")
def pneumonia64(data_dir: Path) -> LabData:
    """The real splits at the lab's 64×64 (upsampled from 28×28), on CPU."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_pneumonia(64, data_dir, download=False, device="cpu")
