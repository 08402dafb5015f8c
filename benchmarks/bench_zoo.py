"""Time to the app's pre-trained models from an empty cache, stage by stage.

Run: ``LABKIT_DATA_DIR=... python benchmarks/bench_zoo.py [--threads N] [--kinds baseline,shortcut]``

Does what ``labkit app --pretrained`` does at start (``labkit.panels.app``'s
``load_pretrained``): load PneumoniaMNIST at 64 px, then ``pretrained_entry`` for the
baseline and the shortcut model (the zoo's fast recipe), in a fresh temporary cache.
Each stage is timed where the zoo calls it (building the trainer, training,
scoring on validation and test, writing the cache), in wall time and in this
process's CPU time (with ``--threads 1`` the CPU time is what a quiet machine's
wall time would be; other processes' load does not inflate it); the total
includes the imports. Target: ≤ 90 s wall on a 2-core CPU.
"""
from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import functools  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import labkit  # noqa: E402,F401 - before torch: sets OMP_WAIT_POLICY (see labkit/__init__.py)
import torch  # noqa: E402

from labkit.data import load_pneumonia  # noqa: E402
from labkit.session import zoo  # noqa: E402
from labkit.train import Trainer  # noqa: E402

TARGET_S = 90.0
STAGES: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # stage → [wall s, CPU s]


def timed(stage: str, fn: Callable) -> Callable:
    """``fn``, adding its wall and CPU time to ``STAGES[stage]``."""
    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> object:
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            STAGES[stage][0] += time.perf_counter() - t
            STAGES[stage][1] += time.process_time() - c
    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--kinds", default="baseline,shortcut", help="pre-trained kinds, as the app loads them")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    STAGES["imports"] = [time.perf_counter() - START, time.process_time()]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()} "
          f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}), load average {os.getloadavg()[0]:.1f}")
    data = timed("load PneumoniaMNIST 64 px", load_pneumonia)(64, download=False)
    zoo.build_trainer = timed("build trainers", zoo.build_trainer)
    zoo.finish_entry = timed("score (threshold on val, test metrics)", zoo.finish_entry)
    zoo.store = timed("write cache", zoo.store)
    fit = Trainer.fit
    with tempfile.TemporaryDirectory() as cache:
        for kind in args.kinds.split(","):
            Trainer.fit = timed(f"train {kind}", fit)
            entry = zoo.pretrained_entry(data, kind, cache_dir=cache)
            test = entry.metrics["test"]
            print(f"{kind}: test AUROC {test['auroc']:.3f}, balanced accuracy {test['balanced_accuracy']:.3f}, "
                  f"{len(entry.history['epochs'])} epochs")
    Trainer.fit = fit
    total = time.perf_counter() - START
    print("stage times (wall / CPU of this process): "
          + ", ".join(f"{k} {w:.1f} / {c:.1f} s" for k, (w, c) in STAGES.items()))
    print(f"total {total:.1f} s wall, {time.process_time():.1f} s CPU from an empty cache (target ≤ {TARGET_S:.0f} s "
          f"wall: {'met' if total <= TARGET_S else 'NOT met'}); load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
