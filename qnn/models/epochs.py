"""One pass over the training rows in a seeded random order, shared by every model's training."""
from __future__ import annotations

from collections.abc import Callable

import torch


def train_epoch(model: torch.nn.Module, opt: torch.optim.Optimizer, n_rows: int, batch: int,
                gen: torch.Generator, dev, batch_loss: Callable[[torch.Tensor], torch.Tensor],
                clip: float | None = None) -> float:
    """Shuffle the rows with ``gen``, step ``opt`` on the mean of ``batch_loss(indices)`` for each
    batch (gradients clipped to norm ``clip`` when given); returns the mean loss per row."""
    model.train()
    perm = torch.randperm(n_rows, generator=gen).to(dev)
    total = 0.0
    for a in range(0, len(perm), batch):
        idx = perm[a:a + batch]
        loss = batch_loss(idx).mean()
        opt.zero_grad()
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        total += float(loss.detach()) * len(idx)
    return total / len(perm)
