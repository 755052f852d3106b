"""A crowd at the app: the per-request path against the batched scheduler, in one run.

    python -m bench.crowd                              # app.py, 1, 16 and 64 clients x 128 words
    python -m bench.crowd --app /tmp/app_serve.py      # another app file that calls wordrnn.worker.serve
    python -m bench.crowd --clients 1 8 --words 32     # a quick look
    python -m bench.crowd --decoding top-p             # as the page decodes by default

Starts the app as a host would (`python APP --port P`, Hub offline), once per path:
WORDRNN_BATCHING=0 (one batch-1 stream per request, as before the scheduler), =thread (the
scheduler in the app's process, sharing its GIL with Gradio's threads) and =1 (the default: the
scheduler in a model process of its own, wordrnn.worker). For each, every client count sends
that many gradio_client /generate calls at the same moment (distinct rng seeds; --decoding
top-k: k 10, temperature 1, or top-p: the page's default, top-p 0.9, temperature 0.7; the
no-repeat guard on 4-grams in both; one client: the median of --alone-runs runs), and reports errors, p50 / p95 time to the whole text,
the burst's time, aggregate words per second, the CPU seconds the app (with its model process)
and the clients spent in the burst (on one machine they share its cores), and each batched
path's ratios to the per-request one. Prints markdown and the CPU it ran on.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from math import nan
from pathlib import Path

import torch
from gradio_client import Client

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "and god said , let there be light"
PATHS = {"per-request": "0", "batched, in-process": "thread", "batched": "1"}  # WORDRNN_BATCHING


# How the clients decode: the benchmark (top-k), or the page's defaults (top-p, every
# word of the output layer in float32). No-repeat guard on 4-grams, the page's, in both.
DECODING = {"top-k": dict(mode="top-k", k=10, temperature=1.0),
            "top-p": dict(mode="top-p", temperature=0.7, top_p=0.9)}


def generate(client: Client, seed: int, words: int, decoding: str = "top-k"):
    """One /generate call as the page makes it: the only place that knows the endpoint's
    parameters."""
    return client.submit(prompt=PROMPT, length=words, **DECODING[decoding], no_repeat=4, rng_seed=str(seed),
                         api_name="/generate")


def start(app: Path, batching: str, model: str | None, log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "WORDRNN_BATCHING": batching, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(app), "--port", str(port)] + (["--model", model] if model else [])
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(1200):
        if process.poll() is not None:
            raise SystemExit(f"error: the app exited with status {process.returncode}; see {log}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return process, url
        except OSError:
            time.sleep(0.25)
    process.kill()
    raise SystemExit(f"error: the app did not answer within 300 s; see {log}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and the processes it started (the app's model process)
    have used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:  # it has just ended
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def burst(url: str, clients: int, words: int, pid: int, processes: int = 1, decoding: str = "top-k") -> dict:
    """`clients` calls at the same moment, each from its own connected client and thread, the
    clients spread over `processes` processes (visitors do not share one GIL); with the CPU
    seconds the app (server) and the clients spent meanwhile."""
    if processes > 1 and clients > 1:
        shares = [clients // processes + (n < clients % processes) for n in range(processes)]
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            gate = multiprocessing.get_context("spawn").Manager().Barrier(len([s for s in shares if s]) + 1)
            parts = [pool.apply_async(_share, (url, n, words, gate, sum(shares[:i]), decoding))
                     for i, n in enumerate(shares) if n]
            gate.wait()
            began, server = time.monotonic(), cpu_seconds(pid)
            results = [part.get() for part in parts]
            wall, server = time.monotonic() - began, cpu_seconds(pid) - server
        totals = [t for r in results for t in r["totals"]]
        return dict(totals=totals, errors=[e for r in results for e in r["errors"]], wall=wall,
                    rate=len(totals) * words / wall, server=server, clients=sum(r["clients"] for r in results))
    return _calls(url, clients, words, None, 0, pid, decoding)


def lone_client(url: str, words: int, pid: int, runs: int, decoding: str = "top-k") -> dict:
    """One client at a time, `runs` times: its median run. One run is a poor yardstick: a
    gradio_client looks for new messages every 50 ms, so a lone text's time comes out at one of
    two values 50 ms apart."""
    tries = [burst(url, 1, words, pid, decoding=decoding) for _ in range(runs)]
    middle = sorted(tries, key=lambda r: r["wall"])[len(tries) // 2]
    return {**middle, "totals": [t for r in tries for t in r["totals"]],
            "errors": [e for r in tries for e in r["errors"]]}


def _share(url: str, clients: int, words: int, gate, first: int, decoding: str) -> dict:
    return _calls(url, clients, words, gate, first, None, decoding)


def _calls(url: str, clients: int, words: int, outer, first: int, pid: int | None, decoding: str) -> dict:
    # ssl_verify=False: the app is plain http on 127.0.0.1, so nothing is ever verified, but with
    # it on, httpx loads the CA bundle for every request (about 25 ms of CPU, three times per
    # call): the harness would take that CPU from the app it measures, which visitors' own
    # machines never do.
    connected = [Client(url, verbose=False, download_files=False, analytics_enabled=False, ssl_verify=False)
                 for _ in range(clients)]
    gate = threading.Barrier(clients + 1)
    totals: list[float] = []
    errors: list[str] = []

    def run(n: int) -> None:
        gate.wait()
        began = time.monotonic()
        try:
            generate(connected[n], 1000 + first + n, words, decoding).result(timeout=600)
            totals.append(time.monotonic() - began)
        except Exception as error:  # noqa: BLE001 - counted and shown
            errors.append(f"{type(error).__name__}: {error}"[:160])

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    if outer is not None:
        outer.wait()
    gate.wait()
    # time.process_time: this process alone (cpu_seconds would add the app, a child of ours)
    began, server, own = time.monotonic(), cpu_seconds(pid) if pid else 0.0, time.process_time()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    server, own = (cpu_seconds(pid) - server) if pid else 0.0, time.process_time() - own
    return dict(totals=totals, errors=errors, wall=wall, rate=len(totals) * words / wall, server=server, clients=own)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def cpu() -> str:
    flags = ""
    if Path("/proc/cpuinfo").is_file():
        info = Path("/proc/cpuinfo").read_text()
        name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
        found = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
        flags = f"{name}; " + " ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in found)
    return f"{platform.machine()}, {os.cpu_count()} cores, {flags}; torch {torch.__version__}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.crowd", description=__doc__.split("\n\n")[0])
    p.add_argument("--app", type=Path, default=ROOT / "app.py", help="the app file to start (default: app.py)")
    p.add_argument("--model", help="checkpoint folder or Hub repo id (default: the app's)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    p.add_argument("--words", type=int, default=128)
    p.add_argument("--alone-runs", type=int, default=5, help="runs of the one-client row, its median shown (default 5)")
    p.add_argument("--processes", type=int, default=1,
                   help="client processes the clients are spread over (default 1: one GIL for all)")
    p.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS), help="default: all three")
    p.add_argument("--decoding", choices=list(DECODING), default="top-k",
                   help="top-k (k 10, the default) or top-p (the page's default decoding)")
    args = p.parse_args(argv)
    if not args.app.is_file():
        p.error(f"no app file at {args.app}")
    results: dict[str, dict[int, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.paths:
            batching = PATHS[path]
            process, url = start(args.app, batching, args.model, Path(tmp) / f"{path}.log")
            try:
                burst(url, 1, args.words, process.pid, decoding=args.decoding)  # warm-up: first-call allocations
                results[path] = {n: burst(url, n, args.words, process.pid, args.processes, args.decoding) if n > 1
                                 else lone_client(url, args.words, process.pid, args.alone_runs, args.decoding)
                                 for n in args.clients}
            finally:
                process.terminate()
                process.wait(timeout=30)
    settings = ", ".join(f"{k} {v}" for k, v in DECODING[args.decoding].items())
    print(f"{args.app.name}: {args.words} words per client ({settings}, no-repeat 4), clients in {args.processes} "
          f"process(es); {cpu()}\n")
    print("| path | clients | errors | p50 whole text (s) | p95 whole text (s) | burst (s) | burst / one client | words/s "
          "| app CPU (s) | clients' CPU (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path, rows in results.items():
        alone = statistics.median(rows[min(rows)]["totals"] or [float("nan")])
        for n, r in rows.items():
            print(f"| {path} | {n} | {len(r['errors'])} | {statistics.median(r['totals'] or [float('nan')]):.2f} | "
                  f"{percentile(r['totals'], 0.95):.2f} | {r['wall']:.2f} | {r['wall'] / alone:.1f}x | {r['rate']:.0f} | "
                  f"{r['server']:.1f} | {r['clients']:.1f} |")
    if "per-request" in results and len(results) > 1:
        print("\n| path | clients | words/s / per-request's | p50 / per-request's | p95 / per-request's |\n|---|---:|---:|---:|---:|")
        for path, rows in results.items():
            for n in args.clients if path != "per-request" else []:
                a, b = results["per-request"][n], rows[n]
                ratios = [statistics.median(b["totals"] or [nan]) / statistics.median(a["totals"] or [nan]),
                          percentile(b["totals"], 0.95) / percentile(a["totals"], 0.95)]
                print(f"| {path} | {n} | {b['rate'] / a['rate']:.2f}x | {ratios[0]:.2f}x | {ratios[1]:.2f}x |")
    for path, rows in results.items():
        for n, r in rows.items():
            for error in r["errors"][:3]:
                print(f"{path}, {n} clients: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
