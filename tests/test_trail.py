"""Tests for wordrnn.trail: a text's states kept flat give back the states they were given."""
import numpy as np
import torch

from wordrnn.trail import Trail, keep, keep_rows
from wordrnn.wire import flatten

SIZES = [(3, 5), (2, 4)]  # per layer (h, c) widths


def state(seed: int, shape: tuple[int, ...] = (1, 1)) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(*shape, h, generator=generator), torch.randn(*shape, c, generator=generator)) for h, c in SIZES]


def same(a, b) -> bool:
    return all(torch.equal(x, y) and x.shape == y.shape for p, q in zip(a, b) for x, y in zip(p, q))


def test_states_come_back_as_they_went_in_shape_and_all():
    trail = Trail()
    for seed in range(3):
        keep(trail, state(seed))
    assert len(trail) == 3 and all(same(trail[i], state(i)) for i in range(3))
    assert same(trail[-1], state(2)) and [same(s, state(i)) for i, s in enumerate(trail)] == [True] * 3
    assert trail.nbytes == 3 * 14 * 4


def test_a_copy_is_kept_not_the_tensors():
    mine = state(0)
    trail = Trail()
    trail.append(mine)
    mine[0][0].add_(1)
    assert same(trail[0], state(0))


def test_rows_from_the_wire_slices_and_sums():
    rows = np.stack([flatten(state(seed, ())) for seed in range(4)])  # (4, 14): 1-D states
    trail = Trail()
    keep_rows(trail, rows[:2], SIZES)
    keep_rows(trail, rows[2:], SIZES)
    rows[:] = 0  # the trail has its own copy
    assert all(same(trail[i], state(i, ())) for i in range(4))
    joined = trail[:1] + trail[3:]
    assert isinstance(joined, Trail) and len(joined) == 2 and same(joined[1], state(3, ()))
    assert same((Trail() + trail[2:])[0], state(2, ()))
    listed: list = []
    keep_rows(listed, np.stack([flatten(state(5, ()))]), SIZES)  # a plain list of States too
    assert same(listed[0], state(5, ()))


def test_a_last_only_trail_keeps_the_newest_state_alone():
    last = Trail(last_only=True)
    assert len(last) == 0
    for seed in range(3):
        keep(last, state(seed))
    assert len(last) == 1 and same(last[-1], state(2)) and last.nbytes == 14 * 4
    rows = np.stack([flatten(state(seed, ())) for seed in range(3, 6)])  # as a model process sends them
    wired = Trail(last_only=True)
    keep_rows(wired, rows[:2], SIZES)
    keep_rows(wired, rows[2:], SIZES)
    assert len(wired) == 1 and same(wired[0], state(5, ()))
