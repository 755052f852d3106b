"""Batch states: the per-stream LSTM states of a FastStepper's step, kept as its batch arrays.

A scheduler hands the states one tick made straight back to the next, in nearly the same
order. Stacking them stream by stream (and splitting the result back into 4 tensors per
stream) was about 500 numpy and torch calls a tick at 64 streams. `BatchStates` remembers the
last batch: a state it made is a row of its arrays, gathered in one step; any other state (the
exact model's, a branch's, an older one) is copied from its own tensors.

    batch = BatchStates.made(arrays)            # arrays: per layer (h (B, O), c (B, H))
    batch.states[b]                             # stream b's State: views of the arrays' rows
    rows = batch.rows(states)                   # for any list of states: -1 where not made here
    h = batch.gather(states, rows, layer=0, part=0, size=O)   # (B', O)
"""

from __future__ import annotations

import numpy as np
import torch

from wordrnn.model import State


class BatchStates:
    """The states of one step and the arrays they are views of. Nothing writes to the arrays
    after the step that made them, so a state's row there is its value."""

    def __init__(self, states: list[State], arrays: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.states, self.arrays = states, arrays
        self._rows = {id(s): b for b, s in enumerate(states)}  # id(state) -> its row

    @classmethod
    def made(cls, arrays: list[tuple[np.ndarray, np.ndarray]]) -> "BatchStates":
        """Per-stream states over per-layer (h, c) arrays: one `unbind` per array."""
        per_layer = [list(zip(torch.from_numpy(h).unbind(0), torch.from_numpy(c).unbind(0))) for h, c in arrays]
        return cls([list(layers) for layers in zip(*per_layer)], arrays)

    def rows(self, states: list[State | None]) -> np.ndarray:
        """(B,) the row of each state in this batch, -1 for states it did not make."""
        rows = np.array([self._rows.get(id(s), -1) if s is not None else -1 for s in states], np.int64)
        for b in np.flatnonzero(rows >= 0):
            if self.states[rows[b]] is not states[b]:  # an id reused by a newer object
                rows[b] = -1
        return rows

    def gather(self, states: list[State | None], rows: np.ndarray, layer: int, part: int, size: int) -> np.ndarray:
        """(B, size) float32: h (part 0) or c (part 1) of `layer` for every state; `rows` from
        `rows(states)`. Zeros for None (a stream's first word)."""
        known = rows >= 0
        if known.all():
            return self.arrays[layer][part][rows]
        out = np.zeros((len(states), size), np.float32)
        if known.any():
            out[known] = self.arrays[layer][part][rows[known]]
        for b in np.flatnonzero(~known):
            if states[b] is not None:
                out[b] = vector(states[b][layer][part])
        return out


NO_BATCH = BatchStates([], [])


def vector(t: torch.Tensor) -> np.ndarray:
    """A state tensor, (1, 1, N) from the model (any device or dtype) or (N,) from a FastStepper,
    as a float32 numpy (N,): the FastStepper's as it is, without a copy."""
    if t.dim() == 1 and t.dtype == torch.float32 and t.device.type == "cpu":
        return t.numpy()
    return t.detach().reshape(-1).float().cpu().numpy()
