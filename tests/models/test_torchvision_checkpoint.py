"""Checkpoint folders hold torchvision models too, without fetching their initial weights again."""
from __future__ import annotations

import torch

from labkit.checkpoint import ModelEntry, load_experiment, save_experiment
from labkit.models import build_model


def test_resnet18_round_trip_never_refetches_weights(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model("resnet18")
    weights = tmp_path / "start.pth"
    torch.save(model.state_dict(), weights)
    model = build_model("resnet18", weights=str(weights))
    with torch.no_grad():
        model.fc.weight.add_(1.0)  # "fine-tuned": differs from the weights file
    weights.unlink()  # the file it started from is gone: loading must not need it
    entry = ModelEntry(name="rn", arch="resnet18", model=model, kwargs={"weights": str(weights)})
    save_experiment(tmp_path / "run", {"rn": entry}, image_size=64, dataset="pneumoniamnist")
    _, entries = load_experiment(tmp_path / "run")
    loaded = entries["rn"].model
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(loaded(x), model.eval()(x))
