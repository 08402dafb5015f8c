"""The training loop: seeded determinism, stop/resume bit-identity, history, best-on-validation."""
from __future__ import annotations

import copy
import threading
from dataclasses import asdict

import pytest
import torch

from labkit.data import CornerSquare, Split
from labkit.errors import InputError, TrainingError
from labkit.models import SmallCNN
from labkit.train import BatchInfo, EpochRecord, History, TrainConfig, Trainer, random_shift

CONFIG = TrainConfig(epochs=2, batch_size=32, seed=3)  # 96 images → 3 batches an epoch


@pytest.fixture(scope="module")
def splits(pneumonia28) -> tuple[Split, Split]:
    return pneumonia28["train"].subset(96, seed=0), pneumonia28["val"].subset(64, seed=0)


def tiny_model(seed: int = 3) -> SmallCNN:
    torch.manual_seed(seed)
    return SmallCNN(width=4, hidden=16)


def records(history: History) -> list[dict]:
    """Epoch records without their wall time (the only field allowed to differ)."""
    return [{k: v for k, v in asdict(e).items() if k != "seconds"} for e in history.epochs]


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def train(splits, config: TrainConfig = CONFIG, **kwargs) -> Trainer:
    trainer = Trainer(tiny_model(config.seed), *splits, config, **kwargs)
    trainer.fit()
    return trainer


@pytest.fixture(scope="module")
def reference(splits) -> Trainer:
    """An uninterrupted seeded run."""
    return train(splits)


def test_cpu_training_is_deterministic_with_a_seed(splits, reference: Trainer) -> None:
    again = train(splits)
    assert same_weights(again.model, reference.model)
    assert records(again.history) == records(reference.history)
    other = train(splits, TrainConfig(epochs=2, batch_size=32, seed=4))
    assert not same_weights(other.model, reference.model)


@pytest.mark.parametrize("stops", [(1,), (3,), (4,), (2, 5)], ids=["mid-epoch-1", "end-of-epoch-1",
                                                                   "mid-epoch-2", "twice"])
def test_stop_then_resume_is_bit_identical_to_an_uninterrupted_run(splits, reference: Trainer,
                                                                    stops: tuple[int, ...]) -> None:
    seen: list[int] = []
    trainer: Trainer

    def on_batch(info: BatchInfo) -> None:
        step = info.epoch * info.num_batches + info.batch
        seen.append(step)
        if step in stops:
            trainer.stop()

    trainer = Trainer(tiny_model(), *splits, CONFIG, on_batch=on_batch)
    for k in stops:
        trainer.fit()
        assert trainer.stopped and not trainer.done
        assert seen[-1] == k  # the stop took effect right after batch k
        torch.rand(1000)  # other work between stop and resume draws from the global RNG
        torch.nn.Dropout(0.5)(torch.ones(100))
    history = trainer.fit()
    assert trainer.done and not trainer.stopped
    assert seen == list(range(1, 7))  # no batch repeated or skipped
    assert same_weights(trainer.model, reference.model)
    assert records(history) == records(reference.history)
    assert history.best_epoch == reference.history.best_epoch


def test_history_records_every_epoch(splits) -> None:
    batches: list[BatchInfo] = []
    epochs: list[EpochRecord] = []
    config = TrainConfig(epochs=3, batch_size=40, seed=0)  # 96 images → batches of 40, 40, 16
    trainer = train(splits, config, on_batch=batches.append, on_epoch=epochs.append)
    history = trainer.history
    assert trainer.num_batches == 3 and trainer.epoch == 3 and trainer.done
    assert [e.epoch for e in history.epochs] == [1, 2, 3] and epochs == history.epochs
    for e in history.epochs:
        assert e.train_loss > 0 and 0 <= e.train_acc <= 1 and e.seconds >= 0
        assert e.val_loss > 0 and 0 <= e.val_acc <= 1 and 0 <= e.val_auroc <= 1
    assert len(batches) == 9
    assert [b.batch for b in batches] == [1, 2, 3] * 3 and [b.epoch for b in batches] == [0] * 3 + [1] * 3 + [2] * 3
    progress = [b.progress for b in batches]
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    keys = [(e.val_auroc, -e.val_loss) for e in history.epochs]  # AUROC first, then lower loss
    assert history.best_epoch == keys.index(max(keys)) + 1
    assert History.from_dict(history.as_dict()) == history


def test_ties_in_validation_auroc_are_broken_by_validation_loss(pneumonia28) -> None:
    # a label-coded marker makes validation AUROC saturate at 1.0 from the first epoch on;
    # the best epoch must then be the one with the lowest validation loss, not the first
    marked = pneumonia28.with_marker(CornerSquare())
    train_split, val = marked["train"].subset(96, seed=0), marked["val"].subset(64, seed=0)
    trainer = Trainer(tiny_model(1), train_split, val, TrainConfig(epochs=3, batch_size=32, lr=1e-2, seed=1))
    history = trainer.fit()
    aurocs, losses = [e.val_auroc for e in history.epochs], [e.val_loss for e in history.epochs]
    assert aurocs == [1.0] * 3, f"expected saturated validation AUROC, got {aurocs}"
    assert history.best_epoch == losses.index(min(losses)) + 1 != 1


def test_without_validation_there_is_no_best_epoch(splits) -> None:
    trainer = Trainer(tiny_model(), splits[0], None, TrainConfig(epochs=1, batch_size=48))
    history = trainer.fit()
    assert history.best_epoch is None and history.epochs[0].val_auroc is None


def test_best_on_validation_restores_the_best_epochs_weights(splits) -> None:
    train_split = splits[0]
    # validating on the training images with flipped labels: the better the fit, the worse the score,
    # so an early epoch is best and the final weights must be rolled back to it
    flipped = Split("val", train_split.images, 1 - train_split.labels)
    snapshots: dict[int, dict] = {}
    config = TrainConfig(epochs=4, batch_size=32, lr=5e-3, seed=1, shift=0)
    holder: list[Trainer] = []

    def on_epoch(rec: EpochRecord) -> None:
        snapshots[rec.epoch] = copy.deepcopy(holder[0].model.state_dict())

    trainer = Trainer(tiny_model(1), train_split, flipped, config, on_epoch=on_epoch)
    holder.append(trainer)
    history = trainer.fit()
    best = history.best_epoch
    aurocs = [e.val_auroc for e in history.epochs]
    assert best == aurocs.index(max(aurocs)) + 1
    assert best < config.epochs, f"expected an early best epoch on flipped labels, AUROCs {aurocs}"
    final = trainer.model.state_dict()
    assert all(torch.equal(final[k], snapshots[best][k]) for k in final)
    assert not all(torch.equal(final[k], snapshots[config.epochs][k]) for k in final)

    last = Trainer(tiny_model(1), train_split, flipped, TrainConfig(**{**config.as_dict(), "select_best": False}))
    last.fit()
    assert all(torch.equal(v, snapshots[config.epochs][k]) for k, v in last.model.state_dict().items())


@pytest.mark.parametrize("kwargs,match", [
    (dict(epochs=0), "epochs"), (dict(epochs=-2), "epochs"), (dict(epochs=1.5), "epochs"),
    (dict(lr=0.0), "learning rate"), (dict(lr=-1e-3), "learning rate"), (dict(lr=float("nan")), "learning rate"),
    (dict(lr=float("inf")), "learning rate"),
    (dict(batch_size=0), "batch_size"), (dict(batch_size=32.0), "batch_size"),
    (dict(shift=-1), "shift"), (dict(weight_decay=-0.1), "weight_decay"),
])
def test_train_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        TrainConfig(**kwargs)


def test_reference_defaults() -> None:
    c = TrainConfig()
    assert (c.epochs, c.lr, c.batch_size) == (10, 1e-3, 128)
    assert TrainConfig(**c.as_dict()) == c


def test_a_trainer_cannot_fit_twice_concurrently(splits) -> None:
    errors: list[Exception] = []
    trainer: Trainer

    def on_batch(info: BatchInfo) -> None:
        if info.batch == 1 and info.epoch == 0:
            try:
                trainer.fit()
            except TrainingError as exc:
                errors.append(exc)

    trainer = Trainer(tiny_model(), splits[0], None, TrainConfig(epochs=1, batch_size=48), on_batch=on_batch)
    trainer.fit()
    assert len(errors) == 1 and "already running" in str(errors[0])
    assert trainer.done and len(trainer.history.epochs) == 1  # the running fit was not disturbed


def test_fit_from_another_thread_while_running_raises(splits) -> None:
    entered, release = threading.Event(), threading.Event()

    def on_batch(info: BatchInfo) -> None:
        entered.set()
        release.wait(30)

    trainer = Trainer(tiny_model(), splits[0], None, TrainConfig(epochs=1, batch_size=48), on_batch=on_batch)
    worker = threading.Thread(target=trainer.fit)
    worker.start()
    try:
        assert entered.wait(30)
        with pytest.raises(TrainingError):
            trainer.fit()
    finally:
        release.set()
        worker.join(30)
    assert trainer.done


def test_stop_from_another_thread(splits) -> None:
    entered, release = threading.Event(), threading.Event()

    def on_batch(info: BatchInfo) -> None:
        entered.set()
        release.wait(30)

    trainer = Trainer(tiny_model(), splits[0], None, TrainConfig(epochs=2, batch_size=48), on_batch=on_batch)
    worker = threading.Thread(target=trainer.fit)
    worker.start()
    assert entered.wait(30)
    trainer.stop()
    release.set()
    worker.join(30)
    assert trainer.stopped and trainer.epoch == 0 and trainer.history.epochs == []


def test_fit_after_done_does_nothing(splits) -> None:
    trainer = Trainer(tiny_model(), splits[0], None, TrainConfig(epochs=1, batch_size=96))
    trainer.fit()
    before = copy.deepcopy(trainer.model.state_dict())
    trainer.fit()
    assert len(trainer.history.epochs) == 1
    assert all(torch.equal(v, before[k]) for k, v in trainer.model.state_dict().items())


def test_empty_training_split_is_an_error() -> None:
    empty = Split("train", torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long))
    with pytest.raises(InputError, match="empty"):
        Trainer(tiny_model(), empty)


def test_random_shift_translates_with_replicated_edges() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 1, 12, 12, generator=g)
    assert random_shift(x, 0, g) is x
    out = random_shift(x, 2, g)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")
    shifts = set()
    for i in range(8):
        hits = [(dy, dx) for dy in range(5) for dx in range(5)
                if torch.equal(out[i], padded[i, :, dy:dy + 12, dx:dx + 12])]
        assert hits, f"image {i} is not a shift of its input"
        shifts.add(hits[0])
    assert len(shifts) > 1  # shifts differ between images
