"""Train a word-level LSTM on a text file; save the best model as a Hub-ready checkpoint.

    python -m training.train --text my.txt --out runs/mine                  # 5% held out
    python -m training.train --text data/kjv/train.txt --valid data/kjv/valid.txt \\
        --test data/kjv/test.txt --out runs/kjv --time-budget 60m
    python -m training.train --out runs/kjv --resume                         # after Ctrl-C
    torchrun --nproc_per_node 2 -m training.train --text my.txt --out runs/ddp

The run folder holds model/ (the best checkpoint by validation perplexity: config.json,
model.safetensors, vocab.json, README.md, loss_curve.png), training_state/ (what --resume
needs) and metrics.jsonl. Ctrl-C or SIGTERM saves and exits; a NaN loss stops the run and keeps
the last good checkpoint.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import time
from pathlib import Path


from . import args as options, distributed
from .data import DataError, check_size, load_corpus
from .loop import Loop, Stop
from wordrnn import HubError, WordRNNError

log = logging.getLogger("training")


def main(argv: list[str] | None = None) -> int:
    args = options.parse(argv)
    process = distributed.setup(args.device, args.threads)
    logging.basicConfig(
        level=logging.INFO if process.is_main else logging.WARNING,
        format="%(message)s", stream=sys.stderr,
    )
    stop = _catch_signals()
    try:
        return run(args, process, stop)
    except (DataError, WordRNNError) as err:
        log.error("error: %s", err)
        return 2
    finally:
        distributed.teardown(process)


def run(args, process: distributed.Process, stop: list[bool]) -> int:
    out = Path(args.out)
    state_dir = out / "training_state"
    if args.resume:
        args = _resumed_args(args, state_dir)
    elif (state_dir / "state.json").exists():
        raise DataError(f"{out} already holds a run; pass --resume to continue it or pick another --out")
    corpus = load_corpus(args.text, args.valid, args.min_count, args.max_vocab,
                         vocab=_saved_vocab(state_dir) if args.resume else None)
    check_size(corpus, args.batch_size, process.world_size)
    loop = Loop(args, corpus, process, out)
    if args.resume:
        loop.resume(state_dir)
    budget_end = time.monotonic() + args.time_budget if args.time_budget else math.inf
    reason = loop.train(should_stop=lambda: stop[0] or time.monotonic() > budget_end)
    if reason is Stop.NAN:
        return 1
    if not distributed.same_on_all_ranks(process, list(loop.model.parameters())):
        raise RuntimeError("ranks ended with different parameters; please report this bug")
    if process.distributed:
        log.info("parameters identical on all %d ranks", process.world_size)
    distributed.barrier(process)
    if not process.is_main:
        return 0
    folder = loop.finish(test_path=args.test)
    if reason is Stop.INTERRUPTED:
        log.info("interrupted at step %d; continue with: python -m training.train --out %s --resume",
                 loop.step, out)
    if args.push_to_hub:
        return _push(folder, args.push_to_hub, args.private)
    return 0


def _push(folder: Path, repo_id: str, private: bool) -> int:
    from wordrnn import Checkpoint

    try:
        url = Checkpoint.from_pretrained(folder).push_to_hub(repo_id, private=private)
    except HubError as err:
        log.error("error: %s\nThe checkpoint is safe in %s.", err, folder)
        return 1
    log.info("pushed to %s", url)
    return 0


def _resumed_args(args, state_dir: Path):
    from . import state

    if not (state_dir / "state.json").exists():
        raise DataError(f"nothing to resume: {state_dir} does not exist; start a run without --resume")
    saved = state.read_meta(state_dir)["args"]
    for name in options.RUN_CONTROL:
        saved[name] = getattr(args, name)
    return type(args)(**saved)


def _saved_vocab(state_dir: Path):
    from . import state
    from wordrnn import Vocabulary

    return Vocabulary.from_json(state.read_meta(state_dir)["vocab"])


def _catch_signals() -> list[bool]:
    """First Ctrl-C / SIGTERM asks the loop to save and stop; a second one stops at once."""
    stop = [False]

    def handler(signum, frame):
        if stop[0]:
            raise KeyboardInterrupt
        stop[0] = True
        log.warning("\n%s received: saving and stopping (press Ctrl-C again to abort)",
                    signal.Signals(signum).name)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


if __name__ == "__main__":
    sys.exit(main())
