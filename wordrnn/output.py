"""The fast stepper's output layers, for B streams at once, each with its own `candidates`
(how many of its most likely words must be right; see wordrnn.sampling.Logits).

A linear layer's int8 scores (or, for streams with few candidates, its low-rank sketch's)
shortlist each stream's best words, which are scored again in float32 (FastLinear). An adaptive
softmax does the same with its head and computes a cluster only for the streams whose
candidates it could hold (FastAdaptive). Streams with candidates None are not served here:
FloatOutput is the model's own output layer in float32 for them, every word exact.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from wordrnn import score_kernels
from wordrnn.int8 import RESCORE, SKETCH_RANK, SKETCH_TOP, Int8Matrix, _array


class FastLinear:
    """A linear output layer: approximate scores for every word, each stream's best
    max(RESCORE, candidates) (and the `always` rows) again in float32.

    The approximate scores come from the int8 matrix, or, for a stream with at most SKETCH_TOP
    candidates, from a rank-SKETCH_RANK sketch of it (the truncated SVD, in int8): less to
    read. On the sketch's path the words it does not shortlist are -inf."""

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

    def __call__(self, x: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """x (B, O), candidates (B,) -> scores (B, V)."""
        sketching = (candidates <= SKETCH_TOP) if self.sketch is not None else np.zeros(len(x), bool)
        approximate = np.empty((len(x), len(self.bias)), np.float32)
        if sketching.any():
            down, up = self.sketch
            approximate[sketching] = up(down(x[sketching]))
        if not sketching.all():
            approximate[~sketching] = self.scores(x[~sketching])
        approximate += self.bias
        others = np.where(sketching, -np.inf, np.nan).astype(np.float32)  # NaN: keep the int8 scores
        counts = np.maximum(candidates, RESCORE)
        return score_kernels.rescored(approximate, self.weight, self.bias, x, counts, self.always, others)


class FastAdaptive:
    """An adaptive softmax (as nn.AdaptiveLogSoftmaxWithLoss.log_prob) in int8, the head's best
    words and its cluster scores rescored in float32.

    A word of cluster i has log p = log p(cluster i) + log p(word | cluster i) <= log p(cluster i).
    So when a stream's candidates many head words already beat log p(cluster i), no word of that
    cluster can be among its candidates: the cluster is not computed for it, its words -inf."""

    def __init__(self, output: nn.AdaptiveLogSoftmaxWithLoss) -> None:
        self.shortlist = output.shortlist_size
        self.head = FastLinear(output.head, always=list(range(self.shortlist, output.head.out_features)))
        self.tails = [(Int8Matrix(tail[0].weight), Int8Matrix(tail[1].weight)) for tail in output.tail]
        self.words = self.shortlist + sum(up.weight.shape[0] for _, up in self.tails)

    def __call__(self, x: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """x (B, O), candidates (B,) -> log-probabilities (B, V); words of skipped clusters are
        -inf. On the head's sketch path they are normalized over the shortlisted words only: all
        shifted by one constant, which no choice among the candidates depends on."""
        head = score_kernels.log_softmax(self.head(x, candidates))  # (B, shortlist + clusters)
        out = np.full((len(x), self.words), -np.inf, np.float32)
        out[:, : self.shortlist] = head[:, : self.shortlist]
        threshold = score_kernels.thresholds(head, self.shortlist, candidates)  # (B,)
        start = self.shortlist
        for i, (down, up) in enumerate(self.tails):
            cluster = head[:, self.shortlist + i]  # (B,)
            rows = np.flatnonzero(cluster > threshold)
            size = up.weight.shape[0]
            if len(rows):
                inner = score_kernels.log_softmax(up(down(x[rows])))  # (R, size)
                out[rows, start : start + size] = inner + cluster[rows, None]
            start += size
        return out


class FloatOutput:
    """The model's output layer (nn.Linear or an adaptive softmax) in float32, for every word:
    logits, or the adaptive softmax's log-probabilities, as WordRNN.logits gives them (to
    float32 rounding). For B streams in one pass over the weights, yet each row's numbers are
    its own (score_kernels.float_products): top-p reads these."""

    def __init__(self, output: nn.Linear | nn.AdaptiveLogSoftmaxWithLoss) -> None:
        adaptive = isinstance(output, nn.AdaptiveLogSoftmaxWithLoss)
        head = output.head if adaptive else output
        self.head, self.head_words = _padded(head.weight), head.weight.shape[0]  # (W, O)
        self.bias = _array(head.bias) if head.bias is not None else None
        self.shortlist = output.shortlist_size if adaptive else None
        self.tails = [(_padded(down.weight), down.weight.shape[0], _padded(up.weight), up.weight.shape[0])
                      for down, up in output.tail] if adaptive else []
        self.words = self.head_words if not adaptive else self.shortlist + sum(t[3] for t in self.tails)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x (B, O) -> (B, V)."""
        head = _products(self.head, x)[: len(x)]  # (B, W padded)
        if self.bias is not None:
            head[:, : self.head_words] += self.bias
        if self.shortlist is None:
            return np.ascontiguousarray(head[:, : self.head_words])
        # Each part's log-softmax goes straight to its columns of the output, the same bits as
        # log_softmax on copies, then concatenated: those copies were a seventh of this call at
        # 64 streams (tests/test_kernels.py).
        lp = np.empty((len(x), self.head_words), np.float32)  # the head's log-probabilities
        score_kernels.log_softmax_into(head, self.head_words, lp, 0, np.zeros(len(x), np.float32))
        out = np.empty((len(x), self.words), np.float32)
        out[:, : self.shortlist] = lp[:, : self.shortlist]
        start = self.shortlist
        for i, (down, inner, up, size) in enumerate(self.tails):
            hidden = _products(down, x)[:, :inner]  # (B padded, inner)
            cluster = _products(up, hidden)  # (B padded, cluster size padded)
            score_kernels.log_softmax_into(cluster, size, out, start, np.ascontiguousarray(lp[:, self.shortlist + i]))
            start += size
        return out


def _padded(weight: torch.Tensor) -> np.ndarray:
    """A float32 copy with zero rows up to a multiple of 4 (score_kernels.float_products)."""
    rows = -(-len(weight) // 4) * 4
    out = np.zeros((rows, weight.shape[1]), np.float32)
    out[: len(weight)] = _array(weight)
    return out


def _products(weight: np.ndarray, x: np.ndarray) -> np.ndarray:
    """x (B, K) times a _padded weight (W, K): (B, W), both padded to multiples of 4 (their
    padding rows and columns are not the product's)."""
    streams = -(-len(x) // 4) * 4
    if streams != len(x) or not x.flags.c_contiguous:
        padded = np.zeros((streams, x.shape[1]), np.float32)
        padded[: len(x)] = x
        x = padded
    out = np.empty((streams, len(weight)), np.float32)
    score_kernels.float_products(weight, x, out)
    return out
