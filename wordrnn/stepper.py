"""Steppers: advance a WordRNN by one word at a time from the state it carries.

    logits, state = ExactStepper(model).start(prompt_ids)   # (V,), the state after the prompt
    logits, state = stepper.step(word_id, state)             # ExactStepper or FastStepper

`ExactStepper` runs the model's own forward pass, on any device; every prompt goes through it,
in one call. `FastStepper` is the fast CPU path for the steps after the prompt.

At batch size 1 a generation step is a handful of matrix-vector products, so its time is the
time to read the weights: 25 MB in float32 for the default model (embedding 256, LSTM [512, 512],
12k words), more than a CPU cache holds. Here every matrix is int8 with one scale per row (4x
less to read) and is multiplied by `torch._weight_int8pack_mm`, the ATen kernel behind PyTorch's
weight-only int8 quantization, whose activations are bfloat16. A step is also few enough
operations for Python's overhead not to dominate: each LSTM layer computes its four gates in
one product over [input; h] with the biases summed ahead of time, and one sigmoid serves all
four gates (the cell-input rows are doubled, since tanh(x) = 2 sigmoid(2x) - 1).

The kernel rounds its results to bfloat16, which blurs close logits. So a linear output
layer's int8 scores only shortlist words: the `RESCORE` best are scored again in float32 with
the model's own weights, and greedy decoding and top-k (k <= RESCORE) choose from exact logits
given the state; the other words keep approximate ones. An adaptive softmax keeps its head in
float32 and runs its clusters in int8. The int8 weights are copied when a FastStepper is made:
make a new one after training on.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import Iterator

import torch
from torch import nn

from wordrnn.model import State, WordRNN

RESCORE = 64
_ALIGN = 16  # the kernel reads 8 (AVX2) or 16 (AVX-512) inputs at a time and no further

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


class Int8Matrix:
    """W as int8 rows with one bfloat16 scale per row (symmetric, per output channel)."""

    def __init__(self, weight: torch.Tensor) -> None:
        weight = weight.detach().float()
        self.pad = -weight.size(1) % _ALIGN
        weight = nn.functional.pad(weight, (0, self.pad))  # (N, K) with K a multiple of _ALIGN
        # Quantize against the scales as the kernel will see them, rounded to bfloat16.
        self.scale = (weight.abs().amax(1) / 127).clamp(min=1e-12).bfloat16()  # (N,)
        self.weight = (weight / self.scale.float()[:, None]).round().clamp(-127, 127).to(torch.int8)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (1, K) bfloat16 -> x W^T (1, N) bfloat16."""
        if self.pad:
            x = nn.functional.pad(x, (0, self.pad))
        return torch._weight_int8pack_mm(x, self.weight, self.scale)


class FastLayer:
    """One LSTM layer, with its projection if it has one, for one sequence."""

    def __init__(self, lstm: nn.LSTM) -> None:
        weight = torch.cat([lstm.weight_ih_l0, lstm.weight_hh_l0], 1).detach().clone()  # (4H, I + O)
        bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().clone()  # (4H,)
        cell = slice(2 * lstm.hidden_size, 3 * lstm.hidden_size)  # gate order: i, f, g, o
        weight[cell] *= 2  # exact: a power of two only shifts the int8 scale
        bias[cell] *= 2
        self.gates, self.bias = Int8Matrix(weight), bias
        self.project = Int8Matrix(lstm.weight_hr_l0) if lstm.proj_size else None

    def __call__(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x (1, I) and h (1, O) in bfloat16, c (1, H) in float32 -> the new h and c."""
        gates = torch.add(self.gates(torch.cat([x, h], 1)), self.bias).sigmoid_()  # (1, 4H) float32
        i, f, g, o = gates.chunk(4, 1)  # each (1, H); g is (tanh(.) + 1) / 2
        c = torch.addcmul(f * c, i, g, value=2).sub_(i)  # f c + i tanh(.)
        h = (o * c.tanh()).bfloat16()
        return (h if self.project is None else self.project(h)), c


class FastLinear:
    """A linear output layer: int8 scores for every word, the best `RESCORE` in float32."""

    def __init__(self, linear: nn.Linear) -> None:
        self.linear = linear
        self.scores = Int8Matrix(linear.weight)
        self.bias = linear.bias.detach() if linear.bias is not None else torch.zeros(linear.out_features)

    def __call__(self, x: torch.Tensor, top: int | None = None, always: slice = slice(0)) -> torch.Tensor:
        """(1, O) bfloat16 -> logits (V,); the best max(RESCORE, top) and the rows in `always`
        are exact."""
        scores = torch.add(self.scores(x), self.bias)[0]  # (V,) float32
        count = min(max(RESCORE, top or 0), scores.numel())
        best = scores.topk(count).indices  # (R,)
        if always.stop:
            best = torch.cat([best, torch.arange(always.start, always.stop)])
        rows = self.linear.weight.index_select(0, best)  # (R, O)
        scores[best] = torch.addmv(self.bias.index_select(0, best), rows, x[0].float())  # (R,)
        return scores


class FastAdaptive:
    """An adaptive softmax (as nn.AdaptiveLogSoftmaxWithLoss.log_prob) in int8, the head's best
    words and its cluster scores rescored in float32.

    A word of cluster i has log p = log p(cluster i) + log p(word | cluster i) <= log p(cluster i).
    So when the caller needs only the `top` most likely words (greedy: 1, top-k: k) and `top`
    head words already beat log p(cluster i), no word of that cluster can be among them: its
    two matrices are skipped (most steps of greedy decoding) and its words left at -inf."""

    def __init__(self, output: nn.AdaptiveLogSoftmaxWithLoss) -> None:
        self.shortlist = output.shortlist_size
        self.head = FastLinear(output.head)
        self.clusters = slice(self.shortlist, output.head.out_features)  # the cluster scores
        self.cutoffs = output.cutoffs  # [shortlist, ..., V]
        self.tails = [(Int8Matrix(tail[0].weight), Int8Matrix(tail[1].weight)) for tail in output.tail]

    def __call__(self, x: torch.Tensor, top: int | None = None) -> torch.Tensor:
        """(1, O) bfloat16 -> log-probabilities (V,), exact enough for the `top` most likely
        words (None: every word); words of skipped clusters are -inf."""
        head = self.head(x, top, always=self.clusters).log_softmax(-1)  # (shortlist + clusters,)
        threshold = -float("inf")
        if top is not None and top <= self.shortlist:
            threshold = float(head[: self.shortlist].topk(top).values[-1])
        out = torch.full((self.cutoffs[-1],), -float("inf"))  # (V,)
        out[: self.shortlist] = head[: self.shortlist]
        for i, (down, up) in enumerate(self.tails):
            cluster = float(head[self.shortlist + i])
            if cluster > threshold:
                tail = up(down(x)).float().log_softmax(-1)[0]  # (cluster size,)
                out[self.cutoffs[i] : self.cutoffs[i + 1]] = tail + cluster
        return out


class FastStepper:
    """Advances a WordRNN one word at a time on the CPU. `step` takes the model's state (from
    the prompt) or its own, whose h is bfloat16, and returns logits (V,) and its own state."""

    def __init__(self, model: WordRNN) -> None:
        assert self.supports(model), "check FastStepper.supports(model) first"
        self.embedding = model.embedding.weight.detach().bfloat16()  # (V, E)
        self.layers = [FastLayer(lstm) for lstm in model.layers]
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
        x = self.embedding[token].unsqueeze(0)  # (1, E)
        new_state: State = []
        for layer, (h, c) in zip(self.layers, state):
            x, c = layer(x, h.reshape(1, -1).bfloat16(), c.reshape(1, -1))  # (1, O), (1, H)
            new_state.append((x, c))
        if isinstance(self.output, FastAdaptive):
            return self.output(x, top), new_state
        return self.output(x), new_state
