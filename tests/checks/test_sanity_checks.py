"""Mutation tests of the exercise 03 checks (model randomization, cascade)."""
from __future__ import annotations

import pytest

from checkhelp import assert_accepted, assert_rejected
from labkit import checks
from labkit.sanity import pearson, randomize_layers, randomize_model, reinitialize_, spearman


# ---- model randomization -----------------------------------------------------------------------
def similarity(model, x, target, saliency_fn, seed=0):
    original = saliency_fn(model, x, target).abs()
    randomized = saliency_fn(randomize_model(model, seed=seed), x, target).abs()
    return spearman(original, randomized).mean().item()


def similarity_loop(model, x, target, saliency_fn, seed=0):
    random_model = randomize_model(model, seed)
    values = []
    for i in range(len(x)):
        a = saliency_fn(model, x[i:i + 1], target).abs()
        b = saliency_fn(random_model, x[i:i + 1], target).abs()
        values.append(float(spearman(a, b)[0]))
    return sum(values) / len(values)


def similarity_signed(model, x, target, saliency_fn, seed=0):
    return float(spearman(saliency_fn(model, x, target), saliency_fn(randomize_model(model, seed=seed), x, target)).mean())


def similarity_pearson(model, x, target, saliency_fn, seed=0):
    a = saliency_fn(model, x, target).abs()
    return float(pearson(a, saliency_fn(randomize_model(model, seed=seed), x, target).abs()).mean())


def similarity_in_place(model, x, target, saliency_fn, seed=0):
    for _, module in model.named_modules():
        if hasattr(module, "reset_parameters"):
            reinitialize_(module, seed)
    a = saliency_fn(model, x, target).abs()
    return float(spearman(a, a).mean())


def similarity_seed_ignored(model, x, target, saliency_fn, seed=0):
    return similarity(model, x, target, saliency_fn, 0)


@pytest.mark.parametrize("fn", [similarity, similarity_loop])
def test_randomized_similarity_accepts(fn):
    assert_accepted(checks.randomized_similarity, fn)
    assert_accepted(checks.randomized_similarity, fn, hidden=True)


@pytest.mark.parametrize("fn, fragment", [
    (similarity_signed, "signed maps"),
    (similarity_pearson, "Pearson"),
    (similarity_in_place, "compared the model with itself"),
    (similarity_seed_ignored, "seed is ignored"),
])
def test_randomized_similarity_rejects(fn, fragment):
    assert_rejected(checks.randomized_similarity, fn, fragment)


# ---- cascade ----------------------------------------------------------------------------------
def cascade(model, x, target, saliency_fn, seed=0):
    original = saliency_fn(model, x, target).abs()
    out = {}
    for name, randomized in randomize_layers(model, order="cascade", seed=seed):
        out[name] = spearman(original, saliency_fn(randomized, x, target).abs()).mean().item()
    return out


def cascade_as_pairs(model, x, target, saliency_fn, seed=0):
    original = saliency_fn(model, x, target).abs()
    rows = [("original", 1.0)]
    for name, net in randomize_layers(model, "cascade", seed):
        rows.append((name, float(spearman(original, saliency_fn(net, x, target).abs()).mean())))
    return rows


def cascade_bottom_up(model, x, target, saliency_fn, seed=0):
    original = saliency_fn(model, x, target).abs()
    return {name: float(spearman(original, saliency_fn(net, x, target).abs()).mean())
            for name, net in randomize_layers(model, order="bottom_up", seed=seed)}


def cascade_independent(model, x, target, saliency_fn, seed=0):
    original = saliency_fn(model, x, target).abs()
    return {name: float(spearman(original, saliency_fn(net, x, target).abs()).mean())
            for name, net in randomize_layers(model, order="independent", seed=seed)}


def cascade_consecutive(model, x, target, saliency_fn, seed=0):
    previous = saliency_fn(model, x, target).abs()
    out = {}
    for name, net in randomize_layers(model, order="cascade", seed=seed):
        current = saliency_fn(net, x, target).abs()
        out[name] = float(spearman(previous, current).mean())
        previous = current
    return out


def cascade_signed(model, x, target, saliency_fn, seed=0):
    original = saliency_fn(model, x, target)
    return {name: float(spearman(original, saliency_fn(net, x, target)).mean())
            for name, net in randomize_layers(model, order="cascade", seed=seed)}


def cascade_reversed_listing(model, x, target, saliency_fn, seed=0):
    return dict(reversed(list(cascade(model, x, target, saliency_fn, seed).items())))


@pytest.mark.parametrize("fn", [cascade, cascade_as_pairs])
def test_cascade_accepts(fn):
    assert_accepted(checks.cascade, fn)
    assert_accepted(checks.cascade, fn, hidden=True)


@pytest.mark.parametrize("fn, fragment", [
    (cascade_bottom_up, "from the input layer up"),
    (cascade_independent, "one layer at a time"),
    (cascade_consecutive, "previous step"),
    (cascade_signed, "signed maps"),
    (cascade_reversed_listing, "output layer first"),
])
def test_cascade_rejects(fn, fragment):
    assert_rejected(checks.cascade, fn, fragment)
