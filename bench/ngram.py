"""Interpolated Kneser-Ney n-gram baseline, scored with the same convention as the LSTM.

    python -m training.corpus kjv --out data/kjv
    python -m bench.ngram --data data/kjv                        # orders 3 4 5, min-count 1
    python -m bench.ngram --data data/kjv --min-count 2 --orders 3 5
    python -m bench.ngram --data data/kjv --model runs/kjv       # same vocab, plus the LSTM

The model is interpolated modified Kneser-Ney (Chen & Goodman 1998): three discounts per order
from the count-of-counts; the highest order uses raw counts, lower orders continuation counts,
and the unigram level is interpolated with the uniform distribution over the vocabulary, so every
id has non-zero probability. `--plain` uses one discount D = n1 / (n1 + 2 n2) per order instead.

Convention (training/evaluate.py): the text is tokenized line by line with `<eol>` after each
line, out-of-vocabulary words become `<unk>`, and every token is predicted from all tokens before
it (the n-gram sees the last order - 1), with one leading `<eol>` as the context of the first.
Context crosses line boundaries. Perplexity = exp(mean negative log-probability) over N tokens.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from training.evaluate import evaluate, stream
from wordrnn import Checkpoint, Vocabulary, tokenize
from wordrnn.cli import Parser, fail, folder, integer, positive_int
from wordrnn.source import resolve

log = logging.getLogger(__name__)

MIN_DISCOUNT = 0.05  # keeps some mass for lower orders even on degenerate (tiny) corpora
Gram = tuple[int, ...]


def discounts(counts: dict[Gram, int], modified: bool = True) -> tuple[float, float, float]:
    """(D1, D2, D3+) from the count-of-counts of one order's counts."""
    n = [0] * 5
    for c in counts.values():
        if c <= 4:
            n[c] += 1
    # Without both singletons and doubletons the estimate is undefined (only on toy corpora).
    y = n[1] / (n[1] + 2 * n[2]) if n[1] and n[2] else 0.5
    if modified:
        ds = [k - (k + 1) * y * n[k + 1] / n[k] if n[k] and n[k + 1] else y for k in (1, 2, 3)]
    else:
        ds = [y, y, y]
    # D_k <= k keeps every discounted count >= 0, so each level still sums to one.
    return tuple(min(max(d, MIN_DISCOUNT), k) for k, d in zip((1, 2, 3), ds))  # type: ignore


class KneserNey:
    """An interpolated Kneser-Ney language model over ids 0 .. vocab_size - 1."""

    def __init__(self, order: int, vocab_size: int, modified: bool = True) -> None:
        if order < 1 or vocab_size < 1:
            raise ValueError("order and vocab_size must be at least 1")
        self.order, self.vocab_size, self.modified = order, vocab_size, modified
        # Per level k = 1 .. order: discounted count of each k-gram, and per (k-1)-gram context
        # (total count, mass left for level k - 1).
        self._grams: list[dict[Gram, float]] = [{} for _ in range(order + 1)]
        self._contexts: list[dict[Gram, list[float]]] = [{} for _ in range(order + 1)]
        self.discounts: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)] * (order + 1)

    def fit(self, ids: Sequence[int]) -> "KneserNey":
        """Count the n-grams of one continuous id stream (lead it with `<eol>`, like the test)."""
        ids = list(ids)
        if ids and not 0 <= min(ids) <= max(ids) < self.vocab_size:
            raise ValueError(f"ids must lie in 0 .. {self.vocab_size - 1}")
        n = self.order
        counts: dict = Counter(zip(*(ids[i:] for i in range(n))))
        for k in range(n, 0, -1):
            lower: dict = Counter()
            if k > 1:
                # Continuation count of a (k-1)-gram: the number of distinct k-grams ending in it.
                # Below the top level `counts` only has k-grams with a word before them, so the
                # stream's first k-gram is added by hand.
                lower = Counter(gram[1:] for gram in counts)
                first = tuple(ids[:k])
                if len(first) == k and first not in counts:
                    lower[first[1:]] += 1
            self._set_level(k, counts)
            counts = lower
        return self

    def _set_level(self, k: int, counts: dict[Gram, int]) -> None:
        """Turn counts into discounted counts in place (the memory peak is the 5-gram table)."""
        d = self.discounts[k] = discounts(counts, self.modified)
        contexts: dict[Gram, list[float]] = {}
        for gram, c in counts.items():
            cut = d[min(c, 3) - 1]
            counts[gram] = c - cut
            stats = contexts.setdefault(gram[:-1], [0.0, 0.0])
            stats[0] += c
            stats[1] += cut
        self._grams[k], self._contexts[k] = counts, contexts

    def prob(self, context: Sequence[int], word: int) -> float:
        """P(word | last order - 1 ids of context); a shorter context uses fewer levels."""
        context = tuple(context[len(context) - self.order + 1:]) if self.order > 1 else ()
        p = 1.0 / self.vocab_size
        for k in range(1, len(context) + 2):
            h = context[len(context) - k + 1:]
            stats = self._contexts[k].get(h)
            if stats is None:  # unseen context: this level equals the one below
                continue
            total, mass = stats
            p = (self._grams[k].get(h + (word,), 0.0) + mass * p) / total
        return p

    def logprob(self, context: Sequence[int], word: int) -> float:
        """Natural log of `prob`."""
        return math.log(self.prob(context, word))

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """P(w | context) for every id w: (vocab_size,), sums to 1."""
        return np.array([self.prob(context, w) for w in range(self.vocab_size)])

    def token_logprobs(self, ids: Sequence[int]) -> np.ndarray:
        """Log-probability of ids[1:], each given everything before it: (len(ids) - 1,)."""
        ids = list(ids)
        keep = self.order - 1
        return np.array([self.logprob(ids[max(0, i - keep):i], ids[i]) for i in range(1, len(ids))])

    def perplexity(self, ids: Sequence[int]) -> float:
        """exp(mean NLL) of ids[1:]; ids[0] (the leading `<eol>`) is only context."""
        return float(np.exp(-self.token_logprobs(ids).mean()))


def encode(text: str, vocab: Vocabulary) -> list[int]:
    """The LSTM's scoring convention (training.evaluate.stream) as a list, for the n-gram."""
    return stream(text, vocab).tolist()


def _read(data: Path, split: str) -> str:
    path = data / f"{split}.txt"
    if not path.is_file():
        fail(f"{path} is missing: --data needs train.txt, valid.txt and test.txt "
             "(python -m training.corpus kjv --out data/kjv makes them)")
    return path.read_text(encoding="utf-8")


def _lstm_perplexity(checkpoint: Checkpoint, text: str, batch: int, seq_len: int) -> tuple[float, float]:
    start = time.perf_counter()
    score = evaluate(checkpoint.model, stream(text, checkpoint.vocab), batch, seq_len)
    return score.perplexity, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = Parser("bench.ngram", __doc__)
    parser.add_argument("--data", required=True, type=folder, help="folder with train.txt, valid.txt, test.txt")
    parser.add_argument("--orders", type=integer(1, 9), nargs="+", default=[3, 4, 5])
    parser.add_argument("--model", help="LSTM checkpoint: use its vocabulary and score it too")
    parser.add_argument("--min-count", type=positive_int, default=1, help="vocabulary cut without --model")
    parser.add_argument("--plain", action="store_true", help="one discount per order, not three")
    parser.add_argument("--batch-size", type=positive_int, default=1, help="LSTM columns (1: full context)")
    parser.add_argument("--seq-len", type=positive_int, default=256, help="LSTM steps per batch")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = Path(args.data)
    texts = {split: _read(data, split) for split in ("train", "valid", "test")}
    if args.model:
        checkpoint = resolve(args.model, fallback=False).checkpoint
        if args.min_count != 1:
            log.warning("--min-count is ignored: the vocabulary is the checkpoint's")
        vocab, source = checkpoint.vocab, f"vocab.json of {args.model}"
    else:
        vocab = Vocabulary.build(tokenize(texts["train"]), min_count=args.min_count)
        source = f"train split, min-count {args.min_count}"
    ids = {split: encode(text, vocab) for split, text in texts.items()}
    kind = "plain" if args.plain else "modified"
    rows, best = [], math.inf
    for order in sorted(args.orders):
        start = time.perf_counter()
        model = KneserNey(order, len(vocab), modified=not args.plain).fit(ids["train"])
        fitted = time.perf_counter() - start
        log.info("order %d: fitted in %.1fs, discounts %s", order, fitted,
                 [tuple(round(d, 3) for d in ds) for ds in model.discounts[1:]])
        # A cheap guard against normalisation bugs on the real vocabulary.
        for i in random.Random(order).sample(range(1, len(ids["test"])), 3):
            total = model.distribution(ids["test"][max(0, i - order + 1):i]).sum()
            if abs(total - 1) > 1e-6:
                raise RuntimeError(f"P(. | context at test position {i}) sums to {total}")
        valid, test = model.perplexity(ids["valid"]), model.perplexity(ids["test"])
        seconds = time.perf_counter() - start
        log.info("order %d: valid %.2f, test %.2f, %.1fs in all", order, valid, test, seconds)
        rows.append(f"| {order}-gram KN ({kind}) | {valid:.2f} | {test:.2f} | {seconds:.1f} |")
        best = min(best, test)
        del model  # before the next, larger one is counted
    print(f"Vocabulary: {len(vocab)} tokens ({source}, `<eol>` and `<unk>` included); "
          f"{len(ids['train']) - 1} train, {len(ids['valid']) - 1} valid, "
          f"{len(ids['test']) - 1} test tokens.")
    print("Convention: tokenized line by line with `<eol>` after each line, OOV -> `<unk>`, every "
          "token predicted from all before it, one leading `<eol>` as first context; "
          "perplexity = exp(mean NLL).\n")
    print("| model | valid perplexity | test perplexity | seconds |\n|---|---|---|---|")
    print("\n".join(rows))
    if args.model:
        test, seconds = _lstm_perplexity(checkpoint, texts["test"], args.batch_size, args.seq_len)
        print(f"| LSTM {args.model} (batch {args.batch_size}, seq {args.seq_len}) | – | "
              f"{test:.2f} | {seconds:.1f} |")
        print(f"\nLSTM test perplexity / best n-gram test perplexity = {test / best:.3f}")


if __name__ == "__main__":
    main()
