from __future__ import annotations

import pytest
import torch

from labkit.errors import InputError
from labkit.models import SmallCNN
from labkit.sanity import train_random_labels


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(120, 1, 16, 16, generator=g) * 2 - 1
    y = torch.randint(0, 2, (120,), generator=g)
    return x, y


def test_memorizes_permuted_labels_and_leaves_input_alone(data):
    x, y = data
    torch.manual_seed(0)
    model = SmallCNN(width=8, hidden=32, dropout=0.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    calls: list[tuple[int, int]] = []
    net, history = train_random_labels(model, x, y, subset=64, lr=3e-3, batch_size=32, max_epochs=60,
                                       progress=lambda e, t: calls.append((e, t)))
    assert history[-1]["reached"] and history[-1]["acc"] >= 0.95
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert set(history[0]) == {"epoch", "loss", "acc", "reached"}
    assert calls == [(h["epoch"], 60) for h in history]
    assert net is not model and not net.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_budget_spent_reports_not_reached(data):
    x, y = data
    _, history = train_random_labels(SmallCNN(width=4, hidden=8), x, y, subset=32, max_epochs=2, target_acc=1.0)
    assert len(history) == 2 and not any(h["reached"] for h in history)


def test_seeded_runs_are_identical(data):
    x, y = data
    model = SmallCNN(width=4, hidden=8)
    a = train_random_labels(model, x, y, subset=32, max_epochs=2, seed=7)
    b = train_random_labels(model, x, y, subset=32, max_epochs=2, seed=7)
    assert [h["loss"] for h in a[1]] == [h["loss"] for h in b[1]]
    for k, v in a[0].state_dict().items():
        assert torch.equal(v, b[0].state_dict()[k])


@pytest.mark.parametrize("kwargs, match", [
    ({"labels": torch.zeros(5, dtype=torch.long)}, "one class per image"),
    ({"labels": torch.zeros(120)}, "integer"),
    ({"target_acc": 1.5}, "target_acc"),
    ({"max_epochs": 0}, "max_epochs"),
    ({"subset": 1}, "subset"),
    ({"images": torch.zeros(120, 16, 16)}, r"\(N, C, H, W\)"),
])
def test_bad_inputs(data, kwargs, match):
    x, y = data
    args = {"images": x, "labels": y, **kwargs}
    with pytest.raises(InputError, match=match):
        train_random_labels(SmallCNN(width=4, hidden=8), args.pop("images"), args.pop("labels"), **args)
