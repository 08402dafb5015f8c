"""Reproduce the lab's published findings on real PneumoniaMNIST.

Trains the tutorial SmallCNN (64×64 by default) on clean data and on data with a
label-coded corner marker, then prints:

1. clinical test metrics of the baseline next to the reference tutorial's;
2. the cascading-randomization table (Adebayo et al. 2018) for Gradient, Grad-CAM,
   Guided Backprop (and more), Spearman/SSIM against the original maps;
3. the data-randomization check (model trained on permuted labels);
4. the shortcut model: accuracy on marked vs clean test images and the marker
   attribution fraction per method;
5. deletion / insertion AUCs and stability per method on the baseline.

Run from the project root::

    LABKIT_DATA_DIR=/path/to/data python benchmarks/reproduce_findings.py [--fast] [--models-dir DIR]

``LABKIT_DATA_DIR`` defaults to ``../shared/data`` beside the project. On a busy
2-core CPU the full recipe (10 epochs on all 4708 images, twice) took 38 minutes
and ``--fast`` (2000 images, 4 epochs) 20; ``--models-dir`` saves the trained
models and reuses them on the next run. Explanations target the class each model
predicts. Every step is seeded.
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

import torch
from torch import nn

from labkit.data import CornerSquare, LabData, Split, load_pneumonia
from labkit.device import resolve_device
from labkit.evaluate import deletion_curve, insertion_curve, region_fraction, stability
from labkit.explain import explain
from labkit.models import SmallCNN
from labkit.sanity import run_cascade, spearman, train_random_labels
from labkit.train import TrainConfig, Trainer, clinical_metrics, predict

CASCADE_METHODS = ["gradient", "gradcam", "guided_backprop", "integrated_gradients", "smoothgrad"]
SHORTCUT_METHODS = ["occlusion", "integrated_gradients", "smoothgrad", "gradient", "grad_x_input", "gradcam",
                    "guided_backprop"]
FAITHFULNESS_METHODS = ["gradient", "grad_x_input", "smoothgrad", "integrated_gradients", "occlusion", "gradcam",
                        "guided_backprop"]
REFERENCE_FRACTION = {"occlusion": 1.00, "integrated_gradients": 0.57, "smoothgrad": 0.27, "gradient": 0.26,
                      "gradcam": 0.02}
REFERENCE_STABILITY = {"gradient": 0.74, "integrated_gradients": 0.86}
#: extra explainer parameters per method (``--gradcam-layer`` fills in Grad-CAM's layer)
PARAMS: dict[str, dict[str, object]] = {}


def maps_of(model: nn.Module, x: torch.Tensor, target: torch.Tensor, method: str) -> torch.Tensor:
    return explain(model, x, target, method=method, **PARAMS.get(method, {})).maps


def section(title: str) -> float:
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}", flush=True)
    return time.perf_counter()


def done(t0: float) -> None:
    print(f"[{time.perf_counter() - t0:.1f} s]", flush=True)


def train_model(train: Split, val: Split, epochs: int, seed: int, device: torch.device,
                select_best: bool = True, cache: str | None = None) -> SmallCNN:
    torch.manual_seed(seed)
    model = SmallCNN().to(device)
    if cache is not None and os.path.isfile(cache):
        model.load_state_dict(torch.load(cache, map_location=device))
        print(f"  loaded {cache}")
        return model.eval()
    history = Trainer(model, train, val, TrainConfig(epochs=epochs, seed=seed, select_best=select_best)).fit()
    last = history.epochs[-1]
    print(f"  {epochs} epochs on {len(train)} images; last epoch train acc {last.train_acc:.3f}, "
          f"val AUROC {last.val_auroc:.3f}; kept epoch {history.best_epoch if select_best else epochs}")
    if cache is not None:
        os.makedirs(os.path.dirname(cache) or ".", exist_ok=True)
        torch.save(model.state_dict(), cache)
    return model.eval()


def pick_images(test: Split, n: int, seed: int) -> Split:
    return test.subset(n, seed=seed)


def baseline_metrics(model: SmallCNN, data: LabData) -> None:
    test = data["test"]
    probs = predict(model, test.images).softmax(1)[:, 1].cpu()
    m = clinical_metrics(test.labels.cpu(), probs)
    print(m.summary())
    print("  reference (tutorial, 64 px): acc 0.875, sensitivity 0.987, specificity 0.688, "
          "balanced acc 0.838, AUROC 0.941")


def cascade(model: SmallCNN, images: Split, seed: int) -> None:
    target = predict(model, images.images).argmax(1)
    params = {m: p for m, p in PARAMS.items() if m in CASCADE_METHODS}
    result = run_cascade(model, images.images, target, methods=CASCADE_METHODS, seed=seed, method_params=params)
    print(result.to_text())
    linear = [i for i, layer in enumerate(result.layers)
              if i > 0 and isinstance(model.get_submodule(layer), nn.Linear)]
    head = max(linear)
    print(f"\nverdict (mean Spearman of |maps|; a method passes when the similarity collapses, < 0.5):\n"
          f"  {'method':<22} {'head random':>12} {'all random':>11}   (head = steps 1–{head}: the linear layers)")
    for method in CASCADE_METHODS:
        v = result.values(method, "spearman_abs").nanmean(1)
        head_sim, all_sim = float(v[head]), float(v[-1])
        if head_sim >= 0.5:
            verdict = "fails: still similar with the classifier head random"
        elif all_sim >= 0.5:
            verdict = "fails: stays similar with every layer random"
        else:
            verdict = "passes"
        print(f"  {method:<22} {head_sim:>+12.3f} {all_sim:>+11.3f}   {verdict}")


def label_randomization(model: SmallCNN, data: LabData, images: Split, seed: int, subset: int) -> None:
    train = data["train"]
    net, history = train_random_labels(SmallCNN(dropout=0.0).to(images.device), train.images, train.labels,
                                        seed=seed, subset=subset, max_epochs=150, lr=1e-3, batch_size=64)
    last = history[-1]
    print(f"  memorized {subset} permuted labels: train acc {last['acc']:.3f} after {last['epoch']} epochs "
          f"(target 0.95 {'reached' if last['reached'] else 'NOT reached'})")
    target = predict(model, images.images).argmax(1)
    print(f"  {'method':<22} Spearman |map| (trained vs random-label model), mean ± std")
    for method in ("gradient", "gradcam", "guided_backprop", "integrated_gradients"):
        a = maps_of(model, images.images, target, method)
        b = maps_of(net, images.images, target, method)
        r = spearman(a, b)
        r = r[~r.isnan()]
        print(f"  {method:<22} {float(r.mean()):+.3f} ± {float(r.std()):.3f}")


def shortcut(data: LabData, epochs: int, seed: int, n_images: int, train_subset: int | None,
             device: torch.device, cache: str | None) -> None:
    marker = CornerSquare()
    marked = data.with_marker(marker)
    train = marked["train"] if train_subset is None else marked["train"].subset(train_subset, seed=seed)
    # the marker makes validation AUROC 1.0 from the first epoch on, so "best on validation"
    # would keep a barely trained model: keep the last epoch instead
    model = train_model(train, marked["val"], epochs, seed, device, select_best=False, cache=cache)
    test_marked, test_clean = marked["test"], data["test"]
    acc_marked = float((predict(model, test_marked.images).argmax(1) == test_marked.labels).float().mean())
    acc_clean = float((predict(model, test_clean.images).argmax(1) == test_clean.labels).float().mean())
    print(f"  accuracy on marked test images {acc_marked:.3f} (reference 1.000), "
          f"on clean ones {acc_clean:.3f} (reference 0.671)")
    p_marked = predict(model, test_marked.images).softmax(1)[:, 1]
    p_clean = predict(model, test_clean.images).softmax(1)[:, 1]
    i = int((p_marked - p_clean).argmax())
    print(f"  largest drop when the marker is removed: test image {i}, p(pneumonia) {float(p_marked[i]):.2f} "
          f"→ {float(p_clean[i]):.2f} (reference 1.0 → 0.40)")

    sel = test_marked.subset(n_images, seed=seed)
    target = predict(model, sel.images).argmax(1)
    mask = marker.mask(sel.labels, sel.size)
    print(f"\n  marker attribution fraction Σ|s| in marker / Σ|s| on {len(sel)} marked test images "
          f"({float(mask[0].float().mean()):.1%} of the pixels)")
    print(f"  {'method':<22} {'mean':>6} {'± std':>7}   reference")
    for method in SHORTCUT_METHODS:
        maps = maps_of(model, sel.images, target, method)
        frac = region_fraction(maps, mask)
        ref = REFERENCE_FRACTION.get(method)
        print(f"  {method:<22} {float(frac.mean()):>6.2f} {float(frac.std()):>7.2f}   "
              f"{'' if ref is None else f'{ref:.2f}'}")


def faithfulness(model: SmallCNN, images: Split, seed: int, n_stability: int) -> None:
    x = images.images
    target = predict(model, x).argmax(1)
    gen = torch.Generator().manual_seed(seed)
    random_maps = torch.rand(x.shape[0], *x.shape[-2:], generator=gen).to(x.device)
    classes = [(c, target == c) for c in (0, 1) if bool((target == c).any())]
    names = {0: "normal", 1: "pneumonia"}
    with torch.no_grad():
        gray = predict(model, torch.zeros_like(x[:1])).softmax(1)[0, 1]
    print(f"  {len(x)} test images, 32 steps; predicted {', '.join(f'{int(m.sum())} {names[c]}' for c, m in classes)}."
          f"\n  An all-gray image gets p(pneumonia) = {float(gray):.3f}: gray fill looks like an opacity, so"
          f"\n  deletion AUCs depend on the class; they are given per predicted class.")
    head = "".join(f"{'gray, ' + names[c] + ' ↓':>20}" for c, _ in classes)
    print("  AUCs; deletion fills with gray (0.0) or a blurred copy, insertion starts from the blurred copy")
    print(f"  {'method':<22}{'del gray ↓':>15}{head}{'del blur ↓':>15}{'insertion ↑':>16}")
    rows = [("random map (control)", random_maps)]
    rows += [(m, maps_of(model, x, target, m)) for m in FAITHFULNESS_METHODS]
    for name, maps in rows:
        d = deletion_curve(model, x, target, maps, steps=32, fill=0.0).auc
        db = deletion_curve(model, x, target, maps, steps=32, fill="blur").auc
        ins = insertion_curve(model, x, target, maps, steps=32, fill="blur").auc
        per_class = "".join(f"{float(d[m].mean()):>20.3f}" for _, m in classes)
        print(f"  {name:<22}{float(d.mean()):>15.3f}{per_class}{float(db.mean()):>15.3f}{float(ins.mean()):>16.3f}")

    xs, ts = x[:n_stability], target[:n_stability]
    print(f"\n  stability: Pearson(map(x), map(x + N(0, 0.03²))) over 8 noisy copies that keep the prediction, "
          f"{len(xs)} images")
    for method in ("gradient", "smoothgrad", "integrated_gradients", "gradcam"):
        res = stability(model, xs, ts, method, sigma=0.03, n=8, seed=seed, **PARAMS.get(method, {}))
        corr = res.correlation[~res.correlation.isnan()]
        ref = REFERENCE_STABILITY.get(method)
        value = "undefined" if len(corr) == 0 else f"{float(corr.mean()):.2f} ± {float(corr.std(correction=0)):.2f}"
        undefined = "" if len(corr) == len(xs) else f", {len(xs) - len(corr)} images with a constant map left out"
        print(f"  {method:<22} {value:<12} (prediction kept {float(res.same_rate.mean()):.0%}{undefined})"
              f"{'' if ref is None else f'   reference {ref:.2f}'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64, help="image size (64: the tutorial's)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs of both models")
    parser.add_argument("--train-subset", type=int, default=None, help="training images (default: all 4708)")
    parser.add_argument("--n-images", type=int, default=48, help="test images for the maps (≥ 40)")
    parser.add_argument("--n-stability", type=int, default=24, help="test images for the stability check")
    parser.add_argument("--label-subset", type=int, default=256, help="images memorized with permuted labels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--fast", action="store_true", help="2000 training images, 4 epochs")
    parser.add_argument("--skip-labels", action="store_true", help="skip the data-randomization check")
    parser.add_argument("--gradcam-layer", default=None,
                        help="Grad-CAM target layer, e.g. features.relu3 (default: the explainer's default)")
    parser.add_argument("--models-dir", default=None,
                        help="save the trained models here, and reuse them when the same settings run again")
    args = parser.parse_args()
    if args.gradcam_layer is not None:
        PARAMS["gradcam"] = {"layer": args.gradcam_layer}
    if args.fast:
        args.train_subset, args.epochs = args.train_subset or 2000, min(args.epochs, 4)

    warnings.filterwarnings("ignore", message=".*upsampled from the 28.*")
    os.environ.setdefault("LABKIT_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    device = resolve_device(args.device)
    start = time.perf_counter()

    t0 = section("1. Baseline SmallCNN on PneumoniaMNIST")
    data = load_pneumonia(args.size, download=False, device=device)
    print(data.summary())
    train = data["train"] if args.train_subset is None else data["train"].subset(args.train_subset, seed=args.seed)
    tag = f"{args.size}px_e{args.epochs}_n{args.train_subset or 'all'}_s{args.seed}"
    cache = {k: None if args.models_dir is None else os.path.join(args.models_dir, f"{k}_{tag}.pt")
             for k in ("baseline", "shortcut")}
    model = train_model(train, data["val"], args.epochs, args.seed, device, cache=cache["baseline"])
    baseline_metrics(model, data)
    images = pick_images(data["test"], args.n_images, args.seed)
    print(f"  maps below: {len(images)} test images (stratified), class counts {images.class_counts()}")
    done(t0)

    t0 = section("2. Cascading randomization, output layer → input (Adebayo et al. 2018)")
    cascade(model, images, args.seed)
    done(t0)

    if not args.skip_labels:
        t0 = section("3. Data randomization: a model that memorized permuted labels")
        label_randomization(model, data, images, args.seed, args.label_subset)
        done(t0)

    t0 = section("4. Shortcut model: 8×8 corner marker (top-left = pneumonia, bottom-right = normal)")
    shortcut(data, args.epochs, args.seed, args.n_images, args.train_subset, device, cache["shortcut"])
    done(t0)

    t0 = section("5. Faithfulness and stability on the baseline")
    faithfulness(model, images, args.seed, args.n_stability)
    done(t0)
    print(f"\ntotal {time.perf_counter() - start:.0f} s on {device}")


if __name__ == "__main__":
    main()
