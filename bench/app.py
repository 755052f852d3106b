"""The app under load: cold start, then 16 API clients generating at once.

    python -m bench.app                          # the embedded model (models/kjv-lstm) if present
    python -m bench.app --model runs/kjv/model   # any checkpoint folder or Hub repo id
    python -m bench.app --clients 32 --words 256 --mode top-k

Starts `python app.py` as a host would (tests/app_server.py, Hub offline), and measures:
  cold start    process start -> the app answers HTTP, and -> the first /generate result
  under load    N gradio_client clients, each in its own thread, submit one /generate of
                `--words` words at the same moment: p50 / p95 of the time to the first streamed
                update and to the whole text, errors, and words per second over the whole run
Without a trained model it serves a random-weight model of the default KJV size (12k words,
embedding 256, LSTM [512, 512], adaptive softmax): the speed is right, the text is nonsense.
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # app_server: the launcher the tests use

from app_server import AppServer  # noqa: E402
from gradio_client import Client  # noqa: E402

from wordrnn.generate import MODES  # noqa: E402
from wordrnn.cli import Parser, positive_int  # noqa: E402
from wordrnn.source import DEFAULT_MODEL  # noqa: E402


def random_model(folder: Path) -> Path:
    """A checkpoint of the default model's size with random weights."""
    import torch

    from wordrnn import Checkpoint, ModelConfig, Vocabulary, WordRNN

    torch.manual_seed(0)
    vocab = Vocabulary(["<unk>", "<eol>", *(f"w{i}" for i in range(11_998))])
    config = ModelConfig(len(vocab), 256, [512, 512], dropout=0.0, tie_weights=False, adaptive_cutoffs=[2000, 6000])
    return Checkpoint(WordRNN(config).eval(), vocab).save_pretrained(folder / "random-kjv-size")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def client(url: str) -> Client:
    return Client(url, verbose=False, download_files=False, analytics_enabled=False)


def main(argv: list[str] | None = None) -> int:
    p = Parser("bench.app", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help=f"checkpoint folder or Hub repo id (default: {DEFAULT_MODEL} if present)")
    p.add_argument("--clients", type=positive_int, default=16)
    p.add_argument("--words", type=positive_int, default=128)
    p.add_argument("--mode", choices=MODES, default="greedy")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or (str(DEFAULT_MODEL) if DEFAULT_MODEL.is_dir() else None)
        if model is None:
            model = str(random_model(Path(tmp)))
            print(f"no --model and no {DEFAULT_MODEL}: a random-weight model of the default size\n")
        began = time.monotonic()
        with AppServer(model) as server:
            up = time.monotonic() - began
            prompt = _prompt(model)
            first = client(server.url).predict(prompt, args.words, args.mode, 10, 1.0, 0.9, 0, "0", api_name="/generate")
            answered = time.monotonic() - began
            assert first, "the first generation returned nothing"
            results = _load(server.url, prompt, args)
        print("| cold start | seconds |\n|---|---:|")
        print(f"| process start -> app answers | {up:.1f} |")
        print(f"| process start -> first /generate result ({args.words} words) | {answered:.1f} |")
        _report(results, args)
    return 0


def _prompt(model: str) -> str:
    """Seven words the model knows: KJV words for a KJV model, vocabulary words otherwise."""
    from wordrnn.page import examples
    from wordrnn.source import resolve

    checkpoint = resolve(model, fallback=False).checkpoint
    return (examples(checkpoint.vocab, checkpoint.info) or ["and god said , let there be"])[0]


def _load(url: str, prompt: str, args: argparse.Namespace) -> dict:
    clients = [client(url) for _ in range(args.clients)]  # connected before the clock starts
    start = threading.Barrier(args.clients + 1)
    first: list[float] = []
    total: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        start.wait()
        t0 = time.monotonic()
        seen = None
        try:
            job = clients[i].submit(prompt, args.words, args.mode, 10, 1.0, 0.9, 0, str(i), api_name="/generate")
            for _ in job:
                seen = seen or time.monotonic() - t0
            job.result(timeout=600)
            with lock:
                first.append(seen if seen is not None else time.monotonic() - t0)
                total.append(time.monotonic() - t0)
        except Exception as err:  # noqa: BLE001 - counted and shown, not raised
            with lock:
                errors.append(f"{type(err).__name__}: {err}"[:200])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    return {"first": first, "total": total, "errors": errors, "wall": time.monotonic() - t0}


def _report(results: dict, args: argparse.Namespace) -> None:
    first, total, errors = results["first"], results["total"], results["errors"]
    print(f"\n| {args.clients} clients x {args.words} words ({args.mode}) | p50 (s) | p95 (s) |\n|---|---:|---:|")
    if total:
        print(f"| first streamed update | {statistics.median(first):.2f} | {percentile(first, 0.95):.2f} |")
        print(f"| whole text | {statistics.median(total):.2f} | {percentile(total, 0.95):.2f} |")
    words = len(total) * args.words
    print(f"\nerrors: {len(errors)} of {args.clients}; {words / results['wall']:.0f} words/s over {results['wall']:.1f} s")
    for error in errors[:5]:
        print(f"  {error}")


if __name__ == "__main__":
    sys.exit(main())
