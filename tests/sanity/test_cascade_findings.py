"""The published finding on a trained model: Gradient and Grad-CAM decorrelate under
cascading randomization, Guided Backprop stays similar (Adebayo et al. 2018)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from labkit.data import find_file, load_pneumonia
from labkit.models import SmallCNN
from labkit.sanity import run_cascade
from labkit.train import TrainConfig, Trainer, predict

DATA_DIRS = [os.environ.get("LABKIT_DATA_DIR"), Path(__file__).resolve().parents[3] / "shared" / "data"]


def _data_dir() -> Path | None:
    for d in DATA_DIRS:
        if d and find_file(28, d) is not None:
            return Path(d)
    return None


@pytest.fixture(scope="module")
def trained() -> tuple[SmallCNN, torch.Tensor, torch.Tensor]:
    data_dir = _data_dir()
    if data_dir is None:
        pytest.fail("PneumoniaMNIST (pneumoniamnist.npz) not found: set LABKIT_DATA_DIR to the folder holding it")
    data = load_pneumonia(28, data_dir, download=False, device="cpu")
    torch.manual_seed(0)
    model = SmallCNN()
    Trainer(model, data["train"].subset(1500, seed=0), data["val"].subset(200, seed=0),
            TrainConfig(epochs=3, seed=0)).fit()
    model.eval()
    images = data["test"].subset(40, seed=0).images
    return model, images, predict(model, images).argmax(1)


@pytest.mark.slow
def test_gradient_and_gradcam_pass_guided_backprop_fails(trained):
    model, images, target = trained
    result = run_cascade(model, images, target, methods=["gradient", "gradcam", "guided_backprop"])
    table = result.to_text(["spearman_abs"])
    mean = {m: result.values(m, "spearman_abs").nanmean(1) for m in result.methods}  # (steps,)
    assert result.layers[1:3] == ["head.fc2", "head.fc1"]
    # Gradient and Grad-CAM pass: similarity collapses once the head is random, and stays low
    assert (mean["gradient"][2:] < 0.5).all(), table
    assert (mean["gradcam"][1:] < 0.5).all(), table
    # Guided Backprop fails: it barely notices that the classifier head is random...
    assert (mean["guided_backprop"][1:3] > 0.6).all(), table
    # ...and stays more similar to the original than the gradient at every step
    assert (mean["guided_backprop"][1:] > mean["gradient"][1:] + 0.05).all(), table
