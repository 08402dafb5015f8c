"""Every bad input raises InputError with a message that says what was expected."""
from __future__ import annotations

import pytest
import torch

from labkit.errors import InputError
from labkit.explain import explain, get_explainer, list_explainers


@pytest.mark.parametrize("name", [m for m in list_explainers() if not get_explainer(m).needs])
def test_target_out_of_range(cnn, images, name) -> None:
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        explain(cnn, images, 2, method=name)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        explain(cnn, images, [0, 1, -1], method=name)


def test_target_wrong_length(cnn, images) -> None:
    with pytest.raises(InputError, match="expected 3"):
        explain(cnn, images, [0, 1])


@pytest.mark.parametrize("bad", [torch.zeros(1, 32, 32), torch.zeros(32, 32), torch.zeros(1, 1, 1, 32, 32)])
def test_wrong_dimensions(cnn, bad) -> None:
    with pytest.raises(InputError, match=r"\(N, C, H, W\)"):
        explain(cnn, bad, 0)


def test_wrong_channels(cnn) -> None:
    with pytest.raises(InputError, match="channel"):
        explain(cnn, torch.zeros(1, 3, 32, 32), 0)


def test_integer_images(cnn) -> None:
    with pytest.raises(InputError, match="float"):
        explain(cnn, torch.zeros(1, 1, 32, 32, dtype=torch.uint8), 0)


def test_nan_images(cnn, images) -> None:
    images = images.clone()
    images[0, 0, 3, 3] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        explain(cnn, images, 0, method="smoothgrad")


def test_out_of_range_images(cnn) -> None:
    with pytest.raises(InputError, match=r"\[-1, 1\]"):
        explain(cnn, torch.full((1, 1, 32, 32), 255.0), 0)


def test_not_a_tensor(cnn) -> None:
    with pytest.raises(InputError, match="torch.Tensor"):
        explain(cnn, [[0.0]], 0)


@pytest.mark.parametrize("name", ["gradcam", "gradcam_pp", "scorecam", "guided_gradcam"])
def test_unknown_layer_lists_conv_layers(cnn, name) -> None:
    with pytest.raises(InputError, match="features.conv1.*features.conv3"):
        get_explainer(name)(cnn, layer="features.conv9")


def test_layer_without_feature_maps(cnn, images) -> None:
    with pytest.raises(InputError, match="conv layer"):
        explain(cnn, images, 0, method="gradcam", layer="head.fc1")


def test_layer_must_be_a_name(cnn) -> None:
    with pytest.raises(InputError, match="layer name"):
        get_explainer("gradcam")(cnn, layer=3)


def test_patch_larger_than_image(cnn, images) -> None:
    with pytest.raises(InputError, match=r"patch 40 is larger than the image \(32×32\)"):
        explain(cnn, images, 0, method="occlusion", patch=40)


@pytest.mark.parametrize("kw", [{"patch": 1}, {"stride": 0}, {"patch": 4.0}, {"fill": 2.0}])
def test_bad_occlusion_params(cnn, kw) -> None:
    with pytest.raises(InputError, match=next(iter(kw))):
        get_explainer("occlusion")(cnn, **kw)


def test_stride_larger_than_patch(cnn, images) -> None:
    with pytest.raises(InputError, match=r"stride 8 is larger than patch 4"):
        explain(cnn, images, 0, method="occlusion", patch=4, stride=8)


@pytest.mark.parametrize("steps", [0, -3, 257, 2.5])
def test_bad_ig_steps(cnn, steps) -> None:
    with pytest.raises(InputError, match=r"steps.*\[1, 256\]"):
        get_explainer("integrated_gradients")(cnn, steps=steps)


def test_unknown_baseline_lists_choices(cnn) -> None:
    with pytest.raises(InputError, match="blurred"):
        get_explainer("integrated_gradients")(cnn, baseline="white")


@pytest.mark.parametrize("shape", [(1, 1, 16, 16), (2, 1, 32, 32), (3, 32)])
def test_baseline_tensor_of_wrong_shape(cnn, images, shape) -> None:
    with pytest.raises(InputError, match=r"baseline tensor must have shape"):
        explain(cnn, images, 0, method="integrated_gradients", baseline=torch.zeros(shape))


@pytest.mark.parametrize("kw", [{"sigma": -0.1}, {"n_samples": 0}, {"n_samples": 101}, {"sigma": "high"}])
def test_bad_smoothgrad_params(cnn, kw) -> None:
    with pytest.raises(InputError, match=next(iter(kw))):
        get_explainer("smoothgrad")(cnn, **kw)


def test_model_with_bad_output(images) -> None:
    model = torch.nn.Conv2d(1, 2, 3)
    with pytest.raises(InputError, match=r"\(N, num_classes\)"):
        explain(model, images, 0)


def test_guided_backprop_needs_relu_modules(linear, images) -> None:
    with pytest.raises(InputError, match="nn.ReLU"):
        explain(linear, images, 0, method="guided_backprop")
