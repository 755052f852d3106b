"""Training speed: the notebook's procedure against ours, and tokens/s of output layers.

    python -m training.corpus kjv --out data/kjv          # once
    python -m bench.training                              # both parts, ~10 minutes on 2 cores
    python -m bench.training --part notebook --notebook-budget 1800

Part "notebook": on a tutorial-size text (the first ~2,600 words of the KJV train split), train
the notebook's procedure (bench/notebook.py) and ours (training.loop, the real trainer) and
report the training time until next-word accuracy over the whole text reaches 66% and 95%.
Accuracy checks are not counted as training time. The notebook gets --notebook-budget seconds.

Part "throughput": on the KJV train split, tokens/s of a model with embedding 256 and LSTM
2 x 512 for three output layers (full softmax untied, the baseline; tied with projection;
adaptive softmax), in float32 and under bfloat16 autocast (`--precision`; fast only where the
CPU multiplies bfloat16 natively: AVX-512 BF16 or AMX), and validation perplexity after the
same number of training tokens.
All figures come from one run on one machine; compare the ratios, not the seconds.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import torch

from bench.notebook import NotebookTrainer
from training import args as options, rules
from wordrnn.cli import Parser, positive_float, positive_int, quiet_known_warnings
from training.data import Corpus
from training.distributed import Process
from training.precision import cpu_summary, native_bf16
from training.evaluate import evaluate
from training.loop import Loop
from wordrnn import Vocabulary, tokenize
from wordrnn.batching import batchify, num_batches

TARGETS = (0.66, 0.95)


def tutorial_text(path: Path, words: int = 2600) -> list[str]:
    tokens: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        tokens += tokenize(line)
        if len(tokens) >= words:
            break
    return tokens


def time_to_targets(step, accuracy, budget: float, check_every: float) -> tuple[dict, int, float]:
    """Run `step()` until `accuracy()` passes every target or `budget` training seconds pass."""
    reached: dict[float, float] = {}
    trained, steps, next_check = 0.0, 0, check_every
    while trained < budget and len(reached) < len(TARGETS):
        start = time.perf_counter()
        step()
        trained += time.perf_counter() - start
        steps += 1
        if trained >= next_check:
            next_check += check_every
            acc = accuracy()
            for target in TARGETS:
                if acc >= target and target not in reached:
                    reached[target] = trained
            logging.info("  %.0f s, %d steps: accuracy %.1f%%", trained, steps, 100 * acc)
    return reached, steps, trained


# The trainer's defaults before the plain command's rules: the model of these tables.
FIXED = dict(embedding_size=256, hidden_sizes=[512, 512], dropout=0.2, input_dropout=None, embedding_dropout=0.0,
             weight_dropout=0.0, activation_penalty=0.0, temporal_penalty=0.0, adaptive_cutoffs=[],
             tie_weights=True, average_epochs=0.0, warmup=100, epochs=rules.EPOCHS)


def our_loop(corpus: Corpus, out: Path, **overrides) -> Loop:
    args = options.parse(["--text", __file__, "--out", str(out), "--no-progress"])
    for name, value in {**FIXED, **overrides}.items():
        setattr(args, name, value)
    return Loop(args, corpus, Process(), out)


def notebook_part(text: Path, budget: float, ours_budget: float, out: Path) -> list[str]:
    words = tutorial_text(text)
    vocab = Vocabulary.build(words)
    ids = torch.tensor(vocab.encode(words))
    logging.info("tutorial text: %d tokens, vocabulary %d", len(words), len(vocab))
    logging.info("ours (batch 8 x 32, AdamW lr 3e-3, warm-up 5, embedding 256, LSTM [512, 512], untied):")
    loop = our_loop(Corpus(vocab, ids, ids), out / "ours", batch_size=8, seq_len=32, tie_weights=False,
                    dropout=0.0, epochs=200, warmup=5, eval_interval=10**9)
    ours = time_to_targets(loop.advance, lambda: evaluate(loop.model, ids, 1, 256).accuracy,
                           ours_budget, 2.0)
    logging.info("notebook (batch 1, RMSProp, [1024, 512], ids as floats):")
    notebook = NotebookTrainer(ids.tolist(), len(vocab))
    theirs = time_to_targets(notebook.step, notebook.accuracy, budget, 30.0)
    rows = [f"Tutorial text: {len(words)} tokens, vocabulary {len(vocab)}.", "",
            "| trainer | steps/s | time to 66% | time to 95% |", "|---|---|---|---|"]
    for name, (reached, steps, trained) in (("notebook procedure", theirs), ("wordrnn", ours)):
        cells = [f"{reached[t]:.0f} s" if t in reached else f"> {trained:.0f} s" for t in TARGETS]
        rows.append(f"| {name} | {steps / trained:.1f} | {cells[0]} | {cells[1]} |")
    for target in TARGETS:
        if target in ours[0]:
            mine = ours[0][target]
            other = theirs[0].get(target)
            ratio = f"{other / mine:.0f}x" if other else f"> {theirs[2] / mine:.0f}x (notebook never got there)"
            rows.append(f"\nSpeed-up to {target:.0%}: {ratio}")
    return rows


def throughput_part(data: Path, steps: int, out: Path, bf16: bool) -> list[str]:
    train_words, valid_words = (tokenize((data / f).read_text(encoding="utf-8")) for f in ("train.txt", "valid.txt"))
    vocab = Vocabulary.build(train_words)
    corpus = Corpus(vocab, torch.tensor(vocab.encode(train_words)), torch.tensor(vocab.encode(valid_words)))
    adaptive = dict(tie_weights=False, adaptive_cutoffs=[2000, 6000])
    configs = {
        "full softmax, untied, float32 (baseline)": dict(tie_weights=False, precision="fp32"),
        "full softmax, untied, bf16 autocast": dict(tie_weights=False, precision="bf16"),
        "tied, LSTM projection to 256, bf16 autocast": dict(tie_weights=True, precision="bf16"),
        "adaptive softmax [2000, 6000], float32": dict(adaptive, precision="fp32"),
        "adaptive softmax [2000, 6000], bf16 autocast": dict(adaptive, precision="bf16"),
    }
    if not bf16:
        skipped = [name for name, o in configs.items() if o["precision"] == "bf16"]
        configs = {name: o for name, o in configs.items() if o["precision"] != "bf16"}
        logging.info("skipped (this CPU has no native bfloat16, so PyTorch's LSTM refuses it): %s",
                     "; ".join(skipped))
    rows = [f"KJV train split, vocabulary {len(vocab)}, batch 32 x 64, {steps} steps "
            f"({steps * 32 * 64:,} tokens) each.", "",
            "| output layer | tokens/s | speed vs baseline | valid perplexity |", "|---|---|---|---|"]
    base = None
    for name, overrides in configs.items():
        per_epoch = num_batches(batchify(corpus.train, 32), 64)
        loop = our_loop(corpus, out / "tp", epochs=steps / per_epoch, warmup=max(1, steps // 5), **overrides)
        loop.advance()  # warm-up step, not timed
        start = time.perf_counter()
        for _ in range(steps - 1):
            loop.advance()
        rate = (steps - 1) * 32 * 64 / (time.perf_counter() - start)
        base = base or rate
        ppl = evaluate(loop.model, corpus.valid).perplexity
        logging.info("%s: %.0f tokens/s, valid perplexity %.1f", name, rate, ppl)
        rows.append(f"| {name} | {rate:,.0f} | {rate / base:.2f}x | {ppl:.1f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = Parser("bench.training", description=__doc__)
    p.add_argument("--data", type=Path, default=Path("data/kjv"), help="folder with train.txt and valid.txt")
    p.add_argument("--part", choices=["notebook", "throughput", "both"], default="both")
    p.add_argument("--notebook-budget", type=positive_float, default=300.0, help="seconds for the notebook")
    p.add_argument("--ours-budget", type=positive_float, default=120.0, help="seconds for ours")
    p.add_argument("--steps", type=positive_int, default=120, help="training steps per throughput config")
    p.add_argument("--out", type=Path, default=Path("runs/bench-training"))
    args = p.parse_args(argv)
    for name in ("train.txt", "valid.txt"):
        if not (args.data / name).is_file():
            p.error(f"{args.data / name} does not exist; prepare it with python -m training.corpus kjv "
                    f"--out {args.data}")
    quiet_known_warnings()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    native = native_bf16(torch.device("cpu"))
    features = cpu_summary()
    rows = [f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU features: {features}; "
            f"{'multiplies bfloat16 natively' if native else 'no native bfloat16 (bf16 rows skipped)'}", ""]
    if args.part in ("notebook", "both"):
        rows += notebook_part(args.data / "train.txt", args.notebook_budget, args.ours_budget, args.out) + [""]
    if args.part in ("throughput", "both"):
        rows += throughput_part(args.data, args.steps, args.out, native)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
