"""The Explainer base class, Param specs and the registry."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from labkit.errors import InputError
from labkit.explain import Attribution, Explainer, Param, explain, get_explainer, list_explainers, register
from labkit.explain.base import frozen_eval

ALL = [m for m in list_explainers() if not get_explainer(m).needs]  # runnable from the model alone
GRADIENT_FAMILY = ["gradient", "grad_x_input", "smoothgrad", "integrated_gradients", "guided_backprop"]
CAMS = ["gradcam", "gradcam_pp", "scorecam", "layercam", "hirescam"]


def test_registry_teaching_order() -> None:
    assert list_explainers() == ["gradient", "grad_x_input", "smoothgrad", "integrated_gradients", "occlusion",
                                 "gradcam", "gradcam_pp", "scorecam", "layercam", "hirescam", "guided_backprop",
                                 "guided_gradcam", "latent_shift"]
    for name in list_explainers():
        cls = get_explainer(name)
        assert issubclass(cls, Explainer) and cls.name == name
        assert cls.description and "\n" not in cls.description
        assert "References" in (cls.__doc__ or "")
        assert all(isinstance(p, Param) for p in cls.params)


def test_unknown_method_lists_valid_names() -> None:
    with pytest.raises(InputError, match="gradcam"):
        get_explainer("gradcamm")


def test_register_rejects_a_second_class_under_a_used_name() -> None:
    with pytest.raises(ValueError, match="already used"):
        @register("gradient")
        class Other(Explainer):
            pass


@pytest.mark.parametrize("name", ALL)
def test_output_shapes_and_metadata(cnn, images, targets, name) -> None:
    params = {"n_samples": 3} if name == "smoothgrad" else {"steps": 4} if name == "integrated_gradients" else {}
    attr = explain(cnn, images, targets, method=name, **params)
    assert isinstance(attr, Attribution)
    assert attr.maps.shape == (3, 32, 32) and torch.isfinite(attr.maps).all()
    assert (attr.signed is None) == (not get_explainer(name).has_signed)
    if attr.signed is not None:
        assert attr.signed.shape == (3, 32, 32)
    assert attr.method == name
    assert set(attr.params) == {p.name for p in get_explainer(name).params}
    assert torch.equal(attr.extras["target"], targets)
    tensors = [attr.maps, attr.signed] + [v for v in attr.extras.values() if isinstance(v, torch.Tensor)]
    assert not any(t.requires_grad for t in tensors if t is not None)
    attr.maps /= 2  # ordinary tensors: in-place display scaling works


@pytest.mark.parametrize("name", GRADIENT_FAMILY + ["guided_gradcam"])
def test_maps_are_abs_of_signed(cnn, images, targets, name) -> None:
    attr = explain(cnn, images, targets, method=name, **({"n_samples": 1} if name == "smoothgrad" else {}))
    torch.testing.assert_close(attr.maps, attr.signed.abs(), rtol=0, atol=0)


@pytest.mark.parametrize("name", ALL)
def test_model_mode_and_requires_grad_restored(cnn, images, name) -> None:
    cnn.train()
    cnn.head.eval()  # mixed modes must survive too
    cnn.features.conv1.weight.requires_grad_(False)
    before = [p.requires_grad for p in cnn.parameters()]
    explain(cnn, images[:1], 1, method=name, **({"n_samples": 2} if name == "smoothgrad" else {}))
    assert cnn.training and not cnn.head.training and cnn.features.training
    assert [p.requires_grad for p in cnn.parameters()] == before
    assert all(p.grad is None for p in cnn.parameters())


def test_state_restored_on_error(cnn) -> None:
    cnn.train()
    with pytest.raises(RuntimeError):
        with frozen_eval(cnn):
            assert not cnn.training and not any(p.requires_grad for p in cnn.parameters())
            raise RuntimeError("boom")
    assert cnn.training and all(p.requires_grad for p in cnn.parameters())


def test_explainer_runs_model_in_eval_mode(cnn, images) -> None:
    """Train-mode BatchNorm/Dropout would make maps batch-dependent and random."""
    cnn.train()
    a = explain(cnn, images, 1)
    cnn.eval()
    torch.testing.assert_close(a.maps, explain(cnn, images, 1).maps, rtol=0, atol=0)


@pytest.mark.parametrize("name", ALL)
def test_per_image_targets_match_single_image_calls(cnn, images, targets, name) -> None:
    params = {"n_samples": 1, "sigma": 0.0} if name == "smoothgrad" else {}
    batch = explain(cnn, images, targets, method=name, **params)
    for i in range(len(images)):
        alone = explain(cnn, images[i:i + 1], int(targets[i]), method=name, **params)
        torch.testing.assert_close(batch.maps[i:i + 1], alone.maps, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_chunking_does_not_change_results(cnn, images, targets, name) -> None:
    params = {"n_samples": 4} if name == "smoothgrad" else {"steps": 5} if name == "integrated_gradients" else {}
    whole = get_explainer(name)(cnn, **params).attribute(images, targets)
    small = get_explainer(name)(cnn, max_batch=2, **params).attribute(images, targets)
    torch.testing.assert_close(whole.maps, small.maps, rtol=1e-4, atol=1e-6)


def test_target_as_list_tensor_and_int(cnn, images) -> None:
    a = explain(cnn, images, [1, 1, 1])
    b = explain(cnn, images, torch.tensor([1, 1, 1]))
    c = explain(cnn, images, 1)
    torch.testing.assert_close(a.maps, b.maps)
    torch.testing.assert_close(a.maps, c.maps)


def test_float64_images_are_cast_to_the_model_dtype(cnn, images) -> None:
    a = explain(cnn, images.double(), 1)
    assert a.maps.dtype == torch.float32


def test_defaults_and_repr(cnn) -> None:
    ex = get_explainer("smoothgrad")(cnn, sigma=0.3)
    assert ex.config == {"n_samples": 25, "sigma": 0.3, "seed": 0}
    assert "SmoothGrad" in repr(ex) and "sigma=0.3" in repr(ex)
    assert get_explainer("gradcam")(cnn).config == {"layer": "features.relu3"}


def test_param_spec_messages() -> None:
    p = Param("steps", "int", 32, min=1, max=256)
    assert p.check(5) == 5
    for bad in (0, 257, 3.5, True, "5"):
        with pytest.raises(InputError, match=r"\[1, 256\]"):
            p.check(bad)
    f = Param("sigma", "float", 0.1, min=0.0)
    assert f.check(1) == 1.0 and isinstance(f.check(1), float)
    with pytest.raises(InputError, match="≥ 0"):
        f.check(-0.1)
    with pytest.raises(InputError):
        f.check(float("nan"))
    c = Param("baseline", "choice", "gray", choices=("gray", "black"))
    with pytest.raises(InputError, match="gray"):
        c.check("white")
    b = Param("flag", "bool", False)
    with pytest.raises(InputError, match="True or False"):
        b.check(1)
    with pytest.raises(ValueError):
        Param("x", "slider", 0)
    assert Param("n", "int", 25, min=1, max=100, coarse=8).coarse == 8
    for bad in ({"coarse": 25}, {"coarse": 0}, {"coarse": 8, "kind": "bool", "default": False}):
        with pytest.raises((ValueError, InputError)):
            Param("n", **{"kind": "int", "default": 25, "min": 1, "max": 100, **bad})


def test_unknown_parameter_lists_valid_ones(cnn) -> None:
    with pytest.raises(InputError, match="n_samples"):
        get_explainer("smoothgrad")(cnn, samples=5)
    with pytest.raises(InputError, match="none"):
        explain(cnn, torch.zeros(1, 1, 32, 32), 0, method="gradient", sigma=0.1)


def test_bad_max_batch(cnn) -> None:
    with pytest.raises(InputError, match="max_batch"):
        get_explainer("gradient")(cnn, max_batch=0)


def test_not_a_model() -> None:
    with pytest.raises(InputError, match="nn.Module"):
        explain(lambda x: x, torch.zeros(1, 1, 8, 8), 0)


def test_core_does_not_import_ipywidgets() -> None:
    code = "import sys, labkit.explain; assert 'ipywidgets' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ALL)
def test_runs_on_cuda(cnn, images, targets, name) -> None:
    cnn = cnn.cuda()
    attr = explain(cnn, images, targets, method=name)  # CPU images are moved to the model
    assert attr.maps.device.type == "cuda"
    if name == "smoothgrad":
        return  # CUDA and CPU generators draw different noise
    cpu = explain(cnn.cpu(), images, targets, method=name)
    torch.testing.assert_close(attr.maps.cpu(), cpu.maps, rtol=1e-3, atol=1e-5)


def test_attribution_repr_shows_shapes(cnn, images) -> None:
    text = repr(explain(cnn, images, 1, method="gradcam"))
    assert "maps=(3, 32, 32)" in text and "signed=None" in text and "'layer_cam'" in text


def test_weights_and_hooks_untouched_after_a_call(cnn, images) -> None:
    """Conv weights are held channels-last during a CPU call; afterwards every
    parameter is the original tensor again and no hook is left behind."""
    before = {n: (p.data_ptr(), p.stride()) for n, p in cnn.named_parameters()}
    for name in ALL:
        explain(cnn, images, 1, method=name)
    assert {n: (p.data_ptr(), p.stride()) for n, p in cnn.named_parameters()} == before
    assert all(not m._forward_hooks and not m._backward_hooks for m in cnn.modules())


@pytest.mark.parametrize("n,size", [(225, 32), (64, 32), (5, 1), (1, 8), (0, 4)])
def test_chunks_are_balanced_and_cover_everything(n, size) -> None:
    from labkit.explain.base import chunks

    parts = list(chunks(n, size))
    assert [i for sl in parts for i in range(sl.start, sl.stop)] == list(range(n))
    lengths = [sl.stop - sl.start for sl in parts]
    assert all(0 < k <= size for k in lengths) and (not lengths or max(lengths) - min(lengths) <= 1)
    assert len(parts) == -(-n // size)


class LayoutProbe(torch.nn.Module):
    """Records the layout of a conv weight at each forward pass."""

    def __init__(self, cnn: torch.nn.Module) -> None:
        super().__init__()
        self.cnn, self.layouts = cnn, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.layouts.append(self.cnn.features.conv2.weight.is_contiguous(memory_format=torch.channels_last))
        return self.cnn(x)


def test_channels_last_is_an_explicit_option_off_by_default(cnn, images) -> None:
    probe = LayoutProbe(cnn)
    default = explain(probe, images, 1)
    assert probe.layouts and not any(probe.layouts)
    probe.layouts.clear()
    fast = explain(probe, images, 1, channels_last=True)
    assert probe.layouts and all(probe.layouts)
    assert all(p.is_contiguous() for p in cnn.parameters())  # restored after the call
    torch.testing.assert_close(fast.signed, default.signed, rtol=1e-3, atol=1e-4)
    with pytest.raises(InputError, match="channels_last must be True or False"):
        get_explainer("gradient")(cnn, channels_last="yes")
