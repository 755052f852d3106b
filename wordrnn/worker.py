"""The scheduler in a process of its own, so that the model's steps never wait for the web
server's threads. Same methods as the Scheduler: prompt, stream, text, next_words, streams.

    model = Worker(Generator(checkpoint))       # what serve() below returns by default
    for word in model.stream("and god said", 64, mode="top-k", seed=1): ...
    model.next_words("and god said", 10)
    model.close()

Why a process: the threads of one process take turns on one interpreter lock. A batched step
gives the lock up a dozen times (every compiled kernel runs without it) and must win it back
each time; with the web server's threads busy, each win can wait a whole switch interval
(5 ms), and a tick takes several times its compute. In a process of its own the scheduler's
thread shares the lock with two threads that only wait on the pipe.

    app process                                       model process (wordrnn.model_process)
    Worker.stream ─── ("stream", id, ids, ...) ────▶  main thread ─▶ Scheduler (its thread ticks)
    reader thread ◀── ("tick", [(id, words, states)]) ── sender thread (one message per tick)
        └─▶ each stream's outbox ─▶ Tokens, in the request's thread

The prompt is checked, and the sampler made (its rng seeded), here; the model process steps and
chooses, and sends back each word, with the state after it for a stream that keeps its trail
(or the last state alone, when the stream ends, for a trail made last_only: wordrnn.trace).
Texts come out exactly as from a Scheduler in this process. If the model process dies, the
streams it was writing end with an error and the next request starts a new one.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import weakref
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wordrnn.errors import WordRNNError
from wordrnn.generate import Generator, Prompt
from wordrnn.model import State
from wordrnn.sampling import Sampler
from wordrnn.scheduler import MAX_BATCH, MAX_QUEUE, Scheduler, update_every
from wordrnn.streams import END, Busy, Serving, Stream
from wordrnn.trail import keep_rows
from wordrnn.wire import flatten, get, put, ready, sampler_out, sizes

log = logging.getLogger(__name__)

START_TIMEOUT = 300.0  # s for the model process to load the model and compile its kernels


class Worker(Serving):
    """Serves many requests from one Generator, batched by a Scheduler in a spawned process."""

    def __init__(self, generator: Generator, max_batch: int = MAX_BATCH, max_queue: int = MAX_QUEUE,
                 threads: int | None = None) -> None:
        super().__init__(generator, max_batch, max_queue)
        self.threads = threads or torch.get_num_threads()
        self._sizes = sizes(generator.model)
        self._lock = threading.Lock()
        self._streams: dict[int, Stream] = {}  # by id: those the model process has not finished
        self._jobs: dict[int, Future] = {}
        self._ids = itertools.count()
        self._closed = False
        self._process = self._conn = None
        self._lost = False  # the current process's pipe has closed
        self._launch()
        _RUNNING.add(self)

    def _open_stream(self, context: list[int], words: int, sampler: Sampler, state: State | None,
                     trail: list[State] | None) -> Stream:
        """A stream here that the model process's words arrive in; the sampler (its rng seeded)
        goes over with the request."""
        stream = Stream([], words, None, trail=trail)
        flat = None if state is None else flatten(state)
        with self._lock:
            number = self._admit(stream)
            self._send(("stream", number, context, words, sampler_out(sampler), flat, stream.kept))
        return stream

    def _next_words(self, prompt: Prompt, n: int) -> list[tuple[str, float]]:
        done: Future = Future()
        with self._lock:
            number = self._number()
            self._jobs[number] = done
            self._send(("next_words", number, prompt.words, prompt.ids, n))
        return done.result()

    @property
    def streams(self) -> int:
        """Texts being written or waiting for a slot now."""
        return len(self._streams)

    def release(self, stream: Stream) -> None:
        """Free a stream's slot now (its consumer stopped reading, or it is done)."""
        with self._lock:
            stream.cancelled = True
            number = getattr(stream, "number", None)
            if self._streams.pop(number, None) is not None and self._alive():
                self._send(("cancel", number))

    def close(self) -> None:
        """Stop the model process; streams still running end with an error."""
        with self._lock:
            self._closed = True
            if self._alive():
                self._send(("close",))
        if self._process is not None:
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()

    def _admit(self, stream: Stream) -> int:
        stream.number = number = self._number()
        self._streams[number] = stream
        return number

    def _number(self) -> int:
        """The id of a new request, once there is room and a live model process for it."""
        if self._closed:
            raise WordRNNError("the scheduler is closed")
        if len(self._streams) >= self.concurrency:
            raise Busy()
        self._ensure()
        return next(self._ids)

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None and not self._lost

    def _ensure(self) -> None:
        """A model process to send to: a new one if the last has died (its texts end with an error)."""
        if not self._alive():
            self._process.kill()  # if its pipe broke first, it may not have exited yet
            log.warning("the model process stopped (exit code %s); starting a new one", self._process.wait())
            self._fail(self._conn)
            self._launch()

    def _send(self, message: tuple) -> None:
        try:
            put(self._conn, message)
        except (OSError, ValueError) as error:
            raise WordRNNError(f"the model process is not answering ({error}); try again in a moment") from None

    def _launch(self) -> None:
        """Start the model process (`python -m wordrnn.model_process FD`, over a socket pair: no copy of
        the app's main module runs there) with the generator's model; return once it is ready."""
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen([sys.executable, "-m", "wordrnn.model_process", str(theirs.fileno())],
                                   pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        conn = Connection(ours.detach())
        model = self.generator.model
        put(conn, dict(config=model.config.to_json(), vocab=self.vocab.to_json(), device=str(self.device),
                       weights={name: t.detach().float().cpu().numpy() for name, t in model.state_dict().items()},
                       exact=not self.generator.fast, threads=self.threads, max_batch=self.max_batch,
                       max_queue=self.max_queue))
        if not conn.poll(START_TIMEOUT) or ready(conn) is not True:
            process.kill()
            raise WordRNNError(f"the model process did not start (exit code {process.poll()}); see the log above")
        self._process, self._conn, self._lost = process, conn, False
        threading.Thread(target=self._read, args=(conn,), name="wordrnn-worker-reader", daemon=True).start()

    def _fail(self, conn) -> None:
        """End every text and job of the model process behind `conn` with an error."""
        if conn is not self._conn:
            return  # an earlier process's: already failed when the next one started
        self._lost = True
        failed, self._streams = list(self._streams.values()), {}
        jobs, self._jobs = list(self._jobs.values()), {}
        error = WordRNNError("the model stopped while writing this text; try again")
        for stream in failed:
            stream.send(error, 0.0)
        for done in jobs:
            done.set_exception(error)

    def _read(self, conn) -> None:
        """Pass what the model process sends to each stream's consumer, until it stops."""
        try:
            while True:
                message = get(conn)
                if message[0] == "tick":
                    self._deliver(message[1], message[2])
                else:  # ("job", number, ok, value)
                    with self._lock:
                        done = self._jobs.pop(message[1], None)
                    if done is not None and message[2]:
                        done.set_result([(word, p) for word, p in message[3]])
                    elif done is not None:
                        done.set_exception(WordRNNError(message[3]))
        except (EOFError, OSError):
            pass
        with self._lock:
            self._fail(conn)

    def _deliver(self, entries: list[tuple[int, list[Any], int]], states: np.ndarray | None) -> None:
        """One tick's news: each stream's items and how many of the tick's states (N, S) are its."""
        every, at = None, 0
        for number, items, count in entries:
            rows, at = (states[at : at + count] if count else None), at + count
            stream = self._streams.get(number)
            if stream is None:
                continue
            if stream.cancelled:  # its consumer dropped its Tokens without closing them
                self.release(stream)
                continue
            if rows is not None and stream.trail is not None:
                keep_rows(stream.trail, rows, self._sizes)
            every = update_every(self) if every is None else every
            for item in items:
                if item is None or isinstance(item, str):  # the end, or the model's error
                    with self._lock:
                        self._streams.pop(number, None)
                    stream.send(END if item is None else WordRNNError(item), every)
                else:
                    stream.send(item, every)


def serve(generator: Generator, **limits: int) -> Worker | Scheduler | Generator:
    """What the app should call for its requests: by default a Worker over `generator`.
    WORDRNN_BATCHING=thread, or a ZeroGPU Space (whose GPU is lent to the app's own process
    only), gives a Scheduler in this process; WORDRNN_BATCHING=0 the generator itself (one
    batch-1 stream per request)."""
    batching = os.environ.get("WORDRNN_BATCHING", "1").strip()
    if batching == "0":
        return generator
    if batching == "thread" or os.environ.get("SPACES_ZERO_GPU"):
        return Scheduler(generator, **limits)
    return Worker(generator, **limits)


_RUNNING: weakref.WeakSet[Worker] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for worker in list(_RUNNING):
        worker.close()
