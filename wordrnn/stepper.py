"""Steppers: advance a WordRNN one word at a time, for one stream or B streams at once.

    logits, state = stepper.start(prompt_ids, candidates)   # Logits for the next word, the state
    logits, state = stepper.step(word_id, state, candidates)
    features, states = stepper.advance(words, states)        # B streams: one word each
    logits = stepper.logits(features, candidates)            # a Logits per stream

`candidates` is how many of the most likely words must come out right (Sampler.candidates();
None: all); each `Logits` says what it covers. `ExactStepper` runs the model's own forward pass
on any device. `FastStepper` is the fast CPU path: int8 weights multiplied by compiled loops
(wordrnn.kernels, wordrnn.int8), a lookup table for the first layer's input, and an output layer
that scores exactly only what each sampler can choose from (wordrnn.output). Its weights are
copied when it is made: make a new one after training on.

A stream's numbers do not depend on which other streams share its batch: the fast path's sums
are exact integers, and the exact path steps each stream on its own on the CPU and pads every
batch to the same size on CUDA.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager, nullcontext
from typing import Iterator

import numpy as np
import torch
from torch import nn

from wordrnn.batch_states import NO_BATCH, BatchStates
from wordrnn.model import State, WordRNN
from wordrnn.sampling import Logits

try:  # numba compiles the fast path's loops; without it every step takes the exact path
    from wordrnn import jit, kernels as KERNELS
    from wordrnn.int8 import GEMM_ROWS, FastLayer
    from wordrnn.output import FastAdaptive, FastLinear, FloatOutput
except ImportError as error:  # pragma: no cover - numba is in requirements.txt
    KERNELS = None
    logging.getLogger(__name__).warning("no CPU fast path (%s): pip install numba", error)

log = logging.getLogger(__name__)

# oneDNN's LSTM kernel is slower than PyTorch's own for a single step. Its switch is global
# to the process: exact CPU steps turn it off, one at a time under this lock, and put it
# back, so other threads running torch at that moment run without oneDNN too.
_onednn_switch = threading.Lock()
CUDA_ROWS = 64  # every CUDA batch is padded to this many streams: one kernel shape, one result


class _Stepper:
    """start and step for one stream, on top of a batched advance and logits."""

    def start(self, ids: list[int], candidates: int | None = None) -> tuple[Logits, State]:
        """Logits for the word after `ids` (read one word at a time), and the state after them."""
        state = None
        for token in ids[:-1]:
            _, (state,) = self.advance([token], [state])
        return self.step(ids[-1], state, candidates)

    def step(self, token: int, state: State | None, candidates: int | None = None) -> tuple[Logits, State]:
        """Logits for the word after `token`, and the new state."""
        features, (state,) = self.advance([token], [state])
        return self.logits(features, [candidates])[0], state

    def advance(self, tokens: list[int], states: list[State | None]) -> tuple[object, list[State]]:
        raise NotImplementedError

    def logits(self, features: object, candidates: list[int | None]) -> list[Logits]:
        raise NotImplementedError


class ExactStepper(_Stepper):
    """The model's own forward pass, carrying the LSTM state from word to word."""

    def __init__(self, model: WordRNN) -> None:
        self.model = model
        self.device = next(model.parameters()).device

    def advance(self, tokens: list[int], states: list[State | None]) -> tuple[torch.Tensor, list[State]]:
        """One word per stream -> features (B, O) and each stream's new state."""
        if self.device.type == "cpu":  # no batching: a stream's sums are its own
            pairs = [self._run([t], [s]) for t, s in zip(tokens, states)]
            return torch.cat([f for f, _ in pairs]), [s for _, (s,) in pairs]
        features, new = [], []
        for start in range(0, len(tokens), CUDA_ROWS):
            f, s = self._run(tokens[start : start + CUDA_ROWS], states[start : start + CUDA_ROWS])
            features.append(f)
            new.extend(s)
        return torch.cat(features), new

    def _run(self, tokens: list[int], states: list[State | None]) -> tuple[torch.Tensor, list[State]]:
        rows = len(tokens) if self.device.type == "cpu" else CUDA_ROWS
        ids = torch.zeros(rows, 1, dtype=torch.long, device=self.device)
        ids[: len(tokens), 0] = torch.tensor(tokens, device=self.device)
        blank = self._blank()
        states = [blank if s is None else s for s in states] + [blank] * (rows - len(tokens))
        stacked = [tuple(torch.cat([s[i][j] for s in states], 1) for j in range(2)) for i in range(len(blank))]
        kernels = _without_onednn() if self.device.type == "cpu" else nullcontext()
        with kernels, _evaluating(self.model), torch.inference_mode():
            features, state = self.model.features(ids, stacked)  # (rows, 1, O)
        split = [[(h[:, b : b + 1], c[:, b : b + 1]) for h, c in state] for b in range(len(tokens))]
        return features[: len(tokens), 0], split

    def _blank(self) -> State:
        """The state before any word: zeros, (1, 1, O) and (1, 1, H) per layer."""
        like = next(self.model.parameters())
        return [(like.new_zeros(1, 1, lstm.proj_size or lstm.hidden_size), like.new_zeros(1, 1, lstm.hidden_size))
                for lstm in self.model.layers]

    def logits(self, features: torch.Tensor, candidates: list[int | None]) -> list[Logits]:
        """Every word exact, whatever the candidates."""
        with _evaluating(self.model), torch.inference_mode():
            if self.device.type == "cpu":
                values = [self.model.logits(f[None])[0] for f in features]
            else:
                padded = torch.zeros(-(-len(features) // CUDA_ROWS) * CUDA_ROWS, features.size(1),
                                     device=self.device, dtype=features.dtype)
                padded[: len(features)] = features
                values = list(self.model.logits(padded)[: len(features)])
        return [Logits(v) for v in values]


@contextmanager
def _without_onednn() -> Iterator[None]:
    with _onednn_switch:
        enabled = torch.backends.mkldnn.enabled
        torch.backends.mkldnn.enabled = False
        try:
            yield
        finally:
            torch.backends.mkldnn.enabled = enabled


@contextmanager
def _evaluating(model: torch.nn.Module) -> Iterator[None]:
    """No dropout, then back to the model's mode: training samples from the model mid-run."""
    training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(training)


class FastStepper(_Stepper):
    """Advances a WordRNN on the CPU with int8 weights. Takes the model's states (from
    ExactStepper) or its own (1-D tensors over numpy arrays) and returns its own."""

    def __init__(self, model: WordRNN) -> None:
        assert self.supports(model), "check FastStepper.supports(model) first"
        embedding = model.embedding.weight.detach()  # (V, E)
        self.layers = [FastLayer(lstm, embedding if i == 0 else None) for i, lstm in enumerate(model.layers)]
        self.embedding = None if self.layers[0].table is not None else embedding.float().clone().numpy()
        self.output = (FastLinear if isinstance(model.output, nn.Linear) else FastAdaptive)(model.output)
        self.every = FloatOutput(model.output)  # for candidates None: every word exact
        self._last = NO_BATCH
        # Compile the kernels (or load them from numba's cache) now, not at the first request:
        # one stream, and a batch large enough for the GEMM path.
        if not jit.cached_kernels():
            log.info("compiling the fast CPU kernels, once for this machine (about 20 s; cached in %s)",
                     jit.kernel_cache())
        for candidates in (1, 10, None):
            self.start([0, 0], candidates)
        features, _ = self.advance([0] * GEMM_ROWS, [None] * GEMM_ROWS)
        self.logits(features, [1, 10] * (GEMM_ROWS // 2))

    @staticmethod
    def supports(model: WordRNN) -> bool:
        """Whether `model` can take this path: numba is installed, the model's layers are
        one-way, one-layer LSTMs with biases, its output a linear layer or an adaptive softmax,
        and it is on the CPU."""
        return (
            KERNELS is not None
            and all(p.device.type == "cpu" for p in model.parameters())
            and isinstance(model.output, (nn.Linear, nn.AdaptiveLogSoftmaxWithLoss))
            and all(
                isinstance(m, nn.LSTM) and m.num_layers == 1 and not m.bidirectional and m.bias
                for m in model.layers
            )
        )

    def advance(self, tokens: list[int], states: list[State | None]) -> tuple[np.ndarray, list[State]]:
        """One word per stream -> features (B, O) and each stream's new state (views of this
        step's batch arrays; the states of the step before are gathered from its arrays)."""
        words = np.array(tokens, np.int64)
        x = words if self.embedding is None else self.embedding[words]  # (B,) or (B, E)
        last = self._last  # one read: another thread may make its own call meanwhile
        rows = last.rows(states)
        arrays = []
        for i, layer in enumerate(self.layers):
            h = last.gather(states, rows, i, 0, layer.output_size)  # (B, O)
            c = last.gather(states, rows, i, 1, layer.hidden_size)  # (B, H)
            x, c = layer(x, h, c)  # (B, O), (B, H)
            arrays.append((x, c))
        self._last = BatchStates.made(arrays)
        return x, list(self._last.states)

    def logits(self, features: np.ndarray, candidates: list[int | None]) -> list[Logits]:
        """Each stream's Logits, covering its candidates: rows of one (B, V) array."""
        if not candidates:
            return []
        fast = [b for b, n in enumerate(candidates) if n is not None]
        every = [b for b, n in enumerate(candidates) if n is None]  # top-p: every word exact
        counts = np.array([candidates[b] for b in fast], np.int64)
        if not every:
            scores = self.output(features[fast], counts)  # (B, V)
        elif not fast:
            scores = self.every(features[every])
        else:
            scores = np.empty((len(candidates), self.every.words), np.float32)
            scores[fast], scores[every] = self.output(features[fast], counts), self.every(features[every])
        return [Logits(torch.from_numpy(scores[b]), exact=n, batch=(scores, b)) for b, n in enumerate(candidates)]
