"""Compiled loops (numba) of the fast CPU stepper's LSTM step, each over a batch of B streams.

Products are exact integer sums: an input row x is quantized to whole numbers (one scale per
row) and multiplied by int8 weights with int32 sums, so a result never depends on the order of
the sums, on the kernel, or on which other streams share the batch. Compiled on first use and
cached on disk (wordrnn.jit says where and how), so later processes start at once. The
functions release the GIL. The output layer's loops are in wordrnn.score_kernels, the
samplers' in wordrnn.choice_kernels.

    xq, scale = quantize(x, levels)      # (B, K) int16, (B,) float32: x ~ xq * scale
    sums = int_products(weight, xq)      # (B, N) float32 of the exact int32 sums weight @ xq
    h, c = lstm_cells(gates, pre, c)     # (B, H) each: the cell update from the gates
"""

from __future__ import annotations

import numpy as np

from wordrnn.jit import EXACT, FAST  # first: chooses the CPU target and cache before numba compiles
from numba import njit, prange  # noqa: E402

_CLAMP = np.float32(7.90531110763549805)  # tanh is 1 - 2e-7 there: float32 cannot tell further


@njit(**FAST)
def _tanh(x):
    """tanh as a rational function (Eigen's float tanh, within a few float32 ulps). Unlike a
    libm call it vectorizes."""
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


@njit(**FAST)
def _sigmoid(x):
    return np.float32(0.5) * _tanh(np.float32(0.5) * x) + np.float32(0.5)


_ROUNDER = np.float32(12582912.0)  # 1.5 * 2**23: (v + it) - it is v rounded half to even, |v| < 2**22


@njit(**EXACT)
def quantize(x, levels):
    """Each row of x (B, K) float32, C-contiguous, as whole numbers in [-levels, levels] (int16)
    times a scale: round(x / scale) (half to even, as np.round), scale = max |x| / levels.

    Both loops vectorize, 5x faster than with a float max and np.round: the peak is taken over
    the bits of |x| as integers (for floats of one sign their order), and the rounding is float
    adds, which round to nearest even by themselves."""
    rows, width = x.shape
    xq = np.empty((rows, width), np.int16)
    scale = np.empty(rows, np.float32)
    bits = x.view(np.int32)
    peak = np.empty(1, np.int32)
    for b in range(rows):
        top = np.int32(0)
        for k in range(width):
            top = max(top, bits[b, k] & np.int32(0x7FFFFFFF))
        peak[0] = top
        largest = peak.view(np.float32)[0]
        scale[b] = largest / np.float32(levels) if largest > 0 else np.float32(1.0)
        for k in range(width):
            xq[b, k] = np.int16((x[b, k] / scale[b] + _ROUNDER) - _ROUNDER)
    return xq, scale


@njit(**EXACT)
def halves(xq, bits):
    """xq (B, K) whole numbers in [-2**(2 bits - 1), 2**(2 bits - 1)) as (2B, K) int8 halves, each
    in [0, 2**bits): the high halves of xq + 2**(2 bits - 1) for all rows, then the low ones.
    Never negative, so an unsigned-by-signed int8 kernel cannot saturate its 16-bit pair sums
    (AVX2's vpmaddubsw: 2 x 127 x 127 < 2**15); `joined` takes the offset back out."""
    rows, width = xq.shape
    offset = np.int32(1) << (2 * bits - 1)
    out = np.empty((2 * rows, width), np.int8)
    for b in range(rows):
        for k in range(width):
            shifted = np.int32(xq[b, k]) + offset
            high = shifted >> bits
            out[b, k] = high
            out[rows + b, k] = shifted - (high << bits)
    return out


@njit(**EXACT)
def joined(sums, bits, offsets, scale, x_scale):
    """The sums (2B, N) of `halves` times a matrix (int32, or float32 holding whole numbers),
    put back together less each row's offset (`offsets[n]`: 2**(2 bits - 1) times the sum of
    weight row n) and scaled: (B, N) float32, the exact sum rounded once, then * scale[n], then
    * x_scale[b], rounded after each product as numpy's `sums *= scale; sums *= x_scale[:, None]`."""
    rows = sums.shape[0] // 2
    out = np.empty((rows, sums.shape[1]), np.float32)
    for b in range(rows):
        for n in range(sums.shape[1]):
            whole = np.float32((np.int64(sums[b, n]) << bits) + np.int64(sums[rows + b, n]) - offsets[n])
            out[b, n] = (whole * scale[n]) * x_scale[b]
    return out


@njit(**EXACT)
def _products_into(weight, xq, out, start, stop):
    rows, width = xq.shape
    for n in range(start, stop):
        row = weight[n]
        b = 0
        while b + 4 <= rows:  # four streams per pass over the row: one load of it for four
            x0, x1, x2, x3 = xq[b], xq[b + 1], xq[b + 2], xq[b + 3]
            a0 = a1 = a2 = a3 = np.int32(0)
            for k in range(width):
                w = np.int32(row[k])
                a0 = np.int32(a0 + w * np.int32(x0[k]))
                a1 = np.int32(a1 + w * np.int32(x1[k]))
                a2 = np.int32(a2 + w * np.int32(x2[k]))
                a3 = np.int32(a3 + w * np.int32(x3[k]))
            out[b, n], out[b + 1, n], out[b + 2, n], out[b + 3, n] = a0, a1, a2, a3
            b += 4
        for b in range(b, rows):
            xb, acc = xq[b], np.int32(0)
            for k in range(width):
                acc = np.int32(acc + np.int32(row[k]) * np.int32(xb[k]))
            out[b, n] = np.float32(acc)


@njit(**EXACT)
def int_products(weight, xq):
    """weight (N, K) int8 @ xq (B, K) int16 -> (B, N) float32: each exact int32 sum, rounded once."""
    out = np.empty((xq.shape[0], weight.shape[0]), np.float32)
    _products_into(weight, xq, out, 0, weight.shape[0])
    return out


@njit(parallel=True, **EXACT)
def int_products_parallel(weight, xq, chunks):
    """int_products with the rows in `chunks` contiguous blocks, one per thread: the same rows
    go to the same core at every step, so a matrix larger than one core's L2 stays cached."""
    rows = weight.shape[0]
    out = np.empty((xq.shape[0], rows), np.float32)
    for chunk in prange(chunks):
        _products_into(weight, xq, out, chunk * rows // chunks, (chunk + 1) * rows // chunks)
    return out


@njit(**FAST)
def lstm_cells(gates, pre, c):
    """LSTM cell updates from gates = W [x; h] (B, 4H) in PyTorch's order (i, f, g, o), plus
    pre (B, 4H) (the bias, or the first layer's table rows); c (B, H). Returns new h and c."""
    rows, size = c.shape
    h, c_new = np.empty((rows, size), np.float32), np.empty((rows, size), np.float32)
    for b in range(rows):
        for j in range(size):
            i = _sigmoid(gates[b, j] + pre[b, j])
            f = _sigmoid(gates[b, size + j] + pre[b, size + j])
            g = _tanh(gates[b, 2 * size + j] + pre[b, 2 * size + j])
            o = _sigmoid(gates[b, 3 * size + j] + pre[b, 3 * size + j])
            c_new[b, j] = f * c[b, j] + i * g
            h[b, j] = o * _tanh(c_new[b, j])
    return h, c_new


@njit(**EXACT)
def table_rows(table, words):
    """Rows `words` (B,) of a bfloat16 table (stored as uint16 bit patterns) as float32 (B, W)."""
    out = np.empty((words.shape[0], table.shape[1]), np.uint32)
    for b in range(words.shape[0]):
        out[b] = table[words[b]].astype(np.uint32) << np.uint32(16)
    return out.view(np.float32)
