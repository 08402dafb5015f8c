"""Model-parameter randomization: the weight side of the Adebayo et al. sanity checks.

What a "layer" is
-----------------
A layer is one ``nn.Conv*`` or ``nn.Linear`` module, as listed (input first) by
:func:`labkit.models.parameterized_layers`. By default a normalization module
(BatchNorm, GroupNorm, LayerNorm) belongs to the layer that runs just before it
(``conv1`` owns ``bn1``) and is re-initialized with it: weight 1, bias 0, running
mean 0, running variance 1. Two reasons:

* BatchNorm's affine parameters and running statistics are learned from data. If
  they stayed trained while the conv before them became random, the "randomized"
  layer would still carry trained information, and the trained statistics would
  rescale the random conv's output by factors fitted to another distribution.
* Resetting *every* module that has ``reset_parameters`` (Quantus' approach) turns
  BatchNorm into its own cascade step with no weights of its own to speak of, so
  the cascade gets steps that mean nothing to a student. Here the cascade has one
  step per conv/linear layer, matching the layer list of the paper.

Pass ``batchnorm="keep"`` to leave normalization modules trained (only conv/linear
weights change). A normalization module that runs before any conv/linear layer is
never touched.

Re-initialization uses each module's own ``reset_parameters()`` (PyTorch's default
init for that layer type) under a seed derived from ``seed`` and the layer *name*,
so a layer gets the same random weights whatever the order, the layer subset or
the device: step ``k`` of the cascade and the independent step for the same layer
hold identical weights for that layer.

References
----------
Adebayo, J., Gilmer, J., Muelly, M., Goodfellow, I., Hardt, M., Kim, B. (2018).
Sanity Checks for Saliency Maps. NeurIPS.
"""
from __future__ import annotations

import copy
import zlib
from typing import Iterator, Literal, Sequence

import torch
from torch import nn

from labkit.errors import InputError
from labkit.models.layers import PARAM_LAYER_TYPES, forward_order, parameterized_layers
from labkit.models.spec import block_names, default_blocks

Order = Literal["cascade", "independent", "bottom_up"]
BatchNormPolicy = Literal["with_layer", "keep"]
ORDERS: tuple[str, ...] = ("cascade", "independent", "bottom_up")
BATCHNORM_POLICIES: tuple[str, ...] = ("with_layer", "keep")
NORM_TYPES: tuple[type[nn.Module], ...] = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def layer_groups(model: nn.Module, example: torch.Tensor | None = None,
                 batchnorm: BatchNormPolicy = "with_layer") -> list[tuple[str, list[str]]]:
    """The randomization units of ``model``, input first.

    Returns ``[(layer_name, [module names re-initialized with it]), ...]``; the
    first module name is the layer itself, followed by the normalization modules
    it owns under ``batchnorm="with_layer"``. With an ``example`` batch, forward
    order is recorded by hooks; otherwise definition order is used.
    """
    if batchnorm not in BATCHNORM_POLICIES:
        raise InputError(f"batchnorm must be one of {list(BATCHNORM_POLICIES)}, got {batchnorm!r}")
    params = parameterized_layers(model, example)
    if not params:
        raise InputError(f"{type(model).__name__} has no Conv or Linear layer to randomize")
    groups = {name: [name] for name, _ in params}
    if batchnorm == "keep":
        return [(name, groups[name]) for name, _ in params]
    owner: str | None = None
    for name in _module_order(model, example):
        module = model.get_submodule(name)
        if name in groups:
            owner = name
        elif isinstance(module, NORM_TYPES) and owner is not None:
            groups[owner].append(name)
    return [(name, groups[name]) for name, _ in params]


def _module_order(model: nn.Module, example: torch.Tensor | None) -> list[str]:
    """Names of conv/linear and normalization modules in forward (or definition) order."""
    wanted = [n for n, m in model.named_modules() if isinstance(m, NORM_TYPES + PARAM_LAYER_TYPES)]
    return forward_order(model, wanted, example)


def layer_seed(seed: int, name: str) -> int:
    """The seed used to re-initialize layer ``name`` (independent of order and device)."""
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode())) % (2 ** 63)


def reinitialize_(module: nn.Module, seed: int) -> None:
    """Re-initialize ``module`` in place with its own ``reset_parameters()`` under ``seed``.

    The fresh values are drawn on the CPU and copied into the module, so the result
    is the same on every device and the global random state is left untouched.
    """
    if not hasattr(module, "reset_parameters"):
        raise InputError(f"{type(module).__name__} has no reset_parameters(); cannot randomize it")
    fresh = copy.deepcopy(module).cpu()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh.reset_parameters()
        if hasattr(fresh, "reset_running_stats"):
            fresh.reset_running_stats()
    module.load_state_dict(fresh.state_dict())


def block_groups(model: nn.Module, blocks: Sequence[str] | str, example: torch.Tensor | None = None,
                 batchnorm: BatchNormPolicy = "with_layer") -> list[tuple[str, list[str]]]:
    """Randomization units that are named blocks (``"layer4"``: every conv/linear layer inside
    it, with the normalization modules they own), in forward order.

    ``blocks="default"`` takes the model's plan (:func:`labkit.models.default_blocks`:
    declared by the model, else derived from its module tree). Modules outside every
    block are never randomized.
    """
    if isinstance(blocks, str):
        blocks = default_blocks(model) if blocks == "default" else [blocks]
    blocks = list(blocks)
    if not blocks:
        raise InputError("blocks is empty; pass None to randomize every conv/linear layer, or 'default'")
    modules = dict(model.named_modules())
    unknown = [b for b in blocks if b not in modules or b == ""]
    if unknown:
        raise InputError(f"unknown block(s) {unknown}; named blocks of {type(model).__name__}: "
                         f"{block_names(model)} (its default plan: {default_blocks(model)})")
    groups = layer_groups(model, example, batchnorm)
    position = {name: i for i, (name, _) in enumerate(groups)}
    units = []
    for block in blocks:
        inside = [(n, ms) for n, ms in groups if n == block or n.startswith(block + ".")]
        if not inside:
            raise InputError(f"block {block!r} holds no conv/linear layer to randomize; choose among "
                             f"{default_blocks(model)}")
        units.append((position[inside[0][0]], block, [m for _, ms in inside for m in ms]))
    return [(block, members) for _, block, members in sorted(units)]


def randomization_plan(model: nn.Module, order: Order = "cascade", layers: Sequence[str] | None = None,
                       example: torch.Tensor | None = None,
                       batchnorm: BatchNormPolicy = "with_layer",
                       blocks: Sequence[str] | str | None = None) -> list[tuple[str, list[str]]]:
    """The steps :func:`randomize_layers` will take, without building any model.

    Returns ``[(layer_or_block_name, [every module re-initialized at this step]), ...]``.
    """
    if order not in ORDERS:
        raise InputError(f"order must be one of {list(ORDERS)}, got {order!r}")
    if blocks is not None and layers is not None:
        raise InputError("pass either layers (conv/linear layers) or blocks (named blocks), not both")
    groups = layer_groups(model, example, batchnorm) if blocks is None else block_groups(model, blocks, example,
                                                                                          batchnorm)
    if layers is not None:
        if isinstance(layers, str):
            layers = [layers]
        known = [name for name, _ in groups]
        unknown = [name for name in layers if name not in known]
        if unknown:
            raise InputError(f"unknown layer(s) {unknown}; conv/linear layers of this model: {known}")
        if not layers:
            raise InputError("layers is empty; pass None to randomize every conv/linear layer")
        groups = [g for g in groups if g[0] in set(layers)]
    if order == "cascade":
        groups = groups[::-1]
    plan = []
    for k, (name, members) in enumerate(groups):
        chosen = [members] if order == "independent" else [m for _, m in groups[: k + 1]]
        plan.append((name, [module for group in chosen for module in group]))
    return plan


def randomize_layers(model: nn.Module, order: Order = "cascade", seed: int = 0,
                     layers: Sequence[str] | None = None, example: torch.Tensor | None = None,
                     batchnorm: BatchNormPolicy = "with_layer",
                     blocks: Sequence[str] | str | None = None) -> Iterator[tuple[str, nn.Module]]:
    """Yield ``(layer_name, randomized_model)``, one step per layer.

    Parameters
    ----------
    model:
        The trained model; never modified. Each step yields a fresh deep copy.
    order:
        ``"cascade"`` — Adebayo et al.: from the output layer down to the input, one
        more layer re-initialized at each step (cumulative). ``"independent"`` — one
        layer at a time, all others original. ``"bottom_up"`` — cumulative from the
        input up.
    seed:
        Seed of the re-initialization; a layer's random weights depend on ``seed``
        and its name only.
    layers:
        Names of the conv/linear layers to randomize (default: all of them). The
        order argument still decides the order.
    example:
        An input batch used to find the forward order of layers (recommended when
        modules are defined in another order than they run).
    batchnorm:
        ``"with_layer"`` (default): normalization modules are re-initialized with
        the conv/linear layer before them. ``"keep"``: they stay trained.
    blocks:
        Named blocks to randomize as units instead of single layers, e.g. the
        lecture notes' ``["conv1", "layer1", "layer2", "layer3", "layer4"]`` for
        ResNet-18 (a cascade runs ``layer4 … conv1``), or ``"default"`` for the
        model's plan (see :func:`block_groups`).

    Yields
    ------
    (str, nn.Module)
        The name of the layer randomized at this step and the randomized copy.
        Arguments are checked when this function is called, not at the first step.
    """
    plan = randomization_plan(model, order, layers, example, batchnorm, blocks)
    return ((name, _randomized_copy(model, modules, seed)) for name, modules in plan)


def _randomized_copy(model: nn.Module, modules: Sequence[str], seed: int) -> nn.Module:
    out = copy.deepcopy(model)
    for name in modules:
        reinitialize_(out.get_submodule(name), layer_seed(seed, name))
    return out


def randomize_model(model: nn.Module, seed: int = 0, batchnorm: BatchNormPolicy = "with_layer",
                    example: torch.Tensor | None = None) -> nn.Module:
    """A deep copy of ``model`` with every conv/linear layer re-initialized.

    Equal to the last step of the cascade with the same ``seed``, ``batchnorm`` and
    ``example``; the input model is not modified.
    """
    return _randomized_copy(model, [m for _, group in layer_groups(model, example, batchnorm) for m in group], seed)
