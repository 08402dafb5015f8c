"""Checks of exercise 03: model randomization and the cascade (Adebayo et al. 2018).

Students write the loops; the randomization itself comes from
:mod:`labkit.sanity`. The saliency function handed to their code returns
*signed* gradient maps, so a comparison without ``.abs()`` is caught.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import torch
from torch import nn

from labkit.checks import fixtures
from labkit.checks.compare import one_number
from labkit.checks.registry import exercise
from labkit.checks.runner import Checker
from labkit.explain import explain
from labkit.sanity import pearson, randomize_layers, randomize_model, spearman

SaliencyFn = Callable[[nn.Module, torch.Tensor, int], torch.Tensor]
#: The labkit functions the sanity exercises hand out.
HELPERS = ("labkit.sanity.randomize_model", "labkit.sanity.randomize_layers", "labkit.sanity.reinitialize_",
           "labkit.sanity.spearman", "labkit.sanity.pearson")


def signed_gradient(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    """The saliency function the checks pass to students' code: signed gradient maps ``(N, H, W)``."""
    return explain(model, x, target, "gradient").signed


def _similarity(a: torch.Tensor, b: torch.Tensor, measure: str = "spearman", absolute: bool = True) -> float:
    if absolute:
        a, b = a.abs(), b.abs()
    f = spearman if measure == "spearman" else pearson
    return float(f(a, b).mean())


def _cases() -> list[fixtures.Case]:
    cs = fixtures.cases()
    return [cs[0], cs[1]]


@exercise("03_randomized_similarity", "Model randomization: similarity of maps", points=2, allowed=HELPERS)
def randomized_similarity(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, x, target, saliency_fn, seed) -> mean Spearman(|map|, |map of randomize_model(model, seed)|)``."""
    ck.require_callable(fn, "function")
    for i, case in enumerate(_cases()):
        m, x, t, seed = case.model, case.x, case.target, 3 + i
        got = one_number(ck, ck.call(fn, m, x, t, signed_gradient, seed), "your similarity")
        ref_map = signed_gradient(m, x, t)
        rand_map = signed_gradient(randomize_model(m, seed=seed), x, t)
        ref = _similarity(ref_map, rand_map)
        if math.isclose(got, ref, rel_tol=1e-4, abs_tol=1e-6):
            continue
        variants = [
            (lambda: 1.0, "you compared the model with itself (similarity 1): explain randomize_model(model, "
                          "seed=seed), a re-initialized copy, and compare with the original model's map"),
            (lambda: _similarity(ref_map, rand_map, absolute=False),
             "you compared the signed maps; compare their absolute values (|map|)"),
            (lambda: float(spearman(ref_map.abs().flatten()[None], rand_map.abs().flatten()[None])[0]),
             "you computed one correlation over the whole batch; compute it per image and average"),
            (lambda: _similarity(ref_map, rand_map, "pearson"), "you used Pearson correlation; the sanity checks "
                                                               "use Spearman rank correlation (labkit.sanity.spearman)"),
            (lambda: _similarity(ref_map, signed_gradient(randomize_model(m, seed=0), x, t)),
             f"the seed is ignored: randomize with randomize_model(model, seed=seed) (seed={seed} here)"),
        ]
        for thunk, message in variants:
            wrong = thunk()
            if math.isclose(got, wrong, rel_tol=1e-4, abs_tol=1e-6) and not math.isclose(wrong, ref, rel_tol=1e-4):
                raise ck.fail(f"on {case.name}: {message}")
        raise ck.fail(f"on {case.name} your similarity is {got:.4f}, expected {ref:.4f}",
                      "mean over images of spearman(|map of model|, |map of the randomized model|)")
    ck.award(2, "matches the mean Spearman correlation between the maps of the model and of its randomized copy")


def cascade_reference(model: nn.Module, x: torch.Tensor, target: int, saliency_fn: SaliencyFn, seed: int,
                      order: str = "cascade", measure: str = "spearman", absolute: bool = True,
                      consecutive: bool = False) -> dict[str, float]:
    """Mean similarity per randomized layer, in the order the layers were randomized."""
    original = saliency_fn(model, x, target)
    previous = original
    out = {}
    for name, net in randomize_layers(model, order=order, seed=seed):  # type: ignore[arg-type]
        maps = saliency_fn(net, x, target)
        out[name] = _similarity(previous if consecutive else original, maps, measure, absolute)
        if consecutive:
            previous = maps
    return out


def _as_dict(ck: Checker, value: Any) -> dict[str, float]:
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, (list, tuple)) and all(isinstance(v, (list, tuple)) and len(v) == 2 for v in value):
        items = [tuple(v) for v in value]
    else:
        raise ck.fail(f"your function returned {type(value).__name__}; return a dict {{layer name: mean Spearman}}")
    out: dict[str, float] = {}
    for k, v in items:
        if k == "original":
            continue
        out[str(k)] = one_number(ck, v, f"your value for layer {k!r}")
    return out


def _same(a: Mapping[str, float], b: Mapping[str, float], tol: float = 1e-4) -> bool:
    return list(a) == list(b) and all(math.isclose(a[k], b[k], rel_tol=tol, abs_tol=1e-6) for k in a)


@exercise("03_cascade", "Cascading randomization from the output layer down", points=3, allowed=HELPERS)
def cascade(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, x, target, saliency_fn, seed) -> {layer: mean Spearman(|original|, |step|)}`` in cascade order."""
    ck.require_callable(fn, "function")
    for i, case in enumerate(_cases()):
        m, x, t, seed = case.model, case.x, case.target, 5 + i
        got = _as_dict(ck, ck.call(fn, m, x, t, signed_gradient, seed))
        ref = cascade_reference(m, x, t, signed_gradient, seed)
        if _same(got, ref):
            continue
        if set(got) != set(ref):
            raise ck.fail(f"on {case.name} your layers are {list(got)}; expected one entry per randomized layer: "
                          f"{list(ref)}", "iterate over labkit.sanity.randomize_layers(model, order='cascade', "
                                          "seed=seed) and use the layer name it yields as the key")
        if all(math.isclose(got[k], ref[k], rel_tol=1e-4, abs_tol=1e-6) for k in ref):
            raise ck.fail(f"on {case.name} the values are right but the layers are listed as {list(got)}: list "
                          f"them in the order they were randomized, output layer first ({list(ref)})")
        variants = [
            (dict(order="bottom_up"), "you randomized from the input layer up; the cascade starts at the output "
                                      "layer and works down (order='cascade')"),
            (dict(order="independent"), "you re-initialized one layer at a time (order='independent'); the cascade "
                                        "is cumulative: each step keeps the layers randomized before"),
            (dict(consecutive=True), "you compared each step with the previous step; compare every step with the "
                                     "map of the original model"),
            (dict(absolute=False), "you compared the signed maps; compare their absolute values (|map|)"),
            (dict(measure="pearson"), "you used Pearson correlation; use Spearman rank correlation "
                                      "(labkit.sanity.spearman)"),
        ]
        for kwargs, message in variants:
            wrong = cascade_reference(m, x, t, signed_gradient, seed, **kwargs)  # type: ignore[arg-type]
            if set(wrong) == set(got) and all(math.isclose(got[k], wrong[k], rel_tol=1e-4, abs_tol=1e-6)
                                              for k in got) and not _same(wrong, ref):
                raise ck.fail(f"on {case.name}: {message}")
        first = next(k for k in ref if not math.isclose(got[k], ref[k], rel_tol=1e-4, abs_tol=1e-6))
        raise ck.fail(f"on {case.name} your value for layer {first!r} is {got[first]:.4f}, expected {ref[first]:.4f}")
    ck.award(3, "matches the cascade (output layer first, cumulative, Spearman of |maps| against the original)")


__all__ = ["randomized_similarity", "cascade", "cascade_reference", "signed_gradient"]
