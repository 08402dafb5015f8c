"""Every explainer on torchvision's ResNet-18 with RGB input, labkit vs captum (or
pytorch-grad-cam for the CAMs captum lacks) in the same run; and fine-tuning
ResNet-18 on PneumoniaMNIST.

Run: ``python benchmarks/bench_anymodel.py [--size 224] [--batches 1,16] [--methods gradient,gradcam]
[--repeats 3] [--threads N] [--clock wall|cpu] [--device auto] [--input xray|noise]
[--weights random|FILE] [--precision fp32|bf16] [--finetune] [--epochs 3] [--subset N]``

The explainers run on ``labkit.models.ResNet18(in_channels=3)`` (random weights, or
``--weights``: a state dict such as ``labkit train --model resnet18``'s ``models/*.pt``) at
``size``×``size``, one image and a batch of 16 (``--batches``). Input (``--input``):
the first PneumoniaMNIST test X-rays (``$LABKIT_DATA_DIR``, never downloaded) repeated
to RGB, explained for their labels (default: Score-CAM's speed depends on the maps,
which skips constant ones and scores equal masks once), or uniform noise in [-1, 1]
with random targets. ``--precision bf16`` runs Score-CAM's masked passes under its bf16
opt-in and prints the maps' Pearson correlation with fp32's (not counted for the target).
Each cell is the median of interleaved calls
(``bench_explain.time_interleaved``: a call over 25 s runs once). Occlusion uses a
32-px patch with stride 16 at 224 px (scaled with the size). ``--clock cpu`` times
this process's CPU time, which other processes' load does not inflate (with
``--threads 1`` it is the work done). captum's SmoothGrad and IG put at most
``CAPTUM_PASS`` (32) images through the model at once. Targets: never slower than the reference (5 %
timing noise allowed), occlusion and Score-CAM at least 2× faster.
``--finetune`` trains ResNet-18 at 64 px for ``epochs`` epochs with
``labkit train``'s path and prints the time and the test AUROC.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_explain as be  # noqa: E402
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency  # noqa: E402
from pytorch_grad_cam import GradCAMPlusPlus, HiResCAM, LayerCAM, ScoreCAM  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

from labkit.data import load_pneumonia  # noqa: E402
from labkit.device import resolve_device  # noqa: E402
from labkit.explain import explain, get_explainer, list_explainers  # noqa: E402
from labkit.models import ResNet18  # noqa: E402

PGC = {"gradcam_pp": GradCAMPlusPlus, "scorecam": ScoreCAM, "layercam": LayerCAM, "hirescam": HiResCAM}


#: most images captum puts through the model at once for SmoothGrad and IG (its
#: nt_samples_batch_size / internal_batch_size): unbounded, a batch of 16 at 224 px
#: would hold 400–512 ResNet-18 graphs (well over 16 GB)
CAPTUM_PASS = 32


def reference_fns(model: torch.nn.Module, patch: int, stride: int) -> dict[str, be.Fn]:
    """captum where it has the method, pytorch-grad-cam for the other CAMs."""
    be.PATCH, be.STRIDE = patch, stride
    fns = be.captum_fns(model)
    fns["smoothgrad"] = lambda x, t: NoiseTunnel(Saliency(model)).attribute(
        x, nt_type="smoothgrad", nt_samples=be.SG["n_samples"], stdevs=be.SG["sigma"], target=t, abs=True,
        nt_samples_batch_size=max(1, CAPTUM_PASS // len(x)))
    fns["integrated_gradients"] = lambda x, t: IntegratedGradients(model).attribute(
        x, baselines=torch.zeros_like(x), target=t, n_steps=be.IG_STEPS, method="riemann_middle",
        internal_batch_size=CAPTUM_PASS)
    layer = be.cam_layer(model)
    for name, cls in PGC.items():
        def run(x: torch.Tensor, t: torch.Tensor, cls: type = cls) -> object:
            with cls(model=model, target_layers=[layer]) as cam:
                cam.batch_size = 64
                return cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in t])
        fns[name] = run
    return fns


def bench_explainers(args: argparse.Namespace, device: torch.device) -> None:
    torch.manual_seed(0)
    model = ResNet18(in_channels=3, weights=args.weights).to(device).eval()
    patch, stride = max(4, args.size // 7), max(2, args.size // 14)
    refs = reference_fns(model, patch, stride)
    params = dict(be.LABKIT_PARAMS, occlusion={"patch": patch, "stride": stride, "fill": 0.0})
    if args.precision != "fp32":
        params["scorecam"] = {"precision": args.precision}
    methods = args.methods.split(",") if args.methods else [m for m in list_explainers()
                                                            if not get_explainer(m).needs]
    clock = be.CLOCKS[args.clock]
    images, labels, source = bench_inputs(args, device)
    print(source)
    print(f"ResNet-18 ({args.weights} weights), 3×{args.size}×{args.size}, device {device}, "
          f"torch threads {torch.get_num_threads()} (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}), "
          f"{args.clock} clock, load average {os.getloadavg()[0]:.2f}")
    print(f"{'method':<22}{'N':>4}{'labkit s':>11}{'reference s':>13}{'ref / labkit':>14}  reference")
    failures: list[str] = []
    for n in args.batches:
        x, t = images[:n], labels[:n]
        for m in methods:
            last: dict[str, object] = {}
            fns = {"labkit": lambda x, t, m=m: last.setdefault(m, explain(model, x, t, m, **params.get(m, {})))}
            if m in refs:
                fns["reference"] = refs[m]
            times = be.time_interleaved(fns, x, t, args.repeats, clock=clock)
            ref = times.get("reference")
            ratio = f"{ref / times['labkit']:.2f}×" if ref else "—"
            who = "pytorch-grad-cam" if m in PGC else ("captum" if ref else "none")
            print(f"{m:<22}{n:>4}{times['labkit']:>11.3f}{(ref or float('nan')):>13.3f}{ratio:>14}  {who}",
                  flush=True)
            passes = getattr(last.get(m), "extras", {}).get("masked_passes")
            if passes is not None:
                print(f"{'':<26}masked passes per image {passes.float().mean():.1f} of "
                      f"{last[m].extras['weights'].shape[1]} channels (min {int(passes.min())})")
            if m == "scorecam" and args.precision != "fp32":  # the opt-in: not the method the target is about
                fp32 = explain(model, x, t, m).maps
                r = float(pearson(last[m].maps, fp32).min())
                print(f"{'':<26}{args.precision} maps vs fp32: Pearson ≥ {r:.5f} (not counted for the target)")
                continue
            failures += check_targets(m, n, times["labkit"], ref)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("targets: " + ("all met" if not failures else "NOT met:\n  " + "\n  ".join(failures)))


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image Pearson correlation of two map batches."""
    a, b = a.flatten(1).double(), b.flatten(1).double()
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def bench_inputs(args: argparse.Namespace, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``max(batches)`` RGB images at ``size`` with one target each, and a line saying what they are."""
    n, size = max(args.batches), args.size
    if args.input == "noise":
        return (torch.rand(n, 3, size, size, device=device) * 2 - 1, torch.randint(0, 2, (n,), device=device),
                "input: uniform noise in [-1, 1], random targets")
    with warnings.catch_warnings():  # the upsampling note is printed below
        warnings.simplefilter("ignore")
        data = load_pneumonia(size, os.environ.get("LABKIT_DATA_DIR"), download=False, device=device, splits=("test",))
    test = data["test"]
    note = f" ({'; '.join(data.notes)})" if data.notes else ""
    return (test.images[:n].expand(-1, 3, -1, -1).contiguous(), test.labels[:n],
            f"input: the first {n} PneumoniaMNIST test X-rays repeated to RGB, targets their labels{note}")


def check_targets(name: str, n: int, lk: float, ref: float | None) -> list[str]:
    """Never slower than the reference (``bench_explain.NOISE`` allowed); occlusion and Score-CAM ≥ 2× faster."""
    if ref is None:
        return []
    out = []
    if lk > ref * (1 + be.NOISE):
        out.append(f"{name} N={n}: slower than the reference ({lk:.3f} vs {ref:.3f} s)")
    if name in ("occlusion", "scorecam") and ref / lk < 2:
        out.append(f"{name} N={n}: less than 2× faster than the reference ({ref / lk:.2f}×)")
    return out


def bench_finetune(args: argparse.Namespace) -> None:
    from labkit.session import ExperimentState, TrainingPlan
    from labkit.train import TrainConfig

    state = ExperimentState(device=args.device)
    state.load_data("pneumoniamnist", 64, os.environ.get("LABKIT_DATA_DIR"), download=False)
    plan = TrainingPlan(name="resnet18", arch="resnet18", variant="clean",
                        config=TrainConfig(epochs=args.epochs, seed=0), subset=args.subset)
    print(f"fine-tuning ResNet-18 at 64 px, {args.epochs} epochs, subset {args.subset or 'all'}, "
          f"device {state.device}, load average {os.getloadavg()[0]:.2f}")
    start = time.perf_counter()
    state.train(plan, background=False)
    entry = state.models["resnet18"]
    print(f"time {time.perf_counter() - start:.1f} s · test AUROC {entry.clinical('test').auroc:.4f} · "
          f"load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batches", type=lambda v: [int(b) for b in v.split(",")], default=[1, 16],
                   help="comma-separated batch sizes (default 1,16)")
    p.add_argument("--methods", default="", help="comma-separated (default: every method runnable from the model)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--clock", choices=sorted(be.CLOCKS), default="wall",
                   help="wall time (default) or this process's CPU time (not inflated by other processes)")
    p.add_argument("--input", choices=("xray", "noise"), default="xray",
                   help="PneumoniaMNIST test X-rays repeated to RGB (default) or uniform noise")
    p.add_argument("--weights", default="random",
                   help="ResNet-18 weights: random (default) or a state dict file, e.g. labkit train's models/NAME.pt")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="Score-CAM's masked passes: fp32 (default, the target) or the bf16 opt-in")
    p.add_argument("--finetune", action="store_true", help="also fine-tune ResNet-18 on PneumoniaMNIST")
    p.add_argument("--only-finetune", action="store_true")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--subset", type=int, default=None, help="training images (default: all)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.only_finetune:
        bench_explainers(args, resolve_device(args.device))
    if args.finetune or args.only_finetune:
        bench_finetune(args)


if __name__ == "__main__":
    main()
