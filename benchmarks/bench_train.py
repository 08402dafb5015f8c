"""Training benchmarks: labkit's tensor-resident pipeline vs the classic per-item one,
the reference 10-epoch run, and the shortcut models.

Run::

    python benchmarks/bench_train.py [--epochs 2] [--data-dir DIR]   # pipeline comparison
    python benchmarks/bench_train.py --full [--data-dir DIR]          # reference run + clinical metrics
    python benchmarks/bench_train.py --shortcuts [--data-dir DIR]     # one shortcut model per marker kind

Pipeline comparison (default): the same SmallCNN, Adam (lr 1e-3, weight decay 1e-4),
batch 128 at 64×64, trained for the same number of epochs twice in one process:

- labkit: :class:`labkit.train.Trainer` on a :class:`labkit.data.LabData` split whose
  images are one tensor already on the device (random permutation indexing, batched
  random-shift augmentation, no per-item Python work);
- classic: a ``torch.utils.data.DataLoader`` (shuffle, ``num_workers=0``) over
  ``medmnist.PneumoniaMNIST(split="train", transform=Resize(64) + ToTensor +
  Normalize(0.5, 0.5))``: PIL decode, resize and normalize per image, every epoch.

Both skip validation so only the training epochs are timed; a warm-up step runs first
so neither pays one-time kernel set-up. Targets: labkit ≥ 2× faster per epoch;
``--full`` (labkit's default TrainConfig, 10 epochs, full train split, threshold
chosen on validation) ≤ 90 s with test AUROC ≥ 0.94 and balanced accuracy ≥ 0.83;
``--shortcuts`` ≥ 0.99 accuracy on marked test images and ≥ 0.15 lower on clean ones.
Wall times depend on the machine and on what else runs on it: the header prints the
device, thread count and load average.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.data import LabData, load_pneumonia, make_marker  # noqa: E402
from labkit.device import resolve_device  # noqa: E402
from labkit.models import SmallCNN  # noqa: E402
from labkit.train import (TrainConfig, Trainer, choose_threshold, clinical_metrics, evaluate,  # noqa: E402
                          random_shift)

SIZE, BATCH = 64, 128
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


def header(device: torch.device) -> None:
    load = "n/a" if not hasattr(os, "getloadavg") else " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"torch {torch.__version__} on {device}; {torch.get_num_threads()} intra-op threads; "
          f"{os.cpu_count()} CPUs; load average {load}")


def load(data_dir: Path, device: torch.device) -> LabData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 64 px upsampled from 28 px: printed below
        data = load_pneumonia(SIZE, data_dir, download=False, device=device)
    print(data.summary())
    return data


def warm_up(device: torch.device) -> None:
    """One forward/backward at the benchmark's shapes so the first timed epoch pays no set-up."""
    model = SmallCNN().to(device)
    x = torch.zeros(BATCH, 1, SIZE, SIZE, device=device)
    F.cross_entropy(model(x), torch.zeros(BATCH, dtype=torch.long, device=device)).backward()
    sync(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------- pipelines
def labkit_epochs(data: LabData, epochs: int, device: torch.device) -> list[float]:
    torch.manual_seed(0)
    model = SmallCNN().to(device)
    trainer = Trainer(model, data["train"], None, TrainConfig(epochs=epochs, batch_size=BATCH, seed=0))
    times: list[float] = []
    t0 = time.perf_counter()

    def on_epoch(_record: object) -> None:
        nonlocal t0
        sync(device)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()

    trainer.on_epoch = on_epoch
    trainer.fit()
    return times


def classic_epochs(data_dir: Path, epochs: int, device: torch.device) -> list[float]:
    import medmnist
    import torchvision.transforms as T
    from torch.utils.data import DataLoader

    transform = T.Compose([T.Resize(SIZE), T.ToTensor(), T.Normalize(mean=[0.5], std=[0.5])])
    dataset = medmnist.PneumoniaMNIST(split="train", root=str(data_dir), transform=transform, download=False)
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0,
                        generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = SmallCNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.view(-1).long().to(device)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times


def data_only(data: LabData, data_dir: Path, device: torch.device) -> tuple[float, float]:
    """Seconds for one epoch of batches without the model: labkit indexing + shift vs the DataLoader."""
    import medmnist
    import torchvision.transforms as T
    from torch.utils.data import DataLoader

    split, gen = data["train"], torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    perm = torch.randperm(len(split), generator=gen).to(split.device)
    for i in range(0, len(split), BATCH):
        idx = perm[i:i + BATCH]
        x, y = random_shift(split.images[idx], 2, gen).to(device), split.labels[idx].to(device)
    sync(device)
    lab = time.perf_counter() - t0
    transform = T.Compose([T.Resize(SIZE), T.ToTensor(), T.Normalize(mean=[0.5], std=[0.5])])
    dataset = medmnist.PneumoniaMNIST(split="train", root=str(data_dir), transform=transform, download=False)
    t0 = time.perf_counter()
    for x, y in DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0):
        x, y = x.to(device), y.view(-1).long().to(device)
    sync(device)
    return lab, time.perf_counter() - t0


def compare(data_dir: Path, epochs: int, device: torch.device) -> None:
    data = load(data_dir, device)
    warm_up(device)
    print(f"\n{epochs} epoch(s) each, SmallCNN, Adam lr 1e-3, batch {BATCH}, {SIZE}×{SIZE}, "
          f"{len(data['train'])} training images")
    lab = labkit_epochs(data, epochs, device)
    print(f"  labkit  (tensor-resident Trainer) : {statistics.mean(lab):6.2f} s/epoch   "
          f"[{', '.join(f'{t:.2f}' for t in lab)}]")
    classic = classic_epochs(data_dir, epochs, device)
    print(f"  classic (DataLoader over medmnist): {statistics.mean(classic):6.2f} s/epoch   "
          f"[{', '.join(f'{t:.2f}' for t in classic)}]")
    ratio = statistics.mean(classic) / statistics.mean(lab)
    print(f"  labkit is {ratio:.2f}× faster per epoch (target ≥ 2×: {'met' if ratio >= 2 else 'NOT met'})")
    lab_data, classic_data = data_only(data, data_dir, device)
    print(f"  data pipeline alone, one epoch without the model: labkit {lab_data:.2f} s, classic {classic_data:.2f} s "
          f"({classic_data / lab_data:.1f}×); the rest of each epoch is the model's forward/backward, the same "
          "in both")


# ---------------------------------------------------------------------------------- full run
def full(data_dir: Path, device: torch.device) -> None:
    data = load(data_dir, device)
    warm_up(device)
    config = TrainConfig()
    print(f"\nreference run: labkit default {config}")
    torch.manual_seed(config.seed)
    model = SmallCNN().to(device)
    trainer = Trainer(model, data["train"], data["val"], config,
                      on_epoch=lambda r: print(f"  epoch {r.epoch:2d}  loss {r.train_loss:.3f}  "
                                               f"train acc {r.train_acc:.3f}  val AUROC {r.val_auroc:.3f}  "
                                               f"({r.seconds:.1f} s)", flush=True))
    t0 = time.perf_counter()
    history = trainer.fit()
    sync(device)
    wall = time.perf_counter() - t0
    val, test = evaluate(model, data["val"]), evaluate(model, data["test"])
    threshold = choose_threshold(val.labels, val.scores)
    m = clinical_metrics(test.labels, test.scores, threshold)
    print(f"\nwall time {wall:.1f} s for {config.epochs} epochs incl. validation (target ≤ 90 s: "
          f"{'met' if wall <= 90 else 'NOT met'}); best epoch {history.best_epoch}")
    print(f"test metrics at the threshold chosen on validation:\n{m.summary()}")
    print(f"targets: AUROC ≥ 0.94 {'met' if m.auroc >= 0.94 else 'NOT met'}; "
          f"balanced accuracy ≥ 0.83 {'met' if m.balanced_accuracy >= 0.83 else 'NOT met'}")
    print("reference (tutorial, 64 px): accuracy 0.875, sensitivity 0.987, specificity 0.688, "
          "balanced accuracy 0.838, AUROC 0.941")


# ---------------------------------------------------------------------------------- shortcuts
def shortcuts(data_dir: Path, device: torch.device) -> None:
    data = load(data_dir, device)
    warm_up(device)
    config = TrainConfig()
    print(f"\nshortcut models: labkit default {config}; marker placement encodes the label")
    rows = []
    for kind in ("corner", "stripe", "text"):
        marker = make_marker(kind)
        marked = data.with_marker(marker)
        torch.manual_seed(config.seed)
        model = SmallCNN().to(device)
        t0 = time.perf_counter()
        Trainer(model, marked["train"], marked["val"], config).fit()
        seconds = time.perf_counter() - t0
        pm, pc, pv = evaluate(model, marked["test"]), evaluate(model, data["test"]), evaluate(model, marked["val"])
        acc_marked, acc_clean = pm.accuracy, pc.accuracy
        threshold = choose_threshold(pv.labels, pv.scores)
        at_t = [clinical_metrics(p.labels, p.scores, threshold).accuracy for p in (pm, pc)]
        ok = acc_marked >= 0.99 and acc_marked - acc_clean >= 0.15
        rows.append((kind, acc_marked, acc_clean, seconds, ok))
        print(f"  {marker.describe():<55} marked test {acc_marked:.3f}  clean test {acc_clean:.3f}  "
              f"drop {acc_marked - acc_clean:+.3f}  ({seconds:.0f} s)  {'met' if ok else 'NOT met'}\n"
              f"  {'':<55} at the threshold chosen on marked validation ({threshold:.3f}): "
              f"marked {at_t[0]:.3f}  clean {at_t[1]:.3f}", flush=True)
    print("targets (accuracy, predicted class = argmax): ≥ 0.99 on marked test images and ≥ 0.15 lower on "
          "clean ones (reference corner square: 1.000 marked, 0.671 clean)")
    print(f"{sum(r[-1] for r in rows)}/{len(rows)} marker kinds meet both targets")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="10 epochs, default config, test clinical metrics")
    mode.add_argument("--shortcuts", action="store_true", help="shortcut model per marker kind")
    p.add_argument("--epochs", type=int, default=2, help="epochs per pipeline in the comparison (default 2)")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("LABKIT_DATA_DIR", DEFAULT_DATA_DIR)),
                   help="folder holding pneumoniamnist.npz (default ../shared/data or $LABKIT_DATA_DIR)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, …")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    header(device)
    if args.full:
        full(args.data_dir, device)
    elif args.shortcuts:
        shortcuts(args.data_dir, device)
    else:
        compare(args.data_dir, args.epochs, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
