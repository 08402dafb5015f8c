"""The inference copy: batch norms folded, the model itself untouched."""
from __future__ import annotations

import torch
from torch import nn

from labkit.models import SmallCNN
from labkit.train import predict
from labkit.train.inference import inference_model


def model_with_statistics() -> SmallCNN:
    torch.manual_seed(0)
    model = SmallCNN(width=8, hidden=16)
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):  # non-trivial running statistics
        bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(-1.5, 1.5), bn.bias.data.uniform_(-0.5, 0.5)
    return model


def test_folded_copy_gives_the_same_logits_and_leaves_the_model_alone() -> None:
    model = model_with_statistics().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(12, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        reference = model.eval()(x)
    model.train()
    net = inference_model(model.eval(), channels_last=True)
    assert net is not model and not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert [n for n, _ in net.features.named_children()][:4] == ["conv1", "bn1", "pool1", "relu1"]  # bn1: Identity
    assert net.features.conv1.weight.stride() == (9, 1, 3, 1)  # canonical channels-last, one input channel too
    with torch.no_grad():
        assert torch.allclose(net(x), reference, atol=1e-6, rtol=0)
    logits = predict(model.train(), x, batch_size=5)
    assert torch.allclose(logits, reference, atol=1e-6, rtol=0) and model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert [type(m) for m in model.features] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d] * 3


def test_models_without_conv_bn_pairs_are_used_as_they_are() -> None:
    plain = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Flatten())
    no_stats = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4, track_running_stats=False))
    assert inference_model(plain) is plain and inference_model(no_stats.eval()) is no_stats
