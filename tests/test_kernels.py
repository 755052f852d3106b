"""Tests for the compiled loops of the fast path: wordrnn.kernels (the step), wordrnn.int8 (the
products) and wordrnn.score_kernels (the output layer's)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from wordrnn import int8, kernels, score_kernels
from wordrnn.int8 import Int8Matrix

rng = np.random.default_rng(0)
ROOT = Path(__file__).resolve().parents[1]


def test_tanh_and_sigmoid_are_within_float32_rounding():
    x = np.linspace(-20, 20, 40_001, dtype=np.float32)
    size = x.size  # the gates go through _tanh and _sigmoid; check them through the cell
    gates = np.zeros((1, 4 * size), np.float32)
    gates[0, 2 * size : 3 * size] = x  # g = tanh(x); i = f = o = sigmoid(0) = 0.5
    h, c = kernels.lstm_cells(gates, np.zeros_like(gates), np.zeros((1, size), np.float32))
    np.testing.assert_allclose(c[0], 0.5 * np.tanh(x), atol=3e-7, rtol=0)
    gates[:] = 0
    gates[0, :size] = x  # i = sigmoid(x), and g = tanh(50) = 1 through `pre`
    pre = np.zeros_like(gates)
    pre[0, 2 * size : 3 * size] = 50.0
    _, c = kernels.lstm_cells(gates, pre, np.zeros((1, size), np.float32))
    np.testing.assert_allclose(c[0], 1 / (1 + np.exp(-x.astype(np.float64))), atol=1e-6, rtol=0)


def test_lstm_cells_match_torch():
    hidden, inputs = 24, 10
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(inputs, hidden)
    x, h, c = torch.randn(3, inputs), torch.randn(3, hidden), torch.randn(3, hidden)
    with torch.no_grad():
        want_h, want_c = cell(x, (h, c))
        gates = torch.cat([x, h], 1) @ torch.cat([cell.weight_ih, cell.weight_hh], 1).t()
        pre = (cell.bias_ih + cell.bias_hh).expand(3, -1).contiguous()
        got_h, got_c = kernels.lstm_cells(gates.numpy(), pre.numpy(), c.numpy())
    np.testing.assert_allclose(got_h, want_h.numpy(), atol=1e-6)
    np.testing.assert_allclose(got_c, want_c.numpy(), atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1), (7, 33), (2048, 512), (97, 1024), (300, 3000)])
def test_int8_products_are_the_quantized_matrix_times_x(shape):
    weight = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
    matrix = Int8Matrix(weight)
    x = rng.standard_normal((5, shape[1]), dtype=np.float32)
    xq, scale = kernels.quantize(x, matrix.levels)
    assert np.abs(xq).max() <= matrix.levels
    np.testing.assert_allclose(xq * scale[:, None], x, atol=float(scale.max()) / 2 * 1.001, rtol=0)
    want = x.astype(np.float64) @ (matrix.weight.astype(np.float64) * matrix.scale[:, None]).T
    tolerance = np.abs(x).max(1, keepdims=True) / matrix.levels * np.abs(matrix.weight * matrix.scale[:, None]).sum(1)
    assert (np.abs(matrix(x) - want) <= tolerance + 1e-4).all()
    # int8 with one scale per row: within half a step of each weight
    assert np.abs(matrix.weight * matrix.scale[:, None] - weight.numpy()).max() <= matrix.scale.max() / 2 + 1e-6


@pytest.mark.parametrize("levels", [127, 2047, 8191])
def test_quantize_is_numpys_division_and_round_half_to_even_bit_for_bit(levels):
    x = rng.standard_normal((40, 515), dtype=np.float32) * np.float32(30)
    x[1] *= np.float32(1e-30)  # tiny, and huge, rows
    x[2] *= np.float32(1e20)
    x[3] = 0
    x[4] = -0.0
    x[5] = (np.arange(515) % (4 * levels + 1) - 2 * levels) / 2  # halves from -levels: ties (scale 1)
    x[6] = x[5][::-1]
    x[6, 0] = levels
    peak = np.abs(x).max(1)
    scale = np.where(peak > 0, peak / np.float32(levels), np.float32(1)).astype(np.float32)
    want = np.round(x / scale[:, None]).astype(np.int16)
    xq, got_scale = kernels.quantize(x, levels)
    np.testing.assert_array_equal(got_scale.view(np.int32), scale.view(np.int32))
    np.testing.assert_array_equal(xq, want)
    ties = x[5] % 1 == 0.5
    assert ties.sum() > 50 and (xq[5, ties] % 2 == 0).all()  # each to its even neighbour


@pytest.mark.parametrize("shape", [(513, 1024), (2000, 32), (64, 1040), (50, 5000)])
def test_every_way_of_multiplying_gives_the_same_bits(shape, monkeypatch):
    """The integer loops (one thread or several) and the split float32 GEMM are all exact, so a
    row's numbers never depend on the kernel or on the other rows of the batch."""
    matrix = Int8Matrix(torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)))
    x = rng.standard_normal((42, shape[1]), dtype=np.float32)  # blocks of 4 streams and 2 more
    x[3] *= 1000  # rows of any size share a batch
    x[5] = 0
    xq, _ = kernels.quantize(x, matrix.levels)
    loops = kernels.int_products(matrix.weight, xq)
    np.testing.assert_array_equal(kernels.int_products_parallel(matrix.weight, xq, 3), loops)
    alone = np.concatenate([matrix(x[b : b + 1]) for b in range(len(x))])  # B=1: always the loops
    assert int8.products() in int8.exact_ways()
    for way in int8.exact_ways():  # products() takes the fastest of them
        monkeypatch.setattr(int8, "_WAY", way)
        np.testing.assert_array_equal(matrix(x), alone, err_msg=way)
    monkeypatch.setattr(int8, "GEMM_ROWS", 10**6)
    np.testing.assert_array_equal(matrix(x), alone)


def test_a_way_that_saturates_is_not_used(monkeypatch):
    """Without VNNI, x86 int8 GEMMs multiply unsigned by signed bytes in pairs into a saturating
    16-bit sum (vpmaddubsw): exact only while 2 x 127 x 127 fits, which kernels.halves keeps to.
    A kernel that feeds it bytes up to 255 (a signed input shifted by 128, as oneDNN does for
    torch._int_mm) is off at the largest products, and products() must not use it."""
    def saturating(matrix, split):  # vpmaddubsw, then int32 sums, on the halves shifted by 128
        x, w = split.astype(np.int64) + 128, matrix.weight.astype(np.int64)
        pairs = x[:, None, 0::2] * w[None, :, 0::2] + x[:, None, 1::2] * w[None, :, 1::2]  # (2B, N, K/2)
        return (np.clip(pairs, -(2**15), 2**15 - 1).sum(-1) - 128 * w.sum(1)).astype(np.float32)

    monkeypatch.setattr(Int8Matrix, "_float32", saturating)
    int8.exact_ways.cache_clear()
    try:
        assert "float32" not in int8.exact_ways() and "loops" in int8.exact_ways()
    finally:
        int8.exact_ways.cache_clear()


AVX2_ONLY = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
from wordrnn import Checkpoint, int8
from wordrnn.generate import Generator
from wordrnn.scheduler import Scheduler
gen = Generator(Checkpoint.from_pretrained("models/kjv-lstm"), device="cpu")
prompts = ["and god said", "in the beginning god created", "the lord is my shepherd", "and it came to pass"] * 2
modes = ["top-k", "top-p"]  # top-p: the output layer in float32 (wordrnn.output.FloatOutput)
alone = [list(gen.stream(p, 24, mode=modes[n % 2], seed=n)) for n, p in enumerate(prompts)]
scheduler = Scheduler(gen)
together = [scheduler.stream(p, 24, mode=modes[n % 2], seed=n) for n, p in enumerate(prompts)]
assert [list(s) for s in together] == alone
import numpy as np
from wordrnn.output import FloatOutput
layer = FloatOutput(gen.model.output)
x = np.random.default_rng(0).standard_normal((9, gen.model.config.output_size)).astype(np.float32)
assert all((layer(x[b : b + 1])[0] == layer(x)[b]).all() for b in range(9))
print("way", int8.products(), "exact", *int8.exact_ways())
"""


def test_a_cpu_with_avx2_alone_writes_the_same_words_alone_and_in_a_crowd():
    """AMD's Zen 2 and 3 have AVX2 but neither VNNI nor AVX-512: oneDNN, ATen and numba are told
    to use no more than AVX2 here, so the int8 products (and top-p's float32 ones) run the code
    such a CPU runs."""
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "NUMBA_CPU_NAME": "haswell"}
    env.pop("NUMBA_CPU_FEATURES", None)
    run = subprocess.run([sys.executable, "-c", AVX2_ONLY], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    way = run.stdout.split("way ")[1].split()[0]
    assert way in run.stdout.split("exact ")[1].split()
    assert "int_mm does not give exact sums" in run.stdout or "avx512_vnni" not in Path("/proc/cpuinfo").read_text()


def test_rescored_scores_are_exact_for_the_best_rows_and_minus_inf_elsewhere():
    weight = rng.standard_normal((500, 16), dtype=np.float32)
    bias = rng.standard_normal(500, dtype=np.float32)
    x = rng.standard_normal((1, 16), dtype=np.float32)
    exact = weight @ x[0] + bias
    approximate = (exact + rng.normal(0, 0.01, 500)).astype(np.float32)[None]
    always = np.array([3, 499])
    counts = np.array([10])
    rescored = score_kernels.rescored
    scores = rescored(approximate.copy(), weight, bias, x, counts, always, np.array([-np.inf], np.float32))
    finite = np.flatnonzero(np.isfinite(scores[0]))
    assert set(np.argsort(-approximate[0])[:10]) | {3, 499} == set(finite)
    np.testing.assert_allclose(scores[0, finite], exact[finite], rtol=1e-5, atol=1e-5)
    kept = rescored(approximate.copy(), weight, bias, x, counts, always, np.array([np.nan], np.float32))
    rest = np.setdiff1d(np.arange(500), finite)
    np.testing.assert_array_equal(kept[0, rest], approximate[0, rest])


def test_log_softmax_ignores_minus_inf_and_matches_torch():
    x = rng.standard_normal((2, 300), dtype=np.float32) * 5
    x[:, ::3] = -np.inf
    want = torch.from_numpy(x).log_softmax(-1).numpy()
    got = score_kernels.log_softmax(x.copy())
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.isneginf(got[:, ::3]).all()


@pytest.mark.parametrize("length", [50, 64, 2002, 12383])
def test_log_softmax_of_wide_rows_matches_float64(length):
    """The SIMD exponentials, over rows as long as a head or a whole vocabulary, spread far
    beyond float32's normal range (exp(-87.3))."""
    x = (rng.standard_normal((3, length)) * 30).astype(np.float32)
    x[:, 7::11] = -np.inf
    got = score_kernels.log_softmax(x.copy())
    want = torch.from_numpy(x).double().log_softmax(-1).float().numpy()
    finite = np.isfinite(want)
    # atol: scores near 100 are float32s 8e-6 apart, before and after the shift
    np.testing.assert_allclose(got[finite], want[finite], rtol=2e-6, atol=1e-5)
    assert (np.isneginf(got) == ~finite).all()


@pytest.mark.parametrize("width", [4000, 6383, 2002, 5])
def test_log_softmax_into_is_log_softmax_then_an_add_bit_for_bit(width):
    """FloatOutput writes each part's log-probabilities where they go; its numbers must be those
    of log_softmax on a copy, then numpy's add (rows padded, -inf words, an offset)."""
    x = (rng.standard_normal((8, width + 3)) * 4).astype(np.float32)  # 8 rows, 3 padding columns
    x[:, 1::7] = -np.inf
    add = rng.standard_normal(6).astype(np.float32)
    want = score_kernels.log_softmax(x[:6, :width].copy()) + add[:, None]
    out = np.full((6, width + 10), 7.0, np.float32)
    before = x.copy()
    score_kernels.log_softmax_into(x, width, out, 4, add)
    np.testing.assert_array_equal(out[:, 4 : 4 + width], want)
    assert (out[:, :4] == 7).all() and (out[:, 4 + width :] == 7).all()  # nothing else written
    np.testing.assert_array_equal(x, before)


def test_kth_largest_and_peak_match_a_sort():
    """Both skip whole blocks by their maximum: ties, -inf and every block boundary."""
    for trial in range(300):
        n = int(rng.integers(1, 3000))
        x = (rng.integers(-20, 20, n) if trial % 2 else rng.standard_normal(n) * 10).astype(np.float32)
        x[rng.random(n) < 0.2] = -np.inf
        k = int(rng.integers(1, n + 1))
        assert score_kernels.kth_largest(x, k) == np.sort(x)[-k], (n, k)
        start = int(rng.integers(0, n))
        stop = int(rng.integers(start + 1, n + 1))
        assert score_kernels._peak(x, start, stop, np.empty(16, np.float32)) == x[start:stop].max()


RUN_KERNELS = """
import numpy as np
from wordrnn import jit, kernels
from numba.core.registry import CPUDispatcher
print(int(jit.cached_kernels()))  # what the stepper says before it compiles
x = np.ones((1, 8), np.float32)
xq, _ = kernels.quantize(x, 100)
kernels.int_products(np.ones((3, 8), np.int8), xq)
kernels.lstm_cells(np.zeros((1, 8), np.float32), np.zeros((1, 8), np.float32), np.zeros((1, 2), np.float32))
stats = [f.stats for f in (kernels.quantize, kernels.int_products, kernels.lstm_cells)]
print(sum(sum(s.cache_hits.values()) for s in stats), sum(sum(s.cache_misses.values()) for s in stats))
"""


def test_a_read_only_fresh_copy_of_the_package_compiles_once(tmp_path):
    """As on a Space: the package folder cannot be written and its files are new copies; the
    second start loads the kernels from the per-user cache instead of compiling them again."""
    copy = tmp_path / "app"
    shutil.copytree(ROOT / "wordrnn", copy / "wordrnn", ignore=shutil.ignore_patterns("__pycache__", "models"))
    for path in sorted(copy.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("NUMBA_CACHE_DIR", None)
    runs = []
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", RUN_KERNELS], env=env, cwd=tmp_path, capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        runs.append([int(n) for n in run.stdout.split()])
        os.utime(copy / "wordrnn" / "kernels.py")  # a fresh copy: same contents, a new time
    assert runs[0] == [0, 0, 3]  # nothing cached, so compiled...
    assert runs[1] == [1, 3, 0]  # ...then found
    assert any((tmp_path / "hf" / "wordrnn-numba").rglob("*.nbi"))
    # Another installation (another path) compiles its own, and is told so.
    shutil.copytree(copy / "wordrnn", tmp_path / "other" / "wordrnn")
    run = subprocess.run([sys.executable, "-c", RUN_KERNELS], env={**env, "PYTHONPATH": str(tmp_path / "other")},
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert [int(n) for n in run.stdout.split()] == [0, 0, 3]
    assert not any(copy.rglob("*.nbi"))
