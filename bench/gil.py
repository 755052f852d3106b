"""Why the app's scheduler runs in a process of its own: its tick beside busy Python threads.

    python -m bench.gil                       # 64 streams, 0, 1 and 4 busy threads
    python -m bench.gil --streams 16 --busy 0 2

Times the scheduler's tick (one batched fast step, each stream's top-k choice; the embedded
model, 1 torch thread) alone in this process, then with N threads that only run Python, as
Gradio's threads and event loop do in the app's process under a crowd. A tick gives up the
interpreter lock at each compiled kernel and must win it back from those threads: its wall time
grows far beyond its own CPU time. Prints the median wall and CPU milliseconds per tick, and
their ratio to the quiet tick measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

import torch

from training.precision import cpu_summary
from wordrnn.generate import Generator
from wordrnn.sampling import Sampler, choose_all
from wordrnn.source import resolve


def ticker(streams: int):
    """A function that runs `ticks` ticks for `streams` streams -> (wall ms, CPU ms) per tick."""
    checkpoint = resolve(None, None).checkpoint
    gen = Generator(checkpoint, "cpu")
    samplers = [Sampler("top-k", seed=n, never=[checkpoint.vocab.unk_id]) for n in range(streams)]
    carried = {"tokens": [(checkpoint.vocab.unk_id + 1) % len(checkpoint.vocab)] * streams,
               "states": [None] * streams}

    @torch.inference_mode()
    def run(ticks: int) -> tuple[float, float]:
        times, cpu = [], time.thread_time()
        for _ in range(ticks):
            began = time.perf_counter()
            features, carried["states"] = gen.stepper.advance(carried["tokens"], carried["states"])
            logits = gen.stepper.logits(features, [s.candidates() for s in samplers])
            carried["tokens"] = choose_all(samplers, logits)
            times.append(time.perf_counter() - began)
        return 1000 * statistics.median(times), 1000 * (time.thread_time() - cpu) / ticks

    return run


def beside(run, busy: int, ticks: int) -> tuple[float, float]:
    """`run(ticks)` with `busy` threads spinning in Python meanwhile."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    threads = [threading.Thread(target=spin, daemon=True) for _ in range(busy)]
    for thread in threads:
        thread.start()
    try:
        return run(ticks)
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gil", description=__doc__.split("\n\n")[0])
    p.add_argument("--streams", type=int, default=64, help="streams per tick")
    p.add_argument("--busy", type=int, nargs="+", default=[0, 1, 4], help="busy Python threads beside the tick")
    p.add_argument("--ticks", type=int, default=30, help="timed ticks per row")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    run = ticker(args.streams)
    run(5)  # compile and warm up
    print(f"{args.streams} streams, 1 torch thread; torch {torch.__version__}, CPU features: {cpu_summary()}\n")
    print("| busy Python threads | wall ms per tick | CPU ms per tick | wall / quiet wall |\n|---:|---:|---:|---:|")
    quiet = None
    for busy in args.busy:
        wall, cpu = beside(run, busy, args.ticks)
        quiet = quiet or wall
        print(f"| {busy} | {wall:.1f} | {cpu:.1f} | {wall / quiet:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
