"""Tests for wordrnn.kernels, the compiled loops of the fast path, against numpy and PyTorch."""
import numpy as np
import pytest
import torch

from wordrnn import kernels
from wordrnn.int8 import Int8Matrix

rng = np.random.default_rng(0)


def test_tanh_and_sigmoid_are_within_float32_rounding():
    x = np.linspace(-20, 20, 40_001, dtype=np.float32)
    cell = kernels.lstm_cell  # the gates go through _tanh and _sigmoid; check them through it
    size = x.size
    gates = np.zeros(4 * size, np.float32)
    gates[2 * size : 3 * size] = x  # g = tanh(x); i = f = o = sigmoid(0) = 0.5
    h, c = cell(gates, np.zeros_like(gates), np.zeros(size, np.float32))
    np.testing.assert_allclose(c, 0.5 * np.tanh(x), atol=3e-7, rtol=0)
    gates[:] = 0
    gates[:size] = x  # i = sigmoid(x), and g = tanh(50) = 1 through `pre`
    pre = np.zeros_like(gates)
    pre[2 * size : 3 * size] = 50.0
    _, c = cell(gates, pre, np.zeros(size, np.float32))
    # sigmoid = (1 + tanh(x / 2)) / 2: absolute errors of a few float32 steps near 1
    np.testing.assert_allclose(c, 1 / (1 + np.exp(-x.astype(np.float64))), atol=1e-6, rtol=0)


def test_lstm_cell_matches_torch():
    hidden, inputs = 24, 10
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(inputs, hidden)
    x, h, c = torch.randn(1, inputs), torch.randn(1, hidden), torch.randn(1, hidden)
    with torch.no_grad():
        want_h, want_c = cell(x, (h, c))
        gates = (torch.cat([x, h], 1) @ torch.cat([cell.weight_ih, cell.weight_hh], 1).t())[0]
        got_h, got_c = kernels.lstm_cell(gates.numpy(), (cell.bias_ih + cell.bias_hh).numpy(), c[0].numpy())
    np.testing.assert_allclose(got_h, want_h[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(got_c, want_c[0].numpy(), atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1), (7, 33), (2048, 512), (97, 1024)])
def test_int8_products_are_the_quantized_matrix_times_x_on_any_thread_count(shape):
    weight = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
    matrix = Int8Matrix(weight)
    x = rng.standard_normal(shape[1], dtype=np.float32)
    want = (matrix.weight.astype(np.float64) * matrix.scale[:, None]) @ x
    for threads in (1, 2, 3):
        got = kernels.matvec_parallel(matrix.weight, matrix.scale, x, threads)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(kernels.matvec(matrix.weight, matrix.scale, x), want, rtol=1e-5, atol=1e-4)
    # int8 with one scale per row: within half a step of each weight
    assert np.abs(matrix.weight * matrix.scale[:, None] - weight.numpy()).max() <= matrix.scale.max() / 2 + 1e-6


def test_rescored_scores_are_exact_for_the_best_rows_and_minus_inf_elsewhere():
    weight = rng.standard_normal((500, 16), dtype=np.float32)
    bias = rng.standard_normal(500, dtype=np.float32)
    x = rng.standard_normal(16, dtype=np.float32)
    exact = weight @ x + bias
    approximate = (exact + rng.normal(0, 0.01, 500)).astype(np.float32)
    always = np.array([3, 499])
    scores = kernels.rescored(approximate.copy(), weight, bias, x, 10, always, -np.inf)
    finite = np.flatnonzero(np.isfinite(scores))
    assert set(np.argsort(-approximate)[:10]) | {3, 499} == set(finite)
    np.testing.assert_allclose(scores[finite], exact[finite], rtol=1e-5, atol=1e-5)
    kept = kernels.rescored(approximate.copy(), weight, bias, x, 10, always, np.nan)
    rest = np.setdiff1d(np.arange(500), finite)
    np.testing.assert_array_equal(kept[rest], approximate[rest])


def test_log_softmax_ignores_minus_inf_and_matches_torch():
    x = rng.standard_normal(300, dtype=np.float32) * 5
    x[::3] = -np.inf
    want = torch.from_numpy(x).log_softmax(-1).numpy()
    got = kernels.log_softmax(x.copy())
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.isneginf(got[::3]).all()
