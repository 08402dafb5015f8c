"""Mixed precision and memory layout for training: which autocast dtype a device runs
fast (detected once per process), channels-last layout, and the loss scaler fp16 needs.

``"auto"`` picks bf16 autocast on CPUs with native bf16 matrix instructions (Intel AMX
or AVX-512 BF16, as torch reports them), bf16 on CUDA GPUs that support it and fp16
with a gradient scaler on older ones, and plain fp32 everywhere else. ``"fp32"``
never autocasts; ``"bf16"`` asks for bf16 autocast (on a CPU without bf16 instructions
it is emulated: correct, but slow). Weights, optimizer state and the loss stay fp32
in every mode; only the forward and backward matrix products run in the lower precision.

Channels-last layout (NHWC) lets oneDNN on CPU, and tensor cores on CUDA, use their
fast convolution kernels. It changes no value beyond float rounding.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import ContextManager

import torch
from torch import nn

from labkit.errors import InputError

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
NAMES = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def check_precision(precision: object) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else :class:`InputError`."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}; "
                         "'auto' picks bf16 where the hardware runs it fast and fp32 elsewhere")
    return str(precision)


@functools.cache
def cpu_runs_bf16_fast() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AMX or AVX-512 BF16).

    Read once per process from the CPU capabilities torch detects; ``False`` when
    this torch build cannot tell.
    """
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype training on ``device`` uses for ``precision`` (``None``: fp32)."""
    if check_precision(precision) == "fp32":
        return None
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if precision == "bf16":
            raise InputError(f"{torch.cuda.get_device_name(device)} has no bf16 support; "
                             "use precision 'auto' (fp16 with loss scaling) or 'fp32'")
        return torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if precision == "bf16" or cpu_runs_bf16_fast() else None
    if precision == "bf16":
        raise InputError(f"bf16 training is offered on cpu and cuda, not on {device.type}; "
                         "use precision 'auto' or 'fp32'")
    return None


@dataclass(frozen=True)
class MixedPrecision:
    """How one training run computes: autocast dtype and memory layout on ``device``.

    Build it with :meth:`resolve`.

    References
    ----------
    P. Micikevicius et al. "Mixed Precision Training." ICLR 2018 (loss scaling for fp16).
    D. Kalamkar et al. "A Study of BFLOAT16 for Deep Learning Training." arXiv:1905.12322, 2019.
    """

    device: torch.device
    dtype: torch.dtype | None
    channels_last: bool

    @classmethod
    def resolve(cls, precision: str, device: torch.device) -> "MixedPrecision":
        """Settings for ``precision`` (see :data:`PRECISIONS`) on ``device``."""
        return cls(device, autocast_dtype(precision, device), device.type in ("cpu", "cuda"))

    @property
    def name(self) -> str:
        """``"fp32"``, ``"bf16"`` or ``"fp16"``."""
        return NAMES[self.dtype]

    def autocast(self) -> ContextManager:
        """Context in which the forward pass (and the loss) runs."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler | None:
        """A gradient scaler for fp16 (its small range needs one), else ``None``."""
        return torch.amp.GradScaler(self.device.type) if self.dtype is torch.float16 else None

    def layout(self, model: nn.Module, training: bool) -> None:
        """Put the model's 4-D weights in channels-last layout for training, and back
        in the default contiguous layout afterwards (explainers and checkpoints expect it)."""
        if self.channels_last:
            model.to(memory_format=torch.channels_last if training else torch.contiguous_format)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """A batch in the layout the model runs fastest with."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x
