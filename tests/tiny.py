"""A tiny trained checkpoint for tests: learned in a few seconds, deterministic."""

from __future__ import annotations

import torch
from torch import nn

from wordrnn import Checkpoint, ModelConfig, Vocabulary, WordRNN, tokenize
from wordrnn.batching import batchify, bptt_batches

TEXT = "\n".join(
    [
        "in the beginning god created the heaven and the earth .",
        "and the earth was without form , and void ; and darkness was upon the face of the deep .",
        "and the spirit of god moved upon the face of the waters .",
        "and god said , let there be light : and there was light .",
        "and god saw the light , that it was good : and god divided the light from the darkness .",
    ]
    * 4
)


def train_tiny(steps: int = 150, seed: int = 0, **config: object) -> Checkpoint:
    """Train a small LSTM on TEXT until it predicts most next words."""
    torch.manual_seed(seed)
    words = tokenize(TEXT)
    vocab = Vocabulary.build(words)
    options = {"embedding_size": 32, "hidden_sizes": [64, 48], "dropout": 0.0, **config}
    model = WordRNN(ModelConfig(vocab_size=len(vocab), **options))
    data = batchify(torch.tensor(vocab.encode(words)), 4)  # (4, N)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(steps // max(1, data.size(1) // 16) + 1):
        state = None
        for inputs, targets in bptt_batches(data, 16):
            logits, state = model(inputs, state)
            state = [(h.detach(), c.detach()) for h, c in state]
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    return Checkpoint(model, vocab, {"metrics": {"train_loss": loss.item()}})
