"""Steppers: advance a WordRNN by one word at a time from the state it carries.

    logits, state = ExactStepper(model).start(prompt_ids)   # (V,), the state after the prompt
    logits, state = stepper.step(word_id, state)             # ExactStepper or FastStepper

`ExactStepper` runs the model's own forward pass, on any device; every prompt goes through it,
in one call. `FastStepper` is the fast CPU path for the steps after the prompt: int8 weights,
a lookup table for the first layer's input, and an output layer that computes only what the
sampler can choose from (wordrnn/int8.py says how). Its int8 weights are copied when it is
made: make a new one after training on.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import Iterator

import torch
from torch import nn

from wordrnn.int8 import FastAdaptive, FastLayer, FastLinear
from wordrnn.model import State, WordRNN

# oneDNN's LSTM kernel is 3-4x slower than PyTorch's own for a single step. Its switch is global,
# so exact CPU calls turn it off one at a time and put it back.
_onednn_switch = threading.Lock()


class ExactStepper:
    """The model's own forward pass, carrying the LSTM state from word to word."""

    def __init__(self, model: WordRNN) -> None:
        self.model = model
        self.device = next(model.parameters()).device

    def start(self, ids: list[int]) -> tuple[torch.Tensor, State]:
        """Logits (V,) for the word after `ids`, and the state after them."""
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
    the prompt) or its own, whose h is bfloat16, and returns logits (V,) and its own state."""

    def __init__(self, model: WordRNN) -> None:
        assert self.supports(model), "check FastStepper.supports(model) first"
        embedding = model.embedding.weight.detach()  # (V, E)
        self.layers = [FastLayer(lstm, embedding if i == 0 else None) for i, lstm in enumerate(model.layers)]
        self.embedding = None if self.layers[0].table is not None else embedding.bfloat16()
        linear = isinstance(model.output, nn.Linear)
        self.output = FastLinear(model.output) if linear else FastAdaptive(model.output)

    @staticmethod
    def supports(model: WordRNN) -> bool:
        """Whether `model` can take this path: its layers are one-way, one-layer LSTMs with
        biases, its output a linear layer or an adaptive softmax, it is on the CPU, and this
        PyTorch has the int8 kernel."""
        return (
            hasattr(torch, "_weight_int8pack_mm")
            and all(p.device.type == "cpu" for p in model.parameters())
            and isinstance(model.output, (nn.Linear, nn.AdaptiveLogSoftmaxWithLoss))
            and all(
                isinstance(m, nn.LSTM) and m.num_layers == 1 and not m.bidirectional and m.bias
                for m in model.layers
            )
        )

    def step(self, token: int, state: State, top: int | None = None) -> tuple[torch.Tensor, State]:
        """Logits (V,) for the word after `token`, and the new state. With `top`, only the
        `top` most likely words need to be right (see FastAdaptive); the rest may be -inf."""
        x = token if self.embedding is None else self.embedding[token].unsqueeze(0)  # (1, E)
        new_state: State = []
        for layer, (h, c) in zip(self.layers, state):
            x, c = layer(x, h.reshape(1, -1).bfloat16(), c.reshape(1, -1))  # (1, O), (1, H)
            new_state.append((x, c))
        return self.output(x, top), new_state
