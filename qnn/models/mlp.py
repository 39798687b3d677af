"""The classical control: an MLP with the QNN's features, parameter count and training.

``MLPCore`` maps a flow's path features ``(B, k, F)`` to logits ``(B, k)``: flatten -> Linear ->
tanh -> Linear -> tanh, times a trainable output scale: the same bounded readout as the QNN's
``scale * <Z>``: the logits stay within the trainable scale, so one step cannot saturate the softmax.
:func:`matched_mlp` picks the hidden width whose parameter count comes closest to a target from
below and spends the remainder on trainable per-input gains (and, if needed, per-logit gains), so
that the control has *exactly* the QNN's number of trainable parameters.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class MLPCore(nn.Module):
    kind = "mlp"

    def __init__(self, k: int = 3, n_features: int = 4, hidden: int = 8, n_in_gain: int = 0,
                 n_out_gain: int = 0, seed: int | None = None):
        super().__init__()
        self.k, self.n_features, self.hidden = k, n_features, hidden
        n_in = k * n_features
        if not 0 <= n_in_gain <= n_in or not 0 <= n_out_gain <= k:
            raise ValueError("gain counts out of range")
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, k)
        if seed is not None:  # deterministic weights without touching the global RNG
            gen = torch.Generator().manual_seed(seed)
            for layer in (self.fc1, self.fc2):
                _reset_linear(layer, gen)
        with torch.no_grad():  # start near the uniform split (a saturated start stalls training)
            self.fc2.weight.mul_(0.1)
            self.fc2.bias.zero_()
        self.in_gain = nn.Parameter(torch.ones(n_in_gain)) if n_in_gain else None
        self.out_gain = nn.Parameter(torch.ones(n_out_gain)) if n_out_gain else None
        self.out_scale = nn.Parameter(torch.tensor(3.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(x.shape[0], -1)
        if self.in_gain is not None:
            g = torch.ones(h.shape[1], dtype=h.dtype, device=h.device)
            g = torch.cat([self.in_gain, g[self.in_gain.numel():]])
            h = h * g
        out = self.out_scale * torch.tanh(self.fc2(torch.tanh(self.fc1(h))))
        if self.out_gain is not None:
            g = torch.cat([self.out_gain, out.new_ones(self.k - self.out_gain.numel())])
            out = out * g
        return out

    def config(self) -> dict:
        return {"kind": self.kind, "k": self.k, "n_features": self.n_features, "hidden": self.hidden,
                "n_in_gain": 0 if self.in_gain is None else self.in_gain.numel(),
                "n_out_gain": 0 if self.out_gain is None else self.out_gain.numel()}


def _reset_linear(layer: nn.Linear, gen: torch.Generator) -> None:
    """``nn.Linear.reset_parameters`` drawing from ``gen``: the same values the global RNG
    gives when seeded with the generator's seed."""
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=gen)
    bound = 1 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0
    nn.init.uniform_(layer.bias, -bound, bound, generator=gen)


def mlp_param_count(k: int, n_features: int, hidden: int) -> int:
    n_in = k * n_features
    return n_in * hidden + hidden + hidden * k + k + 1


def matched_sizes(n_params_target: int, k: int = 3, n_features: int = 4) -> dict:
    """``hidden``, ``n_in_gain`` and ``n_out_gain`` of an MLPCore with exactly
    ``n_params_target`` trainable parameters (when reachable)."""
    per_unit = k * n_features + 1 + k
    hidden = max(1, (n_params_target - k - 1) // per_unit)
    rest = n_params_target - mlp_param_count(k, n_features, hidden)
    if rest < 0:
        raise ValueError(f"{n_params_target} parameters are too few for an MLP over {k}x{n_features} inputs")
    n_in = min(rest, k * n_features)
    n_out = min(rest - n_in, k)
    if n_in + n_out != rest:  # cannot happen for per_unit - 1 <= k*F + k
        raise ValueError(f"cannot match {n_params_target} parameters exactly")
    return {"hidden": hidden, "n_in_gain": n_in, "n_out_gain": n_out}


def matched_mlp(n_params_target: int, k: int = 3, n_features: int = 4, seed: int | None = None) -> MLPCore:
    """An MLPCore with exactly ``n_params_target`` trainable parameters (when reachable)."""
    return MLPCore(k, n_features, **matched_sizes(n_params_target, k, n_features), seed=seed)
