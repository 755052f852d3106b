"""The int8 parts of the fast CPU stepper (wordrnn.stepper.FastStepper), for B streams at once.

Every matrix is int8 with one scale per row: 4x less to read than float32, which is what a
step at batch size 1 is limited by. Inputs are quantized per stream to whole numbers, so
products are exact integer sums (wordrnn.kernels): a stream's numbers are the same whichever
streams share its batch. Small batches take numba's integer loops; larger ones torch's int8
GEMM (each input split into two int8 halves), which gives the same sums.

int8 weights blur close logits, so the output layer's int8 scores only shortlist words: the
best `max(RESCORE, candidates)` of each stream are scored again in float32 with the model's own
weights. Streams that need only the few best words (greedy) shortlist through a low-rank
sketch of the output layer (FastLinear). An adaptive softmax skips, per stream, the clusters
that cannot hold one of its candidates (FastAdaptive). Vectors are float32 numpy arrays (B, N).
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
SKETCH_TOP = 8  # the sketch serves streams whose candidates are at most this many words
PARALLEL_BYTES = 2**19  # smaller matrices take less time than handing work to a second thread
GEMM_ROWS = 4  # from this many streams on, torch's GEMM beats the integer loops
_parallel = threading.Lock()


def _array(tensor: torch.Tensor) -> np.ndarray:
    """A float32 copy: later training steps must not change what a stepper computes."""
    return tensor.detach().float().clone().contiguous().numpy()


def _bits(width: int) -> int:
    """Bits per half of a quantized input: 127 * (2**bits - 1) * width must stay below 2**24
    (exact float32 sums), at most 7 (int16 inputs; int32 sums)."""
    bits = min(7, int(np.log2(2**24 / (127 * width) + 1)))
    assert bits >= 1, f"rows of {width} are too long for exact sums"
    return bits


class Int8Matrix:
    """W as int8 rows with one float32 scale per row (symmetric, per output channel)."""

    def __init__(self, weight: torch.Tensor) -> None:
        weight = weight.detach().float()
        scale = (weight.abs().amax(1) / 127).clamp(min=1e-12)  # (N,)
        quantized = (weight / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
        self.weight = quantized.contiguous().numpy()  # (N, K), row-major: the loops read rows
        self.scale = scale.numpy()
        self.bits = _bits(self.weight.shape[1])
        self.levels = 2 ** (2 * self.bits - 1) - 1  # |x| in whole numbers: two halves of `bits`
        self._int8 = torch.from_numpy(self.weight)
        self._float: torch.Tensor | None = None  # the int8 values as float32, without _int_mm

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x (B, K) -> x W^T (B, N)."""
        xq, x_scale = kernels.quantize(np.ascontiguousarray(x, np.float32), self.levels)
        if len(xq) >= GEMM_ROWS and _INT_MM:  # the scales are applied as the halves are joined
            split = kernels.halves(xq, self.bits)  # (2B, K) int8
            sums = torch._int_mm(torch.from_numpy(split), self._int8.t())  # (2B, N) int32
            return kernels.joined(sums.numpy(), self.bits, self.scale, x_scale)
        sums = self._float_gemm(xq) if len(xq) >= GEMM_ROWS and _exact_gemm() else self._loops(xq)
        sums *= self.scale
        sums *= x_scale[:, None]
        return sums

    def _loops(self, xq: np.ndarray) -> np.ndarray:
        threads = torch.get_num_threads() if self.weight.size >= PARALLEL_BYTES else 1
        if threads == 1:
            return kernels.int_products(self.weight, xq)
        with _parallel:  # numba's fallback thread pool (no OpenMP or TBB) takes one caller at a time
            return kernels.int_products_parallel(self.weight, xq, threads)

    def _float_gemm(self, xq: np.ndarray) -> np.ndarray:
        """The same exact sums where torch._int_mm is missing: float32 GEMM on the int8 halves
        of the inputs (every partial sum a whole number below 2**24), joined with one rounding."""
        split = kernels.halves(xq, self.bits)  # (2B, K) int8
        if self._float is None:
            self._float = torch.from_numpy(self.weight).float()  # (N, K)
        sums = torch.from_numpy(split).float() @ self._float.t()  # whole numbers below 2**24: exact
        rows = len(xq)
        return torch.add(sums[rows:], sums[:rows], alpha=2**self.bits).numpy()  # one rounding


def _int_mm_works() -> bool:
    try:
        probe = torch._int_mm(torch.ones(32, 8, dtype=torch.int8), torch.ones(8, 8, dtype=torch.int8))
        return bool((probe == 8).all())
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


_INT_MM = _int_mm_works()


def _exact_gemm() -> bool:
    """torch's float32 products are IEEE float32 (not TF32 or bfloat16) unless a user asked."""
    return torch.get_float32_matmul_precision() == "highest"


class FastLayer:
    """One LSTM layer, with its projection if it has one. Given the embedding (first layer
    only), W_ih e(word) + b is looked up rather than multiplied: it depends on the word alone,
    and a table row is less to read than the input columns of W_ih."""

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

    def __call__(self, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x (B, I), or the word ids (B,) if the layer has a table; h (B, O), c (B, H) -> h, c."""
        if self.table is None:
            gates = self.gates(np.concatenate([x, h], 1))
            pre = np.broadcast_to(self.bias, gates.shape)
        else:
            gates, pre = self.gates(h), kernels.table_rows(self.table, x)
        h, c = kernels.lstm_cells(gates, np.ascontiguousarray(pre), c)
        return (h if self.project is None else self.project(h)), c
