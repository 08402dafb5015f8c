"""Epoch-by-epoch training on tensor-resident data, with callbacks, a cooperative
stop that keeps model/optimizer/history consistent, resume, and best-on-validation."""
from __future__ import annotations

import contextlib
import copy
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labkit.data.split import Split
from labkit.errors import InputError, TrainingError
from labkit.train.adam import FusedAdam, adam
from labkit.train.memory import keep_freed_memory
from labkit.train.metrics import auroc, predict
from labkit.train.precision import MixedPrecision, check_precision
from labkit.train.reorder import pool_before_relu


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (the reference tutorial: Adam, lr 1e-3, batch 128, ~10 epochs).

    ``precision`` is ``"auto"``, ``"fp32"`` or ``"bf16"`` (see :mod:`labkit.train.precision`).
    """

    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 128
    seed: int = 0
    weight_decay: float = 1e-4
    shift: int = 2
    select_best: bool = True
    precision: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise InputError(f"epochs must be an int ≥ 1, got {self.epochs!r}")
        if not self.lr > 0 or not np.isfinite(self.lr):
            raise InputError(f"learning rate must be > 0, got {self.lr!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise InputError(f"batch_size must be an int ≥ 1, got {self.batch_size!r}")
        if self.shift < 0 or self.weight_decay < 0:
            raise InputError(f"shift and weight_decay must be ≥ 0, got {self.shift}, {self.weight_decay}")
        check_precision(self.precision)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch."""

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float | None = None
    val_acc: float | None = None
    val_auroc: float | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class BatchInfo:
    """Progress after one optimizer step."""

    epoch: int
    batch: int
    num_batches: int
    loss: float
    progress: float  # fraction of all planned batches done


@dataclass
class History:
    """Finished epochs and which one was best on validation."""

    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None

    def as_dict(self) -> dict:
        return {"epochs": [asdict(e) for e in self.epochs], "best_epoch": self.best_epoch}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls([EpochRecord(**e) for e in d.get("epochs", [])], d.get("best_epoch"))


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels (edge-replicated padding), batched:
    one gather from the padded batch at each image's offset rows and columns."""
    if max_shift == 0:
        return x
    n, c, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, mode="replicate").flatten(2)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1, 1), generator=gen).to(x.device)
    rows = (dy + torch.arange(h, device=x.device).view(h, 1)) * (w + 2 * max_shift)
    index = (rows + dx + torch.arange(w, device=x.device)).view(n, 1, h * w).expand(n, c, h * w)
    return padded.gather(2, index).view(n, c, h, w)


class Trainer:
    """Train ``model`` on a tensor-resident :class:`Split`.

    ``fit()`` runs until ``config.epochs`` epochs are finished or :meth:`stop` is
    called (from a callback or another thread). A stop takes effect after the current
    batch; calling ``fit()`` again resumes at the next batch of the same epoch with
    the same shuffling, so an interrupted run ends where an uninterrupted one would.
    While ``fit()`` runs the model's weights are in channels-last layout and the forward
    pass autocasts as ``config.precision`` resolves on the model's device
    (:class:`~labkit.train.precision.MixedPrecision`, in :attr:`precision`), ReLUs that
    precede a max-pool in an ``nn.Sequential`` run after it (the same values and
    gradients: :mod:`labkit.train.reorder`), and on CPU freed memory stays in the process
    (:mod:`labkit.train.memory`); all is restored when ``fit()`` returns. Validation runs in fp32.
    """

    def __init__(self, model: nn.Module, train: Split, val: Split | None = None,
                 config: TrainConfig = TrainConfig(),
                 on_batch: Callable[[BatchInfo], None] | None = None,
                 on_epoch: Callable[[EpochRecord], None] | None = None) -> None:
        if len(train) == 0:
            raise InputError("the training split is empty")
        self.model, self.train_split, self.val_split, self.config = model, train, val, config
        self.on_batch, self.on_epoch = on_batch, on_epoch
        self.device = next(model.parameters()).device
        self.precision = MixedPrecision.resolve(config.precision, self.device)
        self._scaler = self.precision.scaler()
        self._optimizer: FusedAdam | torch.optim.Optimizer | None = None
        self.history = History()
        self.epoch = 0  # finished epochs
        self._gen = torch.Generator().manual_seed(config.seed)
        self._perm: torch.Tensor | None = None
        self._pos = 0
        self._sums = [0.0, 0, 0]  # loss·n, correct, n of the running epoch
        self._t0 = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._best: tuple[tuple[float, float], dict] | None = None
        self._rng: tuple[torch.Tensor, torch.Tensor | None] | None = None  # global RNG state at a stop
        self.stopped = False
        torch.manual_seed(config.seed)

    @property
    def optimizer(self) -> FusedAdam | torch.optim.Optimizer:
        """Adam over the model's parameters, built on first use: :class:`~labkit.train.adam.FusedAdam`
        (one fused kernel a step, and no ``torch._dynamo`` import) where it applies, else
        ``torch.optim.Adam``."""
        if self._optimizer is None:
            self._optimizer = adam(self.model.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        return self._optimizer

    @property
    def num_batches(self) -> int:
        return -(-len(self.train_split) // self.config.batch_size)

    @property
    def done(self) -> bool:
        return self.epoch >= self.config.epochs

    def stop(self) -> None:
        """Ask ``fit`` to return after the current batch (safe from any thread)."""
        self._stop.set()

    def fit(self) -> History:
        """Train until done or stopped; returns the history. Resumable."""
        if not self._lock.acquire(blocking=False):
            raise TrainingError("this trainer is already running; stop it or wait for it to finish")
        try:
            self._stop.clear()
            self.stopped = False
            with self._fast_paths():
                if self._rng is not None:  # dropout draws from the global RNG: continue its stream
                    self._set_rng(self._rng)
                    self._rng = None
                while not self.done:
                    if not self._run_epoch():
                        self.stopped = True
                        self._rng = self._get_rng()
                        return self.history
                if self.config.select_best and self._best is not None:
                    self.model.load_state_dict(self._best[1])
            return self.history
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def _fast_paths(self) -> Iterator[None]:
        """Channels-last weights, pools before ReLUs and kept memory (CPU) while training runs."""
        self.precision.layout(self.model, training=True)
        try:
            with pool_before_relu(self.model), \
                    keep_freed_memory() if self.device.type == "cpu" else contextlib.nullcontext():
                yield
        finally:
            self.precision.layout(self.model, training=False)

    def _get_rng(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        cuda = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        return torch.get_rng_state(), cuda

    def _set_rng(self, state: tuple[torch.Tensor, torch.Tensor | None]) -> None:
        torch.set_rng_state(state[0])
        if state[1] is not None:
            torch.cuda.set_rng_state(state[1], self.device)

    def _run_epoch(self) -> bool:
        split, cfg = self.train_split, self.config
        if self._perm is None:
            self._perm = torch.randperm(len(split), generator=self._gen).to(split.device)
            self._pos, self._sums, self._t0 = 0, [0.0, 0, 0], time.perf_counter()
        self.model.train()
        while self._pos < self.num_batches:
            if self._stop.is_set():
                return False
            idx = self._perm[self._pos * cfg.batch_size:(self._pos + 1) * cfg.batch_size]
            x = random_shift(split.images[idx], cfg.shift, self._gen).to(self.device, non_blocking=True)
            y = split.labels[idx].to(self.device, non_blocking=True)
            with self.precision.autocast():
                logits = self.model(self.precision.inputs(x))
            loss = F.cross_entropy(logits.float(), y)
            self.optimizer.zero_grad()
            self._step(loss)
            self._pos += 1
            n = len(y)
            self._sums[0] += float(loss.detach()) * n
            self._sums[1] += int((logits.argmax(1) == y).sum())
            self._sums[2] += n
            if self.on_batch:
                total = cfg.epochs * self.num_batches
                self.on_batch(BatchInfo(self.epoch, self._pos, self.num_batches, float(loss.detach()),
                                        (self.epoch * self.num_batches + self._pos) / total))
        self._finish_epoch()
        return True

    def _step(self, loss: torch.Tensor) -> None:
        if self._scaler is None:
            loss.backward()
            self.optimizer.step()
            return
        self._scaler.scale(loss).backward()
        self._scaler.step(self.optimizer)
        self._scaler.update()

    def _finish_epoch(self) -> None:
        loss_sum, correct, n = self._sums
        rec = dict(epoch=self.epoch + 1, train_loss=loss_sum / n, train_acc=correct / n)
        if self.val_split is not None and len(self.val_split):
            logits = predict(self.model, self.val_split.images)
            y = self.val_split.labels.to(logits.device)
            probs = logits.softmax(1)[:, 1].cpu().numpy()
            val_auroc = auroc(y.cpu().numpy(), probs)
            rec.update(val_loss=float(F.cross_entropy(logits, y)), val_acc=float((logits.argmax(1) == y).float().mean()),
                       val_auroc=val_auroc)
            # AUROC first, validation loss breaks ties (AUROC saturates at 1.0 on shortcut data)
            score = (val_auroc if np.isfinite(val_auroc) else -np.inf, -rec["val_loss"])
            if self._best is None or score > self._best[0]:
                self._best = (score, copy.deepcopy(self.model.state_dict()))
                self.history.best_epoch = self.epoch + 1
        record = EpochRecord(**rec, seconds=time.perf_counter() - self._t0)
        self.history.epochs.append(record)
        self.epoch += 1
        self._perm = None
        if self.on_epoch:
            self.on_epoch(record)
