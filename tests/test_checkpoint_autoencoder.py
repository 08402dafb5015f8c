"""Autoencoder checkpoints: round trip, weights_only loading, every failure a CheckpointError."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from labkit.checkpoint import load_autoencoder, save_autoencoder
from labkit.errors import CheckpointError
from labkit.models.autoencoder import ConvAutoencoder


@pytest.fixture
def saved(tmp_path: Path) -> tuple[ConvAutoencoder, Path]:
    torch.manual_seed(0)
    ae = ConvAutoencoder(28, bottleneck=3, width=4)
    for m in ae.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    ae.eval()
    return ae, save_autoencoder(tmp_path / "ae", ae, {"test_mae": 0.05, "dataset": "pneumoniamnist"})


def test_round_trip(saved) -> None:
    ae, folder = saved
    loaded, meta = load_autoencoder(folder)
    assert isinstance(loaded, ConvAutoencoder) and not loaded.training
    assert loaded.config() == ae.config() and meta == {"test_mae": 0.05, "dataset": "pneumoniamnist"}
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    torch.testing.assert_close(loaded(x), ae(x), rtol=0, atol=0)


def test_missing_folder_names_the_training_command(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="labkit train-ae"):
        load_autoencoder(tmp_path / "nothing")


def test_corrupt_json(saved) -> None:
    (saved[1] / "autoencoder.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_autoencoder(saved[1])


@pytest.mark.parametrize("edit,match", [({"format": "other"}, "not a labkit autoencoder"),
                                        ({"version": 99}, "upgrade labkit"),
                                        ({"config": {"size": 27}}, "bad architecture"),
                                        ({"config": {"size": 28, "bottleneck": 5, "width": 4}}, "does not match")])
def test_bad_metadata(saved, edit, match) -> None:
    path = saved[1] / "autoencoder.json"
    info = json.loads(path.read_text())
    info.update(edit)
    path.write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match=match):
        load_autoencoder(saved[1])


def test_corrupt_weights(saved) -> None:
    (saved[1] / "autoencoder.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_autoencoder(saved[1])


class Payload:
    pass


def test_pickled_objects_are_refused(saved) -> None:
    """weights_only=True: a file holding arbitrary Python objects does not load."""
    torch.save({"payload": Payload()}, saved[1] / "autoencoder.pt")
    with pytest.raises(CheckpointError):
        load_autoencoder(saved[1])


def test_only_labkit_autoencoders_are_saved(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="ConvAutoencoder"):
        save_autoencoder(tmp_path, torch.nn.Linear(2, 2))
    assert not (tmp_path / "autoencoder.json").exists()
