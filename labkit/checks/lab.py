"""Setup shared by the exercise notebooks: the data and the trained models they use.

``lab_data()`` loads PneumoniaMNIST at the lab's 64×64 (pixels in [-1, 1]);
``lab_model(data, kind, marker)`` returns a trained model from
:mod:`labkit.session.zoo` (trained once, then loaded from the cache in about a second).

Fast mode (``LABKIT_FAST=1``, used by CI and the instructor tests) loads 32×32
images and keeps 256 training and 128 validation images (the test split stays
whole), so every model trains in a few seconds. Its numbers are not the lab's.

Before autograding a class, train the models once on the grading machine
(``python -m labkit.course.cache``) so that every notebook finds them in the cache.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import replace

from labkit.checkpoint import ModelEntry
from labkit.data import LabData, MarkerSpec, load_pneumonia
from labkit.models.autoencoder import ConvAutoencoder

FAST_ENV = "LABKIT_FAST"


def fast_mode() -> bool:
    """True when ``$LABKIT_FAST`` is set to 1 (CI and instructor tests)."""
    return os.environ.get(FAST_ENV, "") not in ("", "0")


def lab_data(fast: bool | None = None, device: str = "auto") -> LabData:
    """PneumoniaMNIST for the exercises: 64×64, or the small fast-mode variant.

    Prints one line saying what was loaded (and that 64×64 is upsampled from the
    28×28 release when that is the case) instead of emitting warnings.
    """
    fast = fast_mode() if fast is None else fast
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        data = load_pneumonia(32 if fast else 64, device=device)
    if fast:
        data = replace(data, splits={"train": data["train"].subset(256), "val": data["val"].subset(128),
                                     "test": data["test"]},
                       notes=data.notes + ("fast mode: 32×32, 256 training images",))
    counts = ", ".join(f"{name} {len(split)}" for name, split in data.splits.items())
    note = "; ".join(n for n in data.notes if not n.startswith("source:"))
    print(f"{data.name} {data.size}×{data.size} on {data.device}: {counts}" + (f" ({note})" if note else ""))
    return data


def lab_model(data: LabData, kind: str = "baseline", marker: MarkerSpec | None = None) -> ModelEntry:
    """A trained model from the zoo's cache (trained on first use, then loaded)."""
    from labkit.session.zoo import pretrained_entry

    t0 = time.perf_counter()
    entry = pretrained_entry(data, kind, marker, fast=True)
    seconds = time.perf_counter() - t0
    if seconds > 5:
        print(f"trained the {kind} model in {seconds:.0f} s and cached it; next time it loads in a second")
    return entry


def lab_autoencoder(data: LabData) -> ConvAutoencoder:
    """The Latent Shift autoencoder for ``data`` from the cache (trained on first use, then loaded)."""
    from labkit.session.autoencoders import pretrained_autoencoder

    t0 = time.perf_counter()
    ae, _ = pretrained_autoencoder(data)
    seconds = time.perf_counter() - t0
    if seconds > 5:
        print(f"trained the autoencoder in {seconds:.0f} s and cached it; next time it loads in a second")
    return ae


def show_maps(images, rows: dict, titles: list[str] | None = None, signed: tuple[str, ...] = ()) -> None:
    """Plot images (top row) and one row of maps per entry of ``rows`` (name → ``(N, H, W)``).

    Each map is scaled to its own maximum for display only; rows named in ``signed``
    use a diverging colour map centred at 0 (red positive, blue negative).
    """
    import matplotlib.pyplot as plt
    import torch

    imgs = images.detach().cpu()
    n = imgs.shape[0]
    fig, axes = plt.subplots(1 + len(rows), n, figsize=(1.7 * n, 1.7 * (1 + len(rows))), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(imgs[j, 0], cmap="gray", vmin=-1, vmax=1)
        axes[0, j].set_title(titles[j] if titles else f"image {j}", fontsize=8)
    for i, (name, maps) in enumerate(rows.items(), start=1):
        m = torch.as_tensor(maps).detach().cpu().float()
        for j in range(n):
            ax = axes[i, j]
            ax.imshow(imgs[j, 0], cmap="gray", vmin=-1, vmax=1)
            v = float(m[j].abs().max()) or 1.0
            if name in signed:
                ax.imshow(m[j], cmap="bwr", vmin=-v, vmax=v, alpha=0.6)
            else:
                ax.imshow(m[j].abs(), cmap="hot", vmin=0, vmax=v, alpha=0.6)
            if j == 0:
                ax.set_ylabel(name, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    plt.show()
