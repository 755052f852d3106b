"""The learning-rate schedule, and how a time budget sizes it.

    learning rate
    peak ─┐  ____
          │ /    '''-..__       cosine decay            held at the floor
    floor │/             ''--..____________________._____________________
          0 warm-up .................................. decay_end ........ total steps
                                                       └─ weights averaged ─┘

Why: AdamW's first noisy moments need the short linear warm-up; the cosine to 10% settles the
model by the end, and the weights at the floor are averaged (training/average.py). The length is
fixed by --epochs, or, with --time-budget, re-fitted to the time left every few steps (`Budget`),
so that the floor is reached when the budget ends rather than the budget cutting the schedule off
near its peak; once at the floor, the re-fits change only how many steps are averaged there.
"""

from __future__ import annotations

import math
import time
from collections import deque
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
    """Wall-clock time left, and how many more steps fit in it at the speed measured so far.

    A step's time is the mean of the last RECENT steps once there are that many, else the mean
    since measuring began: what the machine does now is what the rest of the run will see. One
    that gets busier halfway (a laptop, a shared Space) shortens the plan at once instead of the
    budget cutting it off above the floor, and one that was busy at the start (another program
    finishing, caches filling) lengthens it instead of ending the run with a third of the budget
    unused. Validations are counted apart, spread over the steps (they come every
    --eval-interval, not in every window)."""

    MEASURED = 5  # steps timed before the first fit
    RECENT = 50  # steps in the window that catches a slowdown
    MARGIN = 0.95  # plan to finish a little early: step times wander on a shared machine

    def __init__(self, seconds: float, used: float = 0.0, validation_steps: float = 0.0) -> None:
        """`seconds`: the whole run's budget, of which earlier sessions `used` some (a resumed run);
        `validation_steps`: a guess at a validation's cost in training steps, until one is timed."""
        self.seconds = seconds
        self.end = time.monotonic() + seconds - used
        self.validation_steps = validation_steps
        self.started: tuple[int, float, float] | None = None  # (step, time, validating) where measuring began
        self.per_step = 0.0  # seconds a training step takes, as last measured
        self.last_validation = 0.0  # seconds the latest validation took
        self.validating = 0.0  # seconds all validations took
        self.fitted = False  # whether a schedule has been fitted to it yet
        self._marks: deque[tuple[int, float, float]] = deque()  # (step, time, validating) at each fit

    def used(self) -> float:
        """Seconds of the budget spent, by this session and those before it."""
        return self.seconds - (self.end - time.monotonic())

    def expected_validation(self) -> float:
        """Seconds the final validation will take: as the last one took, else the guess."""
        return self.last_validation or self.validation_steps * self.per_step

    def over(self) -> bool:
        """Whether only the final validation still fits (it runs after the last step)."""
        return time.monotonic() >= self.end - self.expected_validation()

    def start(self, step: int) -> None:
        """Measure from here (after the first step, whose time includes one-off set-up)."""
        self.started = (step, time.monotonic(), self.validating)
        self._marks.clear()

    def validated(self, seconds: float) -> None:
        self.last_validation = seconds
        self.validating += seconds

    def steps_left(self, step: int) -> int | None:
        """More steps that fit before the end, validations included; None until measured."""
        if self.started is None or step - self.started[0] < self.MEASURED:
            return None
        now = time.monotonic()
        self._marks.append((step, now, self.validating))
        while len(self._marks) > 1 and step - self._marks[1][0] >= self.RECENT:
            self._marks.popleft()  # the oldest mark still RECENT steps back begins the window
        steps = step - self.started[0]
        since = self._marks[0] if step - self._marks[0][0] >= self.RECENT else self.started
        per_step = self._training(since, step, now) / (step - since[0])
        self.per_step = per_step
        per_step += (self.validating - self.started[2]) / steps  # validations amortized
        left = (self.end - now) * self.MARGIN - self.expected_validation()  # the final validation
        return max(0, int(left / per_step))

    def _training(self, since: tuple[int, float, float], step: int, now: float) -> float:
        """Seconds spent on steps (not validations) from the mark `since` to now."""
        return max(1e-9, now - since[1] - (self.validating - since[2]))
