"""What every explainer call does around the method itself: freeze the model, find
its logits count, and split a batch into chunks.

These run on every call, also for one image where the method itself takes about
2 ms on CPU, so they walk the model once and do no tensor work that can be done
in Python (see ``benchmarks/README.md``, "Explainers").
"""
from __future__ import annotations

import contextlib
import functools
import math
import weakref
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn.modules.utils import _pair

from labkit.errors import InputError
from labkit.models.layers import channels_last_weights


def walk(model: nn.Module) -> tuple[list[nn.Module], list[nn.Parameter]]:
    """Every submodule of ``model`` (itself included) and every distinct parameter.

    Same sets as ``model.modules()`` and ``model.parameters()``, found in one pass
    over the module tree without ``named_modules``' generators (several times faster
    for the small lab models), in the same order.
    """
    modules: list[nn.Module] = []
    params: dict[int, nn.Parameter] = {}
    seen: set[int] = set()
    stack = [model]
    pop, push, mark, keep = stack.pop, stack.extend, seen.add, modules.append
    while stack:
        m = pop()
        if id(m) in seen:
            continue
        mark(id(m))
        keep(m)
        if m._parameters:
            for p in m._parameters.values():
                if p is not None:
                    params.setdefault(id(p), p)
        if m._modules:
            push(reversed([c for c in m._modules.values() if c is not None]))
    return modules, list(params.values())


_SIZES: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, int, int]] = weakref.WeakKeyDictionary()


def model_sizes(model: nn.Module, x: torch.Tensor, shapes: tuple[torch.Size, ...] | None = None) -> tuple[int, int]:
    """Number of logits the model returns (found by one forward pass on ``x[:1]``)
    and its number of parameters.

    Cached per model together with its parameter shapes (``shapes``, default those
    of ``model.parameters()``; :class:`frozen_eval` has them), so a replaced head is
    noticed and the extra forward pass is paid once per model, not per call.
    """
    signature = tuple([p.shape for p in model.parameters()]) if shapes is None else shapes
    cached = _SIZES.get(model)
    if cached is not None and cached[0] == signature:
        return cached[1], cached[2]
    try:
        with torch.no_grad():
            out = model(x[:1])
    except Exception as exc:  # noqa: BLE001 - a user's model may raise anything in forward
        raise InputError(f"the model raised {type(exc).__name__} in forward on images of shape "
                         f"{tuple(x[:1].shape)}: {str(exc).splitlines()[0] if str(exc) else ''}; expected a "
                         "classifier that takes these images (check its ModelSpec: channels, size)") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 1:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise InputError(f"model must return logits of shape (N, num_classes), got {shape} for N = 1")
    _SIZES[model] = (signature, out.shape[1], sum(math.prod(s) for s in signature))
    return out.shape[1], _SIZES[model][2]


#: Pool inputs with at least this many elements take the channels-last forward also when the
#: gradient flows through them (below it the autograd.Function's own overhead outweighs the gain).
CL_POOL_GRAD_MIN = 2 ** 18


class _ChannelsLastMaxPool(torch.autograd.Function):
    """Max-pool of a contiguous (NCHW) batch computed by torch's channels-last kernel, with
    torch's own NCHW backward on the same argmax indices: values and gradients identical."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, args: tuple) -> torch.Tensor:  # noqa: D102
        out, index = torch.ops.aten.max_pool2d_with_indices(x.contiguous(memory_format=torch.channels_last), *args)
        ctx.save_for_backward(x, index.contiguous())
        ctx.args = args
        return out.contiguous()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: D102
        x, index = ctx.saved_tensors
        return torch.ops.aten.max_pool2d_with_indices_backward(grad.contiguous(), x, *ctx.args, index), None


def _pool_forward(pool: nn.MaxPool2d, x: torch.Tensor) -> torch.Tensor:
    """``pool(x)`` through torch's channels-last max-pool kernel where that is faster.

    On CPU torch's max-pool kernel for contiguous (NCHW) inputs takes about 3× as long
    as its channels-last one (SmallCNN's first pool of one 64-px image: 300 µs against
    105 µs with both layout copies). A maximum is exact and both kernels pick the same
    (first) maximal element of each window, so values and gradients are identical; the
    result is handed on in the input's layout. Where the gradient flows back through the
    pool, only inputs of at least :data:`CL_POOL_GRAD_MIN` elements take this path.
    """
    if x.device.type != "cpu" or x.dim() != 4 or not x.is_contiguous():
        return nn.MaxPool2d.forward(pool, x)
    if not (x.requires_grad and torch.is_grad_enabled()):
        return F.max_pool2d(x.contiguous(memory_format=torch.channels_last), pool.kernel_size, pool.stride,
                            pool.padding, pool.dilation, ceil_mode=pool.ceil_mode).contiguous()
    if x.numel() >= CL_POOL_GRAD_MIN:
        args = (_pair(pool.kernel_size), _pair(pool.stride), _pair(pool.padding), _pair(pool.dilation), pool.ceil_mode)
        return _ChannelsLastMaxPool.apply(x, args)
    return nn.MaxPool2d.forward(pool, x)


class frozen_eval:  # noqa: N801 - used like a function: ``with frozen_eval(model) as frozen``
    """Put ``model`` in eval mode with ``requires_grad=False`` on every parameter;
    restore each module's mode and each parameter's flag afterwards, even on error.
    ``with frozen_eval(model) as frozen`` gives the model's parameters (``frozen.params``)
    and their shapes (``frozen.shapes``).

    With ``channels_last`` every ``nn.Conv2d`` weight is also held in channels-last
    layout for the duration (:func:`~labkit.models.layers.channels_last_weights`).
    Each ``nn.MaxPool2d`` runs through :func:`_pool_forward` meanwhile (torch's
    channels-last kernel where that is faster; identical values and gradients).

    The model is walked once and only what is changed is restored, so the
    overhead is small (this runs on every explainer call; a class, not a
    generator-based context manager, for the same reason).
    """

    def __init__(self, model: nn.Module, channels_last: bool = False) -> None:
        self.model, self.channels_last = model, channels_last
        self.modules: list[nn.Module] = []
        self.params: list[nn.Parameter] = []
        self.shapes: tuple[torch.Size, ...] = ()
        self._training: list[nn.Module] = []
        self._trainable: list[nn.Parameter] = []
        self._pools: list[nn.MaxPool2d] = []
        self._layout: contextlib.AbstractContextManager | None = None

    def __enter__(self) -> "frozen_eval":
        self.modules, self.params = walk(self.model)
        self._training, self._trainable = [m for m in self.modules if m.training], []
        shapes: list[torch.Size] = []
        for p in self.params:  # one pass over the parameters for both
            shapes.append(p.shape)
            if p.requires_grad:
                self._trainable.append(p)
        self.shapes = tuple(shapes)
        try:
            if self._training:
                self.model.eval()
            for p in self._trainable:
                p.requires_grad_(False)
            self._pools = [m for m in self.modules
                           if type(m) is nn.MaxPool2d and not m.return_indices and "forward" not in m.__dict__]
            for m in self._pools:
                m.forward = functools.partial(_pool_forward, m)
            if self.channels_last:
                self._layout = channels_last_weights(self.modules)
                self._layout.__enter__()
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._layout is not None:
                self._layout.__exit__(*exc)
        finally:
            self._restore()

    def _restore(self) -> None:
        for m in self._training:
            m.training = True
        for p in self._trainable:
            p.requires_grad_(True)
        for m in self._pools:
            m.__dict__.pop("forward", None)
        self._pools = []
        self._layout = None


def chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` items covering ``range(n)``.

    The fewest chunks that respect ``size``, balanced so that their lengths
    differ by at most one (no tiny last batch).
    """
    k = -(-n // size)
    for i in range(k):
        yield slice(i * n // k, (i + 1) * n // k)


def batches(size: int, *tensors: torch.Tensor) -> Iterator[tuple[torch.Tensor, ...]]:
    """``tensors`` (the same number of rows) cut into the :func:`chunks` of at most ``size``
    rows; the tensors themselves when they fit in one (no slicing ops for one image)."""
    n = tensors[0].shape[0]
    if n <= size:
        yield tensors
        return
    for sl in chunks(n, size):
        yield tuple(t[sl] for t in tensors)


def cat(parts: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat(parts)`` without a copy when there is a single chunk."""
    return parts[0] if len(parts) == 1 else torch.cat(parts)
