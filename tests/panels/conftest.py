"""Fixtures for the headless panel tests: a small phantom data set at 32×32 and a
tiny CNN (width 4) trained once per session, copied into each test's state."""
from __future__ import annotations

import copy
import io
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from labkit.checkpoint import ModelEntry
from labkit.data import LabData, load_phantom
from labkit.session import ExperimentState
from labkit.train import TrainConfig

SIZE = 32
COUNTS = {"train": 96, "val": 48, "test": 48}


@pytest.fixture(scope="session")
def small_data() -> LabData:
    return load_phantom(size=SIZE, device="cpu", counts=COUNTS)


@pytest.fixture(scope="session")
def tiny_entry(small_data: LabData) -> ModelEntry:
    s = ExperimentState(device="cpu", data=small_data)
    s.start_training("baseline", "small_cnn", "clean", TrainConfig(epochs=2, batch_size=32), background=False,
                     width=4)
    assert s.training.status == "done", s.message
    return s.models["baseline"]


@pytest.fixture
def state(small_data: LabData) -> ExperimentState:
    """A CPU state with the small phantom data and no model."""
    return ExperimentState(device="cpu", data=small_data)


@pytest.fixture
def trained_state(state: ExperimentState, tiny_entry: ModelEntry) -> ExperimentState:
    """The state with a copy of the tiny trained model as ``baseline``."""
    state.add_model(copy.deepcopy(tiny_entry))
    return state


@pytest.fixture
def png_bytes() -> Callable[..., bytes]:
    """Factory: PNG bytes of a random RGB image of the given size."""
    def make(width: int = 300, height: int = 200, seed: int = 0) -> bytes:
        rng = np.random.default_rng(seed)
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buf, format="PNG")
        return buf.getvalue()
    return make
