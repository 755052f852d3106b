"""The training objective: next-word cross-entropy, as one module DistributedDataParallel wraps.

DDP synchronises gradients only for work done inside its wrapped module's forward, so the loss
(which for an adaptive softmax never materialises all V logits) is computed here rather than by
calling the model's parts from the training loop.
"""

from __future__ import annotations

import torch
from torch import nn

from wordrnn.model import State, WordRNN


class BlockCrossEntropy(torch.autograd.Function):
    """Cross-entropy of each row of (N, V) logits, of any float dtype, in float32 a block of
    rows at a time: the values of F.cross_entropy(logits.float(), targets, reduction="none")
    without its full-size float32 copies (the cast, the log-softmax, the zero-filled gradient),
    which under bfloat16 autocast cost more than the output layer's matrix products."""

    BLOCK = 256  # rows: a float32 block of a 12k-word softmax is 12 MB

    @staticmethod
    def forward(ctx, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        lse = torch.empty(logits.size(0), dtype=torch.float32, device=logits.device)  # (N,)
        losses = torch.empty_like(lse)
        for start in range(0, logits.size(0), BlockCrossEntropy.BLOCK):
            rows = slice(start, start + BlockCrossEntropy.BLOCK)
            block = logits[rows].float()  # (R, V)
            torch.logsumexp(block, -1, out=lse[rows])
            torch.sub(lse[rows], block.gather(1, targets[rows, None])[:, 0], out=losses[rows])
        ctx.save_for_backward(logits, targets, lse)
        return losses

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        logits, targets, lse = ctx.saved_tensors
        out = torch.empty_like(logits)
        for start in range(0, logits.size(0), BlockCrossEntropy.BLOCK):
            rows = slice(start, start + BlockCrossEntropy.BLOCK)
            block = logits[rows].to(torch.float32, copy=True).sub_(lse[rows, None]).exp_()  # softmax (R, V)
            block.scatter_add_(1, targets[rows, None], torch.full_like(block[:, :1], -1.0))
            out[rows] = block.mul_(grad[rows, None].float())  # (softmax - onehot) g
        return out, None


def scored(model: WordRNN, features: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of each target and the most likely word at each position:
    (B, T, O) features, (B, T) targets -> losses (B * T,), predicted ids (B * T,).

    A full softmax computes its (B * T, V) logits once for both: they are the largest tensor of
    a training step, and a second output pass for the predictions cost 15% of its time."""
    flat, goal = features.reshape(-1, features.size(-1)), targets.reshape(-1)
    if isinstance(model.output, nn.AdaptiveLogSoftmaxWithLoss):
        losses = -model.output(flat, goal).output  # log-probability of each target
        with torch.no_grad():
            return losses, model.output.predict(flat.detach())
    logits = model.logits(flat)  # (B * T, V)
    with torch.no_grad():
        predicted = logits.detach().max(-1).indices  # on the CPU 2-3x faster than argmax
    return BlockCrossEntropy.apply(logits, goal), predicted


class NextWordLoss(nn.Module):
    """Next-word cross-entropy, plus the activation penalties of AWD-LSTM when asked for:

        AR  = activation * mean(h_t ** 2)             small outputs of the last layer
        TAR = temporal * mean((h_t - h_(t+1)) ** 2)   outputs that change slowly from step to step

    Both read the last layer's output after its dropout. The mask is the same at every step, so
    TAR on it is the raw output's TAR over the kept units (AWD-LSTM takes TAR before dropout)."""

    def __init__(self, model: WordRNN, activation: float = 0.0, temporal: float = 0.0) -> None:
        super().__init__()
        self.model, self.activation, self.temporal = model, activation, temporal

    def forward(
        self, inputs: torch.Tensor, targets: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, State]:
        """(objective, mean cross-entropy, predicted ids (B, T), new state) for (B, T) inputs and
        targets; the objective is the cross-entropy plus the penalties, and the one to minimise."""
        features, state = self.model.features(inputs, state)  # (B, T, O)
        losses, predicted = scored(self.model, features, targets)
        loss = losses.mean()
        objective = loss
        if self.training and self.activation:
            objective = objective + self.activation * features.float().pow(2).mean()
        if self.training and self.temporal and features.size(1) > 1:
            steps = features[:, 1:] - features[:, :-1]  # (B, T - 1, O)
            objective = objective + self.temporal * steps.float().pow(2).mean()
        return objective, loss, predicted.view(targets.shape), state
