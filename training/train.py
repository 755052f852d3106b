"""Train a word-level LSTM on a text file; save the best model as a Hub-ready checkpoint.

    python -m training.train --text my.txt --out runs/mine --time-budget 30m    # 5% held out
    python -m training.train --text data/kjv/train.txt --valid data/kjv/valid.txt \\
        --test data/kjv/test.txt --out runs/kjv --time-budget 60m
    python -m training.train --out runs/kjv --resume                           # after a stop
    torchrun --nproc_per_node 2 -m training.train --text my.txt --out runs/ddp

The run folder holds model/ (the best checkpoint by validation perplexity: config.json,
model.safetensors, vocab.json, README.md, loss_curve.png), training_state/ (what --resume
needs, written at each validation and every --save-interval) and metrics.jsonl. Ctrl-C or
SIGTERM saves and exits with status 130 / 143; a NaN loss stops the run and keeps the last
good checkpoint.

The story of a run: options -> config (rules.py fills what was not given) -> Loop.train ->
finish.complete (test scores, samples, loss curve) -> finish.push (the folder just written).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import tempfile
from pathlib import Path

from . import args as options, distributed, finish, rules, state
from wordrnn import cli
from .data import DataError, check_size, load_corpus
from .loop import Loop, Stop
from .precision import autocast_dtype
from wordrnn import Vocabulary, WordRNNError

log = logging.getLogger("training")


def main(argv: list[str] | None = None) -> int:
    cli.quiet_known_warnings()
    try:
        args = options.parse(argv)
        typed = options.given(argv)
    except SystemExit as exit:  # --help (0) or a bad flag (2, after its one-line error)
        return int(exit.code or 0)
    logging.basicConfig(level=logging.INFO if os.environ.get("RANK", "0") == "0" else logging.WARNING,
                        format="%(message)s", stream=sys.stderr)
    process = None
    try:
        check_out(Path(args.out))  # before the text is loaded, which may take minutes
        args, meta = _resolved(args, typed)
        process = distributed.setup(args.device, args.threads)
        stop = _catch_signals()
        return run(args, meta, process, stop)
    except (DataError, cli.UsageError, WordRNNError) as err:
        log.error("error: %s", " ".join(str(err).split()))
        return 2
    except OSError as err:  # e.g. an --out that cannot be written
        log.error("error: %s", err)
        return 2
    finally:
        if process is not None:
            distributed.teardown(process)


def check_out(out: Path) -> None:
    """Refuse an --out that cannot hold a run (a file, a folder this user cannot write), without
    creating it: a refused run leaves nothing behind."""
    folder = out
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest existing folder, where --out would be created
    if not folder.is_dir():
        what = "is a file" if folder == out else f"is inside {folder}, which is a file"
        raise cli.UsageError(f"--out {out} {what}; pass a folder for the run (it is created if missing)")
    try:
        with tempfile.TemporaryFile(dir=folder):  # the real test: permissions, read-only disks, ACLs
            pass
    except OSError as err:
        raise cli.UsageError(f"--out {out} cannot be written ({err.strerror or err}: {folder}); pass a folder "
                             "you can write, e.g. runs/mine in your home folder") from None


def _resolved(args: argparse.Namespace, typed: set[str]) -> tuple[argparse.Namespace, dict | None]:
    """This run's options: as given, or, with --resume, the saved run's (checked to be resumable
    exactly here) under this command's RUN_CONTROL; `typed`: the options on the command line."""
    folder = Path(args.out) / "training_state"
    if not args.resume:
        if (folder / state.META).exists():
            raise DataError(f"{args.out} already holds a run; pass --resume to continue it or pick another --out")
        return args, None
    if not (folder / state.META).exists():
        raise DataError(f"nothing to resume: {folder} does not exist; start a run without --resume")
    meta = state.read_meta(folder)
    options.check_unchanged(args, meta["args"], typed)
    resumed = options.resumed(args, meta["args"], typed)
    if resumed.threads is None:
        resumed.threads = meta.get("threads")  # the same count, for the same floating-point sums
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    options.check_resumable(meta, world_size, distributed.pick_device(resumed.device).type)
    return resumed, meta


def run(args: argparse.Namespace, meta: dict | None, process: distributed.Process, stop: list[int]) -> int:
    out = Path(args.out)
    autocast = autocast_dtype(args.precision, process.device) is not None  # refuses before any work
    if args.push_to_hub and process.is_main:
        finish.check_token(args.push_to_hub, out / "model")
    vocab = Vocabulary.from_json(meta["vocab"]) if meta else None
    corpus = load_corpus(args.text, args.valid, args.min_count, args.max_vocab, vocab=vocab)
    check_size(corpus, args.batch_size, process.world_size)
    if not meta:
        args, chosen = rules.choose(args, corpus.train.numel(), len(corpus.vocab), autocast=autocast)
        args.min_count = corpus.min_count  # chosen with the vocabulary; saved with the run's options
        for line in corpus.chosen + chosen:
            log.info("by the rule: %s", line)
    try:
        loop = Loop(args, corpus, process, out)
    except ValueError as err:  # options that do not fit together or this vocabulary
        raise cli.UsageError(str(err)) from None
    if meta:
        loop.resume(out / "training_state")
    else:  # a fresh start (e.g. after a kill before the first save): the old rows would join its curve
        loop.report.truncate(0)
    loop.announce()
    reason = loop.train(interrupted=lambda: bool(stop[0]))
    loop.report.close()
    if reason is Stop.NAN:
        return 1
    if not distributed.same_on_all_ranks(process, list(loop.model.parameters())):
        raise RuntimeError("ranks ended with different parameters; please report this bug")
    if process.distributed:
        log.info("parameters identical on all %d ranks", process.world_size)
    distributed.barrier(process)
    if not process.is_main:
        return 128 + stop[0] if reason is Stop.INTERRUPTED else 0
    folder = out / "model"
    if not (folder / "config.json").exists():  # stopped during the first validation
        log.info("stopped before the first validation ended: no checkpoint yet; continue with: %s --out %s --resume",
                 cli.invoked_as("training.train"), out)
        return 128 + stop[0] if reason is Stop.INTERRUPTED else 1
    finish.complete(folder, corpus, loop.report.path, args.test, lambda: bool(stop[0]))
    log.info("best checkpoint: %s (validation perplexity %.2f)", folder, math.exp(min(loop.best, 50)))
    if loop.budget and reason is Stop.DONE and loop.step < loop.per_epoch:  # the budget, not the text, ended it
        log.warning("the time budget allowed %d steps, %.0f%% of one pass over the text: the model has barely "
                    "begun to learn it; a longer --time-budget trains a better one", loop.step,
                    100 * loop.step / loop.per_epoch)
    if reason is Stop.INTERRUPTED or stop[0]:  # a stop request, in the loop or in the test scoring
        log.info("interrupted at step %d; continue with: %s --out %s --resume",
                 loop.step, cli.invoked_as("training.train"), out)
        return 128 + stop[0]
    return finish.push(folder, args.push_to_hub, args.private, args.progress) if args.push_to_hub else 0


def _catch_signals() -> list[int]:
    """First Ctrl-C / SIGTERM asks the loop to save and stop (the list holds its number); a
    second one stops at once."""
    stop = [0]

    def handler(signum, frame):
        if stop[0]:
            raise KeyboardInterrupt
        stop[0] = signum
        log.warning("\n%s received: saving and stopping (press Ctrl-C again to abort)",
                    signal.Signals(signum).name)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


if __name__ == "__main__":
    sys.exit(main())
