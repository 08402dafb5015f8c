"""Reproduce the reference tutorial's numbers row by row, with its own architecture.

Trains the reference's conv-ReLU-pool CNN without BatchNorm (``tutorial_cnn``) with its
recipe (Adam lr 1e-3, batch 128, no augmentation, last epoch kept) on clean
PneumoniaMNIST and on images with a label-coded 8×8 corner marker, once per seed,
and prints one table row per number the reference reports: the reference value,
labkit's mean ± std over the seeds (each seed: a mean over ``--n-images`` test images
where the reference showed one example), the tolerance and the verdict. Native 64 px
when ``pneumoniamnist_64.npz`` is found, otherwise 28 px upsampled (said in the table).

Run from the project root::

    LABKIT_DATA_DIR=/path/to/data python benchmarks/reproduce_findings.py [--readme]

``--readme`` writes the table into ``benchmarks/README.md`` (between the
``repro-table`` markers); ``--models-dir DIR`` keeps the trained models for a re-run;
``--values FILE`` saves the measurements (and rebuilds the table from them when the file
exists). Each stage prints its wall and CPU time and the load average. The slow test
``tests/benchmarks/test_reproduce_findings.py`` runs :func:`run` and asserts every row
with a tolerance (known differences, listed in ``repro_rows``, must show their evidence).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import labkit  # noqa: F401 - before torch: sets OMP_WAIT_POLICY (see labkit/__init__.py)
import torch

import repro_stages as st
from repro_rows import table
from repro_table import Row, to_markdown, to_text
from labkit.data import CornerSquare, LabData, Split, load_pneumonia
from labkit.device import resolve_device
from labkit.models import build_model
from labkit.train import TrainConfig, Trainer

README = Path(__file__).with_name("README.md")
BEGIN, END = "<!-- repro-table:begin -->", "<!-- repro-table:end -->"


@dataclass(frozen=True)
class Recipe:
    """What one run trains and measures."""

    seeds: tuple[int, ...] = (0, 1, 2)
    size: int = 64
    epochs: int = 8
    shortcut_epochs: int = 3
    n_images: int = 40
    label_subset: int = 128
    stability_copies: int = 4
    device: str = "auto"
    threads: int | None = None
    models_dir: str | None = None
    #: training precision (labkit.train.precision): "auto" trains in bf16 where the CPU runs it fast,
    #: about 2× faster than fp32 with the same test AUROC (bench_train.py --accuracy)
    precision: str = "auto"


@contextlib.contextmanager
def stage(name: str, times: dict[str, float]) -> Iterator[None]:
    print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    yield
    times[name] = time.perf_counter() - t0
    print(f"    {times[name]:.1f} s wall, {time.process_time() - c0:.1f} s CPU "
          f"(load average {os.getloadavg()[0]:.1f})", flush=True)


def train(recipe: Recipe, train_split: Split, val: Split, epochs: int, seed: int, name: str,
          arch: str = "tutorial_cnn", config: TrainConfig | None = None) -> torch.nn.Module:
    """The tutorial recipe (or ``config``) for one seed; cached in ``models_dir`` when given."""
    torch.manual_seed(seed)
    model = build_model(arch).to(train_split.device, memory_format=torch.channels_last)
    cache = None if recipe.models_dir is None else \
        Path(recipe.models_dir) / f"{name}_{recipe.size}px_e{epochs}_s{seed}_{recipe.precision}.pt"
    if cache is not None and cache.is_file():
        model.load_state_dict(torch.load(cache, map_location=train_split.device))
        return model.eval()
    config = config or TrainConfig(epochs=epochs, seed=seed, weight_decay=0.0, shift=0, select_best=False,
                                   precision=recipe.precision)
    Trainer(model, train_split, val, config).fit()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), cache)
    return model.eval()


def measure(recipe: Recipe, data: LabData, times: dict[str, float]) -> dict[str, list[dict[str, float]]]:
    """Every stage for every seed: ``{stage: [per-seed dict of floats]}``."""
    marker = CornerSquare()
    marked = data.with_marker(marker)
    out: dict[str, list[dict[str, float]]] = {}
    with stage(f"train baseline, {len(recipe.seeds)} seeds × {recipe.epochs} epochs", times):
        base = [train(recipe, data["train"], data["val"], recipe.epochs, s, "baseline") for s in recipe.seeds]
    with stage(f"train shortcut, {len(recipe.seeds)} seeds × {recipe.shortcut_epochs} epochs", times):
        short = [train(recipe, marked["train"], marked["val"], recipe.shortcut_epochs, s, "shortcut")
                 for s in recipe.seeds]
    clean_x = [st.split_for(data, recipe.n_images, s).images for s in recipe.seeds]
    marked_sel = [st.split_for(data, recipe.n_images, s, marker) for s in recipe.seeds]
    with stage("maps of the five methods, both models", times):
        base_maps = [st.five_maps(base[i], clean_x[i]) for i in range(len(recipe.seeds))]
        short_maps = [st.five_maps(short[i], marked_sel[i].images) for i in range(len(recipe.seeds))]
    runs = [
        ("clinical metrics", "clinical", lambda i, s: st.clinical(base[i], data["test"])),
        ("IG vs captum", "captum", lambda i, s: {"pearson": st.ig_vs_captum(base[i], clean_x[i])}),
        ("model randomization", "random", lambda i, s: st.randomization(base[i], clean_x[i], s)),
        ("data randomization", "labels",
         lambda i, s: st.label_randomization(base[i], data["train"], clean_x[i], s, recipe.label_subset)),
        ("cascading randomization", "cascade", lambda i, s: st.cascade(base[i], clean_x[i], s)),
        ("shortcut model", "shortcut",
         lambda i, s: st.shortcut(short[i], data, marker, marked_sel[i], short_maps[i], recipe.n_images)),
        ("deletion, baseline", "deletion_base", lambda i, s: st.deletion(base[i], clean_x[i], base_maps[i], s)),
        ("deletion, shortcut", "deletion_short",
         lambda i, s: st.deletion(short[i], marked_sel[i].images, short_maps[i], s)),
        ("stability", "stability",
         lambda i, s: st.stabilities(base[i], clean_x[i], s, recipe.stability_copies, ig_steps_check=i == 0)),
    ]
    for title, key, fn in runs:
        with stage(title, times):
            out[key] = [fn(i, s) for i, s in enumerate(recipe.seeds)]
    return out


def default_threads() -> int:
    """All cores on a quiet machine, one when it is busy: under load, two threads that
    wait for each other ran the label memorization 6× slower (wall) than one."""
    cores = os.cpu_count() or 1
    return 1 if os.getloadavg()[0] >= cores else cores


def run(recipe: Recipe = Recipe()) -> tuple[list[Row], str]:
    """Train, measure and build the table; returns the rows and a header describing the run."""
    values, header = measure_all(recipe)
    return table(values, recipe.n_images), header


def measure_all(recipe: Recipe) -> tuple[dict[str, list[dict[str, float]]], str]:
    """Load the data, train and measure; returns the per-seed values and a header describing the run."""
    warnings.filterwarnings("ignore", message=".*upsampled from the 28.*")
    torch.set_num_threads(recipe.threads or default_threads())
    device = resolve_device(recipe.device)
    times: dict[str, float] = {}
    start, cpu0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    with stage("load PneumoniaMNIST", times):
        data = load_pneumonia(recipe.size, download=False, device=device)
    upsampled = any("upsampled" in n for n in data.notes)
    values = measure(recipe, data, times)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu0
    source = (f"{recipe.size} px upsampled from the 28 px release (no pneumoniamnist_{recipe.size}.npz found)"
              if upsampled else "native 28 px release" if recipe.size == 28
              else f"native {recipe.size} px (MedMNIST+ pneumoniamnist_{recipe.size}.npz)")
    header = (f"tutorial_cnn, {source}; seeds {list(recipe.seeds)}; {recipe.epochs} epochs baseline, "
              f"{recipe.shortcut_epochs} shortcut, precision {recipe.precision}; {recipe.n_images} test images "
              f"per seed; on {device}, {torch.get_num_threads()} threads; total {total:.0f} s wall, {cpu:.0f} s CPU, "
              f"load average {load0:.1f} at the start and {os.getloadavg()[0]:.1f} at the end\nstage times (wall): "
              + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    return values, header


def write_readme(rows: list[Row], header: str, command: str) -> None:
    """Replace the table between the markers in ``benchmarks/README.md``."""
    text = README.read_text()
    block = f"{BEGIN}\n`{command}`\n\n{header}\n\n{to_markdown(rows)}\n{END}"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Recipe()
    parser.add_argument("--seeds", type=int, nargs="+", default=list(defaults.seeds))
    parser.add_argument("--size", type=int, default=defaults.size)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--shortcut-epochs", type=int, default=defaults.shortcut_epochs)
    parser.add_argument("--n-images", type=int, default=defaults.n_images, help="test images per seed (≥ 40)")
    parser.add_argument("--device", default=defaults.device)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: all cores, or 1 when the load average is ≥ the cores)")
    parser.add_argument("--models-dir", default=None, help="keep trained models here and reuse them")
    parser.add_argument("--precision", default=defaults.precision, choices=("auto", "fp32", "bf16"),
                        help="training precision (default auto: bf16 where the CPU runs it fast)")
    parser.add_argument("--readme", action="store_true", help="write the table into benchmarks/README.md")
    parser.add_argument("--values", default=None,
                        help="JSON file: save the measurements there, or rebuild the table from it when it exists")
    parser.add_argument("--latent-shift", action="store_true",
                        help="also run the Latent Shift findings (autoencoder, cascade, lesion IoU, shortcut marker; "
                             "bench_latent_shift.py), after the table")
    args = parser.parse_args()
    os.environ.setdefault("LABKIT_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    recipe = Recipe(seeds=tuple(args.seeds), size=args.size, epochs=args.epochs,
                    shortcut_epochs=args.shortcut_epochs, n_images=args.n_images, device=args.device,
                    threads=args.threads, models_dir=args.models_dir, precision=args.precision)
    if args.values and Path(args.values).is_file():
        saved = json.loads(Path(args.values).read_text())
        rows, header = table(saved["values"], saved["n_images"]), saved["header"]
    else:
        values, header = measure_all(recipe)
        rows = table(values, recipe.n_images)
        if args.values:
            Path(args.values).write_text(json.dumps({"values": values, "header": header, "n_images": recipe.n_images}))
    print(f"\n{header}\n\n{to_text(rows)}")
    outside = [r for r in rows if r.within is False]
    print(f"\n{sum(r.within is True for r in rows)} rows within tolerance, {len(outside)} outside")
    if args.readme:
        write_readme(rows, header, "python benchmarks/reproduce_findings.py --readme")
    if args.latent_shift:
        from bench_latent_shift import latent_shift_findings

        latent_shift_findings(load_pneumonia(64, download=False, device=args.device))


if __name__ == "__main__":
    main()
