"""Explainer calls with labkit's max-pool routing vs torch's own max-pool, in one process.

Run: ``python benchmarks/bench_pools.py [--threads 1] [--clock cpu] [--batches 1,16]
[--methods gradcam,occlusion] [--repeats 30]``

During an explainer call each ``nn.MaxPool2d`` runs through
``labkit.explain.calls._pool_forward`` (torch's channels-last kernel where that is faster,
with identical values and gradients). This benchmark times every method on SmallCNN
(width 16, 64×64) twice, interleaved call by call: as shipped, and with the routing
replaced by ``nn.MaxPool2d.forward``; it prints the ratio and checks that the maps are
equal bit for bit.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_explain import CLOCKS, LABKIT_PARAMS, time_interleaved  # noqa: E402 - sets up sys.path and labkit
import torch  # noqa: E402
from torch import nn  # noqa: E402

import labkit.explain.calls as calls  # noqa: E402
from labkit.explain import explain, get_explainer, list_explainers  # noqa: E402
from labkit.models import SmallCNN  # noqa: E402

ROUTED = calls._pool_forward


def torch_pool(pool: nn.MaxPool2d, x: torch.Tensor) -> torch.Tensor:
    return nn.MaxPool2d.forward(pool, x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    ap.add_argument("--batches", type=lambda v: [int(b) for b in v.split(",")], default=[1, 16])
    ap.add_argument("--methods", default=",".join(m for m in list_explainers() if not get_explainer(m).needs))
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = SmallCNN(width=16).eval()
    x, t = torch.rand(max(args.batches), 1, 64, 64) * 2 - 1, torch.randint(0, 2, (max(args.batches),))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, SmallCNN(width=16) at 64×64, "
          f"{args.clock} times in ms (median), load average before {os.getloadavg()[0]:.1f}")
    head = f"{'method':<22}{'N':>4}{'routed':>10}{'torch':>10}{'torch/routed':>14}  maps equal"
    print(head + "\n" + "-" * len(head))
    for name in args.methods.split(","):
        params = LABKIT_PARAMS.get(name, {})

        def run(xs: torch.Tensor, ts: torch.Tensor, pool=ROUTED, name=name, params=params) -> torch.Tensor:
            calls._pool_forward = pool
            try:
                torch.manual_seed(0)  # SmoothGrad's noise: the same draws for both
                return explain(model, xs, ts, method=name, **params).maps
            finally:
                calls._pool_forward = ROUTED

        fns = {"routed": run, "torch": lambda xs, ts, run=run: run(xs, ts, pool=torch_pool)}
        for n in args.batches:
            res = time_interleaved(fns, x[:n], t[:n], args.repeats, clock=CLOCKS[args.clock])
            same = torch.equal(fns["routed"](x[:n], t[:n]), fns["torch"](x[:n], t[:n]))
            print(f"{name:<22}{n:>4}{res['routed'] * 1e3:>10.2f}{res['torch'] * 1e3:>10.2f}"
                  f"{res['torch'] / res['routed']:>14.2f}  {same}")
    print(f"\nload average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
