"""The plain command against the two baselines a user would otherwise reach for, on one data
folder, each given the same wall time on the same cores, one after the other:

    python -m training.corpus kjv --out data/kjv
    python -m bench.plain --data data/kjv --minutes 30 --out runs/plain-kjv
    python -m bench.plain --data data/kjv --minutes 30 --out runs/plain-kjv --side-by-side

--side-by-side runs the two LSTMs at the same time instead, each pinned to its own half of the
cores (one core each on 2) with that many threads: the same cores for both, in half the wall time.

1. the plain command: `python -m training.train --text train.txt --valid valid.txt
   --test test.txt --time-budget 30m --out ...` and nothing else (training/rules.py decides);
2. pytorch/examples' word_language_model (bench/examples_lm.py: embedding 256, 2 x 512, its
   defaults) for the same minutes;
3. an interpolated modified Kneser-Ney 5-gram (bench/ngram.py), built in seconds.

All three use the vocabulary the plain command builds from train.txt (training/rules.py: words
seen once become `<unk>`) and score test.txt with the same convention (one continuous pass, a
leading `<eol>`). The table gives test perplexities and the plain command's
ratios to each baseline (the goal of issue 16: at most 0.75 x word_language_model's and 0.8 x
the 5-gram's). Wall times include start-up and the final scoring.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from bench.ngram import KneserNey, encode
from wordrnn.cli import Parser, positive_float, quiet_known_warnings
from training import rules
from training.precision import cpu_summary
from wordrnn import Checkpoint, Vocabulary, tokenize

log = logging.getLogger(__name__)
SPLITS = ("train", "valid", "test")


def min_count(data: Path) -> int:
    """The vocabulary cut the plain command chooses for this train split: every model gets it."""
    return rules.min_count(tokenize((data / "train.txt").read_text(encoding="utf-8")))[0]


def ngram(data: Path, cut: int, order: int = 5) -> tuple[float, float]:
    """(test perplexity, seconds) of a Kneser-Ney model of `order` on the train split, words
    seen fewer than `cut` times as <unk>."""
    start = time.perf_counter()
    texts = {s: (data / f"{s}.txt").read_text(encoding="utf-8") for s in ("train", "test")}
    vocab = Vocabulary.build(tokenize(texts["train"]), min_count=cut)
    model = KneserNey(order, len(vocab)).fit(encode(texts["train"], vocab))
    return model.perplexity(encode(texts["test"], vocab)), time.perf_counter() - start


def start(cmd: list[str], log_path: Path, cores: set[int] | None) -> subprocess.Popen:
    """Start a command with its output in `log_path`, on `cores` only (None: all) with one
    thread per core."""
    env = dict(os.environ)
    if cores is not None:
        env.update(OMP_NUM_THREADS=str(len(cores)), MKL_NUM_THREADS=str(len(cores)))
    output = log_path.open("w", encoding="utf-8")
    return subprocess.Popen(cmd, stdout=output, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)


def finish(process: subprocess.Popen, began: float, log_path: Path) -> float:
    """Wait for a started command; its wall time since `began`, or an error that names its log."""
    code = process.wait()
    if code != 0:
        raise RuntimeError(f"`{' '.join(process.args)}` failed with status {code}; see {log_path}")
    return time.perf_counter() - began


def commands(data: Path, minutes: float, out: Path, cut: int) -> dict[str, list[str]]:
    """The two LSTM runs: the plain command, and word_language_model for the same minutes."""
    splits = [f"--{s if s != 'train' else 'text'}={data / f'{s}.txt'}" for s in SPLITS]
    return {
        "plain": [sys.executable, "-m", "training.train", *splits, "--time-budget", f"{minutes * 60:g}s",
                  "--out", str(out / "plain")],
        "examples-lm": [sys.executable, "-m", "bench.examples_lm", "--data", str(data), "--minutes", f"{minutes:g}",
                        "--min-count", str(cut), "--out", str(out / "examples-lm")],
    }


def lstms(data: Path, minutes: float, out: Path, side_by_side: bool, cut: int) -> dict[str, tuple[float, float]]:
    """{name: (test perplexity, wall seconds)} of the two LSTM runs."""
    cmds, seconds = commands(data, minutes, out, cut), {}
    cores = sorted(os.sched_getaffinity(0))
    halves = [set(cores[: len(cores) // 2]), set(cores[len(cores) // 2 :])] if side_by_side else [None, None]
    if side_by_side and len(cores) < 2:
        raise RuntimeError("--side-by-side needs at least 2 cores")
    if side_by_side:
        began = time.perf_counter()
        running = {name: start(cmd, out / f"{name}.log", part) for (name, cmd), part in zip(cmds.items(), halves)}
        seconds = {name: finish(process, began, out / f"{name}.log") for name, process in running.items()}
    else:
        for name, cmd in cmds.items():
            log.info("%s, %g minutes ...", name, minutes)
            began = time.perf_counter()
            seconds[name] = finish(start(cmd, out / f"{name}.log", None), began, out / f"{name}.log")
    ours = Checkpoint.from_pretrained(out / "plain" / "model").info["metrics"]["test_perplexity"]
    theirs = json.loads((out / "examples-lm" / "result.json").read_text())["test_perplexity"]
    return {"plain": (ours, seconds["plain"]), "examples-lm": (theirs, seconds["examples-lm"])}


def chosen(out: Path) -> list[str]:
    """The lines in which the plain command said what its rules chose."""
    text = (out / "plain.log").read_text(encoding="utf-8", errors="replace")
    return [line.split("by the rule: ", 1)[1].strip() for line in text.splitlines() if "by the rule: " in line]


def main(argv: list[str] | None = None) -> int:
    p = Parser("bench.plain", description=__doc__)
    p.add_argument("--data", type=Path, required=True, help="folder with train.txt, valid.txt, test.txt")
    p.add_argument("--minutes", type=positive_float, default=30.0, help="training time of each LSTM")
    p.add_argument("--out", type=Path, default=Path("runs/bench-plain"), help="where the runs go")
    p.add_argument("--side-by-side", action="store_true",
                   help="run both LSTMs at once, each on its own half of the cores")
    args = p.parse_args(argv)
    missing = [str(args.data / f"{s}.txt") for s in SPLITS if not (args.data / f"{s}.txt").is_file()]
    if missing:
        p.error(f"{', '.join(missing)} not found; prepare a folder with python -m training.corpus kjv --out DIR")
    if (args.out / "plain" / "training_state").exists():
        p.error(f"{args.out} holds an earlier run; pick another --out")
    quiet_known_warnings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    features = cpu_summary()
    try:
        log.info("5-gram ...")
        cut = min_count(args.data)
        kn, kn_s = ngram(args.data, cut)
        log.info("the plain command and word_language_model, %g minutes each%s ...", args.minutes,
                 ", side by side" if args.side_by_side else "")
        runs = lstms(args.data, args.minutes, args.out, args.side_by_side, cut)
    except (RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    ours = runs["plain"][0]
    cores = len(os.sched_getaffinity(0))
    share = f"{cores // 2} of {cores} cores each, side by side" if args.side_by_side else f"all {cores} cores, in turn"
    print(f"{args.data}: {args.minutes:g} minutes per LSTM on {share}; torch {torch.__version__}, "
          f"CPU features: {features}\n")
    print("| model | test perplexity | plain / this | wall time |\n|---|---|---|---|")
    for name, (ppl, seconds) in (("the plain command (training.train)", runs["plain"]),
                                 ("pytorch/examples word_language_model", runs["examples-lm"]),
                                 ("Kneser-Ney 5-gram", (kn, kn_s))):
        print(f"| {name} | {ppl:.2f} | {ours / ppl:.3f} | {seconds / 60:.1f} min |")
    print("\nthe plain command's rules chose: " + "; ".join(chosen(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
