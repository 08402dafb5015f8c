"""A pre-trained Latent Shift autoencoder on demand: trained once with a fixed recipe,
cached on disk beside the zoo's classifiers.

The cache key covers the recipe and a fingerprint of the training images, so another
data set or image size never reuses stale weights. A folder appears in the cache only
complete (written to a temporary folder, then renamed).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from labkit.checkpoint import load_autoencoder, save_autoencoder
from labkit.data import LabData
from labkit.evaluate.reconstruction import reconstruction_report
from labkit.models.autoencoder import ConvAutoencoder
from labkit.train.autoencoder import AEConfig, train_autoencoder
from labkit.session.zoo import cache_root, fingerprint, store


def autoencoder_folder(data: LabData, config: AEConfig = AEConfig(),
                       cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the autoencoder for ``data`` and ``config`` is (or would be) cached."""
    key = json.dumps({"kind": "autoencoder", "recipe": config.as_dict(), "data": fingerprint(data)}, sort_keys=True)
    return cache_root(cache_dir) / f"autoencoder-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def pretrained_autoencoder(data: LabData, config: AEConfig = AEConfig(), *,
                           cache_dir: str | os.PathLike | None = None) -> tuple[ConvAutoencoder, dict]:
    """``(autoencoder, meta)`` for ``data``: from the cache, or trained now on its train split and cached.

    ``meta`` holds the recipe, the training history and the test MAE. The model is
    in eval mode on ``data.device``.
    """
    folder = autoencoder_folder(data, config, cache_dir)
    if (folder / "autoencoder.json").is_file():
        return load_autoencoder(folder, data.device)  # type: ignore[return-value]
    ae, history = train_autoencoder(data["train"], config, data["val"], device=data.device)
    report = reconstruction_report(ae, None, data["test"])
    meta = {"dataset": data.name, "image_size": data.size, "recipe": config.as_dict(), "history": history.as_dict(),
            "test": {"n": report.n, "mae": report.mae, "mse": report.mse}}
    store(folder, lambda tmp: save_autoencoder(tmp, ae, meta))
    return ae, meta


__all__ = ["pretrained_autoencoder", "autoencoder_folder"]
