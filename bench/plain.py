"""The plain command against the two baselines a user would otherwise reach for, on one data
folder, each given the same wall time on the same cores, one after the other:

    python -m training.corpus kjv --out data/kjv
    python -m bench.plain --data data/kjv --minutes 30 --out runs/plain-kjv

1. the plain command: `python -m training.train --text train.txt --valid valid.txt
   --test test.txt --time-budget 30m --out ...` and nothing else (training/rules.py decides);
2. pytorch/examples' word_language_model (bench/examples_lm.py: embedding 256, 2 x 512, its
   defaults) for the same minutes;
3. an interpolated modified Kneser-Ney 5-gram (bench/ngram.py), built in seconds.

All three use the vocabulary of train.txt and score test.txt with the same convention (one
continuous pass, a leading `<eol>`). The table gives test perplexities and the plain command's
ratios to each baseline (the goal of issue 16: at most 0.75 x word_language_model's and 0.8 x
the 5-gram's). Wall times include start-up and the final scoring.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import torch

from bench.ngram import KneserNey, encode
from wordrnn.cli import Parser, positive_float, quiet_known_warnings
from training.precision import cpu_summary
from wordrnn import Checkpoint, Vocabulary, tokenize

log = logging.getLogger(__name__)
SPLITS = ("train", "valid", "test")


def ngram(data: Path, order: int = 5) -> tuple[float, float]:
    """(test perplexity, seconds) of a Kneser-Ney model of `order` on the train split."""
    start = time.perf_counter()
    texts = {s: (data / f"{s}.txt").read_text(encoding="utf-8") for s in ("train", "test")}
    vocab = Vocabulary.build(tokenize(texts["train"]))
    model = KneserNey(order, len(vocab)).fit(encode(texts["train"], vocab))
    return model.perplexity(encode(texts["test"], vocab)), time.perf_counter() - start


def run(cmd: list[str], log_path: Path) -> float:
    """Run a command to completion with its output in `log_path`; returns its wall time."""
    start = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as output:
        code = subprocess.call(cmd, stdout=output, stderr=subprocess.STDOUT)
    if code != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed with status {code}; see {log_path}")
    return time.perf_counter() - start


def plain(data: Path, minutes: float, out: Path) -> tuple[float, float]:
    folder = out / "plain"
    cmd = [sys.executable, "-m", "training.train", "--text", str(data / "train.txt"),
           "--valid", str(data / "valid.txt"), "--test", str(data / "test.txt"),
           "--time-budget", f"{minutes * 60:g}s", "--out", str(folder)]
    seconds = run(cmd, out / "plain.log")
    return Checkpoint.from_pretrained(folder / "model").info["metrics"]["test_perplexity"], seconds


def examples_lm(data: Path, minutes: float, out: Path) -> tuple[float, float]:
    folder = out / "examples-lm"
    seconds = run([sys.executable, "-m", "bench.examples_lm", "--data", str(data), "--minutes", f"{minutes:g}",
                   "--out", str(folder)], out / "examples-lm.log")
    return json.loads((folder / "result.json").read_text())["test_perplexity"], seconds


def main(argv: list[str] | None = None) -> int:
    p = Parser("bench.plain", description=__doc__)
    p.add_argument("--data", type=Path, required=True, help="folder with train.txt, valid.txt, test.txt")
    p.add_argument("--minutes", type=positive_float, default=30.0, help="training time of each LSTM")
    p.add_argument("--out", type=Path, default=Path("runs/bench-plain"), help="where the runs go")
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
        kn, kn_s = ngram(args.data)
        log.info("the plain command, %g minutes ...", args.minutes)
        ours, ours_s = plain(args.data, args.minutes, args.out)
        log.info("word_language_model, %g minutes ...", args.minutes)
        wlm, wlm_s = examples_lm(args.data, args.minutes, args.out)
    except (RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.data}: {args.minutes:g} minutes per LSTM; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, CPU features: {features}\n")
    print("| model | test perplexity | plain / this | wall time |\n|---|---|---|---|")
    for name, ppl, seconds in (("the plain command (training.train)", ours, ours_s),
                               ("pytorch/examples word_language_model", wlm, wlm_s),
                               ("Kneser-Ney 5-gram", kn, kn_s)):
        print(f"| {name} | {ppl:.2f} | {ours / ppl:.3f} | {seconds / 60:.1f} min |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
