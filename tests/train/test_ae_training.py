"""Training the autoencoder: elastic loss, learning on real images, labels ignored, progress."""
from __future__ import annotations

import pytest
import torch

from labkit.data import Split
from labkit.errors import InputError
from labkit.train.autoencoder import AEConfig, elastic_loss, reconstruct, train_autoencoder

FAST = AEConfig(epochs=2, bottleneck=4, width=4, batch_size=32)


@pytest.fixture(scope="module")
def small(pneumonia28) -> Split:
    return pneumonia28["train"].subset(256, seed=1)


def test_elastic_loss_is_squared_plus_absolute_error() -> None:
    recon, x = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.0, 1.0]])
    assert float(elastic_loss(recon, x)) == pytest.approx((0.25 + 4.0) / 2 + (0.5 + 2.0) / 2)


def test_training_learns_to_reconstruct_real_images(pneumonia28, small) -> None:
    test = pneumonia28["test"].images[:128]
    ae, history = train_autoencoder(small, AEConfig(epochs=4, bottleneck=4, width=4, batch_size=16, lr=1e-2),
                                    pneumonia28["val"].subset(64))
    mae = float((reconstruct(ae, test) - test).abs().mean())
    mean_image_mae = float((small.images.mean(0, keepdim=True) - test).abs().mean())
    assert mae < 0.75 * mean_image_mae, (mae, mean_image_mae)  # 64 steps on 256 images: 0.61
    assert history.train_loss[-1] < history.train_loss[0] and len(history.val_mae) == 4 and history.seconds > 0
    assert history.cpu_seconds > 0
    assert not ae.training


def test_labels_are_never_used(small) -> None:
    """Same images and seed, permuted labels: identical weights (the autoencoder is classifier-free)."""
    a, _ = train_autoencoder(small, AEConfig(epochs=1, bottleneck=2, width=4, batch_size=64))
    b, _ = train_autoencoder(small.with_permuted_labels(3), AEConfig(epochs=1, bottleneck=2, width=4, batch_size=64))
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_progress_callback(small) -> None:
    seen = []
    train_autoencoder(small.subset(64), FAST, on_batch=seen.append)
    assert len(seen) == 2 * 2 and [b.epoch for b in seen] == [0, 0, 1, 1]
    assert [b.progress for b in seen] == [0.25, 0.5, 0.75, 1.0] and all(b.num_batches == 2 for b in seen)


@pytest.mark.parametrize("kw,match", [({"epochs": 0}, "epochs"), ({"bottleneck": 1.5}, "bottleneck"),
                                      ({"lr": 0.0}, "learning rate"), ({"batch_size": True}, "batch_size")])
def test_bad_config(kw, match) -> None:
    with pytest.raises(InputError, match=match):
        AEConfig(**kw)


def test_empty_split() -> None:
    empty = Split("train", torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long))
    with pytest.raises(InputError, match="empty"):
        train_autoencoder(empty)
