"""Generation speed on the CPU: the notebook's window re-run, exact stepping, the int8 fast path.

    python -m bench.generation                                 # the embedded model
    python -m bench.generation --model runs/kjv/model          # a trained checkpoint
    python -m bench.generation --random --adaptive             # random default-size weights
    python -m bench.generation --threads 1 --repeats 9         # as the app runs on a CPU

Times 128 greedy words after 7-word held-out prompts (each run takes the next of --timed-prompts),
three ways:
  notebook  every new word re-runs the last 7 words through the LSTM (the teaching notebook)
  exact     one float32 LSTM step per word from the carried state: Generator(exact=True)
  fast      the int8 fast path of wordrnn.stepper: Generator() on the CPU
and prints times (median and best wall time, median CPU time), speed-ups over the notebook
method measured in the same run, and the greedy agreement of fast with exact on held-out prompts:
  per step  both paths are fed the exact path's words; how often their next words agree
  free run  each path generates on its own; the share of positions with the same word
(random weights make agreement meaningless). Then the scheduler's tick
(wordrnn.scheduler) for --batches streams at once: one batched fast step and each stream's
top-k choice, with words per second per stream and in all. Compare ratios, not seconds.
"""

from __future__ import annotations

import itertools
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from wordrnn import Checkpoint, ModelConfig, Vocabulary, WordRNN, tokenize
from wordrnn.generate import Generator
from wordrnn.int8 import GEMM_ROWS, products
from wordrnn.sampling import Sampler, choose_all
from wordrnn.cli import Parser, positive_int
from wordrnn.source import resolve
from training.precision import cpu_summary

WINDOW, WORDS = 7, 128
HELD_OUT = Path(__file__).resolve().parents[1] / "data" / "kjv" / "test.txt"


def random_checkpoint(adaptive: bool = False, vocab_size: int = 12_000) -> Checkpoint:
    """The default model size (embedding 256, LSTM [512, 512]) with random weights: a tied
    softmax (the last LSTM projects to 256), or an adaptive one as the KJV recipe trains."""
    torch.manual_seed(0)
    vocab = Vocabulary(["<unk>", "<eol>", *(f"w{i}" for i in range(vocab_size - 2))])
    output = dict(tie_weights=False, adaptive_cutoffs=[2000, 6000]) if adaptive else {}
    return Checkpoint(WordRNN(ModelConfig(vocab_size, **output)).eval(), vocab)


def notebook_words(model: WordRNN, ids: list[int], words: int) -> list[int]:
    """Greedy words the notebook's way: the whole 7-word window again for every word."""
    ids = list(ids)
    with torch.inference_mode():
        for _ in range(words):
            features, _ = model.features(torch.tensor([ids[-WINDOW:]]))  # (1, 7, O)
            ids.append(int(model.logits(features[0, -1]).argmax()))
    return ids[-words:]


def time_methods(methods: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Median wall time, best wall time and median CPU time (ms) of each method. The methods run
    in turns, so a busy spell on a shared machine hits them all alike. With one thread the CPU
    time is what the run costs without contention; with more it also counts threads waiting."""
    for run in methods.values():
        run()  # warm-up: first-call allocations, caches
    wall: dict[str, list[float]] = {name: [] for name in methods}
    cpu: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name, run in methods.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name].append(1000 * (time.perf_counter() - start))
            cpu[name].append(1000 * (time.process_time() - start_cpu))
    return {name: [statistics.median(wall[name]), min(wall[name]), statistics.median(cpu[name])]
            for name in methods}


def greedy(stepper, ids: list[int], forced: list[int] | None, unk: int) -> list[int]:
    """Greedy words from `stepper` after the prompt (which it reads too), as the generator asks
    for them (the best word, <unk> refused); with `forced`, feed those words instead."""
    picked, candidates = [], Sampler("greedy", never=[unk]).candidates()
    with torch.inference_mode():
        logits, state = stepper.start(ids, candidates)
        for n in range(WORDS):
            scores = logits.values.clone()
            scores[unk] = -float("inf")
            picked.append(int(scores.argmax()))
            logits, state = stepper.step(forced[n] if forced else picked[-1], state, candidates)
    return picked


def agreement(checkpoint: Checkpoint, prompts: list[list[int]]) -> tuple[float, float]:
    """(per step, free run) greedy agreement of the fast path with the exact one."""
    gen = Generator(checkpoint, device="cpu")
    if not gen.fast:
        return float("nan"), float("nan")
    unk = checkpoint.vocab.unk_id
    same_step = same_free = total = 0
    for ids in prompts:
        exact = greedy(gen.exact_stepper, ids, None, unk)
        same_step += sum(a == b for a, b in zip(exact, greedy(gen.stepper, ids, exact, unk)))
        same_free += sum(a == b for a, b in zip(exact, greedy(gen.stepper, ids, None, unk)))
        total += len(exact)
    return same_step / total, same_free / total


def held_out_prompts(vocab: Vocabulary, count: int, text: Path | None) -> list[list[int]]:
    """7-word prompts from held-out lines (all words known), else random frequent words (they
    read differently: fast and exact agree more often on them)."""
    prompts = []
    if text is not None:
        for line in text.read_text(encoding="utf-8").splitlines()[::50]:
            ids = vocab.encode(tokenize(line, eol=False)[:WINDOW])
            if len(ids) == WINDOW and vocab.unk_id not in ids:
                prompts.append(ids)
    rng = random.Random(0)
    frequent = [i for i in range(min(len(vocab), 500)) if i != vocab.unk_id]
    while len(prompts) < count:
        prompts.append(rng.choices(frequent, k=WINDOW))
    return prompts[:count]


def speed_table(checkpoint: Checkpoint, prompts: list[list[int]], repeats: int) -> list[str]:
    """Each timed run of a method takes the next of `prompts` (held-out), so every method sees
    the same prompts and the times cover texts that need the rare words and texts that don't."""
    texts = [" ".join(checkpoint.vocab.decode(p)) for p in prompts]
    exact, fast = Generator(checkpoint, "cpu", exact=True), Generator(checkpoint, "cpu")
    turn = {"notebook": itertools.cycle(prompts), "exact": itertools.cycle(texts), "fast": itertools.cycle(texts)}
    methods = {
        "notebook: re-run the 7-word window": lambda: notebook_words(checkpoint.model, next(turn["notebook"]), WORDS),
        "exact: stateful float32 steps": lambda: list(exact.stream(next(turn["exact"]), WORDS)),
    }
    if fast.fast:
        methods["fast: int8 steps"] = lambda: list(fast.stream(next(turn["fast"]), WORDS))
    times = time_methods(methods, repeats)
    base_wall, _, base_cpu = times["notebook: re-run the 7-word window"]
    rows = ["| method | median (ms) | best (ms) | CPU time (ms) | speed-up: median | speed-up: CPU |",
            "|---|---:|---:|---:|---:|---:|"]
    for name, (median, best, cpu) in times.items():
        ratios = f"{base_wall / median:.1f}x | {base_cpu / cpu:.1f}x"
        rows.append(f"| {name} | {median:.1f} | {best:.1f} | {cpu:.1f} | {ratios} |")
    return rows


def batch_table(checkpoint: Checkpoint, sizes: list[int], ticks: int = 50, warm: int = 30) -> list[str]:
    """One tick of the scheduler's work (a batched step, each stream's top-k choice) for B
    streams: the median time per tick, and words per second per stream and in all. The first
    `warm` ticks are not timed: the streams start alike and only then write texts of their own."""
    gen = Generator(checkpoint, "cpu")
    rows = ["| streams | ms per tick | words/s per stream | words/s in all | vs 1 stream |", "|---:|---:|---:|---:|---:|"]
    base = None
    with torch.inference_mode():
        for size in sizes:
            samplers = [Sampler("top-k", seed=n, never=[checkpoint.vocab.unk_id]) for n in range(size)]
            tokens, states = [(checkpoint.vocab.unk_id + 1) % len(checkpoint.vocab)] * size, [None] * size
            times = []
            for tick in range(warm + ticks):
                began = time.perf_counter()
                features, states = gen.stepper.advance(tokens, states)
                logits = gen.stepper.logits(features, [s.candidates() for s in samplers])
                tokens = choose_all(samplers, logits)
                times.append(time.perf_counter() - began)
            tick = statistics.median(times[warm:])
            base = base or size / tick
            rows.append(f"| {size} | {1000 * tick:.1f} | {1 / tick:.0f} | {size / tick:.0f} | {size / tick / base:.1f}x |")
    return rows


def describe(checkpoint: Checkpoint) -> str:
    config = checkpoint.model.config
    output = "adaptive" if config.adaptive_cutoffs else "tied" if config.tie_weights else "full"
    return (
        f"embedding {config.embedding_size}, LSTM {config.hidden_sizes}, vocabulary {config.vocab_size}, "
        f"{output} softmax; {torch.get_num_threads()} threads; "
        f"{WORDS} greedy words after a {WINDOW}-word prompt"
    )


def main(argv: list[str] | None = None) -> int:
    p = Parser("bench.generation", __doc__)
    p.add_argument("--model", help="checkpoint folder or Hub repo id (default: the embedded model)")
    p.add_argument("--random", action="store_true", help="random weights of the default size instead of a model")
    p.add_argument("--adaptive", action="store_true", help="with --random: an adaptive softmax")
    p.add_argument("--repeats", type=positive_int, default=10, help="timed runs per method")
    p.add_argument("--timed-prompts", type=positive_int, default=5, help="held-out prompts the timed runs cycle through")
    p.add_argument("--prompts", type=positive_int, default=20, help="held-out prompts for agreement")
    p.add_argument("--text", type=Path, default=HELD_OUT, help="held-out text for prompts")
    p.add_argument("--threads", type=positive_int, help="torch threads (default: PyTorch's choice)")
    p.add_argument("--batches", type=positive_int, nargs="*", default=[1, 4, 16, 64, 128],
                   help="stream counts for the batched-tick table (none: skip it)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = "random weights (meaningless)" if args.random else args.model or "the embedded model"
    checkpoint = random_checkpoint(args.adaptive) if args.random else resolve(args.model, fallback=False).checkpoint
    print(f"{name}: {describe(checkpoint)}")
    print(f"CPU features: {cpu_summary()}; torch {torch.__version__}; int8 products of {GEMM_ROWS}+ streams: "
          f"{products()} (the fastest here, timed at start)\n")
    text = args.text if args.text is not None and args.text.is_file() else None
    prompts = held_out_prompts(checkpoint.vocab, args.timed_prompts, text)
    source = (f"7-word starts of lines of {text}" if text else
              f"7 random frequent words ({args.text} not found: python -m training.corpus kjv --out data/kjv)")
    print(f"Prompts: {source}.\nTimes over {args.repeats} runs, taking {args.timed_prompts} prompts in turn.\n")
    print("\n".join(speed_table(checkpoint, prompts, args.repeats)))
    if args.batches:
        print(f"\nThe scheduler's tick (fast path, top-k, k 10), {torch.get_num_threads()} threads:\n")
        print("\n".join(batch_table(checkpoint, args.batches)))
    step, free = agreement(checkpoint, held_out_prompts(checkpoint.vocab, args.prompts, text))
    print("\n| greedy agreement, fast vs exact | per step | free run |\n|---|---:|---:|")
    print(f"| {name}, {args.prompts} prompts x {WORDS} words | {step:.1%} | {free:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
