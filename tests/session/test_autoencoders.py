"""The cached pre-trained autoencoder: trained once, then loaded; keyed by recipe and data."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from labkit.session.autoencoders import autoencoder_folder, pretrained_autoencoder
from labkit.data import LabData
from labkit.train.autoencoder import AEConfig

TINY = AEConfig(epochs=1, bottleneck=2, width=4, batch_size=64)


@pytest.fixture(scope="module")
def small(pneumonia28) -> LabData:
    splits = {name: pneumonia28[name].subset(n, seed=0) for name, n in (("train", 128), ("val", 32), ("test", 64))}
    return LabData(name="pneumoniamnist", splits=splits, size=28)


def test_trains_once_then_loads(small, tmp_path: Path) -> None:
    ae, meta = pretrained_autoencoder(small, TINY, cache_dir=tmp_path)
    folder = autoencoder_folder(small, TINY, tmp_path)
    assert (folder / "autoencoder.pt").is_file() and not list(tmp_path.glob(".tmp-*"))
    assert meta["recipe"] == TINY.as_dict() and meta["test"]["n"] == 64 and meta["image_size"] == 28
    again, meta2 = pretrained_autoencoder(small, TINY, cache_dir=tmp_path)
    assert meta2 == meta and not again.training
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in ae.state_dict().items())


def test_key_covers_recipe_and_data(small, pneumonia28, tmp_path: Path) -> None:
    other = LabData(name="pneumoniamnist", splits={**small.splits, "train": pneumonia28["train"].subset(128, seed=5)},
                    size=28)
    folders = {autoencoder_folder(small, TINY, tmp_path), autoencoder_folder(other, TINY, tmp_path),
               autoencoder_folder(small, AEConfig(epochs=2, bottleneck=2, width=4, batch_size=64), tmp_path)}
    assert len(folders) == 3 and all(f.parent == tmp_path for f in folders)
