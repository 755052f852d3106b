"""Validation during training: score the held-out tokens, keep the model when it is the best so
far, save the training state. The loop (training/loop.py) decides when; this is what happens
then, kept apart so that the loop reads as its steps.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Callable

import torch

from . import report, table
from .evaluate import Interrupted, evaluate
from wordrnn import Checkpoint

if TYPE_CHECKING:
    from .loop import Loop

log = logging.getLogger("training")


def validate(loop: "Loop", inputs: torch.Tensor, targets: torch.Tensor, predicted: torch.Tensor,
             interrupted: Callable[[], bool] | None = None) -> None:
    """Score the validation tokens, keep the model if it is the best so far, save the state.
    A stop request (`interrupted`) ends the pass: no score, the best checkpoint stays."""
    if not loop.process.is_main:
        return
    started = time.monotonic()
    model = loop.average.model if loop.average and loop.average.count else loop.model
    try:
        score = evaluate(model, loop.valid, stop=interrupted)
    except Interrupted as err:
        log.info("validation at step %d stopped (%s); the best checkpoint so far is kept", loop.step, err)
        loop.cut_short = True
        loop.save_state()
        return
    row = {"valid_loss": score.loss, "valid_perplexity": score.perplexity, "valid_accuracy": score.accuracy}
    line = report.sample_line(loop.corpus.vocab, inputs[0].tolist(), int(targets[0, -1]), int(predicted[0, -1]))
    loop.report.valid(loop.step, row, line)
    if score.loss < loop.best:
        loop.best = score.loss
        info = table.info(loop, model, row)
        Checkpoint(model, loop.corpus.vocab, info).save_pretrained(loop.out / "model")
    if loop.budget:
        loop.budget.validated(time.monotonic() - started)
    loop.save_state()
