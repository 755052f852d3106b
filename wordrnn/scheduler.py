"""A scheduler: one thread owns the model and steps every active stream together.

    scheduler = Scheduler(Generator(checkpoint))  # the app: wordrnn.worker.serve, in its own process
    for word in scheduler.stream("and god said", 64, mode="top-k", seed=1): ...
    scheduler.next_words("and god said", 10)

Requests join and leave at any step (continuous batching). Each tick the thread admits waiting
requests in arrival order up to `max_batch` streams, feeds every active stream one word (the
next of its prompt, or the word it chose last) through one batched step, and lets each stream
whose prompt is read choose its next word with its own sampler (mode, seed, no-repeat guard).
A prompt read lately is not read again: the stream starts from the state after it
(wordrnn.prefixes). Words reach their consumer as they are made, in bunches at most
`update_every` apart. A stream that has its words, or whose consumer stops iterating or closes
it, leaves at once. Requests beyond `max_batch` active and `max_queue` waiting get `Busy`. A
stream writes the same words alone or in a crowd: its numbers never depend on the other streams
(see wordrnn.stepper).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable

import torch

from wordrnn.errors import WordRNNError
from wordrnn.generate import Generator, Prompt
from wordrnn.model import State
from wordrnn.prefixes import Prefixes
from wordrnn.sampling import Sampler, choose_all
from wordrnn.streams import END, Busy, Serving, Stream

__all__ = ["Busy", "MAX_BATCH", "MAX_QUEUE", "SHARE_UPDATES", "Scheduler", "UPDATE_EVERY", "update_every"]

log = logging.getLogger(__name__)

# Sized with `python -m bench.generation --batches` on 2 CPU cores (figures in the README): words
# per second in all stop growing beyond about 64 streams, where each stream still gets its words
# faster than anyone reads; a full queue waits about one generation's time.
MAX_BATCH = 64
MAX_QUEUE = 64
# A page update of a streaming text costs the server (Gradio) and the browser about the same
# whatever it holds, so they are shared out: a lone visitor sees its text every UPDATE_EVERY s
# (20 a second reads as word by word); with more than SHARE_UPDATES streams at once each one's
# interval grows with their number, so the server sends about SHARE_UPDATES / UPDATE_EVERY
# updates a second in all (sized with `python -m bench.crowd`).
UPDATE_EVERY = 0.05
SHARE_UPDATES = 4


class Scheduler(Serving):
    """Serves many requests from one Generator with one batched step per tick; same methods as
    the Generator for the app: prompt, stream, next_words, vocab, device."""

    def __init__(self, generator: Generator, max_batch: int = MAX_BATCH, max_queue: int = MAX_QUEUE,
                 on_tick: Callable[[], None] | None = None) -> None:
        """`on_tick`: called by the scheduler's thread after every tick (wordrnn.worker ships
        the tick's words from there)."""
        super().__init__(generator, max_batch, max_queue)
        self._on_tick = on_tick or (lambda: None)
        self._waiting: deque[Stream | tuple[Callable[[], Any], Future]] = deque()
        self._active: list[Stream] = []
        self._prefixes = Prefixes()  # prompts read lately: a stream that sends one again skips it
        self._wake = threading.Condition()
        self._closed = False
        self._ticks, self._stepping, self._since, self._cpu = 0, 0.0, 0.0, 0.0  # since the thread was last idle
        self._thread = threading.Thread(target=self._run, name="wordrnn-scheduler", daemon=True)
        self._thread.start()
        _RUNNING.add(self)

    def _open_stream(self, context: list[int], words: int, sampler: Sampler, state: State | None,
                     trail: list[State] | None) -> Stream:
        stream = Stream(context, words, sampler, state, trail)
        self.submit(stream)
        return stream

    def _next_words(self, prompt: Prompt, n: int) -> list[tuple[str, float]]:
        done: Future = Future()
        self.submit((lambda: self.generator.next_words(prompt, n), done))
        return done.result()

    @property
    def streams(self) -> int:
        """Texts being written or waiting for a slot now."""
        return len(self._active) + len(self._waiting)

    def close(self) -> None:
        """Stop the thread; streams still running end with an error."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def submit(self, item: Stream | tuple[Callable[[], Any], Future]) -> None:
        with self._wake:
            if self._closed:
                raise WordRNNError("the scheduler is closed")
            if len(self._waiting) >= self.max_queue + max(0, self.max_batch - len(self._active)):
                raise Busy()
            self._waiting.append(item)
            self._wake.notify()

    def release(self, stream: Stream) -> None:
        """Free a stream's slot (or its place in the queue) now."""
        with self._wake:
            stream.cancelled = True
            self._active = [s for s in self._active if s is not stream]
            if stream in self._waiting:
                self._waiting.remove(stream)

    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                with self._wake:
                    self._active = [s for s in self._active if not s.cancelled]
                    if not self._active and not self._waiting and self._ticks:
                        self._report()
                    while not self._closed and not self._active and not self._waiting:
                        self._wake.wait()
                    if self._closed:
                        break
                    jobs = self._admit()
                for job, done in jobs:
                    _settle(done, job)
                if self._active:
                    began, cpu = time.perf_counter(), time.thread_time()
                    self._since = self._since or began
                    self._tick(list(self._active))
                    self._ticks, self._stepping = self._ticks + 1, self._stepping + time.perf_counter() - began
                    self._cpu += time.thread_time() - cpu
                    self._on_tick()
        for stream in [*self._active, *(s for s in self._waiting if isinstance(s, Stream))]:
            stream.send(WordRNNError("the scheduler was closed"), 0.0)

    def _report(self) -> None:
        """One log line per busy spell: how much of it the ticks took (the rest: other threads)."""
        spell = time.perf_counter() - self._since
        log.info("%d ticks in %.2f s: %.2f s stepping, of which %.2f s on a core (the rest waiting for one, "
                 "or for the GIL)", self._ticks, spell, self._stepping, self._cpu)
        self._ticks, self._stepping, self._since, self._cpu = 0, 0.0, 0.0, 0.0

    def _admit(self) -> list[tuple[Callable[[], Any], Future]]:
        """Move waiting requests in arrival order into free slots; return the jobs among them."""
        jobs = []
        while self._waiting and (not isinstance(self._waiting[0], Stream) or len(self._active) < self.max_batch):
            item = self._waiting.popleft()
            if isinstance(item, Stream):
                if not item.cancelled:
                    self._prefixes.start(item)
                    self._active.append(item)
            else:
                jobs.append(item)
        return jobs

    def _tick(self, batch: list[Stream]) -> None:
        """One word in for every stream; one word out for each whose prompt is read."""
        stepper = self.generator.stepper
        self._prefixes.keep()
        try:
            features, states = stepper.advance([s.inputs.popleft() for s in batch], [s.state for s in batch])
            ready = [i for i, s in enumerate(batch) if not s.inputs]
            logits = stepper.logits(features[ready], [batch[i].sampler.candidates() for i in ready]) if ready else []
        except Exception as error:  # the model failed: every stream in the step ends with the error
            log.exception("a batched step failed")
            for stream in batch:
                stream.send(error, 0.0)
                stream.cancelled = True
            return
        for stream, state in zip(batch, states):
            stream.state = state
        tokens = choose_all([batch[i].sampler for i in ready], logits) if ready else []
        every = update_every(self)
        for i, token in zip(ready, tokens):
            stream = batch[i]
            stream.send(token, every)
            stream.made += 1
            if stream.made == stream.words:
                stream.send(END, every)
                stream.cancelled = True  # done: leaves at the next tick
            else:
                stream.inputs.append(token)


_RUNNING: weakref.WeakSet[Scheduler] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Stop every scheduler's thread before the interpreter goes: a daemon thread still in a
    compiled call when Python finalizes aborts the process ("terminate called ...")."""
    for scheduler in list(_RUNNING):
        scheduler.close()


def _settle(done: Future, job: Callable[[], Any]) -> None:
    try:
        done.set_result(job())
    except Exception as error:  # the caller's thread raises it
        done.set_exception(error)


def update_every(model: Scheduler | Generator, alone: float = UPDATE_EVERY) -> float:
    """Seconds between two updates of a streaming text's page, for what `serve` returned: `alone`
    while few texts stream, longer in a crowd. The one place the app's cadence is decided."""
    streams = getattr(model, "streams", 1)  # a Scheduler's or a Worker's; a Generator serves one
    return alone * max(1.0, streams / SHARE_UPDATES)
