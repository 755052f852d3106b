"""The plain command's defaults, chosen from the corpus and the budget by written-down rules.

They start from the recipe that made the default KJV model (models/kjv-lstm/README.md: 850k
training tokens, 12k words, an hour on 2 cores) and scale down:

- vocabulary: words seen once in training become `<unk>` (min count 2), so that the model learns
  how often a text brings a word it has never seen, as the words seen once estimate it (Good and
  Turing); with every word kept, `<unk>` is never a training target and each unknown word of a
  new text costs about 16 nats (Jargon File test, 30 minutes: 2.5% of its tokens, 0.41 of the
  4.84 nats a token). A text that marks its own `<unk>`s (Penn Treebank) keeps all its words,
  and so does one where most words (marks and line ends aside) are seen once (a list of names,
  a tiny text), where `<unk>` would be most of it; --min-count or --max-vocab, when given, decide.
- size: LSTM 2 x 512 (ModelConfig's default) from 300k training tokens, 2 x 256 from 60k,
  2 x 128 below; one size smaller when the budget is under 10 minutes, so a short run still
  sees the text several times.
- output layer: adaptive softmax with cutoffs at 2,000, 6,000, 20,000 and 60,000 words, as many
  as fit in half the vocabulary (KJV's 8,369 words: 2,000; the default model's 12,383: 2,000
  and 6,000), untied, embedding 256 or half the hidden size. A full softmax, untied (as
  word_language_model's), when the run can expect 20 epochs or more (FULL_EPOCHS, as for the
  regularizers) over at most 12,000 words: it learns more from each word but trains at about
  0.8x the tokens/s, and pays for that when the run can read the text only a few times (30
  minutes on one core, test perplexity, full against adaptive: Jargon File, 27 expected
  epochs, 68.99 against 73.19; the first half of KJV, 20.6, 30.00 against 29.94; KJV, 10.6, 24.05
  against 23.35). A vocabulary under 4,000 words gets a full softmax tied to an embedding as
  wide as the last layer (no projection, so the LSTM keeps oneDNN's fast kernel).
- regularizers: AWD-LSTM's as in the KJV recipe (variational dropout 0.3 between layers, 0.4 on
  the embeddings, 10% of words dropped, DropConnect 0.3, AR 2, TAR 1), scaled by the epochs the
  run can expect (`min(1, epochs / 20)`, at least a third): dropout slows learning, and a run that
  sees the text a few times needs speed more than protection from over-fitting (KJV, 30 minutes
  on one core, about 10 epochs, every word kept: test perplexity 26.82 at 0.53 of the strength
  against 27.91 at full; `python -m bench.plain --side-by-side`, README "The plain command
  against the baselines"). AR and TAR always (they helped from the first steps and cost
  nothing).
- schedule: 10 epochs without a budget; with one, what the budget fits (training/loop.py
  measures the speed); warm-up 100 steps but at most 5% of the schedule; the last 1/8 of the
  steps at the learning rate's floor with their weights averaged (KJV: 4 of 32 epochs).

Expected epochs = budget x tokens/s / training tokens, with the tokens/s of each size on one CPU
thread (SPEED, measured roughly under bfloat16 autocast; x 0.6 for a run in float32, as on a CPU
without native bfloat16) times 1 + 0.7 per further thread (2 threads trained KJV 1.7x as fast
as one). The regularizers' strength and the choice of a full
softmax depend on this guess; it is a CPU's, so on a GPU a short budget gets lighter dropout and
an adaptive softmax where it could afford more.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import MISSING, fields
from fractions import Fraction

import torch

from wordrnn.model import ModelConfig
from wordrnn.tokenizer import is_word
from wordrnn.vocab import UNK

EPOCHS = 10.0
AVERAGE_FRACTION = 1 / 8
WARMUP, WARMUP_FRACTION = 100, 0.05
SHORT_BUDGET = 600.0  # seconds
CUTOFFS, MIN_ADAPTIVE_VOCAB = (2000, 6000, 20000, 60000), 4000
FULL_EPOCHS = 20.0  # expected epochs from which the KJV regularizers apply in full, and a full softmax
FULL_SOFTMAX_VOCAB = 12_000  # the most words a full softmax is chosen for (measured up to 10,462)
KJV_REGULARIZERS = {"dropout": 0.3, "input_dropout": 0.4, "embedding_dropout": 0.1, "weight_dropout": 0.3}
PENALTIES = {"activation_penalty": 2.0, "temporal_penalty": 1.0}


def _model_default(name: str):
    field = next(f for f in fields(ModelConfig) if f.name == name)
    return field.default_factory() if field.default is MISSING else field.default


LARGE = _model_default("hidden_sizes")  # [512, 512]
SIZES = ((300_000, LARGE), (60_000, [s // 2 for s in LARGE]), (0, [s // 4 for s in LARGE]))
SPEED = {LARGE[-1]: 5_000, LARGE[-1] // 2: 10_000, LARGE[-1] // 4: 20_000}  # tokens/s, one thread
THREAD_GAIN = 0.7  # each thread after the first adds this much of one thread's speed
# float32 against bfloat16 autocast, tokens/s (README "Training throughput", 2 x 512 on KJV):
# adaptive softmax 6,115 against 10,219, full softmax 3,176 against 6,121
FLOAT32_SPEED = 0.6


def min_count(train_words: list[str], max_vocab: int | None = None) -> tuple[int, str]:
    """The vocabulary's cut for these training words, and why."""
    if max_vocab is not None:
        return 1, f"--max-vocab {max_vocab} decides"
    if UNK in train_words:
        return 1, f"the text marks its own unknown words as {UNK}"
    # words only: the full stops and line ends of a tiny text, repeated on every line, are no
    # evidence that its words come again
    words = [token for token in train_words if is_word(token)]
    counts = Counter(words)
    once = sum(1 for word in words if counts[word] == 1)
    if 2 * once > len(words):  # a list of names, a tiny text: {UNK} would be most of it
        return 1, (f"{once / len(words):.0%} of the text's words are seen once, too many to "
                   f"make {UNK} of: every word kept")
    return 2, f"words seen once become {UNK}, so the model learns to expect words it has not seen"


def hidden_sizes(train_tokens: int, budget: float | None) -> list[int]:
    index = next(i for i, (least, _) in enumerate(SIZES) if train_tokens >= least)
    if budget is not None and budget < SHORT_BUDGET:
        index = min(index + 1, len(SIZES) - 1)
    return list(SIZES[index][1])


def cutoffs(vocab_size: int, epochs: float) -> tuple[list[int], str]:
    """The adaptive softmax's cutoffs ([]: a full softmax) and why."""
    if vocab_size < MIN_ADAPTIVE_VOCAB:
        return [], f"vocabulary {vocab_size:,}: a full softmax"
    if epochs >= FULL_EPOCHS and vocab_size <= FULL_SOFTMAX_VOCAB:
        return [], f"vocabulary {vocab_size:,}, about {epochs_shown(epochs)} epochs: a full softmax learns more per word"
    return [c for c in CUTOFFS if c <= vocab_size // 2], f"vocabulary {vocab_size:,}"


def tied(vocab_size: int, cutoffs: list[int]) -> tuple[bool, str]:
    """Whether the output layer shares the embedding's weights, and why."""
    if cutoffs:
        return False, "adaptive softmax"
    if vocab_size < MIN_ADAPTIVE_VOCAB:
        return True, "a full softmax over a small vocabulary"
    return False, "a full softmax over a large vocabulary, as word_language_model's"


def expected_epochs(train_tokens: int, budget: float | None, hidden: list[int], epochs: float | None,
                    threads: int, autocast: bool) -> float:
    if budget is None:
        return epochs or EPOCHS
    speed = SPEED.get(hidden[-1], SPEED[LARGE[-1]]) * (1 + THREAD_GAIN * (max(1, threads) - 1))
    speed *= 1.0 if autocast else FLOAT32_SPEED
    fits = budget * speed / max(1, train_tokens)
    return min(fits, epochs) if epochs else fits


def regularizers(epochs: float) -> dict[str, float]:
    scale = min(1.0, max(1 / 3, epochs / FULL_EPOCHS))
    return {name: round(rate * scale, 3) for name, rate in KJV_REGULARIZERS.items()}


def warmup_steps(total: int, flag: int | None) -> int:
    return flag if flag is not None else max(1, min(WARMUP, int(total * WARMUP_FRACTION)))


def averaged_steps(total: int, per_epoch: int, flag: float | None) -> int:
    """Steps at the end of the schedule whose weights are averaged (fewer than `total`)."""
    steps = round(flag * per_epoch) if flag is not None else round(total * AVERAGE_FRACTION)
    return min(steps, total - 1)


def choose(args: argparse.Namespace, train_tokens: int, vocab_size: int, threads: int | None = None, *,
           autocast: bool) -> tuple[argparse.Namespace, list[str]]:
    """A copy of `args` with every None model option chosen by the rules, and one line per choice;
    `threads`: the CPU threads the run trains with (default: torch's count now); `autocast`:
    whether it trains under bfloat16 or float16 autocast (training.precision), else float32."""
    out, said = argparse.Namespace(**vars(args)), []

    def pick(name: str, value, why: str) -> None:
        if getattr(out, name) is None:
            setattr(out, name, value)
            said.append(f"{name.replace('_', '-')} {_show(value)} ({why})")

    budget = args.time_budget
    size_why = f"{train_tokens:,} training tokens" + (", short budget" if budget and budget < SHORT_BUDGET else "")
    pick("hidden_sizes", hidden_sizes(train_tokens, budget), size_why)
    threads = threads or torch.get_num_threads()
    epochs = expected_epochs(train_tokens, budget, out.hidden_sizes, args.epochs, threads, autocast)
    if args.tie_weights:  # a tied output layer is a full softmax
        pick("adaptive_cutoffs", [], "--tie: a full softmax")
    pick("adaptive_cutoffs", *cutoffs(vocab_size, epochs))
    pick("tie_weights", *tied(vocab_size, out.adaptive_cutoffs))
    width = out.hidden_sizes[-1] if out.tie_weights else min(_model_default("embedding_size"), out.hidden_sizes[-1] // 2)
    pick("embedding_size", width, "as the last layer: no projection" if out.tie_weights else "as KJV's, at most half the last layer")
    for name, value in regularizers(epochs).items():
        if name == "input_dropout" and args.dropout is not None:
            continue  # None: the same as the --dropout given (ModelConfig's meaning)
        pick(name, value, f"KJV's {KJV_REGULARIZERS[name]} x {min(1.0, max(1 / 3, epochs / FULL_EPOCHS)):.2f} "
                          f"for about {epochs_shown(epochs)} epochs on {threads} thread{'s' * (threads > 1)}"
                          f"{'' if autocast else ' in float32'}")
    for name, value in PENALTIES.items():
        pick(name, value, "AWD-LSTM, as KJV")
    if args.average_epochs is None:
        said.append(f"average the last {Fraction(AVERAGE_FRACTION).limit_denominator(100)} of the schedule "
                    "at the learning rate's floor")
    if args.warmup is None:
        said.append(f"warm-up {WARMUP} steps, at most {WARMUP_FRACTION:.0%} of the schedule")
    if args.epochs is None:
        said.append("schedule: what the budget fits" if budget else f"schedule: {EPOCHS:g} epochs")
    return out, said


def epochs_shown(epochs: float) -> str:
    """Epochs for a log line: 10.6, or 0.0021 for a text far larger than the budget reads (not 0.0)."""
    return f"{epochs:.1f}" if epochs >= 1 else f"{epochs:.2g}"


def _show(value) -> str:
    if isinstance(value, list):
        return " ".join(map(str, value)) if value else "none"
    return str(value)
