"""Compiled loops (numba) of the fast CPU stepper: a matrix-vector product, an LSTM cell update,
the output layer's shortlist, each in one call.

At batch size 1 a step is a few matrix-vector products on less than 4 MB of int8 weights, and
PyTorch spends as long dispatching its ~40 small operations as multiplying. Here each layer is
one product and one cell update: the int8 rows are widened to float32 and multiplied with a
float32 input, so the only rounding is the weights' own (one scale per row). The functions
release the GIL, so two app requests step in parallel on two cores. Compiled on
first use and cached on disk (numba's cache), so later processes start at once.

    out = matvec(weight, scale, x)             # (N,) = (weight (N, K) int8 * scale) @ x (K,)
    out = matvec_parallel(weight, scale, x, 2) # the same on two threads
    h, c = lstm_cell(gates, pre, c)            # the cell update, pre = W_ih e + b or the bias
"""

from __future__ import annotations

import os
import sys

import numpy as np


def _wide_vectors() -> None:
    """Let LLVM use 512-bit vectors where the CPU has them: its tuning for many AVX-512 CPUs
    prefers 256-bit ones, which makes the int8 products here about 25% slower. Only if the user
    has not chosen a CPU target for numba, and only before numba is first imported."""
    if "numba" in sys.modules or "NUMBA_CPU_NAME" in os.environ:
        return
    import llvmlite.binding as llvm

    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # a host LLVM cannot describe: numba's defaults
        return
    if "+avx512f" in features.split(","):
        os.environ["NUMBA_CPU_NAME"] = llvm.get_host_cpu_name()
        os.environ["NUMBA_CPU_FEATURES"] = features + ",-prefer-256-bit"


_wide_vectors()

from numba import njit, prange  # noqa: E402 (after the CPU target is chosen)

# Fast math that may reorder sums (for SIMD) but keeps inf and NaN: skipped words are -inf.
_JIT = dict(nogil=True, fastmath={"reassoc", "contract", "nsz", "arcp", "afn"}, cache=True,
            error_model="numpy")
_CLAMP = np.float32(7.90531110763549805)  # tanh is 1 - 2e-7 there: float32 cannot tell further


@njit(**_JIT)
def _tanh(x):
    """tanh as a rational function (Eigen's float tanh, within a few float32 ulps). Unlike a
    libm call it vectorizes, which makes the gates 5x faster."""
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = x2 * np.float32(-2.76076847742355e-16) + np.float32(2.00018790482477e-13)
    p = x2 * p + np.float32(-8.60467152213735e-11)
    p = x2 * p + np.float32(5.12229709037114e-08)
    p = x2 * p + np.float32(1.48572235717979e-05)
    p = x2 * p + np.float32(6.37261928875436e-04)
    p = x2 * p + np.float32(4.89352455891786e-03)
    q = x2 * np.float32(1.19825839466702e-06) + np.float32(1.18534705686654e-04)
    q = x2 * q + np.float32(2.26843463243900e-03)
    q = x2 * q + np.float32(4.89352518554385e-03)
    return x * p / q


@njit(**_JIT)
def _sigmoid(x):
    return np.float32(0.5) * _tanh(np.float32(0.5) * x) + np.float32(0.5)


@njit(**_JIT)
def _rows_into(weight, scale, x, out, start, stop):
    for n in range(start, stop):
        row = weight[n]
        acc = np.float32(0.0)
        for k in range(row.shape[0]):
            acc += np.float32(row[k]) * x[k]
        out[n] = acc * scale[n]


@njit(**_JIT)
def matvec(weight, scale, x):
    """(weight (N, K) int8 with one scale per row) @ x (K,) float32 -> (N,) float32."""
    out = np.empty(weight.shape[0], np.float32)
    _rows_into(weight, scale, x, out, 0, weight.shape[0])
    return out


@njit(parallel=True, **_JIT)
def matvec_parallel(weight, scale, x, chunks):
    """matvec with the rows in `chunks` contiguous blocks, one per thread: the same rows go to
    the same core at every step, so a matrix larger than one core's L2 cache stays cached."""
    rows = weight.shape[0]
    out = np.empty(rows, np.float32)
    for chunk in prange(chunks):
        _rows_into(weight, scale, x, out, chunk * rows // chunks, (chunk + 1) * rows // chunks)
    return out


@njit(**_JIT)
def lstm_cell(gates, pre, c):
    """One LSTM cell update from gates = W [x; h] (4H,) in PyTorch's order (i, f, g, o), plus
    pre (4H,) (the bias, or the first layer's table row); c (H,). Returns the new h and c."""
    size = c.shape[0]
    h, c_new = np.empty(size, np.float32), np.empty(size, np.float32)
    for j in range(size):
        i = _sigmoid(gates[j] + pre[j])
        f = _sigmoid(gates[size + j] + pre[size + j])
        g = _tanh(gates[2 * size + j] + pre[2 * size + j])
        o = _sigmoid(gates[3 * size + j] + pre[3 * size + j])
        c_new[j] = f * c[j] + i * g
        h[j] = o * _tanh(c_new[j])
    return h, c_new


@njit(**_JIT)
def lstm_cell_table(gates, table, word, c):
    """lstm_cell with pre = row `word` of a bfloat16 table (stored as uint16 bit patterns)."""
    return lstm_cell(gates, (table[word].astype(np.uint32) << np.uint32(16)).view(np.float32), c)


@njit(**_JIT)
def rescore(scores, rows, weight, bias, x):
    """scores[r] = weight[r] @ x + bias[r] in float32, for each r in rows."""
    for r in rows:
        acc = bias[r]
        for k in range(x.shape[0]):
            acc += weight[r, k] * x[k]
        scores[r] = acc


@njit(**_JIT)
def kth_largest(x, k):
    """The k-th highest value of x (1 <= k <= len(x))."""
    return np.partition(x, x.shape[0] - k)[x.shape[0] - k]


@njit(**_JIT)
def best_rows(scores, count):
    """The indices of the `count` highest scores (ties at the border may add a few), any order."""
    if count >= scores.shape[0]:
        return np.arange(scores.shape[0])
    return np.nonzero(scores >= kth_largest(scores, count))[0]


@njit(**_JIT)
def log_softmax(x):
    """In place; x must have a finite entry. -inf entries (words left out) cost no exp()."""
    peak = x.max()
    total = np.float32(0.0)
    for v in x:
        if v != -np.inf:
            total += np.exp(v - peak)
    x -= peak + np.log(total)
    return x


@njit(**_JIT)
def sketch_scores(down, down_scale, up, up_scale, bias, x):
    """Approximate output scores (V,) through a low-rank sketch: up @ (down @ x) + bias."""
    scores = matvec(up, up_scale, matvec(down, down_scale, x))
    scores += bias
    return scores


@njit(**_JIT)
def rescored(approximate, weight, bias, x, count, always, others):
    """`approximate` scores (V,) with the best `count` rows and the `always` rows computed again
    in float32 (weight (V, O), bias (V,)); the other rows keep their scores, or become `others`
    unless it is NaN."""
    best = best_rows(approximate, count)
    scores = approximate if np.isnan(others) else np.full_like(approximate, others)
    rescore(scores, best, weight, bias, x)
    rescore(scores, always, weight, bias, x)
    return scores


@njit(**_JIT)
def adaptive_log_probs(head, shortlist, x, downs, down_scales, ups, up_scales, top):
    """Log-probabilities (V,) of an adaptive softmax from its head scores (shortlist words, then
    one per cluster) and its clusters' two-matrix tails (tuples, one entry per cluster). With
    top > 0, a cluster whose log-probability is below the top-th best shortlist word's cannot
    hold one of the `top` best words: it is not computed and its words are -inf."""
    log_softmax(head)
    words = shortlist
    for up in ups:
        words += up.shape[0]
    out = np.full(words, -np.inf, dtype=np.float32)
    out[:shortlist] = head[:shortlist]
    threshold = -np.inf
    if 0 < top <= shortlist:
        threshold = kth_largest(head[:shortlist], top)
    start = shortlist
    for i in range(len(ups)):
        cluster = head[shortlist + i]
        size = ups[i].shape[0]
        if cluster > threshold:
            inner = log_softmax(matvec(ups[i], up_scales[i], matvec(downs[i], down_scales[i], x)))
            out[start : start + size] = inner + cluster
        start += size
    return out

