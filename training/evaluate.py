"""Perplexity and next-word accuracy of a model on a token stream.

    python -m training.evaluate --model models/kjv-lstm --text data/kjv/test.txt

Convention (shared with the n-gram baseline in bench/): the text is tokenized line by line with
an `<eol>` after each line, words outside the model's vocabulary become `<unk>`, and every token
of the stream is predicted from all tokens before it, with one `<eol>` as the context of the
first. `<eol>` and `<unk>` targets count like any other word. Perplexity = exp(mean loss).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Callable

import torch
from wordrnn import Checkpoint, EOL, Vocabulary, WordRNN, tokenize
from wordrnn.batching import bptt_batches
from .loss import scored


class Interrupted(Exception):
    """A stop request (Ctrl-C, SIGTERM) ended a scoring pass before its end."""


@dataclass
class Score:
    loss: float  # mean cross-entropy in nats per token
    accuracy: float  # fraction of tokens whose most likely prediction is right
    tokens: int

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 50.0))


def stream(text: str, vocab: Vocabulary) -> torch.Tensor:
    """The ids of `text` with one leading `<eol>` as context for its first word: (N + 1,)."""
    return torch.tensor([vocab.id(EOL)] + vocab.encode(tokenize(text)), dtype=torch.long)


@torch.no_grad()
def evaluate(model: WordRNN, ids: torch.Tensor, batch_size: int = 16, seq_len: int = 64, *,
             stop: Callable[[], bool] | None = None, progress: Callable[[int, int], None] | None = None) -> Score:
    """Score every token of `ids` after the first, reading it as `batch_size` parallel columns.

    Each column starts from a zero state, so a smaller batch size gives slightly lower
    perplexity (more context); compare models with the same settings. `stop` is asked between
    chunks (a pass over a large text takes minutes): True raises Interrupted. `progress` is
    told (tokens scored, tokens in all) after each chunk.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    columns, mask = _columns(ids, batch_size)  # (B, L), (B, L - 1)
    columns, mask = columns.to(device), mask.to(device)
    total_loss, correct, state, count = 0.0, 0, None, int(mask.sum())
    for i, (inputs, targets) in enumerate(bptt_batches(columns, seq_len)):
        if stop is not None and stop():
            model.train(was_training)
            raise Interrupted(f"scoring stopped after {i * seq_len * columns.size(0):,} of {count:,} tokens")
        keep = mask[:, i * seq_len : i * seq_len + targets.size(1)].reshape(-1)  # (B * T,)
        features, state = model.features(inputs, state)  # (B, T, O)
        losses, predicted = scored(model, features, targets)  # (B * T,) each
        total_loss += float(losses[keep].sum())
        correct += int((predicted == targets.reshape(-1))[keep].sum())
        if progress is not None:
            progress(min(count, (i + 1) * seq_len * columns.size(0)), count)
    model.train(was_training)
    return Score(total_loss / count, correct / count, count)


def _columns(ids: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) -> (B, L) columns that overlap by one token, so every one of the N - 1 targets is
    scored once; the last column is padded, and the mask marks the real targets."""
    targets = ids.numel() - 1
    batch_size = max(1, min(batch_size, targets))
    length = -(-targets // batch_size)  # targets per column, rounded up
    index = torch.arange(batch_size)[:, None] * length + torch.arange(length + 1)[None, :]
    mask = index[:, 1:] <= targets  # (B, L - 1)
    return ids[index.clamp(max=targets)], mask


def main(argv: list[str] | None = None) -> int:
    from wordrnn.cli import Parser, existing_file, positive_int, quiet_known_warnings
    from .data import DataError, read_text
    from wordrnn import WordRNNError

    quiet_known_warnings()
    parser = Parser("training.evaluate", __doc__)
    parser.add_argument("--model", required=True, help="checkpoint folder or Hub repo id")
    parser.add_argument("--text", required=True, type=existing_file, help="UTF-8 text file to score")
    parser.add_argument("--batch-size", type=positive_int, default=1,
                        help="parallel columns, each from a blank state (1: the model cards' test "
                        "convention, every word after all of the text before it)")
    parser.add_argument("--seq-len", type=positive_int, default=64, help="steps per batch")
    args = parser.parse_args(argv)
    try:
        checkpoint = Checkpoint.from_pretrained(args.model)
        ids = stream(read_text(args.text), checkpoint.vocab)
    except (DataError, WordRNNError) as err:
        print("error: " + " ".join(str(err).split()), file=sys.stderr)
        return 2
    if ids.numel() < 2:
        print(f"error: {args.text} has no words to score", file=sys.stderr)
        return 2
    score = evaluate(checkpoint.model, ids, args.batch_size, args.seq_len)
    unknown = float((ids[1:] == checkpoint.vocab.unk_id).float().mean())
    print(f"tokens {score.tokens}  loss {score.loss:.4f}  perplexity {score.perplexity:.2f}  "
          f"accuracy {score.accuracy:.2%}  unknown words {unknown:.1%}")
    if unknown > 0.2:  # a perplexity that says more about the vocabulary than about the model
        print(f"note: {unknown:.0%} of the text's words are not in the model's vocabulary ({len(checkpoint.vocab):,} "
              "words); is this the kind of text the model was trained on?", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
