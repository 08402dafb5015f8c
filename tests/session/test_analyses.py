"""compare_methods: the Carpentries comparison as a session call, with each method's parameters."""
import pytest
import torch

from labkit.errors import InputError
from labkit.evaluate import agreement
from labkit.explain import explain
from labkit.models import SmallCNN
from labkit.session.analyses import compare_methods


def _model_and_images(pneumonia28):
    torch.manual_seed(0)
    return SmallCNN(width=8).eval(), pneumonia28["test"].images[:6]


def test_method_parameters_reach_the_maps(pneumonia28) -> None:
    model, x = _model_and_images(pneumonia28)
    c = compare_methods(model, x, 1, ("gradcam", "integrated_gradients"), others=("gradient",),
                        params={"integrated_gradients": {"steps": 4, "baseline": "black"}})
    ig = explain(model, x, 1, "integrated_gradients", steps=4, baseline="black").maps
    assert torch.allclose(c.maps["integrated_gradients"], ig, atol=1e-6)
    want = agreement(explain(model, x, 1, "gradcam").maps, ig).spearman
    assert torch.allclose(c.scores, want, atol=1e-6, equal_nan=True)
    assert c.matrix.methods == ["gradcam", "integrated_gradients", "gradient"]
    assert torch.allclose(c.matrix.per_image[0, 1], want, atol=1e-6, equal_nan=True)


def test_parameters_of_a_method_not_compared_are_refused(pneumonia28) -> None:
    model, x = _model_and_images(pneumonia28)
    with pytest.raises(InputError, match=r"params has entries for \['smoothgrad'\].*compared methods"):
        compare_methods(model, x, 1, ("gradcam", "gradient"), params={"smoothgrad": {"n_samples": 2}})
