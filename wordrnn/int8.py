"""The int8 parts of the fast CPU stepper (wordrnn.stepper.FastStepper).

At batch size 1 a generation step is a handful of matrix-vector products, so its time is the
time to read the weights: 25 MB in float32 for the default model (embedding 256, LSTM [512, 512],
12k words), more than a CPU cache holds. Here every matrix is int8 with one scale per row (4x
less to read) and is multiplied by `torch._weight_int8pack_mm`, the ATen kernel behind PyTorch's
weight-only int8 quantization, whose activations are bfloat16. A step is also few enough
operations for Python's overhead not to dominate: each LSTM layer computes its four gates in
one product over [input; h] with the biases summed ahead of time, and one sigmoid serves all
four gates (the cell-input rows are doubled, since tanh(x) = 2 sigmoid(2x) - 1). The first
layer looks its input product up in a (V, 4H) bfloat16 table instead (when that is at most
TABLE_BYTES), a third less of its weights to read.

The kernel rounds its results to bfloat16, which blurs close logits. So a linear output
layer's int8 scores only shortlist words: the `RESCORE` best are scored again in float32 with
the model's own weights, and greedy decoding and top-k (k <= RESCORE) choose from exact logits
given the state; the other words keep approximate ones. For greedy decoding a low-rank sketch
of the output layer does the shortlisting, at a fraction of the cost (see FastLinear). An
adaptive softmax does the same with its head (its cluster scores always rescored) and skips the
clusters that cannot hold a word the sampler could choose (see FastAdaptive).
"""

from __future__ import annotations

import torch
from torch import nn

RESCORE = 64
_ALIGN = 16  # the kernel reads 8 (AVX2) or 16 (AVX-512) inputs at a time and no further
TABLE_BYTES = 64 * 2**20  # the largest first-layer input table (bfloat16, V x 4H) worth its memory
SKETCH_RANK = 128  # rank of the output layer's sketch (FastLinear)
SKETCH_TOP = 8  # the sketch serves callers that need at most this many best words


class Int8Matrix:
    """W as int8 rows with one bfloat16 scale per row (symmetric, per output channel)."""

    def __init__(self, weight: torch.Tensor) -> None:
        weight = weight.detach().float()
        self.pad = -weight.size(1) % _ALIGN
        weight = nn.functional.pad(weight, (0, self.pad))  # (N, K) with K a multiple of _ALIGN
        # Quantize against the scales as the kernel will see them, rounded to bfloat16.
        self.scale = (weight.abs().amax(1) / 127).clamp(min=1e-12).bfloat16()  # (N,)
        self.weight = (weight / self.scale.float()[:, None]).round().clamp(-127, 127).to(torch.int8).contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (1, K) bfloat16 -> x W^T (1, N) bfloat16."""
        if self.pad:
            x = nn.functional.pad(x, (0, self.pad))
        return torch._weight_int8pack_mm(x, self.weight, self.scale)


class FastLayer:
    """One LSTM layer, with its projection if it has one, for one sequence. Given the embedding
    (first layer only), W_ih e(word) + b is looked up rather than multiplied: it depends on the
    word alone, and a table row is less to read than the input columns of W_ih."""

    def __init__(self, lstm: nn.LSTM, embedding: torch.Tensor | None = None) -> None:
        weight = torch.cat([lstm.weight_ih_l0, lstm.weight_hh_l0], 1).detach().clone()  # (4H, I + O)
        bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().clone()  # (4H,)
        cell = slice(2 * lstm.hidden_size, 3 * lstm.hidden_size)  # gate order: i, f, g, o
        weight[cell] *= 2  # exact: a power of two only shifts the int8 scale
        bias[cell] *= 2
        self.table = None
        if embedding is not None and embedding.size(0) * weight.size(0) * 2 <= TABLE_BYTES:
            inputs = lstm.input_size
            self.table = torch.addmm(bias, embedding.detach(), weight[:, :inputs].t()).bfloat16()  # (V, 4H)
            weight = weight[:, inputs:]
        self.gates, self.bias = Int8Matrix(weight), bias
        self.project = Int8Matrix(lstm.weight_hr_l0) if lstm.proj_size else None

    def __call__(self, x: torch.Tensor | int, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x (1, I) bfloat16, or the word id if the layer has a table; h (1, O) bfloat16 and
        c (1, H) float32 -> the new h and c."""
        if self.table is None:
            gates = torch.add(self.gates(torch.cat([x, h], 1)), self.bias)  # (1, 4H) float32
        else:
            gates = self.table[x : x + 1].float().add_(self.gates(h))  # (1, 4H)
        i, f, g, o = gates.sigmoid_().chunk(4, 1)  # each (1, H); g is (tanh(.) + 1) / 2
        c = torch.addcmul(f * c, i, g, value=2).sub_(i)  # f c + i tanh(.)
        h = (o * c.tanh()).bfloat16()
        return (h if self.project is None else self.project(h)), c


class FastLinear:
    """A linear output layer: approximate scores for every word, the best `RESCORE` (and the
    `always` rows) again in float32.

    The approximate scores come from the int8 matrix, or, when the caller needs only the few
    best words (greedy decoding), from a rank-`SKETCH_RANK` sketch of it (the truncated SVD, in
    int8): a third of the weights to read for the default model's head. Measured on that head
    over 6,000 test positions, the exact best word was among the sketch's 64 best at 99.98% of
    them (rank 64: 99.5%). On the sketch's path the words it does not shortlist are -inf."""

    def __init__(self, linear: nn.Linear, always: list[int] = ()) -> None:
        self.weight = linear.weight.detach()
        self.bias = linear.bias.detach() if linear.bias is not None else None
        self.scores = Int8Matrix(linear.weight)
        self.always = torch.tensor(always, dtype=torch.long)  # rows rescored at every call
        self.sketch = None
        words, width = self.weight.shape
        if SKETCH_RANK * (words + width) * 2 <= words * width:  # half the bytes or less
            u, s, vh = torch.linalg.svd(self.weight.float(), full_matrices=False)
            self.sketch = (Int8Matrix(vh[:SKETCH_RANK]), Int8Matrix(u[:, :SKETCH_RANK] * s[:SKETCH_RANK]))

    def __call__(self, x: torch.Tensor, top: int | None = None) -> torch.Tensor:
        """(1, O) bfloat16 -> logits (V,); the best max(RESCORE, top) rows and the `always`
        rows are exact."""
        sketching = self.sketch is not None and top is not None and top <= SKETCH_TOP
        if sketching:
            down, up = self.sketch
            approximate = up(down(x))[0].float()  # (V,)
        else:
            approximate = self.scores(x)[0].float()  # (V,)
        if self.bias is not None:
            approximate += self.bias
        best = approximate.topk(min(max(RESCORE, top or 0), approximate.numel())).indices  # (R,)
        if self.always.numel():
            best = torch.cat([best, self.always])
        scores = torch.full_like(approximate, -float("inf")) if sketching else approximate
        exact = torch.mv(self.weight.index_select(0, best), x[0].float())  # (R,)
        scores[best] = exact if self.bias is None else exact.add_(self.bias.index_select(0, best))
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
        self.head = FastLinear(output.head, always=list(range(self.shortlist, output.head.out_features)))
        self.tails = [(Int8Matrix(tail[0].weight), Int8Matrix(tail[1].weight)) for tail in output.tail]
        sizes = [b - a for a, b in zip(output.cutoffs, output.cutoffs[1:])]
        self.skipped = [torch.full((n,), -float("inf")) for n in sizes]  # a cluster left out

    def __call__(self, x: torch.Tensor, top: int | None = None) -> torch.Tensor:
        """(1, O) bfloat16 -> log-probabilities (V,), exact enough for the `top` most likely
        words (None: every word); words of skipped clusters are -inf. On the head's sketch path
        they are normalized over the shortlisted words only: all shifted by one constant, which
        no choice among the `top` depends on."""
        head = self.head(x, top).log_softmax(-1)  # (shortlist + clusters,)
        words, clusters = head[: self.shortlist], head[self.shortlist :].tolist()
        threshold = -float("inf")
        if top is not None and top <= self.shortlist:
            threshold = float(words.topk(top).values[-1])
        parts = [words]
        for (down, up), cluster, skipped in zip(self.tails, clusters, self.skipped):
            if cluster > threshold:
                parts.append(up(down(x))[0].float().log_softmax(-1).add_(cluster))
            else:
                parts.append(skipped)
        return torch.cat(parts)  # (V,)
