"""Compiled loops (numba) of the fast stepper's output layers (wordrnn.output), per row of a
(B, V) batch of scores: rescoring a shortlist in float32, the k-th best score, log-softmax.

Each row's result depends on that row alone, so a stream gets the same scores alone or in a
crowd. SIMD-friendly forms (sixteen running maxima, a polynomial exp) stand in for calls that
LLVM would leave scalar.
"""

from __future__ import annotations

import numpy as np

from wordrnn.jit import EXACT, FAST  # first: chooses the CPU target and cache before numba compiles
from numba import njit  # noqa: E402


@njit(**FAST)
def rescore(scores, rows, weight, bias, x):
    """scores[r] = weight[r] @ x + bias[r] in float32, for each r in rows."""
    for r in rows:
        acc = bias[r]
        for k in range(x.shape[0]):
            acc += weight[r, k] * x[k]
        scores[r] = acc


@njit(**FAST)
def rescored(approximate, weight, bias, x, counts, always, others):
    """In place, per row b of approximate (B, V): the best counts[b] rows and the `always` rows
    computed again in float32 from x[b] (weight (V, O), bias (V,)); the other rows keep their
    scores (others[b] NaN) or become others[b]."""
    for b in range(approximate.shape[0]):
        best = best_rows(approximate[b], counts[b])
        if not np.isnan(others[b]):
            approximate[b, :] = others[b]
        rescore(approximate[b], best, weight, bias, x[b])
        rescore(approximate[b], always, weight, bias, x[b])
    return approximate


@njit(**FAST)
def best_rows(scores, count):
    """The indices of the `count` highest scores (ties at the border may add a few), any order."""
    if count >= scores.shape[0]:
        return np.arange(scores.shape[0])
    return np.nonzero(scores >= kth_largest(scores, count))[0]


@njit(**FAST)
def thresholds(head, shortlist, tops):
    """Per row b of head (B, W): the tops[b]-th highest of its first `shortlist` scores, or -inf
    when tops[b] is beyond the shortlist."""
    out = np.full(head.shape[0], -np.inf, np.float32)
    for b in range(head.shape[0]):
        if tops[b] <= shortlist:
            out[b] = kth_largest(head[b, :shortlist], tops[b])
    return out


@njit(**FAST)
def kth_largest(x, k):
    """The k-th highest value of x (1 <= k <= len(x)); x has no NaN. Only the values at or
    above floor(x, k) can be it (usually a few times k of them): they are copied out and
    the k-th highest among them selected."""
    above = np.empty(x.shape[0], np.float32)
    low = floor(x, k, np.empty(_groups(k), np.float32)) if 4 * k <= x.shape[0] else -np.inf
    n = 0
    for v in range(x.shape[0]):  # without a branch: each value is written, kept if at or above
        above[n] = x[v]
        n += x[v] >= low
    return _select(above, n, k)


@njit(**EXACT)
def _select(a, n, k):
    """The k-th highest of a[:n] (1 <= k <= n), by quickselect; reorders a[:n]."""
    lo, hi, target = 0, n - 1, k - 1  # target: its place in a[:n] sorted highest first
    while lo < hi:
        mid = (lo + hi) // 2
        first, middle, last = a[lo], a[mid], a[hi]  # their median is the pivot
        pivot = max(min(first, middle), min(max(first, middle), last))
        i, j = lo, hi
        while i <= j:
            while a[i] > pivot:
                i += 1
            while a[j] < pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if target <= j:
            hi = j
        elif target >= i:
            lo = i
        else:  # between the two parts: equal to the pivot
            return a[target]
    return a[target]


@njit(**EXACT)
def _groups(k):
    """How many groups floor() splits a row into for its k-th highest: k rounded up to a whole
    number of 16 (SIMD lanes)."""
    return (k + 15) // 16 * 16


@njit(nogil=True, cache=True, fastmath={"nnan", "nsz"})  # scores are never NaN
def floor(x, k, lanes):
    """A value at most the k-th highest of x: the lowest of the maxima of g = _groups(k) >= k
    groups (x[j], x[j + g], x[j + 2g], ...), so at least k values are at or above it; -inf
    when x has fewer than g values. lanes: scratch (g,). One SIMD pass over x."""
    g = lanes.shape[0]
    n = x.shape[0]
    if n < g:
        return -np.inf
    lanes[:] = x[:g]
    whole = n // g * g
    for start in range(g, whole, g):
        for j in range(g):
            lanes[j] = x[start + j] if x[start + j] > lanes[j] else lanes[j]
    for j in range(n - whole):
        lanes[j] = x[whole + j] if x[whole + j] > lanes[j] else lanes[j]
    low = lanes[0]
    for j in range(1, g):
        low = lanes[j] if lanes[j] < low else low
    return low


@njit(nogil=True, cache=True, fastmath={"nnan", "nsz"})  # scores are never NaN
def _peak(row, start, stop, lanes):
    """max(row[start:stop]), stop > start; lanes: scratch (16,). Sixteen running maxima, so
    that LLVM makes it a SIMD loop: a single running max (or row.max()) stays one compare at a
    time."""
    lanes[:] = row[start]
    whole = start + (stop - start) // 16 * 16
    for v in range(start, whole, 16):
        for j in range(16):
            lanes[j] = row[v + j] if row[v + j] > lanes[j] else lanes[j]
    peak = lanes[0]
    for j in range(1, 16):
        peak = lanes[j] if lanes[j] > peak else peak
    for v in range(whole, stop):
        peak = row[v] if row[v] > peak else peak
    return peak


@njit(**FAST)
def log_softmax(x):
    """In place over each row of x (B, V); a row must have a finite entry, and -inf entries
    (words left out) stay -inf. The exponentials are _exps': SIMD, unlike libm's exp."""
    mantissas = np.empty(x.shape[1], np.float32)
    powers = np.empty(x.shape[1], np.int32)
    lanes = np.empty(16, np.float32)
    for b in range(x.shape[0]):
        peak = _peak(x[b], 0, x.shape[1], lanes)
        shift = peak + np.log(_exp_total(x[b], peak, mantissas, powers))
        for v in range(x.shape[1]):
            x[b, v] -= shift
    return x


@njit(**FAST)
def log_softmax_into(x, width, out, at, add):
    """log_softmax over the first `width` entries of each row of x, plus add[b], written to
    out[b, at:at + width] for every row b of out (x may have more rows and columns: padding):
    log_softmax's numbers, the same bits as it and a separate add give, without the copies."""
    mantissas = np.empty(width, np.float32)
    powers = np.empty(width, np.int32)
    lanes = np.empty(16, np.float32)
    row = np.empty(width, np.float32)  # contiguous, as log_softmax's rows: the same SIMD sums, the same bits
    for b in range(out.shape[0]):
        row[:] = x[b, :width]
        peak = _peak(row, 0, width, lanes)
        shift = peak + np.log(_exp_total(row, peak, mantissas, powers))
        _shifted(row, shift, add[b], out[b, at : at + width])


@njit(**EXACT)
def _shifted(row, shift, add, out):
    """out = (row - shift) + add, rounded to float32 after each step as log_softmax and then a
    numpy add are (written as one expression, numba's code gave other bits)."""
    for v in range(row.shape[0]):
        out[v] = row[v] - shift
    for v in range(row.shape[0]):
        out[v] += add


@njit(**FAST)
def tempered_total(row, temperature, peak):
    """The sum of exp(row[v] / temperature - peak) over the row (-inf words add 0), with
    _exps' SIMD exponentials: the denominator of a tempered softmax."""
    return _exp_total(row / temperature, peak, np.empty(row.shape[0], np.float32), np.empty(row.shape[0], np.int32))


@njit(**FAST)
def _exp_total(row, peak, mantissas, powers):
    """The sum of exp(row[v] - peak) over the row, by _exps (mantissas, powers: its scratch)."""
    _exps(row, peak, mantissas, powers)
    scales = powers.view(np.float32)  # 2**n as float32 bit patterns
    total = np.float32(0.0)
    for v in range(row.shape[0]):
        total += mantissas[v] * scales[v]
    return total


@njit(**EXACT)
def _exps(row, peak, mantissas, powers):
    """exp(row - peak) (row <= peak) as mantissas * 2**(powers - 127), 0 for -inf: Cephes'
    expf (within 3e-7 relative), in steps that vectorize. Below exp(-87.3) (where float32
    stops being normal) it stays at exp(-87.3): nothing next to the peak's 1."""
    for v in range(row.shape[0]):
        x = row[v] - peak
        x = x if x > np.float32(-87.3) else np.float32(-87.3)
        n = np.floor(x * np.float32(1.44269504088896341) + np.float32(0.5))  # x / ln 2, rounded
        x = x - n * np.float32(0.693359375)  # ln 2 in two parts (Cody-Waite): exact products
        x = x - n * np.float32(-2.12194440e-4)
        y = np.float32(1.9875691500e-4)
        y = y * x + np.float32(1.3981999507e-3)
        y = y * x + np.float32(8.3334519073e-3)
        y = y * x + np.float32(4.1665795894e-2)
        y = y * x + np.float32(1.6666665459e-1)
        y = y * x + np.float32(5.0000001201e-1)
        y = y * x * x + x + np.float32(1.0)
        mantissas[v] = y if row[v] != -np.inf else np.float32(0.0)
        powers[v] = (np.int32(n) + np.int32(127)) << np.int32(23)


@njit(**FAST)
def float_products(weight, x, out):
    """out[b, r] = weight[r] . x[b] in float32, for weight (V, K) and x (B, K) with V and B
    multiples of 4 (pad them), out (B, V). Each sum comes from one 4 x 4 block of the same
    compiled loop over k, whatever the other rows and streams in its block, so a stream's
    scores are its own (tested). Sixteen sums a pass: each weight and input value read
    once for four products, where a dot product at a time reads two values per product."""
    for first in range(0, weight.shape[0], 16):  # 16 weight rows stay in the L1 cache meanwhile
        last = min(first + 16, weight.shape[0])
        for b in range(0, x.shape[0], 4):
            for r in range(first, last, 4):
                _block(weight, x, r, b, out)


@njit(**FAST)
def _block(w, x, r, b, out):
    """out[b:b+4, r:r+4]: rows r..r+3 of w times streams b..b+3 of x."""
    a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = np.float32(0.0)
    a20 = a21 = a22 = a23 = a30 = a31 = a32 = a33 = np.float32(0.0)
    for k in range(w.shape[1]):
        w0, w1, w2, w3 = w[r, k], w[r + 1, k], w[r + 2, k], w[r + 3, k]
        x0, x1, x2, x3 = x[b, k], x[b + 1, k], x[b + 2, k], x[b + 3, k]
        a00 += w0 * x0
        a01 += w0 * x1
        a02 += w0 * x2
        a03 += w0 * x3
        a10 += w1 * x0
        a11 += w1 * x1
        a12 += w1 * x2
        a13 += w1 * x3
        a20 += w2 * x0
        a21 += w2 * x1
        a22 += w2 * x2
        a23 += w2 * x3
        a30 += w3 * x0
        a31 += w3 * x1
        a32 += w3 * x2
        a33 += w3 * x3
    out[b, r], out[b + 1, r], out[b + 2, r], out[b + 3, r] = a00, a01, a02, a03
    out[b, r + 1], out[b + 1, r + 1], out[b + 2, r + 1], out[b + 3, r + 1] = a10, a11, a12, a13
    out[b, r + 2], out[b + 1, r + 2], out[b + 2, r + 2], out[b + 3, r + 2] = a20, a21, a22, a23
    out[b, r + 3], out[b + 1, r + 3], out[b + 2, r + 3], out[b + 3, r + 3] = a30, a31, a32, a33
