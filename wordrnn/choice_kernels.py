"""The samplers' choices for B streams at once (wordrnn.sampling.choose_all), compiled (numba).

A row's result depends on that row alone, so a stream picks the same words alone or in a crowd.
"""

from __future__ import annotations

import numpy as np

from wordrnn.jit import EXACT  # first: chooses the CPU target and cache before numba compiles
from numba import njit  # noqa: E402
from wordrnn.score_kernels import _peak, kth_largest, tempered_total  # noqa: E402


@njit(**EXACT)
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
    indices = np.empty((rows, width), np.int64)  # row b's first lengths[b] are set, the rest never read
    probs = np.empty((rows, width), np.float32)
    lengths = np.zeros(rows, np.int64)
    top_v = np.empty(width, np.float32)
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
            lengths[b] = _nucleus(row, temperatures[b], top_ps[b], top_v, indices[b])
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


@njit(**EXACT)
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


@njit(**EXACT)
def _insert(x, v, k, top_v, top_i):
    """Puts word v (score x) among the best k if it belongs there."""
    if x > top_v[k - 1] or (x == top_v[k - 1] and v < top_i[k - 1]):
        j = k - 1
        while j > 0 and (x > top_v[j - 1] or (x == top_v[j - 1] and v < top_i[j - 1])):
            top_v[j], top_i[j] = top_v[j - 1], top_i[j - 1]
            j -= 1
        top_v[j], top_i[j] = x, v


@njit(**EXACT)
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


@njit(**EXACT)
def _nucleus(row, temperature, top_p, top_v, top_i):
    """Top-p: the words in order of score (ties to the lower index), scaled by 1/temperature;
    keeps the words whose more likely predecessors add up to less than top_p. Returns how
    many, in top_v / top_i. Only the best words are sorted: the m best (m = 64, 256, ...),
    until they hold top_p of the probability."""
    peak = _peak(row, 0, row.shape[0], np.empty(16, np.float32)) / temperature
    total = tempered_total(row, temperature, peak)
    found = np.empty(row.shape[0], np.int64)
    m = 64
    while True:
        n = _at_least(row, m, found)  # found[:n]: the words at or above the m-th best score
        order = np.argsort(-row[found[:n]], kind="mergesort")  # stable: ties keep the lower index first
        keep, below = 0, np.float32(0.0)
        while keep < n and below < top_p:
            top_i[keep] = found[order[keep]]
            top_v[keep] = row[top_i[keep]] / temperature
            below += np.exp(top_v[keep] - peak) / total
            keep += 1
        if below >= top_p or n == row.shape[0]:
            return keep
        m *= 4


@njit(**EXACT)
def _at_least(row, m, out):
    """The indices of the words whose score is at least the m-th highest (all of them when m
    is the row's length or more), in order, in out; returns how many."""
    low = -np.inf if m >= row.shape[0] else kth_largest(row, m)
    n = 0
    for v in range(row.shape[0]):
        out[n] = v
        n += row[v] >= low
    return n
