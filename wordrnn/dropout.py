"""The regularizers of AWD-LSTM (Merity et al. 2018), for training only; in eval mode each is
the identity, so inference and checkpoints never see them.

    words ──embedding_dropout──> vectors ──LockedDropout──> LSTM (weight_dropped W_hh) ──> ...

- `embedding_dropout` drops whole words: every occurrence of a dropped word in the batch gets a
  zero vector, so the model cannot lean on any single word being there.
- `LockedDropout` (variational dropout, Gal & Ghahramani 2016) draws one mask per sequence and
  applies it at every time step, instead of a fresh mask per step.
- `weight_dropped` (DropConnect on the hidden-to-hidden matrix) regularizes the recurrence itself
  while the fused LSTM kernel still runs: one mask per batch, not per step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call


class LockedDropout(nn.Module):
    """Dropout with the same mask at every time step of a (B, T, D) batch."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - self.p)  # (B, 1, D)
        return x * mask.div_(1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def embedding_dropout(embedding: nn.Embedding, ids: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """embedding(ids) with a fraction p of the vocabulary's rows zeroed (and the rest scaled)."""
    if not training or p == 0:
        return embedding(ids)
    weight = embedding.weight
    keep = weight.new_empty(weight.size(0), 1).bernoulli_(1 - p).div_(1 - p)  # (V, 1)
    return F.embedding(ids, weight * keep)


def weight_dropped(lstm: nn.LSTM, x: torch.Tensor, state, p: float, training: bool):
    """lstm(x, state) with dropout on its hidden-to-hidden weights (one single-layer LSTM)."""
    if not training or p == 0:
        return lstm(x, state)
    dropped = F.dropout(lstm.weight_hh_l0, p, training=True)
    return functional_call(lstm, {"weight_hh_l0": dropped}, (x, state))
