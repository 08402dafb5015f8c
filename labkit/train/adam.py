"""Adam as one fused kernel per step, without ``torch.optim``'s machinery.

Building or stepping any ``torch.optim.Optimizer`` imports ``torch._dynamo`` (its
``add_param_group`` and ``step`` wrappers ask for it): 1.3 s of CPU and about 170 MB in
every process that trains. :class:`FusedAdam` calls the kernel that
``torch.optim.Adam(fused=True)`` calls, with the same state, so its updates are the same
bit for bit (tested), and imports nothing.
"""
from __future__ import annotations

from typing import Iterable

import torch

from labkit.errors import InputError

FUSED_DEVICES = ("cpu", "cuda")


def adam(params: Iterable[torch.Tensor], lr: float = 1e-3,
         weight_decay: float = 0.0) -> "FusedAdam | torch.optim.Optimizer":
    """Adam over ``params``: :class:`FusedAdam` where the fused kernel takes them, else ``torch.optim.Adam``."""
    params = list(params)
    make = FusedAdam if FusedAdam.supports(params) else torch.optim.Adam
    return make(params, lr=lr, weight_decay=weight_decay)


class FusedAdam:
    """Adam with L2 weight decay (``torch.optim.Adam``'s ``weight_decay``) for parameters
    of one floating dtype on one CPU or CUDA device.

    ``param_groups`` lists the parameters as ``torch.optim`` does, so that a
    ``torch.amp.GradScaler`` can unscale their gradients before :meth:`step`.

    References
    ----------
    D. P. Kingma and J. Ba. "Adam: A Method for Stochastic Optimization." ICLR 2015.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        self.params = list(params)
        if not self.supports(self.params):
            raise InputError("FusedAdam takes floating-point parameters of one dtype on one cpu or cuda device; "
                             "use torch.optim.Adam for others")
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.param_groups = [{"params": self.params, "lr": lr, "betas": betas, "eps": eps,
                              "weight_decay": weight_decay}]
        self.state: dict[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    @staticmethod
    def supports(params: list[torch.Tensor]) -> bool:
        """Whether the fused kernel takes ``params`` (all of one floating dtype on one cpu/cuda device)."""
        kinds = {(p.device, p.dtype) for p in params}
        return len(kinds) == 1 and params[0].device.type in FUSED_DEVICES and params[0].is_floating_point()

    def zero_grad(self) -> None:
        """Drop the gradients (``set_to_none``: the next backward allocates them, nothing is zero-filled)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        live = [p for p in self.params if p.grad is not None]
        if not live:
            return
        for p in live:
            if p not in self.state:  # moments in the parameter's layout, step count as torch's fused Adam keeps it
                self.state[p] = (torch.zeros_like(p, memory_format=torch.preserve_format),
                                 torch.zeros_like(p, memory_format=torch.preserve_format),
                                 torch.zeros((), dtype=torch.float32, device=p.device))
        exp_avgs, exp_avg_sqs, steps = (list(t) for t in zip(*(self.state[p] for p in live)))
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(live, [p.grad for p in live], exp_avgs, exp_avg_sqs, [], steps, lr=self.lr,
                           beta1=self.betas[0], beta2=self.betas[1], weight_decay=self.weight_decay, eps=self.eps,
                           amsgrad=False, maximize=False)
