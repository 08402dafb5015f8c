"""A copy of a model for eval-mode inference with batch norms folded into their convolutions.

In eval mode a ``BatchNorm2d`` is a fixed per-channel affine map, so after a ``Conv2d``
it can be folded into that convolution's weights and bias: the same function up to
float rounding (about 1e-8 on SmallCNN's logits), one pass over the activations fewer.
In the copy each ReLU directly followed by a max-pool also runs after it
(:mod:`labkit.train.reorder`, exact). The model itself is never changed, so other
threads (explainers, hooks) keep seeing it as it is; the copy costs one ``deepcopy`` of
the model per call. On CPU, SmallCNN's 624 test images at 64 px took 0.36 instead of
0.64 s of CPU after training, validation during training 0.19 instead of 0.26 s
(benchmarks/README.md).
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from labkit.train.reorder import swapped


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d and bn.running_mean is not None
            and conv.out_channels == bn.num_features)


def _has_pairs(model: nn.Module) -> bool:
    return any(_foldable(a, b) for seq in model.modules() if isinstance(seq, nn.Sequential)
               for a, b in zip(list(seq)[:-1], list(seq)[1:]))


def inference_model(model: nn.Module, channels_last: bool = False) -> nn.Module:
    """``model`` itself, or, where an ``nn.Sequential`` of it holds a ``Conv2d`` directly
    followed by a ``BatchNorm2d`` (with running statistics), an eval-mode copy in which each
    such batch norm is folded into its convolution (and replaced by ``nn.Identity``, keeping
    the names) and ReLUs run after the max-pool that follows them (for any model's conv/batch-norm
    pairs, without the reordering, see :func:`labkit.models.layers.folded_batchnorm`). With ``channels_last``
    the copy's 4-D weights are in channels-last layout (oneDNN's fast kernels on CPU; a
    one-channel first convolution included, whose contiguous weight already passes
    ``is_contiguous(memory_format=torch.channels_last)`` and would keep the network in NCHW).

    References
    ----------
    S. Ioffe and C. Szegedy. "Batch Normalization." ICML 2015 (inference: a linear transform).
    """
    if not _has_pairs(model):
        return model
    net = copy.deepcopy(model).eval()
    for seq in list(net.modules()):
        if not isinstance(seq, nn.Sequential):
            continue
        names = list(seq._modules)
        for a, b in zip(names[:-1], names[1:]):
            if _foldable(seq._modules[a], seq._modules[b]):
                seq._modules[a], seq._modules[b] = fuse_conv_bn_eval(seq._modules[a], seq._modules[b]), nn.Identity()
        seq._modules = swapped(seq._modules) or seq._modules
    return net.to(memory_format=torch.channels_last) if channels_last else net
