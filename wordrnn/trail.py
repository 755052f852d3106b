"""A text's trail: the LSTM state after each word it read, kept flat.

    trail = Trail()
    trail.append(state)            # a copy of a State (per layer (h, c) tensors)
    trail.extend_rows(rows)        # or flat vectors (n, S), as a Worker gets them over the wire
    trail[i]                       # the State after word i, made when asked for
    trail[:10] + other             # Trails again; trail.nbytes: what it keeps
    last = Trail(last_only=True)   # keeps the newest state alone: len(last) is 0 or 1

A page text keeps a state for every word so that it can branch from any of them, but most are
never read. A State is four tensors; made for every word of 64 texts at once, they cost the
app's interpreter more than the rest of a request. A Trail keeps each state as one float32
vector [h0 c0 h1 c1 ...] (wordrnn.wire's layout) and makes its tensors, shaped and placed as
the states it was given, only for the states asked for.

A trail made `last_only` keeps just the newest state: what a text's chart of next words needs.
It holds that state as given, and flattens it only when read: a stream hands it a state every
word, and a copy of each (thrown away at the next word) made an in-process batch of 64 such
streams 30% slower. That is safe because nothing writes to a state once it is made
(wordrnn.batch_states). A model process sends such a trail's state once, when the stream ends,
rather than one state per word per tick (wordrnn.worker); the others can be read again from the
text's words (wordrnn.trace).
"""

from __future__ import annotations

from typing import Iterator, Sequence, overload

import numpy as np
import torch

from wordrnn.model import State
from wordrnn.wire import flatten, unflatten


class Trail(Sequence[State]):
    """States after each word, as flat float32 rows; a Sequence of State."""

    def __init__(self, last_only: bool = False) -> None:
        self.last_only = last_only
        self._rows: list[np.ndarray] = []  # (S,) each
        self._newest: State | None = None  # last_only: the newest state, not flattened yet
        self._sizes: list[tuple[int, int]] | None = None  # per layer (h, c) widths
        self._shape: tuple[int, ...] = ()  # each tensor's leading dimensions, as given
        self._device: torch.device | None = None

    def append(self, state: State) -> None:
        """Keep a copy of `state` (last_only: the state itself, copied when read); the states
        this gives back are shaped and placed like it."""
        self._learn([(h.shape[-1], c.shape[-1]) for h, c in state], tuple(state[0][0].shape[:-1]), state[0][0].device)
        if self.last_only:
            self._rows, self._newest = [], state
        else:
            self._rows.append(flatten(state))

    def extend_rows(self, rows: np.ndarray, sizes: list[tuple[int, int]]) -> None:
        """Keep flat states (n, S) of layers `sizes`: their own copy, as 1-D CPU tensors later."""
        self._learn(sizes, (), torch.device("cpu"))
        if self.last_only:
            self._rows, self._newest = [], None
            rows = rows[-1:]
        self._rows.extend(np.array(rows, np.float32))  # one copy: the rows keep no other array alive

    def _flat(self) -> list[np.ndarray]:
        """The rows, the newest state flattened first if it is waiting."""
        if self._newest is not None:
            self._rows, self._newest = [flatten(self._newest)], None
        return self._rows

    def _learn(self, sizes: list[tuple[int, int]], shape: tuple[int, ...], device: torch.device) -> None:
        if self._sizes is None:
            self._sizes, self._shape, self._device = list(sizes), shape, device

    @property
    def nbytes(self) -> int:
        return sum(row.nbytes for row in self._flat())

    def __len__(self) -> int:
        return len(self._flat())

    @overload
    def __getitem__(self, index: int) -> State: ...

    @overload
    def __getitem__(self, index: slice) -> Trail: ...

    def __getitem__(self, index: int | slice) -> State | Trail:
        if isinstance(index, slice):
            return self._with(self._flat()[index])
        return unflatten(self._flat()[index], self._sizes, self._shape, self._device)[0]

    def __iter__(self) -> Iterator[State]:
        return (self[i] for i in range(len(self)))

    def __add__(self, other: Trail) -> Trail:
        joined = self._with(self._flat() + other._flat())
        if joined._sizes is None:
            joined._sizes, joined._shape, joined._device = other._sizes, other._shape, other._device
        return joined

    def _with(self, rows: list[np.ndarray]) -> Trail:
        trail = Trail()
        trail._rows, trail._sizes, trail._shape, trail._device = rows, self._sizes, self._shape, self._device
        return trail


def keep(trail: list[State] | Trail, state: State) -> None:
    """Add a copy of `state` to a trail: a Trail, or a list of States (the public API's)."""
    if isinstance(trail, Trail):
        trail.append(state)
    else:  # a copy: a stepper's states may be views of its batch arrays
        trail.append([(h.clone(), c.clone()) for h, c in state])


def keep_rows(trail: list[State] | Trail, rows: np.ndarray, sizes: list[tuple[int, int]]) -> None:
    """Add flat states (n, S) to a trail."""
    if isinstance(trail, Trail):
        trail.extend_rows(rows, sizes)
    else:
        trail.extend(unflatten(rows, sizes))
