"""Compiled loops (numba) of the fast CPU stepper, each over a batch of B streams at once.

Products are exact integer sums: an input row x is quantized to whole numbers (one scale per
row) and multiplied by int8 weights with int32 sums, so a result never depends on the order of
the sums, on the kernel, or on which other streams share the batch. Compiled on first use and
cached on disk (wordrnn.jit says where), so later processes start at once. The functions
release the GIL.

    xq, scale = quantize(x, levels)      # (B, K) int16, (B,) float32: x ~ xq * scale
    sums = int_products(weight, xq)      # (B, N) float32 of the exact int32 sums weight @ xq
    h, c = lstm_cells(gates, pre, c)     # (B, H) each: the cell update from the gates
"""

from __future__ import annotations

import numpy as np

from wordrnn import jit  # noqa: F401 (chooses the CPU target and cache before numba compiles)
from numba import njit, prange  # noqa: E402

# Fast math that may reorder float sums within one row (for SIMD) but keeps inf and NaN.
_JIT = dict(nogil=True, fastmath={"reassoc", "contract", "nsz", "arcp", "afn"}, cache=True,
            error_model="numpy")
_EXACT = dict(nogil=True, cache=True, error_model="numpy")  # integer work and rounding: IEEE
_CLAMP = np.float32(7.90531110763549805)  # tanh is 1 - 2e-7 there: float32 cannot tell further


@njit(**_JIT)
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


@njit(**_JIT)
def _sigmoid(x):
    return np.float32(0.5) * _tanh(np.float32(0.5) * x) + np.float32(0.5)


@njit(**_EXACT)
def quantize(x, levels):
    """Each row of x (B, K) float32 as whole numbers in [-levels, levels] (int16) times a scale."""
    rows, width = x.shape
    xq = np.empty((rows, width), np.int16)
    scale = np.empty(rows, np.float32)
    for b in range(rows):
        peak = np.float32(0.0)
        for k in range(width):
            peak = max(peak, abs(x[b, k]))
        scale[b] = peak / np.float32(levels) if peak > 0 else np.float32(1.0)
        for k in range(width):
            xq[b, k] = np.int16(np.round(x[b, k] / scale[b]))
    return xq, scale


@njit(**_EXACT)
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


@njit(**_EXACT)
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


# numba types int32 arithmetic as int64, and LLVM then multiplies in 64-bit lanes (4 per AVX2
# register). Cast back to int32 after every step, the sums stay 32-bit and LLVM uses vpmaddwd
# (16 products an instruction): 2.2x faster on AVX2. No sum overflows (wordrnn.int8._bits).
@njit(**_EXACT)
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


@njit(**_EXACT)
def int_products(weight, xq):
    """weight (N, K) int8 @ xq (B, K) int16 -> (B, N) float32: each exact int32 sum, rounded once."""
    out = np.empty((xq.shape[0], weight.shape[0]), np.float32)
    _products_into(weight, xq, out, 0, weight.shape[0])
    return out


@njit(parallel=True, **_EXACT)
def int_products_parallel(weight, xq, chunks):
    """int_products with the rows in `chunks` contiguous blocks, one per thread: the same rows
    go to the same core at every step, so a matrix larger than one core's L2 stays cached."""
    rows = weight.shape[0]
    out = np.empty((xq.shape[0], rows), np.float32)
    for chunk in prange(chunks):
        _products_into(weight, xq, out, chunk * rows // chunks, (chunk + 1) * rows // chunks)
    return out


@njit(**_JIT)
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


@njit(**_EXACT)
def table_rows(table, words):
    """Rows `words` (B,) of a bfloat16 table (stored as uint16 bit patterns) as float32 (B, W)."""
    out = np.empty((words.shape[0], table.shape[1]), np.uint32)
    for b in range(words.shape[0]):
        out[b] = table[words[b]].astype(np.uint32) << np.uint32(16)
    return out.view(np.float32)


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
    """The k-th highest value of x (1 <= k <= len(x)); x has no NaN."""
    if 4 * k > x.shape[0]:  # many: a partial sort costs less
        return np.partition(x, x.shape[0] - k)[x.shape[0] - k]
    heap = x[:k].copy()  # a min-heap of the k highest so far: heap[0] is the k-th
    for i in range(k // 2 - 1, -1, -1):
        _sift(heap, i)
    lanes = np.empty(16, np.float32)
    for start in range(k, x.shape[0], 64):  # a block below the k-th highest changes nothing
        stop = min(start + 64, x.shape[0])
        if _peak(x, start, stop, lanes) > heap[0]:
            for v in range(start, stop):
                if x[v] > heap[0]:
                    heap[0] = x[v]
                    _sift(heap, 0)
    return heap[0]


@njit(**_EXACT)
def _sift(heap, i):
    """Moves heap[i] down until no child of it is lower (a min-heap)."""
    value = heap[i]
    while 2 * i + 1 < heap.shape[0]:
        child = 2 * i + 1
        if child + 1 < heap.shape[0] and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= value:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = value


@njit(**_JIT)
def thresholds(head, shortlist, tops):
    """Per row b of head (B, W): the tops[b]-th highest of its first `shortlist` scores, or -inf
    when tops[b] is beyond the shortlist."""
    out = np.full(head.shape[0], -np.inf, np.float32)
    for b in range(head.shape[0]):
        if tops[b] <= shortlist:
            out[b] = kth_largest(head[b, :shortlist], tops[b])
    return out


@njit(**_JIT)
def best_rows(scores, count):
    """The indices of the `count` highest scores (ties at the border may add a few), any order."""
    if count >= scores.shape[0]:
        return np.arange(scores.shape[0])
    return np.nonzero(scores >= kth_largest(scores, count))[0]


@njit(**_JIT)
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


@njit(**_JIT)
def log_softmax(x):
    """In place over each row of x (B, V); a row must have a finite entry, and -inf entries
    (words left out) stay -inf. The exponentials are _exps': SIMD, unlike libm's exp."""
    mantissas = np.empty(x.shape[1], np.float32)
    powers = np.empty(x.shape[1], np.int32)
    scales = powers.view(np.float32)  # 2**n as float32 bit patterns
    lanes = np.empty(16, np.float32)
    for b in range(x.shape[0]):
        peak = _peak(x[b], 0, x.shape[1], lanes)
        _exps(x[b], peak, mantissas, powers)
        total = np.float32(0.0)
        for v in range(x.shape[1]):
            total += mantissas[v] * scales[v]
        shift = peak + np.log(total)
        for v in range(x.shape[1]):
            x[b, v] -= shift
    return x


@njit(**_EXACT)
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


# The samplers' choices for B streams at once (wordrnn.sampling.choose_all). A row's result
# depends on that row alone, so a stream picks the same words alone or in a crowd.

@njit(**_EXACT)
def _best(row, k, top_v, top_i):
    """The k highest of row in top_v/top_i, best first, ties to the lower index (torch.topk's
    order on distinct values); -inf entries count as words. Returns the best value."""
    top_v[:k] = -np.inf
    top_i[:k] = row.shape[0]  # worse than any word, -inf ones included
    lanes = np.empty(16, np.float32)
    for start in range(0, row.shape[0], 64):  # a block below the k-th best holds no better word
        stop = min(start + 64, row.shape[0])
        if _peak(row, start, stop, lanes) < top_v[k - 1]:
            continue
        for v in range(start, stop):
            _insert(row[v], v, k, top_v, top_i)
    return top_v[0]


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


@njit(**_EXACT)
def _insert(x, v, k, top_v, top_i):
    """Puts word v (score x) among the best k if it belongs there."""
    if x > top_v[k - 1] or (x == top_v[k - 1] and v < top_i[k - 1]):
        j = k - 1
        while j > 0 and (x > top_v[j - 1] or (x == top_v[j - 1] and v < top_i[j - 1])):
            top_v[j], top_i[j] = top_v[j - 1], top_i[j - 1]
            j -= 1
        top_v[j], top_i[j] = x, v


@njit(**_EXACT)
def _softmax(values, out):
    """out = softmax(values) in float32; -inf entries get 0."""
    peak = values[0]
    for x in values:
        peak = max(peak, x)
    total = np.float32(0.0)
    for j in range(values.shape[0]):
        out[j] = np.exp(values[j] - peak)
        total += out[j]
    for j in range(values.shape[0]):
        out[j] = out[j] / total


@njit(**_EXACT)
def _nucleus(row, temperature, top_p, top_v, top_i, probs):
    """Top-p: every word sorted (ties to the lower index), scaled by 1/temperature; keeps the
    words whose more likely predecessors add up to less than top_p. Returns how many."""
    order = np.argsort(-row, kind="mergesort")
    for j in range(order.shape[0]):
        top_i[j] = order[j]
        top_v[j] = row[order[j]] / temperature
    _softmax(top_v, probs)
    keep, below = 0, np.float32(0.0)
    while keep < probs.shape[0] and below < top_p:
        below += probs[keep]
        keep += 1
    return keep


@njit(**_EXACT)
def choices(scores, counts, temperatures, top_ps, refused, offsets, banned_from):
    """Per row b of scores (B, V): the words it may draw and their probabilities. `scores` is
    left as it was (refused words are masked while their row is read, then put back).

    counts[b]: 1 greedy, k top-k, 0 top-p (every word). Row b's refused words are
    refused[offsets[b]:offsets[b + 1]]; those from banned_from[b] on (the no-repeat guard) are
    let back in when they leave no finite score. Returns indices (B, W), probabilities (B, W)
    (renormalized over the kept words) and lengths (B,): W = the widest row's words."""
    rows, words = scores.shape
    width = 1
    for b in range(rows):
        width = max(width, words if counts[b] == 0 else min(counts[b], words))
    indices = np.zeros((rows, width), np.int64)
    probs = np.zeros((rows, width), np.float32)
    lengths = np.zeros(rows, np.int64)
    top_v = np.empty(width, np.float32)
    scratch = np.empty(width, np.float32)
    kept = np.empty(refused.shape[0], np.float32)  # the refused words' own scores
    for b in range(rows):
        row = scores[b]
        for n in range(offsets[b], offsets[b + 1]):
            kept[n] = row[refused[n]]
        for n in range(offsets[b], offsets[b + 1]):  # after: a word may be refused twice
            row[refused[n]] = -np.inf
        k = words if counts[b] == 0 else min(counts[b], words)
        if banned_from[b] < offsets[b + 1] and _best(row, 1, top_v, indices[b]) == -np.inf:
            for n in range(banned_from[b], offsets[b + 1]):  # every word repeats: allow repeats
                row[refused[n]] = kept[n]
            for n in range(offsets[b], banned_from[b]):  # the never-words stay out
                row[refused[n]] = -np.inf
        if counts[b] == 0:
            lengths[b] = _nucleus(row, temperatures[b], top_ps[b], top_v, indices[b], scratch)
            _softmax(top_v[: lengths[b]], probs[b, : lengths[b]])
        else:
            _best(row, k, top_v, indices[b])
            lengths[b] = k
            for j in range(k):
                top_v[j] = top_v[j] / temperatures[b]
            _softmax(top_v[:k], probs[b, :k])
        for n in range(offsets[b], offsets[b + 1]):  # every kept score is the row's own
            row[refused[n]] = kept[n]
    return indices, probs, lengths
