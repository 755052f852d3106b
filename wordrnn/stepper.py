"""Steppers: advance a WordRNN by one word at a time from the state it carries.

    logits, state = stepper.start(prompt_ids)   # (V,), the state after the prompt
    logits, state = stepper.step(word_id, state)  # ExactStepper or FastStepper

`ExactStepper` runs the model's own forward pass, on any device, a prompt in one call.
`FastStepper` is the fast CPU path for the prompt and the steps after it: int8 weights
multiplied by compiled loops (wordrnn/kernels.py), a lookup table for the first layer's input,
and an output layer that computes only what the sampler can choose from (wordrnn/int8.py says
how). Its weights are copied when it is made: make a new one after training on.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager, nullcontext
from typing import Iterator

import numpy as np
import torch
from torch import nn

from wordrnn.model import State, WordRNN

try:  # numba compiles the fast path's loops; without it every step takes the exact path
    from wordrnn import kernels as KERNELS
    from wordrnn.int8 import FastAdaptive, FastLayer, FastLinear
except ImportError as error:  # pragma: no cover - numba is in requirements.txt
    KERNELS = None
    logging.getLogger(__name__).warning("no CPU fast path (%s): pip install numba", error)

# oneDNN's LSTM kernel is 3-4x slower than PyTorch's own for a single step. Its switch is global,
# so exact CPU calls turn it off one at a time and put it back.
_onednn_switch = threading.Lock()


class ExactStepper:
    """The model's own forward pass, carrying the LSTM state from word to word."""

    def __init__(self, model: WordRNN) -> None:
        self.model = model
        self.device = next(model.parameters()).device

    def start(self, ids: list[int], top: int | None = None) -> tuple[torch.Tensor, State]:
        """Logits (V,) for the word after `ids`, and the state after them (all exact)."""
        return self._run(torch.tensor([ids], device=self.device), None)

    def step(self, token: int, state: State, top: int | None = None) -> tuple[torch.Tensor, State]:
        """Logits (V,) for the word after `token`, and the new state; all of them exact (`top`
        is there for the FastStepper's interface)."""
        return self._run(torch.tensor([[token]], device=self.device), state)

    def _run(self, ids: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        kernels = _without_onednn() if self.device.type == "cpu" else nullcontext()
        with kernels, _evaluating(self.model):
            features, state = self.model.features(ids, state)  # (1, T, O)
            return self.model.logits(features[0, -1]), state  # (V,)


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


class FastStepper:
    """Advances a WordRNN one word at a time on the CPU. `step` takes the model's state (from
    the prompt) or its own (1-D tensors over numpy arrays) and returns logits (V,) and its own
    state."""

    def __init__(self, model: WordRNN) -> None:
        assert self.supports(model), "check FastStepper.supports(model) first"
        embedding = model.embedding.weight.detach()  # (V, E)
        self.layers = [FastLayer(lstm, embedding if i == 0 else None) for i, lstm in enumerate(model.layers)]
        self.embedding = None if self.layers[0].table is not None else embedding.float().clone().numpy()
        linear = isinstance(model.output, nn.Linear)
        self.output = FastLinear(model.output) if linear else FastAdaptive(model.output)
        # Compile the kernels (or load them from numba's cache) now, not at the first request.
        self.start([0], top=1)
        self.start([0])

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

    def start(self, ids: list[int], top: int | None = None) -> tuple[torch.Tensor, State]:
        """As ExactStepper.start, one step per word from a blank state; the output layer runs
        after the last word only. A prompt's state costs a step per word either way: this way
        reads int8 weights rather than float32 ones."""
        state: State = [
            (torch.zeros(layer.output_size), torch.zeros(layer.hidden_size))
            for layer in self.layers
        ]
        for token in ids[:-1]:
            _, state = self._layers(token, state)
        return self.step(ids[-1], state, top)

    def step(self, token: int, state: State, top: int | None = None) -> tuple[torch.Tensor, State]:
        """Logits (V,) for the word after `token`, and the new state. With `top`, only the
        `top` most likely words need to be right (see FastAdaptive); the rest may be -inf."""
        x, state = self._layers(token, state)
        return torch.from_numpy(self.output(x, top)), state

    def _layers(self, token: int, state: State) -> tuple[np.ndarray, State]:
        x = token if self.embedding is None else self.embedding[token]  # (E,)
        new_state: State = []
        for layer, (h, c) in zip(self.layers, state):
            x, c = layer(x, _vector(h), _vector(c))  # (O,), (H,)
            new_state.append((torch.from_numpy(x), torch.from_numpy(c)))
        return x, new_state


def _vector(t: torch.Tensor) -> np.ndarray:
    """A state tensor, (1, 1, N) from the model or (N,) from a FastStepper, as a numpy (N,)."""
    return t.numpy() if t.dim() == 1 else t.reshape(-1).float().numpy()
