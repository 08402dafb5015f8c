"""``labkit train``: train a model (optionally on marked data), print clinical metrics,
save a checkpoint folder."""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from tqdm import tqdm

from labkit.data import make_marker
from labkit.models import list_models
from labkit.errors import InputError
from labkit.session import ExperimentState, TrainingPlan
from labkit.train import TrainConfig
from labkit.train.precision import PRECISIONS

HELP = "train a classifier on PneumoniaMNIST (or the phantom set), print clinical metrics, save a checkpoint"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="small_cnn", choices=list_models())
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--size", type=int, default=64, help="image size in pixels (28 native; 64 lab default)")
    p.add_argument("--marker", choices=["corner", "stripe", "text"], help="plant a label-coded shortcut marker")
    p.add_argument("--random-labels", action="store_true", help="train on permuted labels (data randomization)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subset", type=int, help="train on a seeded subset of N training images")
    p.add_argument("--dataset", default="pneumoniamnist", choices=["pneumoniamnist", "phantom"])
    p.add_argument("--data-dir", help="folder holding pneumoniamnist*.npz")
    p.add_argument("--no-download", action="store_true", help="never download; fail if the file is missing")
    p.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, …")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="auto: bf16/fp16 autocast where the hardware runs it fast, else fp32 (default auto)")
    p.add_argument("--name", help="model name in the checkpoint (default: baseline, shortcut or random-labels)")
    p.add_argument("--out", default="runs/latest", help="checkpoint folder to write (default runs/latest)")


def run(args: argparse.Namespace) -> int:
    config = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                         precision=args.precision)
    if args.subset is not None and args.subset < 0:
        raise InputError(f"--subset must be a number of training images ≥ 1, or 0 for all of them; got {args.subset}")
    state = ExperimentState(device=args.device)
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        state.load_data(args.dataset, args.size, args.data_dir, download=not args.no_download)
    for n in notes:
        print(f"note: {n.message}")
    variant = "marked" if args.marker else ("random-labels" if args.random_labels else "clean")
    if args.marker:
        state.marker = make_marker(args.marker)
    plan = TrainingPlan(name=args.name or "", arch=args.model, variant=variant, config=config,
                        subset=args.subset or None, marker=state.marker)
    print(f"training {plan.arch} as {plan.name!r} on {variant} data, {args.size}×{args.size}, device {state.device}")
    bar = tqdm(total=1000, unit="‰", desc=plan.name, bar_format="{l_bar}{bar}| {elapsed}<{remaining}")
    job = state.training
    job.observe(lambda ch: bar.update(int(ch["new"] * 1000) - bar.n), "progress")
    job.observe(lambda ch: ch["new"] and bar.write(_epoch_line(ch["new"][-1])), "history")
    t0 = time.perf_counter()
    try:
        state.train(plan, background=False)
    finally:
        bar.close()
    entry = state.models[plan.name]
    print(f"trained in {time.perf_counter() - t0:.1f} s; operating threshold {entry.threshold:.3f} (chosen on validation)")
    for key, title in (("test", "test (clean)"), ("test_marked", "test (marked)")):
        if key in entry.metrics:
            print(f"\n{title}:\n{entry.clinical(key).summary()}")
    out = state.save(Path(args.out))
    print(f"\ncheckpoint saved to {out}")
    return 0


def _epoch_line(rec: object) -> str:
    """One line per epoch, as the reference tutorial prints it."""
    val = "" if rec.val_loss is None else (f" · val loss {rec.val_loss:.4f} · val AUROC {rec.val_auroc:.4f}")
    return (f"epoch {rec.epoch:2d} · train loss {rec.train_loss:.4f} · train acc {rec.train_acc:.4f}{val}"
            f" · {rec.seconds:.1f} s")
