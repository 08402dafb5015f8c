from __future__ import annotations

import pytest
import torch

from labkit.errors import InputError
from labkit.models import SmallCNN
from labkit.sanity import layer_groups, randomization_plan, randomize_layers, randomize_model

CNN_LAYERS = ["features.conv1", "features.conv2", "features.conv3", "head.fc1", "head.fc2"]


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _module_of(key: str) -> str:
    return key.rsplit(".", 1)[0]


def _changed_modules(before: dict[str, torch.Tensor], model: torch.nn.Module) -> set[str]:
    """Modules with at least one parameter/buffer that is not bit-equal to ``before``."""
    return {_module_of(k) for k, v in model.state_dict().items() if not torch.equal(v, before[k])}


def test_layer_groups_attach_batchnorm_to_the_conv_before_it(tiny_cnn, images):
    groups = dict(layer_groups(tiny_cnn, images[:1]))
    assert list(groups) == CNN_LAYERS
    assert groups["features.conv2"] == ["features.conv2", "features.bn2"]
    assert groups["head.fc1"] == ["head.fc1"]
    kept = dict(layer_groups(tiny_cnn, images[:1], batchnorm="keep"))
    assert all(v == [k] for k, v in kept.items())


def test_resnet_shortcut_batchnorm_goes_with_shortcut_conv(tiny_resnet, images):
    groups = dict(layer_groups(tiny_resnet, images[:1]))
    assert groups["layer2.shortcut.0"] == ["layer2.shortcut.0", "layer2.shortcut.1"]
    assert groups["stem.0"] == ["stem.0", "stem.1"]
    assert list(groups)[-1] == "fc"


@pytest.mark.parametrize("order, expected", [
    ("cascade", CNN_LAYERS[::-1]), ("bottom_up", CNN_LAYERS), ("independent", CNN_LAYERS)])
def test_step_names_follow_the_order(tiny_cnn, order, expected):
    assert [name for name, _ in randomize_layers(tiny_cnn, order=order)] == expected


def test_cascade_changes_exactly_the_layers_so_far(tiny_cnn, images):
    before = _state(tiny_cnn)
    owned = dict(layer_groups(tiny_cnn, images[:1]))
    expected: set[str] = set()
    for name, model in randomize_layers(tiny_cnn, order="cascade", example=images[:1]):
        expected |= set(owned[name])
        assert _changed_modules(before, model) == expected
    assert expected == {m for group in owned.values() for m in group}


def test_independent_changes_one_layer_and_bottom_up_accumulates(tiny_cnn):
    before = _state(tiny_cnn)
    owned = dict(layer_groups(tiny_cnn))
    for name, model in randomize_layers(tiny_cnn, order="independent"):
        assert _changed_modules(before, model) == set(owned[name])
    expected: set[str] = set()
    for name, model in randomize_layers(tiny_cnn, order="bottom_up"):
        expected |= set(owned[name])
        assert _changed_modules(before, model) == expected


def test_plan_lists_layer_sets(tiny_cnn):
    cascade = randomization_plan(tiny_cnn, "cascade")
    independent = randomization_plan(tiny_cnn, "independent")
    assert cascade[0] == ("head.fc2", ["head.fc2"])
    assert cascade[1] == ("head.fc1", ["head.fc2", "head.fc1"])
    assert set(cascade[-1][1]) == {m for _, ms in independent for m in ms}
    assert independent[0] == ("features.conv1", ["features.conv1", "features.bn1"])


def test_input_model_untouched_and_steps_are_copies(tiny_cnn):
    before = _state(tiny_cnn)
    models = [m for order in ("cascade", "independent", "bottom_up") for _, m in randomize_layers(tiny_cnn, order)]
    for k, v in tiny_cnn.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(m is not tiny_cnn for m in models)
    assert len({id(m) for m in models}) == len(models)
    assert not tiny_cnn.training


def test_batchnorm_reset_to_defaults_or_kept(tiny_cnn):
    _, model = list(randomize_layers(tiny_cnn, order="cascade"))[-1]
    bn = model.features.bn1
    assert torch.equal(bn.weight, torch.ones_like(bn.weight))
    assert torch.equal(bn.running_var, torch.ones_like(bn.running_var))
    assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
    _, kept = list(randomize_layers(tiny_cnn, order="cascade", batchnorm="keep"))[-1]
    for name in ("bn1", "bn2", "bn3"):
        for k, v in getattr(kept.features, name).state_dict().items():
            assert torch.equal(v, getattr(tiny_cnn.features, name).state_dict()[k])
    assert not torch.equal(kept.features.conv1.weight, tiny_cnn.features.conv1.weight)


def test_seeded_reproducible_and_order_independent(tiny_cnn):
    a = dict(randomize_layers(tiny_cnn, order="cascade", seed=3))
    b = dict(randomize_layers(tiny_cnn, order="cascade", seed=3))
    c = dict(randomize_layers(tiny_cnn, order="cascade", seed=4))
    ind = dict(randomize_layers(tiny_cnn, order="independent", seed=3))
    for name in CNN_LAYERS:
        w = a[name].get_submodule(name).weight
        assert torch.equal(w, b[name].get_submodule(name).weight)
        assert not torch.equal(w, c[name].get_submodule(name).weight)
        # a layer gets the same random weights whichever order randomized it
        assert torch.equal(w, ind[name].get_submodule(name).weight)


def test_global_rng_untouched(tiny_cnn):
    state = torch.get_rng_state()
    list(randomize_layers(tiny_cnn))
    randomize_model(tiny_cnn)
    assert torch.equal(state, torch.get_rng_state())


def test_randomize_model_is_the_last_cascade_step(tiny_cnn):
    whole = randomize_model(tiny_cnn, seed=5)
    _, last = list(randomize_layers(tiny_cnn, seed=5))[-1]
    for k, v in whole.state_dict().items():
        assert torch.equal(v, last.state_dict()[k]), k
    assert not torch.equal(whole.head.fc2.weight, tiny_cnn.head.fc2.weight)


def test_randomized_weights_use_the_layer_default_init(tiny_cnn):
    fresh = SmallCNN(width=4, hidden=16, dropout=0.0)
    whole = randomize_model(tiny_cnn)
    # kaiming-uniform bound of nn.Linear: 1/sqrt(fan_in)
    bound = 1 / fresh.head.fc1.in_features ** 0.5
    assert whole.head.fc1.weight.abs().max() <= bound
    expected = float(fresh.head.fc1.weight.detach().std())
    assert float(whole.head.fc1.weight.detach().std()) == pytest.approx(expected, rel=0.1)


def test_layers_subset(tiny_cnn):
    steps = [name for name, _ in randomize_layers(tiny_cnn, layers=["features.conv1", "head.fc2"])]
    assert steps == ["head.fc2", "features.conv1"]


@pytest.mark.parametrize("kwargs, match", [
    ({"order": "top_down"}, "order"), ({"layers": ["features.bn1"]}, "unknown layer"),
    ({"layers": []}, "empty"), ({"batchnorm": "reset"}, "batchnorm")])
def test_bad_arguments_raise_at_call_time(tiny_cnn, kwargs, match):
    with pytest.raises(InputError, match=match):
        randomize_layers(tiny_cnn, **kwargs)


def test_model_without_layers():
    with pytest.raises(InputError, match="no Conv or Linear"):
        randomize_layers(torch.nn.Sequential(torch.nn.ReLU()))
