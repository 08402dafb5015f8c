"""Max-pooling before the ReLU while training: the same values and gradients, on a
quarter of the elements.

ReLU is non-decreasing, so ``relu(maxpool(x)) == maxpool(relu(x))`` exactly, and the
gradients agree too: a window whose maximum is positive sends its gradient to the same
first maximal element either way, and one whose maximum is ≤ 0 sends none (tested bit
for bit). After a 2×2 pool the ReLU and its backward touch a quarter of the elements:
SmallCNN's training step at batch 128 and 64 px took 109 instead of 125 ms of CPU
(benchmarks/README.md).
"""
from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Iterator

from torch import nn


def swapped(modules: OrderedDict[str, nn.Module]) -> OrderedDict[str, nn.Module] | None:
    """``modules`` with every ReLU that is directly followed by a MaxPool2d moved after it; ``None`` if none is."""
    names, out, changed, i = list(modules), OrderedDict(), False, 0
    while i < len(names):
        here, after = modules[names[i]], modules[names[i + 1]] if i + 1 < len(names) else None
        if type(here) is nn.ReLU and type(after) is nn.MaxPool2d and not after.return_indices:
            out[names[i + 1]], out[names[i]], changed, i = after, here, True, i + 2
        else:
            out[names[i]], i = here, i + 1
    return out if changed else None


@contextlib.contextmanager
def pool_before_relu(model: nn.Module) -> Iterator[None]:
    """Within the block, each ``nn.Sequential`` of ``model`` runs a ``ReLU`` that is directly
    followed by a ``MaxPool2d`` after that pool instead; the order is restored afterwards.

    Only the order of calls changes (no parameter, buffer or name), so state dicts are
    unaffected; a forward hook on such a ReLU sees pooled tensors meanwhile.
    """
    originals = []
    for seq in model.modules():
        if isinstance(seq, nn.Sequential) and (order := swapped(seq._modules)) is not None:
            originals.append((seq, seq._modules))
            seq._modules = order
    try:
        yield
    finally:
        for seq, modules in originals:
            seq._modules = modules
