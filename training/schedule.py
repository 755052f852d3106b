"""The learning-rate schedule, and how a time budget sizes it.

    learning rate
    peak ─┐  ____
          │ /    '''-..__       cosine decay            held at the floor
    floor │/             ''--..____________________._____________________
          0 warm-up .................................. decay_end ........ total steps
                                                       └─ weights averaged ─┘

Why: AdamW's first noisy moments need the short linear warm-up; the cosine to 10% settles the
model by the end, and the weights at the floor are averaged (training/average.py). The length is
fixed by --epochs, or, with --time-budget, re-fitted to the time left every few steps until the
averaging begins (`Budget`), so that the floor is reached when the budget ends rather than the
budget cutting the schedule off near its peak.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass


@dataclass
class Schedule:
    peak: float
    total: int  # steps
    warmup: int
    averaged: int  # the last steps, at the floor, whose weights are averaged
    FLOOR = 0.1  # of the peak

    @property
    def decay_end(self) -> int:
        """The first step at the floor (the first averaged one)."""
        return self.total - min(self.averaged, self.total - 1)

    def lr(self, step: int) -> float:
        if step < self.warmup:
            return self.peak * (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.decay_end - self.warmup))
        return self.peak * (self.FLOOR + (1 - self.FLOOR) * 0.5 * (1 + math.cos(math.pi * progress)))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Schedule":
        return cls(**data)


class Budget:
    """Wall-clock time left, and how many more steps fit in it at the speed measured so far."""

    MEASURED = 5  # steps timed before the first fit
    MARGIN = 0.95  # plan to finish a little early: step times wander on a shared machine

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.started: tuple[int, float] | None = None  # (step, time) where measuring began
        self.last_validation = 0.0  # seconds the latest validation took
        self.fitted = False  # whether a schedule has been fitted to it yet

    def over(self) -> bool:
        return time.monotonic() >= self.end

    def start(self, step: int) -> None:
        """Measure from here (after the first step, whose time includes one-off set-up)."""
        self.started = (step, time.monotonic())

    def steps_left(self, step: int) -> int | None:
        """More steps that fit before the end, validations included; None until measured."""
        if self.started is None or step - self.started[0] < self.MEASURED:
            return None
        now = time.monotonic()
        per_step = (now - self.started[1]) / (step - self.started[0])  # validations amortized
        left = (self.end - now) * self.MARGIN - self.last_validation  # the final validation
        return max(0, int(left / per_step))
