"""The int8 parts of the fast CPU stepper (wordrnn.stepper.FastStepper).

At batch size 1 a generation step is a handful of matrix-vector products, so its time is the
time to read the weights: 25 MB in float32 for the default model (embedding 256, LSTM [512, 512],
12k words), more than a CPU cache holds. Here every matrix is int8 with one scale per row (4x
less to read), multiplied by the compiled loops of wordrnn.kernels with float32 inputs and
sums. Each LSTM layer computes its four gates in one product over [input; h] with the biases
summed ahead of time, in one call with the cell update. The first layer looks its input product
up in a (V, 4H) bfloat16 table instead (when that is at most TABLE_BYTES), a third less of its
weights to read.

int8 weights blur close logits. So a linear output layer's int8 scores only shortlist words: the
`RESCORE` best are scored again in float32 with the model's own weights, and greedy decoding
and top-k (k <= RESCORE) choose from exact logits given the state; the other words keep
approximate ones. For greedy decoding a low-rank sketch of the output layer does the
shortlisting, at a fraction of the cost (see FastLinear). An adaptive softmax does the same with
its head (its cluster scores always rescored) and skips the clusters that cannot hold a word the
sampler could choose (see FastAdaptive). Vectors here are 1-D float32 numpy arrays.
"""

from __future__ import annotations

import threading

import numpy as np
import torch
from torch import nn

from wordrnn import kernels

RESCORE = 64
TABLE_BYTES = 64 * 2**20  # the largest first-layer input table (bfloat16, V x 4H) worth its memory
SKETCH_RANK = 128  # rank of the output layer's sketch (FastLinear)
SKETCH_TOP = 8  # the sketch serves callers that need at most this many best words
PARALLEL_BYTES = 2**19  # smaller matrices take less time than handing work to a second thread
_parallel = threading.Lock()


def _array(tensor: torch.Tensor) -> np.ndarray:
    """A float32 copy: later training steps must not change what a stepper computes."""
    return tensor.detach().float().clone().contiguous().numpy()


class Int8Matrix:
    """W as int8 rows with one float32 scale per row (symmetric, per output channel)."""

    def __init__(self, weight: torch.Tensor) -> None:
        weight = weight.detach().float()
        scale = (weight.abs().amax(1) / 127).clamp(min=1e-12)  # (N,)
        # Row-major whatever the source's layout (an SVD factor may be column-major): the kernel
        # reads one row at a time.
        quantized = (weight / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
        self.weight = quantized.contiguous().numpy()  # (N, K)
        self.scale = scale.numpy()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x (K,) -> W x (N,), on torch.get_num_threads() threads if W is large."""
        threads = torch.get_num_threads() if self.weight.size >= PARALLEL_BYTES else 1
        if threads == 1:
            return kernels.matvec(self.weight, self.scale, x)
        with _parallel:  # numba's fallback thread pool (no OpenMP or TBB) takes one caller at a time
            return kernels.matvec_parallel(self.weight, self.scale, x, threads)


class FastLayer:
    """One LSTM layer, with its projection if it has one, for one sequence. Given the embedding
    (first layer only), W_ih e(word) + b is looked up rather than multiplied: it depends on the
    word alone, and a table row is less to read than the input columns of W_ih."""

    def __init__(self, lstm: nn.LSTM, embedding: torch.Tensor | None = None) -> None:
        weight = torch.cat([lstm.weight_ih_l0, lstm.weight_hh_l0], 1).detach()  # (4H, I + O)
        bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()  # (4H,)
        self.output_size, self.hidden_size = lstm.proj_size or lstm.hidden_size, lstm.hidden_size
        self.table = None
        if embedding is not None and embedding.size(0) * weight.size(0) * 2 <= TABLE_BYTES:
            inputs = lstm.input_size
            table = torch.addmm(bias, embedding.detach(), weight[:, :inputs].t()).bfloat16()  # (V, 4H)
            self.table = table.view(torch.int16).numpy().view(np.uint16)  # numpy has no bfloat16
            weight = weight[:, inputs:]
        self.gates, self.bias = Int8Matrix(weight), _array(bias)
        self.project = Int8Matrix(lstm.weight_hr_l0) if lstm.proj_size else None

    def __call__(self, x: np.ndarray | int, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x (I,), or the word id if the layer has a table; h (O,) and c (H,) -> the new h, c."""
        if self.table is None:
            h, c = kernels.lstm_cell(self.gates(np.concatenate([x, h])), self.bias, c)
        else:
            h, c = kernels.lstm_cell_table(self.gates(h), self.table, x, c)
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
        weight = linear.weight.detach().float()
        self.weight = _array(weight)  # (V, O)
        self.bias = _array(linear.bias) if linear.bias is not None else np.zeros(len(weight), np.float32)
        self.scores = Int8Matrix(weight)
        self.always = np.array(always, dtype=np.int64)  # rows rescored at every call
        self.sketch = None
        words, width = weight.shape
        if SKETCH_RANK * (words + width) * 2 <= words * width:  # half the bytes or less
            u, s, vh = torch.linalg.svd(weight, full_matrices=False)
            self.sketch = (Int8Matrix(vh[:SKETCH_RANK]), Int8Matrix(u[:, :SKETCH_RANK] * s[:SKETCH_RANK]))

    def __call__(self, x: np.ndarray, top: int | None = None) -> np.ndarray:
        """(O,) -> logits (V,); the best max(RESCORE, top) rows and the `always` rows are exact."""
        sketching = self.sketch is not None and top is not None and top <= SKETCH_TOP
        if sketching:
            down, up = self.sketch
            approximate = kernels.sketch_scores(down.weight, down.scale, up.weight, up.scale, self.bias, x)
        else:
            approximate = self.scores(x) + self.bias  # (V,)
        others = -np.inf if sketching else np.nan  # NaN: keep the int8 scores
        count = max(RESCORE, top or 0)
        return kernels.rescored(approximate, self.weight, self.bias, x, count, self.always, others)


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
        downs = [Int8Matrix(tail[0].weight) for tail in output.tail]
        ups = [Int8Matrix(tail[1].weight) for tail in output.tail]
        # Tuples, which the kernel takes as its own (a list would be copied at every call).
        self.tails = (tuple(m.weight for m in downs), tuple(m.scale for m in downs),
                      tuple(m.weight for m in ups), tuple(m.scale for m in ups))

    def __call__(self, x: np.ndarray, top: int | None = None) -> np.ndarray:
        """(O,) -> log-probabilities (V,), exact enough for the `top` most likely words (None:
        every word); words of skipped clusters are -inf. On the head's sketch path they are
        normalized over the shortlisted words only: all shifted by one constant, which no
        choice among the `top` depends on."""
        head = self.head(x, top)  # (shortlist + clusters,)
        return kernels.adaptive_log_probs(head, self.shortlist, x, *self.tails, top or 0)  # (V,)
