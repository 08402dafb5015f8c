

def test_default_cam_layer_is_the_last_block_output_of_labkit_models():
    from labkit.models import SmallCNN, SmallResNet, cam_layer_choices, default_cam_layer

    assert default_cam_layer(SmallCNN()) == "features.relu3"
    assert default_cam_layer(SmallResNet()) == "layer3"
    assert cam_layer_choices(SmallCNN())[-1] == "features.relu3"
    assert "features.conv3" in cam_layer_choices(SmallCNN())


def test_default_cam_layer_falls_back_to_the_last_conv_of_any_module():
    from torch import nn

    from labkit.models import cam_layer_choices, default_cam_layer

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3), nn.Flatten())
    assert default_cam_layer(model) == "2"
    assert cam_layer_choices(model) == ["0", "2"]


def test_folded_batchnorm_gives_the_same_logits_without_batchnorm_layers():
    import torch
    from torch import nn

    from labkit.models import SmallCNN, SmallResNet
    from labkit.models.layers import folded_batchnorm

    x = torch.rand(4, 1, 32, 32) * 2 - 1
    for model in (SmallCNN(width=4), SmallResNet(width=4)):
        model.train()
        with torch.no_grad():  # non-trivial running statistics
            for _ in range(3):
                model(torch.rand(8, 1, 32, 32) * 4 - 2)
        assert folded_batchnorm(model) is model  # training mode: BatchNorm uses batch statistics
        model.eval()
        folded = folded_batchnorm(model)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
        assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the model is left alone
        with torch.no_grad():
            torch.testing.assert_close(folded(x), model(x), rtol=1e-5, atol=1e-5)


def test_folded_batchnorm_keeps_a_model_it_cannot_trace():
    import torch
    from torch import nn

    from labkit.models.layers import folded_batchnorm

    class Branching(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.bn(self.conv(x))
            return out.mean((2, 3)) if out.sum() > 0 else -out.mean((2, 3))  # data-dependent branch

    model = Branching().eval()
    assert folded_batchnorm(model) is model
    plain = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()).eval()
    assert folded_batchnorm(plain) is plain
