"""The training loop: batched truncated BPTT with AdamW, the schedule of training/schedule.py,
gradient clipping, validation, and the training state saved at each validation and every
--save-interval (so a killed process loses at most that much). The loop decides when; what a
validation does is training/validation.py's, saving and resuming training/state.py's, and the
log lines and report rows training/progress.py's.

Why AdamW: it converges in far fewer steps than the notebook's RMSProp on batch 1 or the SGD of
pytorch/examples, and is forgiving of the learning rate.
"""

from __future__ import annotations

import enum
import math
import time
from argparse import Namespace
from pathlib import Path
from typing import Callable

import torch
from torch.nn.parallel import DistributedDataParallel

from . import progress, report, rules, state, validation
from .average import WeightAverage
from .data import Corpus
from .distributed import Process, any_flag, broadcast_int
from .loss import NextWordLoss
from .precision import Precision
from .schedule import Budget, Schedule
from wordrnn import ModelConfig, WordRNN
from wordrnn.batching import batchify, bptt_batches, num_batches, shard
from wordrnn.model import detach

REPLAN_EVERY = 10  # steps between re-fits of the schedule to the time budget
# Validation during training reads at most this many held-out tokens, the same ones each time so
# that the curve compares: KJV's whole validation split (46,742), while a 100 MB text's 1.1M took
# 15 minutes at 1,500 tokens/s and a stop request waited for it. The test score reads all.
VALID_TOKENS = 50_000
VALIDATION_COST = 0.5  # a validated token's time in a training token's (forward only, 16 columns)


class Stop(enum.Enum):
    DONE = "done"  # the schedule, --max-steps or the time budget ended the run
    INTERRUPTED = "interrupted"  # a signal
    NAN = "nan"


def model_config(args: Namespace, vocab_size: int) -> ModelConfig:
    return ModelConfig(
        vocab_size, args.embedding_size, list(args.hidden_sizes), args.dropout, args.tie_weights,
        list(args.adaptive_cutoffs), input_dropout=args.input_dropout,
        embedding_dropout=args.embedding_dropout, weight_dropout=args.weight_dropout,
    )


class Loop:
    def __init__(self, args: Namespace, corpus: Corpus, process: Process, out: Path) -> None:
        self.args, self.corpus, self.process, self.out = args, corpus, process, out
        torch.manual_seed(args.seed)  # the same initial weights on every rank
        self.model = WordRNN(model_config(args, len(corpus.vocab))).to(process.device)
        torch.manual_seed(args.seed + 1000 * process.rank)
        objective = NextWordLoss(self.model, args.activation_penalty, args.temporal_penalty)
        self.objective = (
            DistributedDataParallel(objective, find_unused_parameters=bool(args.adaptive_cutoffs))
            if process.distributed else objective
        )
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=args.lr,
                                           weight_decay=args.weight_decay, betas=(0.9, 0.99))
        self.precision = Precision(args.precision, process.device)
        local = shard(corpus.train, process.rank, process.world_size)
        self.data = batchify(local, args.batch_size).to(process.device)  # (B, N)
        self.per_epoch = num_batches(self.data, args.seq_len)
        self.valid = corpus.valid[: VALID_TOKENS + 1]  # the first is only context
        cost = VALIDATION_COST * self.valid.numel() / (args.batch_size * args.seq_len)
        self.budget = Budget(args.time_budget, validation_steps=cost) if args.time_budget else None
        epochs = args.epochs or (None if self.budget else rules.EPOCHS)
        # With a budget and no --epochs the length is a placeholder until the first re-fit.
        self.schedule = self.plan(math.ceil(epochs * self.per_epoch) if epochs else 10**9)
        self.average = WeightAverage(self.model) if self.schedule.averaged and process.is_main else None
        self.step, self.best, self.carried = 0, math.inf, None
        self.cut_short = False  # the latest validation was ended by a stop request
        self.train_loss = math.nan  # mean of the last logged steps, for the model card
        self.seconds = 0.0  # training time so far, over all resumed sessions
        self.saved_at = time.monotonic()
        out.mkdir(parents=True, exist_ok=True)
        sized = self.budget and not args.epochs and not args.max_steps
        self.report = report.Report(out, None if sized else self.limit(), process.is_main, args.progress)

    def announce(self) -> None:
        progress.announce(self)

    def plan(self, total: int) -> Schedule:
        """The schedule for `total` steps, with the warm-up and averaging of training/rules.py."""
        total = max(1, total)
        return Schedule(self.args.lr, total, rules.warmup_steps(total, self.args.warmup),
                        rules.averaged_steps(total, self.per_epoch, self.args.average_epochs))

    def limit(self) -> int:
        """The step the run will stop at: the schedule's end or --max-steps."""
        return min(self.schedule.total, self.args.max_steps or self.schedule.total)

    def train(self, interrupted: Callable[[], bool]) -> Stop:
        started = time.perf_counter()
        window = [(math.nan, 0.0, 0, started)]  # where timing starts: a row's speed spans its steps
        if self.step and self.budget and self.budget.over():  # a resumed run whose budget is spent
            return Stop.DONE
        while self.step < self.limit():
            inputs, targets, loss, predicted = self.advance()
            if not math.isfinite(loss):
                progress.say_nan(self, loss)
                return Stop.NAN
            now = time.perf_counter()
            window.append((loss, float((predicted == targets).float().mean()), targets.numel(), now))
            self.seconds += now - started
            started = now
            if self.budget and (self.step % REPLAN_EVERY == 0 or not self.budget.fitted):
                self._fit_budget()
            last = self.step >= self.limit()
            signal = interrupted()
            stopping = any_flag(self.process, signal or bool(self.budget and self.budget.over()))
            if self.step % 10 == 0 or last or stopping:
                progress.log_window(self, window)
                window = window[-1:]
            if stopping and signal and self.cut_short:
                self.save_state()  # the stop request already ended a validation: no second one
            elif self.step % self.args.eval_interval == 0 or last or stopping:
                # a validation begun on a stop request runs to its end (it is bounded); one that a
                # stop request interrupts ends at once, and the next step stops the run
                self.validate(inputs, targets, predicted, None if signal else interrupted)
            elif time.monotonic() - self.saved_at > self.args.save_interval:
                self.save_state()
            if stopping:
                return Stop.INTERRUPTED if signal else Stop.DONE
            started = time.perf_counter()  # validation and saving are not training time
        return Stop.DONE

    def _fit_budget(self) -> None:
        """Re-size the schedule to end when the budget does; at the floor, only its averaged steps."""
        if self.budget.started is None:
            self.budget.start(self.step)
            return
        left = self.budget.steps_left(self.step)
        if left is None:
            return
        total = self.step + max(1, left)
        if self.args.epochs:
            total = min(total, math.ceil(self.args.epochs * self.per_epoch))
        total = broadcast_int(self.process, total)
        self.budget.fitted = True
        if total == self.schedule.total:
            return
        if self.step >= self.schedule.decay_end:  # the decay is over: only the steps at the floor change
            self.schedule = Schedule(self.schedule.peak, total, self.schedule.warmup, total - self.schedule.decay_end)
        else:
            self.schedule = self.plan(total)
            if self.schedule.averaged and self.average is None and self.process.is_main:
                self.average = WeightAverage(self.model)
        self.report.set_total(self.limit())

    def advance(self) -> tuple[torch.Tensor, torch.Tensor, float, torch.Tensor]:
        """One optimisation step on the next batch: (inputs, targets, loss, predicted ids).
        A non-finite loss leaves the parameters and the position untouched."""
        position = self.step % self.per_epoch
        if position == 0:
            self.carried = None  # a new pass over the stream starts from a blank state
        inputs, targets = next(bptt_batches(self.data, self.args.seq_len, start=position))
        loss, predicted = self._train_step(inputs, targets)
        if math.isfinite(loss):
            self.step += 1
        return inputs, targets, loss, predicted

    def _train_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[float, torch.Tensor]:
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule.lr(self.step)
        with self.precision.autocast():
            objective, loss, predicted, carried = self.objective(inputs, targets, self.carried)
        value, total = float(loss.detach()), float(objective.detach())
        if not math.isfinite(total):  # the loss plus finite penalties: non-finite with the loss
            return total, predicted
        self.carried = detach(carried)
        self.optimizer.zero_grad(set_to_none=True)
        self.precision.step(objective, self.optimizer, self.model.parameters(), self.args.clip)
        if self.average and self.step >= self.schedule.decay_end:
            self.average.update(self.model)
        return value, predicted

    def validate(self, inputs: torch.Tensor, targets: torch.Tensor, predicted: torch.Tensor,
                 interrupted: Callable[[], bool] | None = None) -> None:
        validation.validate(self, inputs, targets, predicted, interrupted)

    def save_state(self) -> None:
        state.save_loop(self)

    def resume(self, folder: Path) -> None:
        state.resume_loop(self, folder)
