"""The model process behind a Worker (wordrnn.worker): `python -m wordrnn.model_process FD`.
It rebuilds the model from the first message, runs a Scheduler over it, and answers requests
from the app with one message of words per tick."""

from __future__ import annotations

import logging
import queue
import sys
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any

import torch

from wordrnn.checkpoint import Checkpoint
from wordrnn.errors import WordRNNError
from wordrnn.generate import Generator
from wordrnn.prompt import Prompt
from wordrnn.model import ModelConfig, State, WordRNN
from wordrnn.scheduler import Scheduler
from wordrnn.streams import END, Stream
from wordrnn.vocab import Vocabulary
from wordrnn.wire import flatten_all, get, put, sampler_in, sizes, unflatten


class _Relayed(Stream):
    """A stream in the model process: what it makes is gathered for the next tick's message."""

    def __init__(self, number: int, context: list[int], words: int, sampler, state: State | None,
                 kept: str | None) -> None:
        super().__init__(context, words, sampler, state)
        self.number, self._kept, self.states, self.last = number, kept, [], None

    @property
    def kept(self) -> str | None:
        return self._kept

    def keep(self, state: State) -> None:
        # as it is: nothing writes to a state once made (wordrnn.batch_states)
        if self.kept == "all":
            self.states.append(state)
        elif self.kept == "last":
            self.last = state

    def send(self, item: Any, every: float) -> None:
        if item is END and self.last is not None:  # "last": the one state, with the end
            self.states.append(self.last)
        self.pending.append(None if item is END else str(item) if isinstance(item, BaseException) else item)


def serve(conn: Connection) -> None:
    """The model process: its model from the first message, then requests in from `conn`, one
    message of words out per tick."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s (model process): %(message)s")
    setup = get(conn)
    torch.set_num_threads(setup["threads"])
    model = WordRNN(ModelConfig.from_json(setup["config"]))
    model.load_state_dict({name: torch.from_numpy(a) for name, a in setup["weights"].items()})
    vocab = Vocabulary.from_json(setup["vocab"])
    generator = Generator(Checkpoint(model.eval(), vocab), setup["device"], exact=setup["exact"])
    streams: dict[int, _Relayed] = {}
    outbox: queue.SimpleQueue = queue.SimpleQueue()

    def flush() -> None:  # the scheduler's thread, after each tick: one message, its states in one array
        entries, states = [], []
        for number, stream in list(streams.items()):
            if stream.pending or stream.states:
                entries.append((number, stream.pending, len(stream.states)))
                states += stream.states
                stream.pending, stream.states = [], []
                if stream.cancelled:
                    streams.pop(number, None)
        if entries:
            outbox.put(("tick", entries, flatten_all(states) if states else None))

    scheduler = Scheduler(generator, setup["max_batch"], setup["max_queue"], on_tick=flush)
    warm_up(scheduler)
    sender = threading.Thread(target=_send_all, args=(conn, outbox), name="wordrnn-worker-sender", daemon=True)
    sender.start()
    put(conn, True)
    widths = sizes(model)
    try:
        while True:
            message = get(conn)
            kind = message[0]
            if kind == "stream":
                number, context, words, sampler, flat, kept = message[1:]
                sampler = sampler_in(sampler)
                state = None if flat is None else unflatten(flat, widths, (1, 1), generator.device)[0]
                stream = streams[number] = _Relayed(number, context, words, sampler, state, kept)
                try:
                    scheduler.submit(stream)
                except WordRNNError as error:
                    streams.pop(number, None)
                    outbox.put(("tick", [(number, [str(error)], 0)], None))
            elif kind == "cancel":
                stream = streams.pop(message[1], None)
                if stream is not None:
                    scheduler.release(stream)
            elif kind == "next_words":
                prompt, n = Prompt(message[2], message[3]), message[4]
                _job(scheduler, outbox, message[1], lambda p=prompt, n=n: generator.next_words(p, n))
            else:  # "close"
                break
    except (EOFError, OSError):
        pass  # the app has gone
    scheduler.close()
    outbox.put(None)
    sender.join(timeout=10)


def warm_up(scheduler: Scheduler) -> None:
    """A few words in every decoding mode, in batches large and small, and a chart, before the
    app hears the model is ready: each kernel a crowd's ticks need is compiled (or read from the
    cache) now. On a machine with no cached kernels (a Space after a restart) the first visitors
    otherwise waited for it: 18 ticks in 10.4 s for the first text."""
    tokens = scheduler.vocab.tokens
    prompt = " ".join([t for t in tokens if t.isalpha()][:3] or tokens[:1])
    modes = ["greedy", "top-k", "top-p"] * 2  # six streams: past int8.GEMM_ROWS, then fewer as they end
    wave = max(1, min(len(modes), scheduler.concurrency))  # as many as its limits take at once
    try:
        for first in range(0, len(modes), wave):
            texts = [scheduler.stream(prompt, 2 + n, mode=modes[n], seed=n, no_repeat_ngram=2)
                     for n in range(first, min(first + wave, len(modes)))]
            for words in texts:
                list(words)
        scheduler.next_words(prompt, 2)
    except WordRNNError as error:  # a model it cannot warm up may still serve: the first texts compile then
        logging.getLogger(__name__).warning("warm-up skipped: %s", error)


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
            put(conn, message)
        except (OSError, ValueError):
            return


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
