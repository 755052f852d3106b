"""A faithful PyTorch re-implementation of the teaching notebook's training procedure.

It is the baseline of `python -m bench.training`: what this project replaces. Procedure (as
in the notebook, TF1 semantics):
- batch size 1; the 7 input words are fed as their ids, as float scalars: shape [1, 7, 1];
- an LSTM stack [1024, 512]; a linear layer (weights and bias ~ N(0, 1)) from the last step's
  output to the vocabulary; softmax cross-entropy against the 8th word;
- RMSProp with lr 0.001 and TensorFlow's defaults (decay 0.9, epsilon 1e-10, no momentum;
  TF adds epsilon inside the square root, PyTorch outside: negligible at 1e-10);
- windows advance by 8 words from a random start in [0, 7], restarting at a random offset
  when the text runs out.
"""

from __future__ import annotations

import random

import torch
from torch import nn

WINDOW = 7


class NotebookRNN(nn.Module):
    def __init__(self, vocab_size: int, hidden_sizes: tuple[int, ...] = (1024, 512)) -> None:
        super().__init__()
        sizes = (1, *hidden_sizes)
        self.layers = nn.ModuleList(nn.LSTM(a, b, batch_first=True) for a, b in zip(sizes, sizes[1:]))
        self.w = nn.Parameter(torch.randn(hidden_sizes[-1], vocab_size))
        self.b = nn.Parameter(torch.randn(vocab_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 7, 1) float word ids -> logits (B, V) for the next word."""
        for lstm in self.layers:
            x, _ = lstm(x)  # (B, 7, H)
        return x[:, -1] @ self.w + self.b  # (B, V)


class NotebookTrainer:
    """One `step()` is one notebook iteration: one window, one RMSProp update."""

    def __init__(self, ids: list[int], vocab_size: int, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.random = random.Random(seed)
        self.ids = ids
        self.model = NotebookRNN(vocab_size)
        self.optimizer = torch.optim.RMSprop(self.model.parameters(), lr=0.001, alpha=0.9, eps=1e-10)
        self.offset = self.random.randint(0, WINDOW)

    def step(self) -> tuple[float, bool]:
        if self.offset > len(self.ids) - (WINDOW + 1):
            self.offset = self.random.randint(0, WINDOW)
        window = self.ids[self.offset : self.offset + WINDOW]
        x = torch.tensor(window, dtype=torch.float32).view(1, WINDOW, 1)  # (1, 7, 1)
        target = torch.tensor([self.ids[self.offset + WINDOW]])
        logits = self.model(x)
        loss = nn.functional.cross_entropy(logits, target)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.offset += WINDOW + 1
        return float(loss), bool(logits.argmax(-1) == target)

    @torch.no_grad()
    def accuracy(self) -> float:
        """Next-word accuracy over every 7-word window of the text."""
        windows = torch.tensor(self.ids, dtype=torch.float32).unfold(0, WINDOW, 1)[:-1]  # (N-7, 7)
        targets = torch.tensor(self.ids[WINDOW:])
        correct = 0
        for chunk, goal in zip(windows.split(512), targets.split(512)):
            correct += int((self.model(chunk.unsqueeze(-1)).argmax(-1) == goal).sum())
        return correct / len(targets)
