"""Weight averaging over the end of training (SWA, Izmailov et al. 2018; AWD-LSTM's averaged SGD).

    learning rate
    peak ─┐
          │'''-..__           cosine decay            held at the floor
    floor │        ''--..____________________________._______________________
          0 .......................................... start ............. total steps
                                                       └─ mean of the weights ─┘
                                                          after each of these steps

At a constant learning rate the weights keep moving around a minimum instead of settling in it.
Their running mean sits nearer its centre than any single step's weights, so it validates better
than the last or the best of them; validation scores the mean once averaging has begun.
"""

from __future__ import annotations

import copy

import torch

from wordrnn.model import WordRNN


class WeightAverage:
    """The running mean of a model's parameters, kept in a copy of the model."""

    def __init__(self, model: WordRNN) -> None:
        self.model = copy.deepcopy(model).eval()
        self.model.requires_grad_(False)
        self.count = 0

    def update(self, model: WordRNN) -> None:
        """Add the model's current parameters to the mean."""
        self.count += 1
        with torch.no_grad():
            for mean, value in zip(self.model.parameters(), model.parameters()):
                if self.count == 1:
                    mean.copy_(value)
                else:
                    mean.lerp_(value, 1.0 / self.count)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The mean's parameters by name, for the training state (empty before the first step)."""
        if not self.count:
            return {}
        return {name: value for name, value in self.model.named_parameters()}

    def restore(self, tensors: dict[str, torch.Tensor], count: int) -> None:
        """Take back what `tensors` gave, after `count` averaged steps."""
        if not count:
            return
        names = dict(self.model.named_parameters())
        if set(tensors) != set(names):
            raise ValueError("the saved weight average does not match the model's parameters")
        with torch.no_grad():
            for name, value in tensors.items():
                names[name].copy_(value)
        self.count = count
