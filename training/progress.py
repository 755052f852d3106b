"""What the training loop says as it goes: the opening lines on the model and the run's length,
the training rows of each logged window of steps (to the report, training/report.py), and the
error a non-finite loss stops the run with. Kept apart so that the loop reads as its steps.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import table

if TYPE_CHECKING:
    from .loop import Loop

log = logging.getLogger("training")


def announce(loop: "Loop") -> None:
    """One line on the model and the run's length, once the schedule is known (a resumed
    run's is the saved one)."""
    sized = loop.budget and not loop.args.epochs and loop.step < loop.schedule.decay_end
    log.info("model: %s parameters, %d step%s of %d x %d tokens per epoch, %s, %s",
             f"{loop.model.num_parameters():,}", loop.per_epoch, "s" * (loop.per_epoch != 1),
             loop.args.batch_size, loop.args.seq_len,
             "schedule sized by the time budget" if sized else f"{loop.limit():,} step{'s' * (loop.limit() != 1)} in all",
             table.precision(loop.precision.dtype))
    log.info("validation: %s", table.validated(loop.valid.numel() - 1, loop.corpus.valid.numel() - 1))


def say_nan(loop: "Loop", loss: float) -> None:
    """The error a non-finite loss at the next step stops the run with."""
    model = loop.out / "model"
    kept = (f"The last good checkpoint is {model}." if (model / "config.json").exists()
            else "No checkpoint had been saved yet (the first comes with the first validation).")
    log.error("error: the loss became %s at step %d; stopping. %s Lower --lr or --clip "
              "and start again.", loss, loop.step + 1, kept)


def log_window(loop: "Loop", window: list[tuple[float, float, int, float]]) -> None:
    """One training row for the report from the steps in `window` (loss, accuracy, tokens and
    time of each); the mean loss is kept for the model card."""
    rows = window[1:] if len(window) > 1 else window
    span = window[-1][3] - window[0][3] if len(window) > 1 else 0.0
    tokens = sum(r[2] for r in rows) * loop.process.world_size
    loop.train_loss = sum(r[0] for r in rows) / len(rows)
    loop.report.train(loop.step, {
        "loss": loop.train_loss,
        "accuracy": sum(r[1] for r in rows) / len(rows),
        "tokens_per_s": tokens / span if span > 0 else 0.0,
        "lr": loop.schedule.lr(loop.step - 1),
        "epoch": loop.step / loop.per_epoch,
    })
