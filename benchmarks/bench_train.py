"""Training benchmarks: labkit's tensor-resident, mixed-precision pipeline vs the
classic per-item one, the reference 10-epoch run, bf16 vs fp32 accuracy over seeds,
and the shortcut models.

Run::

    python benchmarks/bench_train.py [--epochs 2] [--data-dir DIR]   # pipeline comparison
    python benchmarks/bench_train.py --full [--data-dir DIR]          # reference run + clinical metrics
    python benchmarks/bench_train.py --accuracy [--seeds 3]           # fp32 vs low precision, same seeds
    python benchmarks/bench_train.py --shortcuts [--data-dir DIR]     # one shortcut model per marker kind

Pipeline comparison (default): first one training step of SmallCNN on a batch of 128 at
64×64 in each layout × precision (ms/batch), then the same SmallCNN, Adam (lr 1e-3,
weight decay 1e-4), batch 128 at 64×64, trained for the same number of epochs twice in
one process:

- labkit: :class:`labkit.train.Trainer` (``--precision``, default ``auto``: channels-last
  weights and bf16 autocast on CPUs with AMX/AVX-512 BF16, AMP on CUDA) on a
  :class:`labkit.data.LabData` split whose images are one tensor already on the device
  (random permutation indexing, batched random-shift augmentation, no per-item Python work);
- classic: a ``torch.utils.data.DataLoader`` (shuffle, ``num_workers=0``) over
  ``medmnist.PneumoniaMNIST(split="train", transform=Resize(64) + ToTensor +
  Normalize(0.5, 0.5))``: PIL decode, resize and normalize per image, every epoch, fp32.

Both skip validation so only the training epochs are timed; a warm-up step runs first
so neither pays one-time kernel set-up. Targets: labkit ≥ 2.5× faster per epoch;
``--full`` (labkit's default TrainConfig, 10 epochs, full train split, threshold
chosen on validation) ≤ 30 s with test AUROC ≥ 0.955 and balanced accuracy ≥ 0.83;
``--accuracy``: mean test AUROC and balanced accuracy of the low-precision runs within
0.005 of fp32 over the same seeds; ``--shortcuts`` ≥ 0.99 accuracy on marked test
images and ≥ 0.15 lower on clean ones. Wall times depend on the machine and on what
else runs on it: the header prints the device, thread count and load average, and
each mode prints the load average again when it ends.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import labkit  # noqa: E402,F401 - before torch: sets OMP_WAIT_POLICY (see labkit/__init__.py)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


from labkit.data import LabData, load_pneumonia, make_marker  # noqa: E402
from labkit.device import resolve_device  # noqa: E402
from labkit.models import SmallCNN  # noqa: E402
from labkit.train import (TrainConfig, Trainer, choose_threshold, clinical_metrics, evaluate,  # noqa: E402
                          random_shift)
from labkit.train.precision import PRECISIONS, MixedPrecision  # noqa: E402

SIZE, BATCH = 64, 128
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_average() -> str:
    return "n/a" if not hasattr(os, "getloadavg") else " ".join(f"{v:.1f}" for v in os.getloadavg())


def header(device: torch.device, precision: str) -> None:
    settings = MixedPrecision.resolve(precision, device)
    print(f"torch {torch.__version__} on {device}; {torch.get_num_threads()} intra-op threads "
          f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}); "
          f"{os.cpu_count()} CPUs; CPU capability {torch.backends.cpu.get_cpu_capability()}; "
          f"precision {precision} → {settings.name}{' + channels_last' if settings.channels_last else ''}; "
          f"load average {load_average()}")


def load(data_dir: Path, device: torch.device) -> LabData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 64 px upsampled from 28 px: printed below
        data = load_pneumonia(SIZE, data_dir, download=False, device=device)
    print(data.summary())
    return data


def warm_up(device: torch.device, precision: str = "fp32") -> None:
    """A forward/backward at the benchmark's shapes, in fp32 and in ``precision``, so
    the first timed epoch pays no kernel set-up."""
    model = SmallCNN().to(device)
    x = torch.zeros(BATCH, 1, SIZE, SIZE, device=device)
    y = torch.zeros(BATCH, dtype=torch.long, device=device)
    for settings in {MixedPrecision(device, None, False), MixedPrecision.resolve(precision, device)}:
        settings.layout(model, training=True)
        with settings.autocast():
            loss = F.cross_entropy(model(settings.inputs(x)).float(), y)
        loss.backward()
        settings.layout(model, training=False)
    sync(device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------- one step
def step_table(device: torch.device, repeats: int = 10) -> None:
    """ms per training step (forward, backward, Adam) in each layout × precision, interleaved."""
    low = MixedPrecision.resolve("bf16" if device.type == "cpu" else "auto", device).dtype
    setups = {(cl, dtype): MixedPrecision(device, dtype, cl) for dtype in (None, low) for cl in (False, True)}
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(BATCH, 1, SIZE, SIZE, generator=g) * 2 - 1).to(device)
    y = torch.randint(0, 2, (BATCH,), generator=g).to(device)
    runs = {}
    for key, settings in setups.items():
        torch.manual_seed(0)
        model = SmallCNN().to(device)
        settings.layout(model, training=True)
        runs[key] = (settings, model, torch.optim.Adam(model.parameters(), lr=1e-3), [])
    for r in range(repeats + 2):  # the first two steps of each are warm-up
        for settings, model, opt, times in runs.values():
            sync(device)
            t0 = time.perf_counter()
            with settings.autocast():
                loss = F.cross_entropy(model(settings.inputs(x)).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sync(device)
            if r >= 2:
                times.append(time.perf_counter() - t0)
    base = statistics.median(runs[(False, None)][3])
    print(f"\none training step, SmallCNN, batch {BATCH} at {SIZE}×{SIZE} (median of {repeats}, interleaved):")
    for (cl, _), (settings, _, _, times) in runs.items():
        ms = statistics.median(times) * 1e3
        print(f"  {settings.name:<5} {'channels_last' if cl else 'contiguous':<14} {ms:7.1f} ms/batch  "
              f"{base * 1e3 / ms:4.2f}×")


# ---------------------------------------------------------------------------------- pipelines
def labkit_epochs(data: LabData, epochs: int, device: torch.device, precision: str) -> list[tuple[float, float]]:
    """(wall, process CPU) seconds of each epoch."""
    torch.manual_seed(0)
    model = SmallCNN().to(device)
    trainer = Trainer(model, data["train"], None,
                      TrainConfig(epochs=epochs, batch_size=BATCH, seed=0, precision=precision))
    times: list[tuple[float, float]] = []
    t0, c0 = time.perf_counter(), time.process_time()

    def on_epoch(_record: object) -> None:
        nonlocal t0, c0
        sync(device)
        times.append((time.perf_counter() - t0, time.process_time() - c0))
        t0, c0 = time.perf_counter(), time.process_time()

    trainer.on_epoch = on_epoch
    trainer.fit()
    return times


def classic_epochs(data_dir: Path, epochs: int, device: torch.device) -> list[tuple[float, float]]:
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
        t0, c0 = time.perf_counter(), time.process_time()
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.view(-1).long().to(device)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        sync(device)
        times.append((time.perf_counter() - t0, time.process_time() - c0))
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


def compare(data_dir: Path, epochs: int, device: torch.device, precision: str) -> None:
    data = load(data_dir, device)
    warm_up(device, precision)
    step_table(device)
    print(f"\n{epochs} epoch(s) each, SmallCNN, Adam lr 1e-3, batch {BATCH}, {SIZE}×{SIZE}, "
          f"{len(data['train'])} training images")
    lab = labkit_epochs(data, epochs, device, precision)
    name = MixedPrecision.resolve(precision, device).name
    classic = classic_epochs(data_dir, epochs, device)
    for label, times in ((f"labkit  (Trainer, {name:<4} channels_last)", lab), ("classic (DataLoader, fp32, NCHW)   ", classic)):
        print(f"  {label}: {statistics.mean(t[0] for t in times):6.2f} s/epoch wall, "
              f"{statistics.mean(t[1] for t in times):6.2f} s CPU   [{', '.join(f'{t[0]:.2f}' for t in times)}]")
    ratio, cpu_ratio = (statistics.mean(t[i] for t in classic) / statistics.mean(t[i] for t in lab) for i in (0, 1))
    print(f"  labkit is {ratio:.2f}× faster per epoch in wall time, {cpu_ratio:.2f}× in CPU time "
          f"(target ≥ 2.5×: {'met' if ratio >= 2.5 else 'NOT met'} in wall time; with --threads 1 on a busy "
          "machine the CPU ratio is the one other processes do not skew)")
    lab_data, classic_data = data_only(data, data_dir, device)
    print(f"  data pipeline alone, one epoch without the model: labkit {lab_data:.2f} s, classic {classic_data:.2f} s "
          f"({classic_data / lab_data:.1f}×); the rest of each epoch is the model's forward/backward")
    print(f"load average at the end {load_average()}")


# ---------------------------------------------------------------------------------- full run
def train_and_score(data: LabData, config: TrainConfig, device: torch.device,
                    verbose: bool = False) -> tuple[float, float, object, int | None]:
    """Train SmallCNN with ``config`` (validation each epoch, best epoch kept); wall and CPU
    seconds, test metrics at the threshold chosen on validation, and the best epoch."""
    torch.manual_seed(config.seed)
    model = SmallCNN().to(device)
    log = (lambda r: print(f"  epoch {r.epoch:2d}  loss {r.train_loss:.3f}  train acc {r.train_acc:.3f}  "
                           f"val AUROC {r.val_auroc:.3f}  ({r.seconds:.1f} s)", flush=True)) if verbose else None
    trainer = Trainer(model, data["train"], data["val"], config, on_epoch=log)
    t0, c0 = time.perf_counter(), time.process_time()
    history = trainer.fit()
    sync(device)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    val, test = evaluate(model, data["val"]), evaluate(model, data["test"])
    return wall, cpu, clinical_metrics(test.labels, test.scores, choose_threshold(val.labels, val.scores)), \
        history.best_epoch


def full(data_dir: Path, device: torch.device, precision: str) -> None:
    data = load(data_dir, device)
    warm_up(device, precision)
    config = TrainConfig(precision=precision)
    print(f"\nreference run: labkit default {config} → {MixedPrecision.resolve(precision, device).name}")
    wall, cpu, m, best = train_and_score(data, config, device, verbose=True)
    print(f"\nwall time {wall:.1f} s for {config.epochs} epochs incl. validation (target ≤ 30 s: "
          f"{'met' if wall <= 30 else 'NOT met'}); best epoch {best}; load average {load_average()}")
    print(f"CPU time of this process {cpu:.1f} s on {torch.get_num_threads()} thread(s) (with --threads 1 the "
          "work done, which other processes' load does not inflate; a quiet machine's wall time is at most this)")
    print(f"test metrics at the threshold chosen on validation:\n{m.summary()}")
    print(f"targets: AUROC ≥ 0.955 {'met' if m.auroc >= 0.955 else 'NOT met'}; "
          f"balanced accuracy ≥ 0.83 {'met' if m.balanced_accuracy >= 0.83 else 'NOT met'}")
    print("reference (tutorial, 64 px): accuracy 0.875, sensitivity 0.987, specificity 0.688, "
          "balanced accuracy 0.838, AUROC 0.941")


# ---------------------------------------------------------------------------------- accuracy
def accuracy(data_dir: Path, device: torch.device, seeds: int) -> None:
    """Full default runs in fp32 and in the device's low precision for the same seeds."""
    data = load(data_dir, device)
    low = "bf16" if device.type == "cpu" else "auto"
    warm_up(device, low)
    names = {"fp32": "fp32", low: MixedPrecision.resolve(low, device).name}
    print(f"\nfp32 vs {names[low]}: labkit default TrainConfig, 10 epochs, seeds 0..{seeds - 1}; "
          "test metrics at the threshold chosen on validation")
    rows: dict[str, list[tuple[float, float]]] = {"fp32": [], low: []}
    for seed in range(seeds):
        for precision in rows:
            wall, _, m, best = train_and_score(data, TrainConfig(seed=seed, precision=precision), device)
            rows[precision].append((m.auroc, m.balanced_accuracy))
            print(f"  seed {seed}  {names[precision]:<5} AUROC {m.auroc:.4f}  balanced accuracy "
                  f"{m.balanced_accuracy:.4f}  best epoch {best}  ({wall:.0f} s, load {load_average()})", flush=True)
    means = {p: [statistics.mean(v[i] for v in rows[p]) for i in range(2)] for p in rows}
    ok = True
    for i, metric in enumerate(("AUROC", "balanced accuracy")):
        diff = means[low][i] - means["fp32"][i]
        ok &= abs(diff) <= 0.005
        print(f"  mean {metric:<18} fp32 {means['fp32'][i]:.4f}  {names[low]} {means[low][i]:.4f}  "
              f"difference {diff:+.4f} (target |·| ≤ 0.005: {'met' if abs(diff) <= 0.005 else 'NOT met'})")
    print(f"{'both within' if ok else 'NOT both within'} 0.005 of fp32 over {seeds} seeds; "
          f"load average at the end {load_average()}")


# ---------------------------------------------------------------------------------- shortcuts
def shortcuts(data_dir: Path, device: torch.device) -> None:
    data = load(data_dir, device)
    config = TrainConfig()
    warm_up(device, config.precision)
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
    mode.add_argument("--accuracy", action="store_true", help="fp32 vs bf16/fp16 test metrics over seeds")
    p.add_argument("--seeds", type=int, default=3, help="seeds for --accuracy (default 3)")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="labkit's training precision in the comparison and --full (default auto)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per pipeline in the comparison (default 2)")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("LABKIT_DATA_DIR", DEFAULT_DATA_DIR)),
                   help="folder holding pneumoniamnist.npz (default ../shared/data or $LABKIT_DATA_DIR)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, …")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    header(device, args.precision)
    if args.full:
        full(args.data_dir, device, args.precision)
    elif args.accuracy:
        accuracy(args.data_dir, device, args.seeds)
    elif args.shortcuts:
        shortcuts(args.data_dir, device)
    else:
        compare(args.data_dir, args.epochs, device, args.precision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
