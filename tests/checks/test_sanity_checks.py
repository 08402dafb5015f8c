"""Mutation tests of the exercise 03 checks (model randomization, cascade)."""
from __future__ import annotations

from checkhelp import harness
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


def similarity_whole_batch(model, x, target, saliency_fn, seed=0):
    a = saliency_fn(model, x, target).abs().flatten()[None]
    b = saliency_fn(randomize_model(model, seed=seed), x, target).abs().flatten()[None]
    return float(spearman(a, b)[0])


def similarity_per_image_list(model, x, target, saliency_fn, seed=0):
    a = saliency_fn(model, x, target).abs()
    b = saliency_fn(randomize_model(model, seed=seed), x, target).abs()
    return spearman(a, b)


def similarity_stub(model, x, target, saliency_fn, seed=0):
    raise NotImplementedError()


def similarity_checker_internals(model, x, target, saliency_fn, seed=0):
    from labkit.checks.sanity import _similarity

    return _similarity(saliency_fn(model, x, target), saliency_fn(randomize_model(model, seed=seed), x, target))


test_randomized_similarity = harness(checks.randomized_similarity, accept=[similarity, similarity_loop], reject=[
    (similarity_signed, "signed maps"),
    (similarity_pearson, "Pearson"),
    (similarity_in_place, "compared the model with itself"),
    (similarity_seed_ignored, "seed is ignored"),
    (similarity_whole_batch, 'one correlation over the whole batch'),
    (similarity_per_image_list, 'must be one number'),
    (similarity_stub, 'NotImplementedError'),
], game=[
    (similarity_checker_internals, 'your function called labkit.checks.sanity._similarity'),
])


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


def cascade_stub(model, x, target, saliency_fn, seed=0):
    raise NotImplementedError()


def cascade_checker_reference(model, x, target, saliency_fn, seed=0):
    from labkit.checks.sanity import cascade_reference

    return cascade_reference(model, x, target, saliency_fn, seed)


test_cascade = harness(checks.cascade, accept=[cascade, cascade_as_pairs], reject=[
    (cascade_bottom_up, "from the input layer up"),
    (cascade_independent, "one layer at a time"),
    (cascade_consecutive, "previous step"),
    (cascade_signed, "signed maps"),
    (cascade_reversed_listing, "output layer first"),
    (cascade_stub, 'NotImplementedError'),
], game=[
    (cascade_checker_reference, 'your function called labkit.checks.sanity.cascade_reference'),
])
