"""The scheduler in a process of its own, so that the model's steps never wait for the web
server's threads. Same methods as the Scheduler: prompt, stream, text, next_words, streams.

    model = Worker(Generator(checkpoint))       # what wordrnn.scheduler.serve returns by default
    for word in model.stream("and god said", 64, mode="top-k", seed=1): ...
    model.next_words("and god said", 10)
    model.close()

Why a process: the threads of one process take turns on one interpreter lock. A batched step
gives the lock up a dozen times (every compiled kernel runs without it) and must win it back
each time; with the web server's threads busy, each win can wait a whole switch interval
(5 ms), and a tick takes several times its compute. In a process of its own the scheduler's
thread shares the lock with two threads that only wait on the pipe.

    app process                                       model process (spawned)
    Worker.stream ─── ("stream", id, ids, ...) ────▶  main thread ─▶ Scheduler (its thread ticks)
    reader thread ◀── ("tick", [(id, words, states)]) ── sender thread (one message per tick)
        └─▶ each stream's outbox ─▶ Tokens, in the request's thread

The prompt is checked, and the sampler made (its rng seeded), here; the model process steps and
chooses, and sends back each word, with the state after it for a stream that keeps its trail
(wordrnn.trace). Texts come out exactly as from a Scheduler in this process. If the model
process dies, the streams it was writing end with an error and the next request starts a new
one.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import pickle
import queue
import socket
import subprocess
import sys
import threading
import weakref
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from wordrnn.checkpoint import Checkpoint
from wordrnn.errors import WordRNNError
from wordrnn.generate import Generator, Prompt
from wordrnn.model import ModelConfig, State, WordRNN
from wordrnn.scheduler import END, MAX_BATCH, MAX_QUEUE, Busy, Scheduler, Stream, Tokens, update_every
from wordrnn.tokenizer import detokenize
from wordrnn.vocab import Vocabulary

log = logging.getLogger(__name__)

START_TIMEOUT = 300.0  # s for the model process to load the model and compile its kernels


class Worker:
    """Serves many requests from one Generator, batched by a Scheduler in a spawned process."""

    def __init__(self, generator: Generator, max_batch: int = MAX_BATCH, max_queue: int = MAX_QUEUE,
                 threads: int | None = None) -> None:
        if max_batch < 1 or max_queue < 0:
            raise ValueError(f"max_batch must be at least 1 and max_queue at least 0, got {max_batch}, {max_queue}")
        self.generator, self.vocab, self.device = generator, generator.vocab, generator.device
        self.max_batch, self.max_queue, self.concurrency = max_batch, max_queue, max_batch + max_queue
        self.threads = threads or torch.get_num_threads()
        self._sizes = _sizes(generator.model)
        self._lock = threading.Lock()
        self._streams: dict[int, Stream] = {}  # by id: those the model process has not finished
        self._jobs: dict[int, Future] = {}
        self._ids = itertools.count()
        self._closed = False
        self._process = self._conn = None
        self._lost = False  # the current process's pipe has closed
        self._start()
        _RUNNING.add(self)

    def prompt(self, text: str | None) -> Prompt:
        return self.generator.prompt(text)

    def stream(
        self, prompt: str | Prompt, words: int = 128, mode: str = "greedy", k: int = 10,
        temperature: float = 1.0, top_p: float = 0.9, seed: int | None = None, no_repeat_ngram: int = 0,
        state: State | None = None, trail: list[State] | None = None,
    ) -> Iterator[str]:
        """As Scheduler.stream; raises Busy at once when there is no room."""
        prompt, sampler = self.generator.request(prompt, words, mode, k, temperature, top_p, seed, no_repeat_ngram)
        context = self.generator.context(prompt.ids) if state is None else prompt.ids[-1:]
        stream = Stream([], words, None, trail=trail)
        flat = None if state is None else _flatten(state)
        with self._lock:
            number = self._admit(stream)
            self._send(("stream", number, context, words, sampler, flat, trail is not None))
        return Tokens(stream, self.vocab.tokens, self.release)

    def text(self, prompt: str | Prompt, words: int = 128, **options: Any) -> str:
        """The prompt and `words` generated words as text; options as for `stream`."""
        prompt = prompt if isinstance(prompt, Prompt) else self.prompt(prompt)
        return detokenize(prompt.words + list(self.stream(prompt, words, **options)))

    def next_words(self, prompt: str | Prompt, n: int = 10) -> list[tuple[str, float]]:
        """As Generator.next_words, run by the model process between two ticks."""
        prompt = prompt if isinstance(prompt, Prompt) else self.prompt(prompt)
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        done: Future = Future()
        with self._lock:
            if len(self._streams) >= self.concurrency:
                raise Busy()
            self._ensure()
            number = next(self._ids)
            self._jobs[number] = done
            self._send(("next_words", number, prompt, n))
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
        if self._closed:
            raise WordRNNError("the scheduler is closed")
        if len(self._streams) >= self.concurrency:
            raise Busy()
        self._ensure()
        stream.number = number = next(self._ids)
        self._streams[number] = stream
        return number

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None and not self._lost

    def _ensure(self) -> None:
        """A model process to send to: a new one if the last has died (its texts end with an error)."""
        if not self._alive():
            self._process.kill()  # if its pipe broke first, it may not have exited yet
            log.warning("the model process stopped (exit code %s); starting a new one", self._process.wait())
            self._fail(self._conn)
            self._start()

    def _send(self, message: tuple) -> None:
        try:
            _put(self._conn, message)
        except (OSError, ValueError) as error:
            raise WordRNNError(f"the model process is not answering ({error}); try again in a moment") from None

    def _start(self) -> None:
        """Start the model process (`python -m wordrnn.worker FD`, over a socket pair: no copy of
        the app's main module runs there) with the generator's model; return once it is ready."""
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen([sys.executable, "-m", "wordrnn.worker", str(theirs.fileno())],
                                   pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        conn = Connection(ours.detach())
        model = self.generator.model
        _put(conn, dict(config=model.config.to_json(), vocab=self.vocab.to_json(), device=str(self.device),
                       weights={name: t.detach().float().cpu().numpy() for name, t in model.state_dict().items()},
                       exact=not self.generator.fast, threads=self.threads, max_batch=self.max_batch,
                       max_queue=self.max_queue))
        if not conn.poll(START_TIMEOUT) or _ready(conn) is not True:
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
                message = _get(conn)
                if message[0] == "tick":
                    self._deliver(message[1])
                else:  # ("job", number, ok, value)
                    with self._lock:
                        done = self._jobs.pop(message[1], None)
                    if done is not None and message[2]:
                        done.set_result(message[3])
                    elif done is not None:
                        done.set_exception(WordRNNError(message[3]))
        except (EOFError, OSError):
            pass
        with self._lock:
            self._fail(conn)

    def _deliver(self, entries: list[tuple[int, list[Any], np.ndarray | None]]) -> None:
        every = None
        for number, items, states in entries:
            stream = self._streams.get(number)
            if stream is None:
                continue
            if stream.cancelled:  # its consumer dropped its Tokens without closing them
                self.release(stream)
                continue
            if states is not None and stream.trail is not None:
                stream.trail.extend(_unflatten(states, self._sizes))
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


def _ready(conn: Connection) -> Any:
    try:
        return _get(conn)
    except (EOFError, OSError):
        return None


# Plain pickle between the two processes: Connection.send's pickler would hand torch tensors
# over as shared-memory handles, which only multiprocessing's own children can open.
def _put(conn: Connection, message: Any) -> None:
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def _get(conn: Connection) -> Any:
    return pickle.loads(conn.recv_bytes())


def _sizes(model: WordRNN) -> list[tuple[int, int]]:
    """(h, c) widths of each layer's state."""
    return [(lstm.proj_size or lstm.hidden_size, lstm.hidden_size) for lstm in model.layers]


def _flatten(state: State) -> np.ndarray:
    """A state (per layer (h, c), of any shape) as one float32 vector [h0 c0 h1 c1 ...]."""
    return torch.cat([t.detach().reshape(-1).float().cpu() for pair in state for t in pair]).numpy()


def _unflatten(flat: np.ndarray, sizes: list[tuple[int, int]], shape: tuple[int, ...] = (),
               device: torch.device | None = None) -> list[State]:
    """Rows of flat vectors (N, S) back into N states; each tensor (*shape, width)."""
    states = []
    for row in np.atleast_2d(flat):
        state, at = [], 0
        for h, c in sizes:
            pair = torch.from_numpy(row[at : at + h]), torch.from_numpy(row[at + h : at + h + c])
            state.append(tuple(t.reshape(*shape, -1).to(device) if device else t for t in pair))
            at += h + c
        states.append(state)
    return states


class _Relayed(Stream):
    """A stream in the model process: what it makes is gathered for the next tick's message."""

    def __init__(self, number: int, context: list[int], words: int, sampler, state: State | None,
                 keeps_trail: bool) -> None:
        super().__init__(context, words, sampler, state)
        self.number, self.keeps_trail, self.states = number, keeps_trail, []

    @property
    def state(self) -> State | None:
        return self._state

    @state.setter
    def state(self, state: State) -> None:
        self._state = state
        if self.keeps_trail:
            self.states.append(_flatten(state))

    def send(self, item: Any, every: float) -> None:
        self.pending.append(None if item is END else str(item) if isinstance(item, BaseException) else item)


def _serve(conn: Connection) -> None:
    """The model process: its model from the first message, then requests in from `conn`, one
    message of words out per tick."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s (model process): %(message)s")
    setup = _get(conn)
    torch.set_num_threads(setup["threads"])
    model = WordRNN(ModelConfig.from_json(setup["config"]))
    model.load_state_dict({name: torch.from_numpy(a) for name, a in setup["weights"].items()})
    vocab = Vocabulary.from_json(setup["vocab"])
    generator = Generator(Checkpoint(model.eval(), vocab), setup["device"], exact=setup["exact"])
    streams: dict[int, _Relayed] = {}
    outbox: queue.SimpleQueue = queue.SimpleQueue()

    def flush() -> None:  # the scheduler's thread, after each tick
        entries = []
        for number, stream in list(streams.items()):
            if stream.pending or stream.states:
                states = np.stack(stream.states) if stream.states else None
                entries.append((number, stream.pending, states))
                stream.pending, stream.states = [], []
                if stream.cancelled:
                    streams.pop(number, None)
        if entries:
            outbox.put(("tick", entries))

    scheduler = Scheduler(generator, setup["max_batch"], setup["max_queue"], on_tick=flush)
    sender = threading.Thread(target=_send_all, args=(conn, outbox), name="wordrnn-worker-sender", daemon=True)
    sender.start()
    _put(conn, True)
    sizes = _sizes(model)
    try:
        while True:
            message = _get(conn)
            kind = message[0]
            if kind == "stream":
                number, context, words, sampler, flat, keeps_trail = message[1:]
                state = None if flat is None else _unflatten(flat, sizes, (1, 1), generator.device)[0]
                stream = streams[number] = _Relayed(number, context, words, sampler, state, keeps_trail)
                try:
                    scheduler.submit(stream)
                except WordRNNError as error:
                    streams.pop(number, None)
                    outbox.put(("tick", [(number, [str(error)], None)]))
            elif kind == "cancel":
                stream = streams.pop(message[1], None)
                if stream is not None:
                    scheduler.release(stream)
            elif kind == "next_words":
                _job(scheduler, outbox, message[1], lambda p=message[2], n=message[3]: generator.next_words(p, n))
            else:  # "close"
                break
    except (EOFError, OSError):
        pass  # the app has gone
    scheduler.close()
    outbox.put(None)
    sender.join(timeout=10)


def _job(scheduler: Scheduler, outbox: queue.SimpleQueue, number: int, job) -> None:
    done: Future = Future()
    done.add_done_callback(lambda f: outbox.put(
        ("job", number, f.exception() is None, f.result() if f.exception() is None else str(f.exception()))))
    try:
        scheduler.submit((job, done))
    except WordRNNError as error:
        done.set_exception(error)


def _send_all(conn, outbox: queue.SimpleQueue) -> None:
    """The model process's messages to the app, in order, without holding up a tick."""
    while (message := outbox.get()) is not None:
        try:
            _put(conn, message)
        except (OSError, ValueError):
            return


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
