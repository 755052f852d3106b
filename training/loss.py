"""The training objective: next-word cross-entropy, as one module DistributedDataParallel wraps.

DDP synchronises gradients only for work done inside its wrapped module's forward, so the loss
(which for an adaptive softmax never materialises all V logits) is computed here rather than by
calling the model's parts from the training loop.
"""

from __future__ import annotations

import torch
from torch import nn

from wordrnn.model import State, WordRNN


def token_losses(model: WordRNN, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each target: (B, T, O) features, (B, T) targets -> (B * T,)."""
    flat, goal = features.reshape(-1, features.size(-1)), targets.reshape(-1)
    if isinstance(model.output, nn.AdaptiveLogSoftmaxWithLoss):
        return -model.output(flat, goal).output  # log-probability of each target
    return nn.functional.cross_entropy(model.logits(flat), goal, reduction="none")


def predictions(model: WordRNN, features: torch.Tensor) -> torch.Tensor:
    """Most likely next word at each position: (B, T, O) -> (B, T)."""
    if isinstance(model.output, nn.AdaptiveLogSoftmaxWithLoss):
        flat = features.reshape(-1, features.size(-1))
        return model.output.predict(flat).view(features.shape[:-1])
    return model.logits(features).argmax(-1)


class NextWordLoss(nn.Module):
    def __init__(self, model: WordRNN) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, inputs: torch.Tensor, targets: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """(mean loss, predicted ids (B, T), new state) for (B, T) inputs and targets."""
        features, state = self.model.features(inputs, state)  # (B, T, O)
        loss = token_losses(self.model, features, targets).mean()
        with torch.no_grad():
            predicted = predictions(self.model, features.detach())
        return loss, predicted, state
