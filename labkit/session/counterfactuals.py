"""Counterfactual movies (Latent Shift) of the selected image, on the experiment state.

The session keeps one autoencoder (``state.autoencoder``); :func:`selected_movie`
runs :class:`~labkit.explain.latent_shift.LatentShift` with the active model on the
selected image and target class and returns a :class:`Movie` for the viewer;
:func:`progressive_movie` first yields a quick preview (Latent Shift's ``Param.coarse``
values: fewer frames, a shorter λ search), then that same full movie.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from labkit.checkpoint import load_autoencoder
from labkit.explain.latent_shift import MAPS, LatentShift, check_autoencoder
from labkit.render.counterfactual import save_movie
from labkit.session.autoencoders import pretrained_autoencoder
from labkit.session.experiment import ExperimentState
from labkit.session.jobs import abort_forward
from labkit.session.selection import Shown
from labkit.session.studies import preview_params, stage_caption


@dataclass(frozen=True)
class Movie:
    """One image's sweep: frames ``(F, C, H, W)`` in ascending λ, ``lambdas``/``probs`` ``(F,)``,
    the four 2-D maps ``(H, W)`` by name, the image, its mask (or None) and the probabilities on
    the image and on its reconstruction (λ = 0); ``caption`` says which stage it is ("preview: 6 frames,
    budget 10", "full: 20 frames, budget 100")."""

    image: torch.Tensor
    mask: torch.Tensor | None
    target: int
    frames: torch.Tensor
    lambdas: torch.Tensor
    probs: torch.Tensor
    maps: dict[str, torch.Tensor]
    input_prob: float
    recon_prob: float
    caption: str = ""

    @property
    def zero_index(self) -> int:
        """Index of the λ = 0 frame (the reconstruction D(E(x)))."""
        return int((self.lambdas == 0).nonzero()[0, 0])


def selected_movie(state: ExperimentState, **params: Any) -> Movie:
    """The Latent Shift sweep of the selected image for the active model (``params``: LatentShift's)."""
    return _movie(state, state.selection.current(), int(state.selection.target), params, final=True)


def progressive_movie(state: ExperimentState, stop: Callable[[], bool] | None = None,
                      **params: Any) -> Iterator[Movie]:
    """The preview movie (when ``params`` are not already as cheap), then the full one, equal to
    :func:`selected_movie`; the image and the target are read once, so both stages show the same case.
    Once ``stop()`` is true the full movie after a preview is abandoned at the classifier's next forward
    pass (:class:`~labkit.session.jobs.Cancelled`)."""
    shown, target = state.selection.current(), int(state.selection.target)
    coarse = preview_params("latent_shift", params)
    if coarse is not None:
        yield _movie(state, shown, target, coarse, final=False)
    with abort_forward(state.model(), stop if coarse is not None else None):
        full = _movie(state, shown, target, params, final=True)
    yield full


def _movie(state: ExperimentState, shown: Shown, target: int, params: dict[str, Any], final: bool) -> Movie:
    ae = check_autoencoder(state.autoencoder)
    a = LatentShift(state.model(), ae, **params).attribute(shown.image, target)
    ex = a.extras
    lam = ex["lambdas"][0].cpu()
    return Movie(image=shown.image[0].cpu(), mask=shown.mask, target=target, frames=ex["frames"][0].cpu(),
                 lambdas=lam, probs=ex["probs"][0].cpu(), maps={m: ex[f"map_{m}"][0].cpu() for m in MAPS},
                 input_prob=float(ex["input_prob"][0]), recon_prob=float(ex["probs"][0][lam == 0][0]),
                 caption=stage_caption("latent_shift", params, final))


def use_autoencoder_folder(state: ExperimentState, folder: str | Path) -> dict:
    """Load an autoencoder folder (``labkit train-ae --out``) into the state; its metadata."""
    ae, meta = load_autoencoder(folder, state.device)
    state.autoencoder = ae  # validated against the data's size and channels; unchanged on error
    return meta


def use_pretrained_autoencoder(state: ExperimentState) -> dict:
    """The cached autoencoder for the loaded data (trained once on first use) into the state."""
    ae, meta = pretrained_autoencoder(state.require_data())
    state.autoencoder = ae
    return meta


def export(movie: Movie, prefix: str | Path, class_name: str = "p") -> tuple[Path, Path]:
    """Write ``<prefix>.gif`` and ``<prefix>.png`` (frame strip) of ``movie``."""
    return save_movie(prefix, movie.frames, movie.lambdas, movie.probs, class_name=class_name)


__all__ = ["Movie", "progressive_movie", "selected_movie", "use_autoencoder_folder", "use_pretrained_autoencoder",
           "export"]
