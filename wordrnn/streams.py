"""A request's text while a Scheduler writes it (Stream), the consumer's end of it (Tokens), a
Stop button another thread may press (Halt), and what a Scheduler and a Worker both offer the
app (Serving).

    tokens = serving.stream("and god said", 64, mode="top-k", seed=1)  # Tokens: an iterator of words
    next(tokens); tokens.close()  # closing (or dropping) it frees the stream's slot at once
    words = halted(tokens, halt)  # ends (and frees the slot) at the next word once halt.set()

A Stream's words reach its consumer in bunches (its outbox): waking a waiting thread for every
word would cost the model's thread more than the word.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Any, Callable, Iterator

from wordrnn.errors import WordRNNError
from wordrnn.generate import Generator, Prompt
from wordrnn.model import State
from wordrnn.sampling import Sampler
from wordrnn.detokenizer import detokenize
from wordrnn.trail import keep

END = object()  # a stream's last item: its words are all sent


class Busy(WordRNNError):
    """Every slot and every place in the queue is taken."""

    def __init__(self) -> None:
        super().__init__("busy, try again in a moment")


class Stream:
    """One request's text: the words still to read, its sampler, its state and its outbox."""

    def __init__(self, context: list[int], words: int, sampler: Sampler, state: State | None = None,
                 trail: list[State] | None = None) -> None:
        self.inputs = deque(context)  # the prompt as the model reads it, then each chosen word
        self.words, self.made, self.sampler = words, 0, sampler
        self._state, self.trail = state, trail
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()  # lists of words, then END or an error
        self.pending: list[Any] = []
        self.sent = 0.0  # when the consumer was last woken
        self.cancelled = False

    @property
    def kept(self) -> str | None:
        """Which states the stream keeps: "all" (after each word it reads, its prompt's
        included), "last" (the newest alone: a Trail made last_only) or None."""
        if self.trail is None:
            return None
        return "last" if getattr(self.trail, "last_only", False) else "all"

    @property
    def state(self) -> State | None:
        return self._state

    @state.setter
    def state(self, state: State) -> None:
        self._state = state
        self.keep(state)

    def keep(self, state: State) -> None:
        """Keep the state after each word, for a stream that keeps its trail (wordrnn.trace)."""
        if self.trail is not None:
            keep(self.trail, state)

    def send(self, item: Any, every: float) -> None:
        """Pass `item` on. The consumer is woken at most every `every` s (at once for the last
        item): each wake-up costs the scheduler's thread time, and a page shows words no
        faster (wordrnn.scheduler.update_every)."""
        self.pending.append(item)
        now = time.monotonic()
        if item is END or isinstance(item, BaseException) or now - self.sent >= every:
            self.outbox.put(self.pending)
            self.pending, self.sent = [], now


class Tokens(Iterator[str]):
    """The consumer's end of a stream. Closing it, or dropping it, frees the stream's slot."""

    def __init__(self, stream: Stream, tokens: list[str], release: Callable[[Stream], None]) -> None:
        self._stream, self._tokens, self._release, self._done = stream, tokens, release, False
        self._ready: deque[Any] = deque()

    def __next__(self) -> str:
        if self._done:
            raise StopIteration
        if not self._ready:
            self._ready.extend(self._stream.outbox.get())
        item = self._ready.popleft()
        if item is END or isinstance(item, BaseException):
            self.close()
            if item is END:
                raise StopIteration
            raise item
        return self._tokens[item]

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._release(self._stream)

    def interrupt(self) -> None:
        """End the words early, from any thread: a consumer waiting for the next bunch wakes at
        once (wordrnn.streams.Halt)."""
        self._stream.outbox.put([END])

    def __del__(self) -> None:
        self._stream.cancelled = True  # no lock here: the scheduler's thread drops it next tick


class Halt:
    """A Stop button for one text, pressed from another thread (the page's Stop): its words end
    at the next one, and a consumer waiting for words wakes at once. Set before the text starts,
    the text writes nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.is_set = False
        self._wakes: list[Callable[[], None]] = []

    def set(self) -> None:
        with self._lock:
            self.is_set, wakes = True, list(self._wakes)
        for wake in wakes:
            wake()

    def watch(self, tokens: Iterator[str]) -> None:
        """Wake `tokens` (Tokens.interrupt, where it has one) when set, at once if set already."""
        wake = getattr(tokens, "interrupt", None)
        if wake is None:
            return
        with self._lock:
            self._wakes.append(wake)
            now = self.is_set
        if now:
            wake()


def halted(tokens: Iterator[str], halt: Halt | None) -> Iterator[str]:
    """`tokens`, ended and closed (which frees the stream's slot) once `halt` is set."""
    if halt is None:
        return tokens

    def words() -> Iterator[str]:
        halt.watch(tokens)
        try:
            for token in tokens:
                if halt.is_set:
                    return
                yield token
        finally:
            getattr(tokens, "close", lambda: None)()

    return words()


class Serving:
    """What the app calls, the same for a Scheduler and a Worker: `prompt`, `stream` (which
    hands a Stream over with `_open_stream`), `text` and `next_words` (run by `_next_words`,
    between two ticks)."""

    def __init__(self, generator: Generator, max_batch: int, max_queue: int) -> None:
        if max_batch < 1 or max_queue < 0:
            raise ValueError(f"max_batch must be at least 1 and max_queue at least 0, got {max_batch}, {max_queue}")
        self.generator, self.vocab, self.device = generator, generator.vocab, generator.device
        self.max_batch, self.max_queue = max_batch, max_queue
        self.concurrency = max_batch + max_queue  # requests the app may hand over at once

    def prompt(self, text: str | None) -> Prompt:
        return self.generator.prompt(text)

    def stream(
        self, prompt: str | Prompt, words: int = 128, mode: str = "greedy", k: int = 10,
        temperature: float = 1.0, top_p: float = 0.9, seed: int | None = None, no_repeat_ngram: int = 0,
        state: State | None = None, trail: list[State] | None = None,
    ) -> Iterator[str]:
        """As Generator.stream (`state`, `trail` too); raises Busy at once when there is no room."""
        prompt, sampler = self.generator.request(prompt, words, mode, k, temperature, top_p, seed, no_repeat_ngram)
        context = self.generator.context(prompt.ids) if state is None else prompt.ids[-1:]
        stream = self._open_stream(context, words, sampler, state, trail)
        return Tokens(stream, self.generator.vocab.tokens, self.release)

    def release(self, stream: Stream) -> None:
        raise NotImplementedError

    def _open_stream(self, context: list[int], words: int, sampler: Sampler, state: State | None,
                     trail: list[State] | None) -> Stream:
        """A stream for these words, handed to the model's thread."""
        raise NotImplementedError

    def text(self, prompt: str | Prompt, words: int = 128, **options: Any) -> str:
        """The prompt and `words` generated words as text; options as for `stream`."""
        prompt = prompt if isinstance(prompt, Prompt) else self.prompt(prompt)
        return detokenize(prompt.words + list(self.stream(prompt, words, **options)), self.generator.vocab.style)

    def next_words(self, prompt: str | Prompt, n: int = 10) -> list[tuple[str, float]]:
        """As Generator.next_words, run by the model's thread between two ticks."""
        prompt = prompt if isinstance(prompt, Prompt) else self.prompt(prompt)
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        return self._next_words(prompt, n)

    def _next_words(self, prompt: Prompt, n: int) -> list[tuple[str, float]]:
        raise NotImplementedError
