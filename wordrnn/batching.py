"""Token-id streams -> (B, T) batches for truncated back-propagation through time.

The stream is cut into B equal columns that are read in parallel, top to bottom; the model's
state is carried from one batch to the next, so column b of batch i+1 continues column b of
batch i. With the stream "a b c ... x", B = 4 and T = 2:

    stream -> (B, N) with N = 6      batch 0: inputs   targets   batch 1: inputs   targets
    ┌ a g m s ┐ᵀ                              a b       b c                c d       d e
    │ b h n t │                               g h       h i                i j       j k
    │ c i o u │                               m n       n o                o p       p q
    │ d j p v │                               s t       t u                u v       v w
    │ e k q w │
    └ f l r x ┘

Targets are the inputs shifted by one word. The last batch may be shorter than T. Tokens that
do not fill a whole column (len % B) are dropped.
"""

from __future__ import annotations

from typing import Iterator

import torch


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a 1-D id stream into `batch_size` columns: (N,) -> (B, N // B)."""
    if ids.dim() != 1:
        raise ValueError(f"expected a 1-D stream of token ids, got shape {tuple(ids.shape)}")
    if batch_size < 1:
        raise ValueError(f"the batch size must be at least 1, got {batch_size}")
    length = ids.numel() // batch_size
    if length < 2:
        raise ValueError(
            f"{ids.numel()} tokens are too few for batch size {batch_size}: "
            f"each of the {batch_size} columns needs at least 2 tokens; "
            "use more text or a smaller --batch-size"
        )
    return ids[: length * batch_size].view(batch_size, length)  # (B, N)


def shard(ids: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """The contiguous part of a stream that one of `world_size` processes trains on.

    Every process gets the same number of tokens (the remainder is dropped), so they all run the
    same number of steps and their gradient all-reduces stay in step."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got rank {rank}")
    size = ids.numel() // world_size
    return ids[rank * size : (rank + 1) * size]


def num_batches(data: torch.Tensor, seq_len: int) -> int:
    """How many batches `bptt_batches` yields for (B, N) `data`."""
    return (data.size(1) - 1 + seq_len - 1) // seq_len


def bptt_batches(
    data: torch.Tensor, seq_len: int, start: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (inputs, targets), both (B, T), walking the columns of `data` from batch `start`."""
    for i in range(start * seq_len, data.size(1) - 1, seq_len):
        t = min(seq_len, data.size(1) - 1 - i)
        yield data[:, i : i + t], data[:, i + 1 : i + 1 + t]  # (B, T), (B, T)
