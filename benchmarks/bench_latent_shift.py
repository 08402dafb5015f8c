"""Latent Shift on real PneumoniaMNIST (and the phantom lesions): speed and findings.

Prints, each with the load average beside it:

1. autoencoder training time and test MAE for the default recipe (``AEConfig()``),
   and the reconstruction report: probability drop from decoding on positives /
   negatives (paper Table K.1: 0.12 / 0.04), test AUROC on decoded vs original images;
2. the time of one 20-frame sweep of a 64×64 image, as a ratio to Integrated
   Gradients (32 steps) timed in the same run;
3. cascading randomization (Spearman of |maps| with the original, output layer
   down) of latentshift-max against Gradient, IG, Guided Backprop, Grad-CAM
   (paper Fig. 5: latentshift decorrelates fastest);
4. top-p % IoU with the phantom lesion masks (p = each mask's area; paper Table 1);
5. the corner-marker shortcut model: does the movie remove the marker, and which
   fraction of the latentshift-max map falls on it (against the other methods).

Run from the project root (models come from the zoo cache, trained on first use)::

    LABKIT_DATA_DIR=../shared/data python benchmarks/bench_latent_shift.py [--retrain-ae] [--n-images 16]
        [--bottlenecks 4,8,16]

``--retrain-ae`` trains the default autoencoder now (into a fresh cache folder) so
that its time is measured in this run; otherwise the time stored with the cached
model is printed and marked as such.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings

import torch
from torch import nn

from labkit.session.autoencoders import pretrained_autoencoder
from labkit.data import CornerSquare, LabData, Split, load_phantom, load_pneumonia
from labkit.evaluate import region_fraction, topk_iou
from labkit.evaluate.reconstruction import PAPER_DROP, reconstruction_report
from labkit.explain import explain
from labkit.explain.latent_shift import LatentShift
from labkit.sanity import run_cascade
from labkit.train import predict
from labkit.train.autoencoder import AEConfig
from labkit.session.zoo import pretrained_entry

COMPARED = ["gradient", "integrated_gradients", "guided_backprop", "gradcam"]


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def section(title: str) -> None:
    print(f"\n{'=' * 78}\n{title}   [{load()}]\n{'=' * 78}", flush=True)


def maps_for(model: nn.Module, ae: nn.Module | None, x: torch.Tensor, target: torch.Tensor, method: str) -> torch.Tensor:
    if method == "latent_shift":
        return LatentShift(model, ae).attribute(x, target).maps
    return explain(model, x, target, method=method).maps


def reconstruction(ae: nn.Module, meta: dict, classifier: nn.Module, test: Split, cached: bool) -> None:
    """Section 1: training time, MAE, probability drop, AUROC on decoded images."""
    h = meta["history"]
    cpu = f", {h['cpu_seconds']:.1f} s of CPU" if "cpu_seconds" in h else ""
    print(f"  autoencoder recipe {meta['recipe']}\n  training: {h['seconds']:.1f} s wall{cpu} "
          f"({'stored with the cached model' if cached else 'measured in this run'}); "
          f"validation MAE by epoch {', '.join(f'{v:.4f}' for v in h['val_mae'])}")
    r = reconstruction_report(ae, classifier, test)
    print("  " + r.summary().replace("\n", "\n  "))
    ok = abs(r.auroc_decoded - r.auroc_original) <= 0.05
    print(f"  AUROC kept within 0.05: {'yes' if ok else 'NO'}; drop vs paper: positives {r.drop_positive:+.3f} "
          f"vs {PAPER_DROP['positive']:.2f}, negatives {r.drop_negative:+.3f} vs {PAPER_DROP['negative']:.2f}")


def sweep_speed(classifier: nn.Module, ae: nn.Module, x: torch.Tensor, repeats: int = 5) -> None:
    """Section 2: one 20-frame sweep of one image vs IG(32 steps), interleaved, median."""
    ls = LatentShift(classifier, ae, n_frames=20)
    fns = {"latent_shift": lambda: ls.attribute(x, 1),
           "ig32": lambda: explain(classifier, x, 1, method="integrated_gradients", steps=32)}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    a = ls.attribute(x, 1)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"  torch threads {torch.get_num_threads()}; search steps (down, up) {a.extras['search_steps'][0].tolist()}, "
          f"λ range {[round(v, 1) for v in a.extras['bounds'][0].tolist()]}")
    print(f"  20-frame sweep of one 64×64 image: {med['latent_shift'] * 1e3:.0f} ms (target ≤ 1000 ms); "
          f"IG 32 steps {med['ig32'] * 1e3:.0f} ms; ratio sweep/IG {med['latent_shift'] / med['ig32']:.2f}")


def cascade(classifier: nn.Module, ae: nn.Module, sel: Split) -> None:
    """Section 3: cascading randomization, mean Spearman of |maps| per step."""
    target = predict(classifier, sel.images).argmax(1)
    methods = ["latent_shift"] + COMPARED
    res = run_cascade(classifier, sel.images, target, methods, method_params={"latent_shift": {"autoencoder": ae}})
    print(res.to_text(["spearman_abs"]))
    print("  paper (Fig. 5): latentshift maps decorrelate fastest; Adebayo et al.: Guided Backprop stays similar")


def lesion_iou(n_images: int, seed: int, bottlenecks: tuple[int, ...] = (AEConfig().bottleneck,)) -> None:
    """Section 4: top-p % IoU with phantom lesion masks, p = the mask's area; one autoencoder per bottleneck."""
    data = load_phantom(64, device="cpu")
    clf = pretrained_entry(data, "baseline").model
    test = data["test"]
    pos = test.select(torch.nonzero(test.labels == 1).squeeze(1))
    pred = predict(clf, pos.images).argmax(1)
    sel = pos.select(torch.nonzero(pred == 1).squeeze(1)[:n_images])
    target = torch.ones(len(sel), dtype=torch.long)
    print(f"  phantom: {len(sel)} correctly predicted positive test images; mask area "
          f"{float(sel.masks.float().mean()):.1%} of the pixels on average")
    print(f"  {'method':<44}{'IoU mean':>10}{'± std':>8}")
    for b in bottlenecks:
        ae, meta = pretrained_autoencoder(data, AEConfig(bottleneck=b))
        iou = topk_iou(maps_for(clf, ae, sel.images, target, "latent_shift"), sel.masks)
        name = f"latent_shift (bottleneck {b}, MAE {meta['test']['mae']:.3f})"
        print(f"  {name:<44}{float(iou.mean()):>10.3f}{float(iou.std()):>8.3f}")
    for method in COMPARED:
        iou = topk_iou(maps_for(clf, None, sel.images, target, method), sel.masks)
        print(f"  {method:<44}{float(iou.mean()):>10.3f}{float(iou.std()):>8.3f}")
    print("  paper (Table 1, real masks): low for every method (0.01–0.35), latentshift-max best or equal;"
          " a larger bottleneck gives a higher IoU")


def shortcut(data: LabData, ae_clean: nn.Module, n_images: int, seed: int) -> None:
    """Section 5: the corner-marker model; marker removal and the map fraction on the marker."""
    marker = CornerSquare()
    model = pretrained_entry(data, "shortcut", marker).model
    marked = data.with_marker(marker)
    ae_marked, _ = pretrained_autoencoder(marked)
    sel = marked["test"].subset(n_images, seed=seed)
    clean = data["test"].subset(n_images, seed=seed).images  # the same images without the marker
    target = predict(model, sel.images).argmax(1)
    mask = marker.mask(sel.labels, sel.size).to(torch.bool)
    m4 = mask.unsqueeze(1)
    for name, ae in (("AE trained on clean images", ae_clean), ("AE trained on marked images", ae_marked)):
        a = LatentShift(model, ae).attribute(sel.images, target)
        lo_frame = a.extras["frames"][:, 0]
        inside = lambda img: float((img * m4).flatten(1).sum(1).div(m4.flatten(1).sum(1)).mean())  # noqa: E731
        print(f"  {name}: mean pixel inside the marker: image {inside(sel.images):+.2f}, decoded "
              f"{inside(a.extras['recon']):+.2f}, λ_min frame {inside(lo_frame):+.2f} (clean background "
              f"{inside(clean):+.2f})")
        print(f"    p(target): image {float(a.extras['input_prob'].mean()):.3f}, decoded "
              f"{float(a.extras['probs'][a.extras['lambdas'] == 0].mean()):.3f}, λ_min frame "
              f"{float(a.extras['probs'][:, 0].mean()):.3f}; latentshift-max fraction on the marker "
              f"{float(region_fraction(a.maps, mask).mean()):.2f}")
    print(f"  fraction on the marker ({float(mask[0].float().mean()):.1%} of the pixels), other methods:")
    for method in COMPARED:
        frac = region_fraction(maps_for(model, ae_marked, sel.images, target, method), mask)
        print(f"    {method:<22}{float(frac.mean()):.2f}")


def latent_shift_findings(data: LabData, n_images: int = 16, seed: int = 0, retrain_ae: bool = False,
                          bottlenecks: tuple[int, ...] = (AEConfig().bottleneck,)) -> None:
    """Sections 1–5 on ``data`` (PneumoniaMNIST at 64 px); models from the zoo cache."""
    clf = pretrained_entry(data, "baseline").model
    section("1. Autoencoder (default recipe) and the reconstruction report, test split")
    cache = tempfile.mkdtemp(prefix="labkit-ae-") if retrain_ae else None
    ae, meta = pretrained_autoencoder(data, AEConfig(), cache_dir=cache)
    reconstruction(ae, meta, clf, data["test"], cached=not retrain_ae)
    section("2. Speed: one 20-frame sweep of a 64×64 image")
    sweep_speed(clf, ae, data["test"].images[:1])
    sel = data["test"].subset(n_images, seed=seed)
    section(f"3. Cascading randomization, {len(sel)} test images, explaining the predicted class")
    cascade(clf, ae, sel)
    section("4. Top-p % IoU with phantom lesion masks")
    lesion_iou(n_images, seed, bottlenecks)
    section("5. Corner-marker shortcut model")
    shortcut(data, ae, n_images, seed)
    print(f"\n[{load()}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retrain-ae", action="store_true", help="time the default autoencoder recipe now")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: fastest on a busy shared CPU)")
    parser.add_argument("--bottlenecks", default=str(AEConfig().bottleneck),
                        help="comma-separated autoencoder bottlenecks compared in the IoU section, e.g. 4,8,16")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        data = load_pneumonia(64, download=False, device="cpu")
    latent_shift_findings(data, args.n_images, args.seed, args.retrain_ae,
                          tuple(int(b) for b in args.bottlenecks.split(",")))


if __name__ == "__main__":
    main()
