

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
