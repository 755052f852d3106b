"""Batching: the layout drawn in wordrnn/batching.py's docstring, continuation, errors, shards."""

import re
import string

import pytest
import torch

import wordrnn.batching
from wordrnn.batching import batchify, bptt_batches, num_batches, shard

LETTERS = string.ascii_lowercase[:24]  # the docstring's stream "a b c ... x"


def letters(t: torch.Tensor) -> list[str]:
    """(B, T) ids -> one string per row."""
    return ["".join(LETTERS[i] for i in row) for row in t.tolist()]


def documented_picture() -> tuple[list[str], list[list[str]]]:
    """The (B, N) matrix (as columns) and the rows of the two batches drawn in the docstring."""
    doc = wordrnn.batching.__doc__
    columns = [m.group(1).replace(" ", "") for m in re.finditer(r"[┌│└] ((?:[a-z] ){3}[a-z]) [┐│┘]", doc)]
    batches = re.findall(r"^\s*(?:[┌│└].*?[┐│┘]ᵀ?)?\s+([a-z] [a-z])\s+([a-z] [a-z])\s+([a-z] [a-z])\s+([a-z] [a-z])\s*$",
                         doc, re.MULTILINE)
    return columns, [[pair.replace(" ", "") for pair in row] for row in batches]


def test_layout_matches_the_docstring_picture():
    columns, rows = documented_picture()
    assert len(columns) == 6 and len(rows) == 4  # the picture was found
    data = batchify(torch.arange(24), 4)  # (B, N) = (4, 6)
    assert data.shape == (4, 6)
    assert ["".join(c) for c in zip(*letters(data))] == columns  # the picture shows data transposed
    batches = list(bptt_batches(data, 2))
    for i in range(2):  # inputs and targets of batches 0 and 1, row by row
        inputs, targets = batches[i]
        assert letters(inputs) == [row[2 * i] for row in rows]
        assert letters(targets) == [row[2 * i + 1] for row in rows]
    # The last batch is shorter than T: one input, one target.
    assert [letters(t) for t in batches[2]] == [["e", "k", "q", "w"], ["f", "l", "r", "x"]]
    assert num_batches(data, 2) == len(batches) == 3


@pytest.mark.parametrize("n, b, t", [(24, 4, 2), (100, 3, 7), (50, 1, 5), (37, 5, 3), (9, 4, 100)])
def test_targets_shift_inputs_and_columns_continue(n, b, t):
    stream = torch.arange(n)
    data = batchify(stream, b)
    assert data.shape == (b, n // b)
    # Column b holds one contiguous piece of the stream; the remainder (n % b) is dropped.
    assert torch.equal(data.flatten(), stream[: (n // b) * b])
    batches = list(bptt_batches(data, t))
    assert len(batches) == num_batches(data, t)
    for inputs, targets in batches:
        assert inputs.shape == targets.shape and inputs.size(0) == b and 1 <= inputs.size(1) <= t
        assert torch.equal(targets, inputs + 1)  # stream ids are positions: target = next word
    for (_, targets), (inputs, _) in zip(batches, batches[1:]):
        assert torch.equal(inputs[:, 0], targets[:, -1])  # batch i+1 continues batch i per column
    # Every position of every column is an input exactly once, and every one but the first a target.
    assert torch.equal(torch.cat([i for i, _ in batches], 1), data[:, :-1])
    assert torch.equal(torch.cat([t for _, t in batches], 1), data[:, 1:])


def test_start_skips_batches():
    data = batchify(torch.arange(100), 4)
    every = list(bptt_batches(data, 6))
    later = list(bptt_batches(data, 6, start=2))
    assert len(later) == len(every) - 2
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(every[2:], later))


def test_too_short_stream_is_a_clear_error():
    assert batchify(torch.arange(8), 4).shape == (4, 2)  # the least that works: 2 tokens a column
    with pytest.raises(ValueError, match="too few.*--batch-size"):
        batchify(torch.arange(7), 4)
    with pytest.raises(ValueError, match="1-D"):
        batchify(torch.arange(8).view(2, 4), 2)
    with pytest.raises(ValueError, match="batch size"):
        batchify(torch.arange(8), 0)


@pytest.mark.parametrize("n, world", [(100, 1), (100, 3), (101, 4), (7, 7)])
def test_shards_are_equal_disjoint_and_in_order(n, world):
    stream = torch.arange(n)
    shards = [shard(stream, rank, world) for rank in range(world)]
    assert len({s.numel() for s in shards}) == 1 and shards[0].numel() == n // world
    assert torch.equal(torch.cat(shards), stream[: (n // world) * world])


def test_shard_rejects_a_bad_rank():
    with pytest.raises(ValueError, match="rank"):
        shard(torch.arange(10), 2, 2)
    with pytest.raises(ValueError, match="rank"):
        shard(torch.arange(10), -1, 2)
