"""The training loop: batched truncated BPTT with AdamW, warm-up + cosine schedule, clipping.

Why these choices: AdamW converges in far fewer steps than the notebook's RMSProp on batch 1 or
the SGD of pytorch/examples, and is forgiving of the learning rate; the short warm-up keeps
Adam's first noisy moments from wrecking the LSTM, and the cosine decay to 10% settles the
model by the end of the schedule (its length comes from --epochs, so stopping early with
--max-steps or --time-budget and resuming later follows the same curve). With --average-epochs
the last epochs hold the learning rate at that floor and validate the mean of their weights
(training/average.py).
"""

from __future__ import annotations

import enum
import logging
import math
import time
from argparse import Namespace
from pathlib import Path
from typing import Callable

import torch
from torch.nn.parallel import DistributedDataParallel

from . import release, report, state
from .average import WeightAverage
from .data import Corpus
from .distributed import Process, any_flag, use_bf16
from .evaluate import evaluate
from .loss import NextWordLoss
from wordrnn import Checkpoint, ModelConfig, WordRNN
from wordrnn.batching import batchify, bptt_batches, num_batches, shard
from wordrnn.model import detach

log = logging.getLogger("training")


class Stop(enum.Enum):
    DONE = "done"
    INTERRUPTED = "interrupted"
    NAN = "nan"


class Loop:
    def __init__(self, args: Namespace, corpus: Corpus, process: Process, out: Path) -> None:
        self.args, self.corpus, self.process, self.out = args, corpus, process, out
        config = ModelConfig(
            len(corpus.vocab), args.embedding_size, list(args.hidden_sizes), args.dropout,
            args.tie_weights, list(args.adaptive_cutoffs),
            # Runs saved before these options existed resume with them off.
            input_dropout=getattr(args, "input_dropout", None),
            embedding_dropout=getattr(args, "embedding_dropout", 0.0),
            weight_dropout=getattr(args, "weight_dropout", 0.0),
        )
        torch.manual_seed(args.seed)  # the same initial weights on every rank
        self.model = WordRNN(config).to(process.device)
        torch.manual_seed(args.seed + 1000 * process.rank)
        objective = NextWordLoss(self.model, getattr(args, "activation_penalty", 0.0),
                                 getattr(args, "temporal_penalty", 0.0))
        self.objective = (
            DistributedDataParallel(objective, find_unused_parameters=bool(args.adaptive_cutoffs))
            if process.distributed else objective
        )
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=args.lr,
                                           weight_decay=args.weight_decay, betas=(0.9, 0.99))
        local = shard(corpus.train, process.rank, process.world_size)
        self.data = batchify(local, args.batch_size).to(process.device)  # (B, N)
        self.per_epoch = num_batches(self.data, args.seq_len)
        self.total = max(1, math.ceil(args.epochs * self.per_epoch))
        averaged = round(getattr(args, "average_epochs", 0.0) * self.per_epoch)
        self.decay_end = self.total - min(averaged, self.total - 1)  # the first averaged step
        self.average = WeightAverage(self.model) if averaged and process.is_main else None
        self.step, self.best, self.carried = 0, math.inf, None
        self.train_loss = math.nan  # mean of the last logged steps, for the model card
        self.seconds = 0.0  # training time so far, over all resumed sessions
        out.mkdir(parents=True, exist_ok=True)
        self.report = report.Report(out, self.total, process.is_main, args.progress)
        self.amp = use_bf16(getattr(args, "precision", "auto"), process.device)
        log.info("model: %s parameters, %d steps of %d x %d tokens per epoch, %d steps in all, %s",
                 f"{self.model.num_parameters():,}", self.per_epoch, args.batch_size,
                 args.seq_len, self.total, "bfloat16 autocast" if self.amp else "float32")

    def lr(self, step: int) -> float:
        if step < self.args.warmup:
            return self.args.lr * (step + 1) / self.args.warmup
        progress = min(1.0, (step - self.args.warmup) / max(1, self.decay_end - self.args.warmup))
        return self.args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    def train(self, should_stop: Callable[[], bool]) -> Stop:
        limit = min(self.total, self.args.max_steps or self.total)
        window, started = [], time.perf_counter()
        while self.step < limit:
            inputs, targets, loss, predicted = self.advance()
            if not math.isfinite(loss):
                model = self.out / "model"
                kept = (f"The last good checkpoint is {model}." if (model / "config.json").exists()
                        else "No checkpoint had been saved yet (the first comes with the first validation).")
                log.error("error: the loss became %s at step %d; stopping. %s Lower --lr or --clip "
                          "and start again.", loss, self.step + 1, kept)
                return Stop.NAN
            now = time.perf_counter()
            window.append((loss, float((predicted == targets).float().mean()), targets.numel(), now))
            self.seconds += now - started
            started = now
            if self.step % 10 == 0 or self.step == limit:
                self._log(window)
                window = window[-1:]
            stopping = any_flag(self.process, should_stop())
            if self.step % self.args.eval_interval == 0 or self.step == limit or stopping:
                self.validate(inputs, targets, predicted)
            if stopping:
                return Stop.INTERRUPTED
        return Stop.DONE

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
            group["lr"] = self.lr(self.step)
        with torch.autocast(self.process.device.type, dtype=torch.bfloat16, enabled=self.amp):
            objective, loss, predicted, carried = self.objective(inputs, targets, self.carried)
        value, total = float(loss.detach()), float(objective.detach())
        if not math.isfinite(total):  # the loss plus finite penalties: non-finite with the loss
            return total, predicted
        self.carried = detach(carried)
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.args.clip)
        self.optimizer.step()
        if self.average and self.step >= self.decay_end:
            self.average.update(self.model)
        return value, predicted

    def _log(self, window: list[tuple[float, float, int, float]]) -> None:
        rows = window[1:] if len(window) > 1 else window
        span = window[-1][3] - window[0][3] if len(window) > 1 else 0.0
        tokens = sum(r[2] for r in rows) * self.process.world_size
        self.train_loss = sum(r[0] for r in rows) / len(rows)
        self.report.train(self.step, {
            "loss": self.train_loss,
            "accuracy": sum(r[1] for r in rows) / len(rows),
            "tokens_per_s": tokens / span if span > 0 else 0.0,
            "lr": self.lr(self.step - 1),
            "epoch": self.step / self.per_epoch,
        })

    def validate(self, inputs: torch.Tensor, targets: torch.Tensor, predicted: torch.Tensor) -> None:
        """Score the validation text, keep the model if it is the best so far, save the state."""
        if self.process.is_main:
            model = self.average.model if self.average and self.average.count else self.model
            score = evaluate(model, self.corpus.valid)
            row = {"valid_loss": score.loss, "valid_perplexity": score.perplexity,
                   "valid_accuracy": score.accuracy}
            line = report.sample_line(self.corpus.vocab, inputs[0].tolist(),
                                      int(targets[0, -1]), int(predicted[0, -1]))
            self.report.valid(self.step, row, line)
            if score.loss < self.best:
                self.best = score.loss
                self._checkpoint(model, row).save_pretrained(self.out / "model")
            state.save(self.out / "training_state", self.model, self.optimizer, self.carried,
                       self._meta(), self.average)

    def _checkpoint(self, model: WordRNN, metrics: dict[str, float]) -> Checkpoint:
        args = self.args
        training = {
            "text": Path(args.text).name, "train_tokens": self.corpus.train.numel(),
            "valid_tokens": self.corpus.valid.numel(), "steps": self.step,
            "epochs": round(self.step / self.per_epoch, 2),
            "tokens_seen": self.step * args.batch_size * args.seq_len * self.process.world_size,
            "batch_size": args.batch_size, "seq_len": args.seq_len, "processes": self.process.world_size,
            "optimizer": f"AdamW lr {args.lr}, weight decay {args.weight_decay}, warm-up {args.warmup}, cosine",
            "clip": args.clip, "min_count": args.min_count, "seed": args.seed,
            **self._extras(model),
            "training_time_s": round(self.seconds, 1), "hardware": self.process.hardware(),
            "torch": str(torch.__version__),
            "precision": "bfloat16 autocast" if self.amp else "float32",
        }
        info = {"metrics": {**metrics, "train_loss": self.train_loss}, "training": training}
        return Checkpoint(model, self.corpus.vocab, info)

    def _extras(self, model: WordRNN) -> dict[str, str]:
        """Card rows for the options that only some runs use."""
        args, rows = self.args, {}
        penalties = {"AR": getattr(args, "activation_penalty", 0.0),
                     "TAR": getattr(args, "temporal_penalty", 0.0)}
        if any(penalties.values()):
            rows["activation_penalties"] = ", ".join(f"{k} {v}" for k, v in penalties.items() if v)
        if self.average and model is self.average.model:
            rows["weight_averaging"] = (f"mean of the weights after each of the last {self.average.count} "
                                        f"steps, at the learning rate's floor")
        return rows

    def _meta(self) -> dict:
        return {"step": self.step, "best": self.best, "seconds": self.seconds, "args": vars(self.args),
                "vocab": self.corpus.vocab.to_json()}

    def resume(self, folder: Path) -> None:
        meta = state.read_meta(folder)
        self.carried = state.restore(folder, self.model, self.optimizer, self.process.device,
                                     self.average)
        if self.process.rank != 0:  # only rank 0's carried state and RNG were saved
            self.carried = None
            torch.manual_seed(self.args.seed + 1000 * self.process.rank + meta["step"])
        self.step, self.best, self.seconds = meta["step"], meta["best"], meta["seconds"]
        self.report.bar.n = self.step
        log.info("resumed at step %d (best validation loss %.4f)", self.step, self.best)

    def finish(self, test_path: str | None) -> Path:
        """Add the loss curve (and test metrics) to the best checkpoint; returns its folder."""
        self.report.close()
        folder = self.out / "model"
        checkpoint = Checkpoint.from_pretrained(folder)
        if test_path:
            release.score_test(checkpoint, test_path)
        lines = release.lines_of(self.corpus.vocab, self.corpus.valid[:20000])
        checkpoint.info["samples"] = release.samples(checkpoint, release.prompts_from(lines))
        curve = report.loss_curve(report.read_log(self.report.path))
        if curve:
            checkpoint.assets["loss_curve.png"] = curve
        checkpoint.save_pretrained(folder)
        log.info("best checkpoint: %s (validation perplexity %.2f)", folder, math.exp(self.best))
        return folder
