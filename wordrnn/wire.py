"""How the app and its model process talk: pickled messages over a socket pair, and a model
state as one float32 vector (per layer h then c) so that it crosses as a single array."""

from __future__ import annotations

import pickle
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch

from wordrnn.model import State, WordRNN


def ready(conn: Connection) -> Any:
    try:
        return get(conn)
    except (EOFError, OSError):
        return None


# Plain pickle between the two processes: Connection.send's pickler would hand torch tensors
# over as shared-memory handles, which only multiprocessing's own children can open.
def put(conn: Connection, message: Any) -> None:
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def get(conn: Connection) -> Any:
    return pickle.loads(conn.recv_bytes())


def sizes(model: WordRNN) -> list[tuple[int, int]]:
    """(h, c) widths of each layer's state."""
    return [(lstm.proj_size or lstm.hidden_size, lstm.hidden_size) for lstm in model.layers]


def flatten(state: State) -> np.ndarray:
    """A state (per layer (h, c), of any shape) as one float32 vector [h0 c0 h1 c1 ...]."""
    return torch.cat([t.detach().reshape(-1).float().cpu() for pair in state for t in pair]).numpy()


def unflatten(flat: np.ndarray, sizes: list[tuple[int, int]], shape: tuple[int, ...] = (),
               device: torch.device | None = None) -> list[State]:
    """Rows of flat vectors (N, S) back into N states; each tensor (*shape, width)."""
    states = []
    for row in np.atleast_2d(flat):
        state, at = [], 0
        for h, c in sizes:
            pair = torch.from_numpy(row[at : at + h]), torch.from_numpy(row[at + h : at + h + c])
            state.append(tuple(t.reshape(*shape, -1).to(device) if device else t for t in pair))
            at += h + c
        states.append(state)
    return states
