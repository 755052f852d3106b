"""The int8 parts of the fast CPU stepper (wordrnn.stepper.FastStepper), for B streams at once.

Every matrix is int8 with one scale per row: 4x less to read than float32, which is what a
step at batch size 1 is limited by. Inputs are quantized per stream to whole numbers, so
products are exact integer sums (wordrnn.kernels): a stream's numbers are the same whichever
streams share its batch. Small batches take numba's integer loops; larger ones the fastest
way on this CPU that gives the same sums (products()): the loops, or a GEMM (torch's float32
one, torch._int_mm or oneDNN's quantized linear layer) on each input split into two int8 halves.

int8 weights blur close logits, so the output layer's int8 scores only shortlist words: the
best `max(RESCORE, candidates)` of each stream are scored again in float32 with the model's own
weights. Streams that need only the few best words (greedy) shortlist through a low-rank
sketch of the output layer (FastLinear). An adaptive softmax skips, per stream, the clusters
that cannot hold one of its candidates (FastAdaptive). Vectors are float32 numpy arrays (B, N).
"""

from __future__ import annotations

import functools
import logging
import threading
import time

import numpy as np
import torch
from torch import nn

from wordrnn import kernels

RESCORE = 64
TABLE_BYTES = 64 * 2**20  # the largest first-layer input table (bfloat16, V x 4H) worth its memory
SKETCH_RANK = 128  # rank of the output layer's sketch (FastLinear)
SKETCH_TOP = 8  # the sketch serves streams whose candidates are at most this many words
PARALLEL_BYTES = 2**19  # smaller matrices take less time than handing work to a second thread
GEMM_ROWS = 4  # from this many streams on, a GEMM may beat the integer loops (products())
_parallel = threading.Lock()
_deciding = threading.Lock()
log = logging.getLogger(__name__)


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
        # what kernels.halves adds to every input, times each row's sum: joined takes it out
        self.offsets = self.weight.sum(1, dtype=np.int64) << (2 * self.bits - 1)  # (N,)
        self._int8 = torch.from_numpy(self.weight)
        self._float: torch.Tensor | None = None  # the weights as float32, for the "float32" way
        self._packed: tuple[torch.Tensor, ...] | None = None  # oneDNN's layout, for "onednn"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x (B, K) -> x W^T (B, N)."""
        xq, x_scale = kernels.quantize(np.ascontiguousarray(x, np.float32), self.levels)
        way = products() if len(xq) >= GEMM_ROWS else "loops"
        if way == "loops" or (way == "float32" and not _exact_gemm()):
            sums = self._loops(xq)
            sums *= self.scale
            sums *= x_scale[:, None]
            return sums
        split = kernels.halves(xq, self.bits)  # (2B, K) int8, each in [0, 2**bits)
        sums = getattr(self, f"_{way}")(split)  # (2B, N) whole numbers
        return kernels.joined(sums, self.bits, self.offsets, self.scale, x_scale)  # (B, N)

    def _loops(self, xq: np.ndarray) -> np.ndarray:
        threads = torch.get_num_threads() if self.weight.size >= PARALLEL_BYTES else 1
        if threads == 1:
            return kernels.int_products(self.weight, xq)
        with _parallel:  # numba's fallback thread pool (no OpenMP or TBB) takes one caller at a time
            return kernels.int_products_parallel(self.weight, xq, threads)

    def _int_mm(self, split: np.ndarray) -> np.ndarray:
        """torch._int_mm: int32 sums (2B, N). Exact with VNNI or AMX; on AVX2 alone it may
        saturate (products() checks)."""
        return torch._int_mm(torch.from_numpy(split), self._int8.t()).numpy()

    def _float32(self, split: np.ndarray) -> np.ndarray:
        """torch's float32 GEMM: every sum of a half is a whole number below 2**24 (_bits), so exact."""
        if self._float is None:
            self._float = self._int8.float()  # (N, K)
        return (torch.from_numpy(split).float() @ self._float.t()).numpy()

    def _onednn(self, split: np.ndarray) -> np.ndarray:
        """oneDNN's quantized linear layer on weights packed once for this CPU, the halves as
        uint8 (they are never negative), all scales 1: float32 sums (2B, N), whole numbers below
        2**24, so exact."""
        if self._packed is None:
            rows = len(self.weight)
            self._packed = (torch.ops.onednn.qlinear_prepack(self._int8, None), torch.ones(rows),
                            torch.zeros(rows, dtype=torch.long))
        packed, ones, zeros = self._packed
        x = torch.from_numpy(split.view(np.uint8))
        return torch.ops.onednn.qlinear_pointwise(x, 1.0, 0, packed, ones, zeros, None, 1.0, 0, torch.float32,
                                                  "none", [], "").numpy()


WAYS = ("loops", "float32", "int_mm", "onednn")  # how an Int8Matrix multiplies GEMM_ROWS streams or more
_WAY: str | None = None  # the fastest exact one of WAYS on this machine, chosen at the first use


def products() -> str:
    """How Int8Matrix multiplies GEMM_ROWS streams or more, one of WAYS: "loops" (numba's
    integer loops), or a GEMM on the inputs' int8 halves: "float32" (torch's float32 GEMM),
    "int_mm" (torch._int_mm) or "onednn" (oneDNN's quantized linear layer, weights packed
    once). Chosen once per process: of the ways that give the loops' exact sums on this CPU
    (checked on extreme values: without VNNI, torch._int_mm's int8 kernel saturates), the
    fastest on a layer-sized product. Their speed depends on the CPU: with AMX or VNNI
    oneDNN's int8 kernels win by far; with AVX2 alone the float32 GEMM or the loops may."""
    global _WAY
    if _WAY is None:
        with _deciding:
            if _WAY is None:
                _WAY = _fastest()
                _probe.cache_clear()  # its matrix and copies are not needed again
    return _WAY


def _fastest() -> str:
    matrix, xq, split = _probe()
    times = {way: _best_time(lambda: getattr(matrix, f"_{way}")(xq if way == "loops" else split))
             for way in exact_ways()}
    way = min(times, key=times.get)
    log.info("int8 products of %d+ streams: %s (%s for %d streams, %d threads)", GEMM_ROWS, way,
             ", ".join(f"{w} {1e3 * t:.2f} ms" for w, t in times.items()), len(xq), torch.get_num_threads())
    return way


@functools.cache
def exact_ways() -> tuple[str, ...]:
    """The WAYS that give the loops' exact sums on this CPU and build of torch."""
    matrix, xq, split = _probe()
    exact = xq.astype(np.int64) @ matrix.weight.astype(np.int64).T  # (B, N)
    ways = ["loops"]
    for way in WAYS[1:]:
        try:
            sums = getattr(matrix, f"_{way}")(split).astype(np.int64)  # (2B, N) whole numbers
        except Exception as error:  # noqa: BLE001 - not in this build of torch, or not for this CPU: not used
            log.debug("int8 products: no %s (%s)", way, error)
            continue
        if np.array_equal((sums[: len(xq)] << matrix.bits) + sums[len(xq) :] - matrix.offsets, exact):
            ways.append(way)
        else:
            log.info("int8 products: %s does not give exact sums on this CPU, not used", way)
    return tuple(ways)


@functools.cache
def _probe() -> tuple[Int8Matrix, np.ndarray, np.ndarray]:
    """A layer-sized matrix, quantized inputs that hold the largest sums there can be, and
    their halves."""
    rng = np.random.default_rng(0)  # not torch's: a user's seeded runs must not see this draw
    weight = rng.standard_normal((2048, 1024), np.float32)  # a layer's gates
    weight[:2] = np.sign(weight[:2])  # rows of +-127 only
    x = rng.standard_normal((32, 1024), np.float32)  # 32 streams
    x[:2], x[2] = weight[:2], -weight[0]  # inputs of +-levels: every product at its largest
    matrix = Int8Matrix(torch.from_numpy(weight))
    xq = kernels.quantize(x, matrix.levels)[0]
    return matrix, xq, kernels.halves(xq, matrix.bits)


def _best_time(fn, repeats: int = 3) -> float:
    fn()  # the first call compiles or allocates
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


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
