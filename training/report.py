"""What a training run shows and writes: the progress bar, the notebook-style sample line, the
metrics log (JSONL, one object per line) and the loss curve picture for the model card."""

from __future__ import annotations

import io
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from wordrnn import Vocabulary

log = logging.getLogger(__name__)
LOG_EVERY = 60.0  # seconds between progress lines when there is no bar: between validations, a run is never silent long


class Report:
    def __init__(self, folder: Path, total_steps: int | None, enabled: bool, bar: bool) -> None:
        self.enabled = enabled
        self.path = folder / "metrics.jsonl"
        # Only on a terminal: in a log file or a pipe its redraws interleave with the log lines
        self.bar = tqdm(
            total=total_steps, disable=not (enabled and bar and sys.stderr.isatty()),
            unit="step", dynamic_ncols=True, smoothing=0.05,
        )
        self.said_at = time.monotonic()  # without the bar: when the last progress line was logged

    def set_total(self, total_steps: int, done: int | None = None) -> None:
        """What will stop the run changed (a budget re-fit, a resumption): the bar follows."""
        self.bar.total = total_steps
        if done is not None:
            self.bar.n = done
        self.bar.refresh()

    def size(self) -> int:
        """Bytes of the metrics log so far (saved with the training state)."""
        return self.path.stat().st_size if self.path.exists() else 0

    def truncate(self, size: int | None) -> None:
        """Drop the rows written after the training state a run resumes from, so none repeat."""
        if self.enabled and size is not None and self.path.exists() and self.path.stat().st_size > size:
            with self.path.open("r+b") as f:
                f.truncate(size)

    def train(self, step: int, row: dict[str, float]) -> None:
        """Progress after a step (row: loss, accuracy, tokens_per_s, lr, ...)."""
        if not self.enabled:
            return
        self.bar.n = step
        self.bar.set_postfix(
            loss=f"{row['loss']:.3f}", ppl=f"{math.exp(min(row['loss'], 50)):.1f}",
            acc=f"{row['accuracy']:.1%}", tok_s=f"{row['tokens_per_s']:.0f}", refresh=False,
        )
        self.bar.update(0)
        self.write({"kind": "train", "step": step, **row})
        if self.bar.disable and time.monotonic() - self.said_at >= LOG_EVERY:  # a log file, a pipe, --no-progress
            self.said_at = time.monotonic()
            of = f" of {self.bar.total:,}" if self.bar.total else ""
            log.info("step %s%s: loss %.3f (perplexity %.1f), %s tokens/s", f"{step:,}", of, row["loss"],
                     math.exp(min(row["loss"], 50)), f"{row['tokens_per_s']:,.0f}")

    def valid(self, step: int, row: dict[str, float], sample: str) -> None:
        if not self.enabled:
            return
        self.say(
            f"step {step}: valid loss {row['valid_loss']:.3f}, perplexity "
            f"{row['valid_perplexity']:.2f}, accuracy {row['valid_accuracy']:.1%}\n  {sample}"
        )
        self.write({"kind": "valid", "step": step, **row})

    def say(self, message: str) -> None:
        if self.enabled:
            self.bar.write(message) if not self.bar.disable else log.info("%s", message)

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def close(self) -> None:
        self.bar.close()


def sample_line(vocab: Vocabulary, context: list[int], target: int, predicted: int) -> str:
    """The notebook's line: the 7 words read, the true next word and the predicted one."""
    words = " ".join(vocab.decode(context[-7:]))
    return f"{words} - [{vocab.tokens[target]}] vs [{vocab.tokens[predicted]}]"


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def loss_curve(rows: list[dict[str, Any]]) -> bytes | None:
    """A PNG of training and validation loss (left) and perplexity (right) against steps."""
    train = [(r["step"], r["loss"]) for r in rows if r.get("kind") == "train"]
    valid = [(r["step"], r["valid_loss"]) for r in rows if r.get("kind") == "valid"]
    if not train and not valid:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_ppl) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=100)
    for points, label in ((train, "train"), (valid, "validation")):
        if points:
            steps, losses = zip(*points)
            ax_loss.plot(steps, losses, label=label, marker="o" if label != "train" else None)
            ax_ppl.plot(steps, [math.exp(min(v, 50)) for v in losses], label=label,
                        marker="o" if label != "train" else None)
    ax_loss.set(xlabel="step", ylabel="loss (nats/word)", title="Loss")
    ax_ppl.set(xlabel="step", ylabel="perplexity", title="Perplexity", yscale="log")
    for ax in (ax_loss, ax_ppl):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
