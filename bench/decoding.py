"""Which decoding reads well: loops, variety and likelihood of greedy, top-k and top-p.

    python -m bench.decoding                                  # models/kjv-lstm, data/kjv, 20 x 128
    python -m bench.decoding --model runs/kjv --data data/kjv --prompts 20 --length 128

Prompts: the first 7 words (punctuation marks do not count) of `--prompts` test-split lines,
evenly spaced, whose words the model all knows. The test split is `DATA/test.txt`, written by
`python -m training.corpus kjv --out data/kjv`; when it is missing it is built in memory the
same way from Debian's bible-kjv. Each setting writes `--length` words after every prompt with
the app's Generator (rng seed = the prompt's index), and is scored on the generated words:
  repeated 4-grams  share of the 4-grams that already occurred earlier in the text (prompt
                    included): greedy's loops show up here
  distinct-2        distinct bigrams / bigrams, per text, averaged
  log p / word      mean log-probability of each generated word under the exact model (at
                    temperature 1, given everything before it): what leaving the argmax costs
Prints a markdown table.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any

import torch

from wordrnn import EOL, Checkpoint, Generator, tokenize
from wordrnn.cli import Parser, positive_int
from wordrnn.source import DEFAULT_MODEL
from wordrnn.tokenizer import is_word
from wordrnn.prompt import SEED_WORDS

SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("greedy", dict(mode="greedy")),
    ("greedy, no-repeat 3", dict(mode="greedy", no_repeat_ngram=3)),
    ("greedy, no-repeat 4", dict(mode="greedy", no_repeat_ngram=4)),
    ("greedy, no-repeat 6", dict(mode="greedy", no_repeat_ngram=6)),
    ("top-k 10, t 1.0", dict(mode="top-k", k=10, temperature=1.0)),
    ("top-k 10, t 0.8", dict(mode="top-k", k=10, temperature=0.8)),
    ("top-k 40, t 0.7", dict(mode="top-k", k=40, temperature=0.7)),
    ("top-p 0.9, t 1.0", dict(mode="top-p", top_p=0.9, temperature=1.0)),
    ("top-p 0.9, t 0.8", dict(mode="top-p", top_p=0.9, temperature=0.8)),
    ("top-p 0.8, t 0.8", dict(mode="top-p", top_p=0.8, temperature=0.8)),
    ("top-p 0.9, t 0.7", dict(mode="top-p", top_p=0.9, temperature=0.7)),
    ("top-p 0.9, t 0.7, no-repeat 4", dict(mode="top-p", top_p=0.9, temperature=0.7, no_repeat_ngram=4)),
    ("top-p 0.9, t 0.7, no-repeat 6", dict(mode="top-p", top_p=0.9, temperature=0.7, no_repeat_ngram=6)),
    ("top-p 0.9, t 0.8, no-repeat 6", dict(mode="top-p", top_p=0.9, temperature=0.8, no_repeat_ngram=6)),
]


def test_lines(data: Path) -> list[str]:
    if (data / "test.txt").is_file():
        return (data / "test.txt").read_text(encoding="utf-8").splitlines()
    from training.corpus import kjv_verses, split_blocks

    print(f"no {data}/test.txt: the KJV test split built from Debian's bible-kjv\n")
    return split_blocks(kjv_verses())["test"]


def prompts(lines: list[str], checkpoint: Checkpoint, n: int, length: int) -> list[tuple[list[str], list[str]]]:
    """The first SEED_WORDS words of `n` evenly spaced lines the model knows every word of, each
    with the `length` tokens of held-out text that follow them (the reference row)."""
    chosen: list[tuple[list[str], list[str]]] = []
    step = max(1, len(lines) // (n * 3))
    for start in range(0, len(lines), step):
        text = [t for line in lines[start : start + length] for t in [*tokenize(line, eol=False), EOL]]
        tokens, words = [], 0
        for token in text:
            if words == SEED_WORDS:
                break
            tokens.append(token)
            words += is_word(token)
        if words == SEED_WORDS and all(t in checkpoint.vocab for t in tokens):
            chosen.append((tokens, text[len(tokens) : len(tokens) + length]))
    return chosen[:: max(1, len(chosen) // n)][:n]


def repeated_4grams(tokens: list[str], start: int) -> tuple[int, int]:
    """(repeated, total) 4-grams that end in the generated part tokens[start:]."""
    seen, repeated, total = set(), 0, 0
    for i in range(len(tokens) - 3):
        gram = tuple(tokens[i : i + 4])
        if i + 3 >= start:
            total += 1
            repeated += gram in seen
        seen.add(gram)
    return repeated, total


def distinct_2(words: list[str]) -> float:
    pairs = list(zip(words, words[1:]))
    return len(set(pairs)) / max(1, len(pairs))


@torch.inference_mode()
def log_probs(gen: Generator, checkpoint: Checkpoint, tokens: list[str], start: int) -> list[float]:
    """log p of each of tokens[start:] under the exact model, given all tokens before it."""
    ids = gen.context(checkpoint.vocab.encode(tokens))
    offset = len(ids) - len(tokens)  # the leading <eol> context
    logits, _ = checkpoint.model(torch.tensor([ids[:-1]]))  # (1, T-1, V)
    logp = logits[0].float().log_softmax(-1)  # (T-1, V)
    return [logp[offset + i - 1, ids[offset + i]].item() for i in range(start, len(tokens))]


def main(argv: list[str] | None = None) -> int:
    p = Parser("bench.decoding", __doc__)
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="checkpoint folder or Hub repo id")
    p.add_argument("--data", type=Path, default=Path("data/kjv"), help="folder with test.txt")
    p.add_argument("--prompts", type=positive_int, default=20)
    p.add_argument("--length", type=positive_int, default=128, help="words generated per prompt")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    checkpoint = Checkpoint.from_pretrained(args.model)
    checkpoint.model.eval()
    gen = Generator(checkpoint)
    seeds = prompts(test_lines(args.data), checkpoint, args.prompts, args.length)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{'int8 fast' if gen.fast else 'exact'} stepper; {len(seeds)} prompts x {args.length} words\n")
    print("| decoding | repeated 4-grams | distinct-2 | log p / word |\n|---|---:|---:|---:|")
    for name, options in [("held-out text (reference)", {}), *SETTINGS]:
        repeated = total = 0
        distinct, logp = [], []
        for i, (seed, truth) in enumerate(seeds):
            rng = {"seed": i} if options.get("mode", "greedy") != "greedy" else {}
            written = list(gen.stream(" ".join(seed), args.length, **options, **rng)) if options else truth
            tokens = seed + written
            r, t = repeated_4grams(tokens, len(seed))
            repeated, total = repeated + r, total + t
            distinct.append(distinct_2(written))
            logp += log_probs(gen, checkpoint, tokens, len(seed))
        print(f"| {name} | {100 * repeated / total:.1f}% | {sum(distinct) / len(distinct):.3f} "
              f"| {sum(logp) / len(logp):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
