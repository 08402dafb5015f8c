"""``labkit train-ae``: train the Latent Shift autoencoder on the training images (no labels,
no classifier), print the test reconstruction report, save it."""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from tqdm import tqdm

from labkit.checkpoint import load_experiment, save_autoencoder
from labkit.data import load_phantom, load_pneumonia
from labkit.device import resolve_device
from labkit.errors import CheckpointError
from labkit.evaluate.reconstruction import reconstruction_report
from labkit.train.autoencoder import AEConfig, train_autoencoder

HELP = "train the Latent Shift autoencoder (elastic loss, training images only), report test MAE, save it"
DEFAULTS = AEConfig()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=64, help="image size in pixels (28 native; 64 lab default)")
    p.add_argument("--bottleneck", type=int, default=DEFAULTS.bottleneck, help="latent channels of the code")
    p.add_argument("--width", type=int, default=DEFAULTS.width, help="channels of the first stage")
    p.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    p.add_argument("--lr", type=float, default=DEFAULTS.lr)
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    p.add_argument("--seed", type=int, default=DEFAULTS.seed)
    p.add_argument("--dataset", default="pneumoniamnist", choices=["pneumoniamnist", "phantom"])
    p.add_argument("--data-dir", help="folder holding pneumoniamnist*.npz")
    p.add_argument("--no-download", action="store_true", help="never download; fail if the file is missing")
    p.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, …")
    p.add_argument("--classifier", help="checkpoint folder (labkit train --out) whose first model is used to "
                                        "report the probability shift and AUROC on decoded images")
    p.add_argument("--out", default="runs/ae", help="folder to write autoencoder.pt/.json (default runs/ae)")


def run(args: argparse.Namespace) -> int:
    config = AEConfig(epochs=args.epochs, bottleneck=args.bottleneck, width=args.width, lr=args.lr,
                      batch_size=args.batch_size, seed=args.seed)
    device = resolve_device(args.device)
    classifier = _classifier(args.classifier, device) if args.classifier else None  # fail before training
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        data = (load_phantom(args.size, device=device) if args.dataset == "phantom"
                else load_pneumonia(args.size, args.data_dir, download=not args.no_download, device=device))
    for n in notes:
        print(f"note: {n.message}")
    print(f"training the autoencoder (bottleneck {config.bottleneck}, width {config.width}) on "
          f"{len(data['train'])} {data.name} training images, {args.size}×{args.size}, device {device}")
    bar = tqdm(total=1000, unit="‰", desc="autoencoder", bar_format="{l_bar}{bar}| {elapsed}<{remaining}")

    def on_batch(info: object) -> None:
        bar.update(int(info.progress * 1000) - bar.n)
        bar.set_postfix_str(f"epoch {info.epoch + 1} loss {info.loss:.4f}")

    ae, history = train_autoencoder(data["train"], config, data["val"], device=device, on_batch=on_batch)
    bar.close()
    report = reconstruction_report(ae, classifier, data["test"])
    print(f"trained in {history.seconds:.1f} s; validation MAE by epoch "
          + ", ".join(f"{v:.4f}" for v in history.val_mae))
    print(report.summary() if classifier is not None else f"test MAE {report.mae:.4f}, MSE {report.mse:.4f}")
    meta = {"dataset": data.name, "image_size": args.size, "recipe": config.as_dict(), "history": history.as_dict(),
            "test": {k: v for k, v in report.as_dict().items() if classifier is not None or k in ("n", "mae", "mse")}}
    out = save_autoencoder(Path(args.out), ae, meta)
    print(f"autoencoder saved to {out}")
    return 0


def _classifier(folder: str, device: object) -> object:
    _, entries = load_experiment(folder, device)
    if not entries:
        raise CheckpointError(f"{folder} holds no model")
    return next(iter(entries.values())).model
