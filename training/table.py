"""The model card's training table: what a checkpoint was trained on, how, and for how long."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from wordrnn import WordRNN

if TYPE_CHECKING:
    from .loop import Loop


def precision(dtype: torch.dtype | None) -> str:
    return {None: "float32", torch.bfloat16: "bfloat16 autocast",
            torch.float16: "float16 autocast, gradient scaler"}[dtype]


def validated(used: int, total: int) -> str:
    """What each validation scores: all held-out tokens, or the first `used` of them."""
    if used >= total:
        return f"all {total:,} held-out tokens"
    return f"the first {used:,} of {total:,} held-out tokens, the same at every validation"


def info(loop: "Loop", model: WordRNN, metrics: dict[str, float]) -> dict[str, Any]:
    """The checkpoint's info: its metrics and the training table, for `model` at this step."""
    args, corpus, schedule = loop.args, loop.corpus, loop.schedule
    training = {
        "text": Path(args.text).name, "train_tokens": corpus.train.numel(),
        "valid_tokens": corpus.valid.numel(), "validation": validated(loop.valid.numel() - 1, corpus.valid.numel() - 1),
        "steps": loop.step,
        "epochs": round(loop.step / loop.per_epoch, 2),
        "tokens_seen": loop.step * args.batch_size * args.seq_len * loop.process.world_size,
        "batch_size": args.batch_size, "seq_len": args.seq_len, "processes": loop.process.world_size,
        "optimizer": f"AdamW lr {args.lr}, weight decay {args.weight_decay}, warm-up {schedule.warmup}, cosine",
        "clip": args.clip, "min_count": args.min_count, "seed": args.seed,
        **_extras(loop, model),
        "training_time_s": round(loop.seconds, 1), "hardware": loop.process.hardware(),
        "torch": str(torch.__version__), "precision": precision(loop.precision.dtype),
    }
    stated = {"language": args.language} if getattr(args, "language", None) else {}  # runs before --language: none
    return {"metrics": {**metrics, "train_loss": loop.train_loss}, "training": training, **stated}


def _extras(loop: "Loop", model: WordRNN) -> dict[str, str]:
    """Rows for the options that only some runs use."""
    args, rows = loop.args, {}
    penalties = {"AR": args.activation_penalty, "TAR": args.temporal_penalty}
    if any(penalties.values()):
        rows["activation_penalties"] = ", ".join(f"{k} {v}" for k, v in penalties.items() if v)
    if loop.average and model is loop.average.model:
        rows["weight_averaging"] = (f"mean of the weights after each of the last {loop.average.count} "
                                    f"steps, at the learning rate's floor")
    if args.time_budget:
        rows["time_budget_s"] = round(args.time_budget, 1)
    return rows
