"""Progressive counterfactual movies: a preview with Latent Shift's coarse values, then the exact full movie."""
import pytest
import torch

from labkit.checkpoint import ModelEntry
from labkit.models import SmallCNN
from labkit.models.autoencoder import ConvAutoencoder
from labkit.session import Cancelled, ExperimentState
from labkit.session.counterfactuals import progressive_movie, selected_movie


def test_preview_then_the_full_movie_of_the_same_case(pneumonia28) -> None:
    torch.manual_seed(0)
    state = ExperimentState(device="cpu", data=pneumonia28)
    state.add_model(ModelEntry("net", "small_cnn", SmallCNN(width=4, hidden=8), kwargs={"width": 4, "hidden": 8}))
    state.autoencoder = ConvAutoencoder(28, bottleneck=2, width=4).eval()
    stages = progressive_movie(state, n_frames=12)
    preview = next(stages)
    state.selection.image_index = 7  # read once: the full stage still shows the first image
    (full,) = stages
    assert (len(preview.lambdas), preview.caption) == (6, "preview: 6 frames, budget 10")
    assert (len(full.lambdas), full.caption) == (12, "full: 12 frames, budget 100")
    state.selection.image_index = 0
    reference = selected_movie(state, n_frames=12)
    assert torch.equal(full.frames, reference.frames) and torch.equal(full.image, reference.image)
    assert full.caption == reference.caption
    (only,) = progressive_movie(state, n_frames=4, budget=5)  # already as cheap as the preview
    assert only.caption == "full: 4 frames, budget 5"
    stages = progressive_movie(state, stop=lambda: True, n_frames=12)
    assert next(stages).caption.startswith("preview")  # a preview is never stopped
    with pytest.raises(Cancelled):
        next(stages)
