"""Same data, same recipe, with and without BatchNorm: classifier quality and map stability.

Trains ``small_cnn`` (the lab's CNN, with BatchNorm) and ``tutorial_cnn`` (the
reference's, without) with the reproduction recipe of ``reproduce_findings.py`` on the
same seeds, then prints per model: clinical test metrics, the stability of Gradient
and IG maps under σ = 0.03 noise, and the share of first-layer ReLU units whose
on/off state the noise flips (the mechanism: BatchNorm in eval mode rescales the
first conv's output, so small noise crosses more ReLU thresholds).

    LABKIT_DATA_DIR=/path/to/data python benchmarks/repro_batchnorm.py [--lab-recipe] [--models-dir DIR]

With the same ``--models-dir`` as ``reproduce_findings.py`` the tutorial models are reused.
"""
from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import torch
from torch import nn

import repro_stages as st
from reproduce_findings import Recipe, default_threads, train
from repro_table import fmt
from labkit.data import load_pneumonia
from labkit.device import resolve_device
from labkit.train import TrainConfig

ARCHS = {"small_cnn": "small_cnn_baseline", "tutorial_cnn": "baseline"}


def relu_flips(model: nn.Module, x: torch.Tensor, sigma: float = 0.03, seed: int = 0) -> float:
    """Fraction of the first ReLU's units whose sign differs between ``x`` and ``x + N(0, σ²)``."""
    relu = next(m for m in model.modules() if isinstance(m, nn.ReLU))
    seen: list[torch.Tensor] = []
    hook = relu.register_forward_hook(lambda mod, i, o: seen.append(o > 0))
    gen = torch.Generator().manual_seed(seed)
    noisy = (x + sigma * torch.randn(x.shape, generator=gen).to(x.device)).clamp(-1, 1)
    try:
        with torch.no_grad():
            model.eval()(x), model(noisy)
    finally:
        hook.remove()
    return float((seen[0] != seen[1]).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(Recipe().seeds))
    parser.add_argument("--models-dir", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--lab-recipe", action="store_true",
                        help="train with labkit's default TrainConfig (10 epochs, shifts, weight decay, best on "
                             "validation) instead of the tutorial's")
    args = parser.parse_args()
    os.environ.setdefault("LABKIT_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    warnings.filterwarnings("ignore", message=".*upsampled from the 28.*")
    recipe = Recipe(seeds=tuple(args.seeds), models_dir=args.models_dir, threads=args.threads)
    torch.set_num_threads(recipe.threads or default_threads())
    start, load0 = time.perf_counter(), os.getloadavg()[0]
    data = load_pneumonia(recipe.size, download=False, device=resolve_device(recipe.device))
    what = ("labkit's default TrainConfig" if args.lab_recipe
            else f"{recipe.epochs} epochs, Adam 1e-3, batch 128, no augmentation")
    print(f"{data.notes[0]}; seeds {list(recipe.seeds)}; {what}; {recipe.n_images} test images per seed; "
          f"{torch.get_num_threads()} threads; metrics at p ≥ 0.5")
    keys = ("accuracy", "sensitivity", "specificity", "balanced_accuracy", "auroc", "gradient",
            "integrated_gradients", "relu_flips")
    print(f"{'model':<14}" + "".join(f"{k[:12]:>17}" for k in keys))
    for arch, name in ARCHS.items():
        per_seed: dict[str, list[float]] = {k: [] for k in keys}
        for seed in recipe.seeds:
            config = TrainConfig(seed=seed) if args.lab_recipe else None
            epochs = config.epochs if config else recipe.epochs
            model = train(recipe, data["train"], data["val"], epochs, seed, name + ("_lab" if config else ""),
                          arch, config)
            x = st.split_for(data, recipe.n_images, seed).images
            values = {**st.clinical(model, data["test"]), **st.stabilities(model, x, seed, recipe.stability_copies),
                      "relu_flips": relu_flips(model, x, seed=seed)}
            for k in keys:
                per_seed[k].append(values[k])
        print(f"{arch:<14}" + "".join(f"{fmt(per_seed[k]):>17}" for k in keys), flush=True)
    print(f"total {time.perf_counter() - start:.0f} s, load average {load0:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
