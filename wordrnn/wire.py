"""How the app and its model process talk: one frame per message over a socket pair, JSON for
the structure and raw bytes for the arrays in it, so nothing on the wire can run code (no
pickle: wordrnn never unpickles). A model state crosses as one float32 vector (per layer h then
c), a sampler as its settings, what it has read, its generator's state and unused draws.

    frame = [4-byte header length][JSON header: {"message": ..., "arrays": [[dtype, shape], ...]}]
            [array 0 bytes][array 1 bytes] ...       (an array in the message: {"__array__": i})
"""

from __future__ import annotations

import json
import struct
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch

from wordrnn.batch_states import vector
from wordrnn.model import State, WordRNN
from wordrnn.sampling import Sampler

_ARRAY = "__array__"
_HEAD = struct.Struct("<I")


def put(conn: Connection, message: Any) -> None:
    """Send `message`: JSON-like values (tuples go as lists) and numpy arrays."""
    arrays: list[np.ndarray] = []
    body = _encode(message, arrays)
    header = json.dumps({"message": body, "arrays": [[a.dtype.str, list(a.shape)] for a in arrays]}).encode()
    conn.send_bytes(b"".join([_HEAD.pack(len(header)), header, *(np.ascontiguousarray(a).tobytes() for a in arrays)]))


def get(conn: Connection) -> Any:
    """The next message `put` sent (its tuples as lists, its arrays as writable numpy arrays)."""
    frame = memoryview(conn.recv_bytes())
    (length,) = _HEAD.unpack(frame[: _HEAD.size])
    header = json.loads(bytes(frame[_HEAD.size : _HEAD.size + length]))
    arrays, at = [], _HEAD.size + length
    for dtype, shape in header["arrays"]:
        size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        arrays.append(np.frombuffer(frame[at : at + size], dtype=dtype).reshape(shape).copy())
        at += size
    return _decode(header["message"], arrays)


def ready(conn: Connection) -> Any:
    """The model process's first answer, or None if it ended first."""
    try:
        return get(conn)
    except (EOFError, OSError, ValueError):
        return None


def _encode(value: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return {_ARRAY: len(arrays) - 1}
    if isinstance(value, (list, tuple)):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v, arrays) for k, v in value.items()}
    return value


def _decode(value: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(value, dict):
        return arrays[value[_ARRAY]] if _ARRAY in value else {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


def sampler_out(sampler: Sampler) -> dict[str, Any]:
    """A sampler as a message: its settings, the words it has read, its generator's state and
    the draws it has made from it but not used yet."""
    ngrams = sampler.ngrams
    return dict(mode=sampler.mode, k=sampler.k, temperature=sampler.temperature, top_p=sampler.top_p,
                no_repeat_ngram=ngrams.n if ngrams else 0, never=sampler.refused_ids,
                read=list(ngrams.history) if ngrams else [], rng=sampler.generator.get_state().numpy(),
                noise=sampler.noise)


def sampler_in(data: dict[str, Any]) -> Sampler:
    """The sampler `sampler_out` described: it draws the same words."""
    sampler = Sampler(data["mode"], data["k"], data["temperature"], data["top_p"], 0, data["no_repeat_ngram"],
                      never=data["never"])
    sampler.generator.set_state(torch.from_numpy(data["rng"]))
    sampler.noise = data["noise"]
    sampler.observe(data["read"])
    return sampler


def sizes(model: WordRNN) -> list[tuple[int, int]]:
    """(h, c) widths of each layer's state."""
    return [(lstm.proj_size or lstm.hidden_size, lstm.hidden_size) for lstm in model.layers]


def flatten(state: State) -> np.ndarray:
    """A state (per layer (h, c), of any shape) as one float32 vector [h0 c0 h1 c1 ...], a copy."""
    return flatten_all([state])[0]


def flatten_all(states: list[State]) -> np.ndarray:
    """States (per layer (h, c), all alike) as rows of one new float32 array (N, S)."""
    parts = [np.stack([vector(state[i][j]) for state in states]) for i in range(len(states[0])) for j in (0, 1)]
    return np.concatenate(parts, 1)  # (N, S)


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
