"""Texts that remember how they were written: every word's probability, rank and alternatives,
and the LSTM state at every position, so that a text can branch from any word (or go on)
without reading its prefix again.

    texts = Texts(model)                                    # a Scheduler, or a Generator
    for word in texts.stream(prompt, 128, mode="top-p", seed=1): ...   # kept once complete
    text = texts.get(Texts.key(prompt, 128, options))       # the same key: the same text
    texts.explain(text)        # [Word("light", probability=0.41, rank=1, alternatives=[...]), ...]
    texts.branch(text.id, 100, "darkness", options)         # word 100 replaced, the rest rewritten

A branch from generated word i reads only the new word, from the state kept after word i-1, and
starts a fresh sampler with the given settings (rng seed included): its text is the text a fresh
generation from the edited prefix writes with the same settings. Texts are kept server-side, the
least recently used dropped beyond `max_bytes`.

A new text keeps only its last state while it is written (for the chart of the words after it):
most texts are never explained or branched from, and a state for every word of 64 texts at once
is a large share of a crowd's cost (`python -m bench.crowd`). The others are read again from the
text's words when first asked for (`Texts.states`): one stream through the same model, whose
numbers do not depend on the streams beside it (wordrnn.stepper), so they are the states the
text was written with, bit for bit. A branch keeps its states as it is written: a text that goes
on and on is never read again from its start.

A word's probability is the model's (temperature 1) over the words the generator can pick (all
but <unk>), from the float32 output layer applied to the LSTM features the generator computed at
that position, on the int8 fast path the int8 LSTM's: the scores that top-p drew from, and whose
argmax greedy took. Its rank is 1 + the number of words more likely than it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch

from wordrnn.errors import WordRNNError
from wordrnn.generate import Generator, Prompt
from wordrnn.model import State
from wordrnn.streams import Halt, halted
from wordrnn.trail import Trail

__all__ = ["MAX_BYTES", "TOP_WORDS", "Gone", "Text", "Texts", "Word"]

MAX_BYTES = 256 * 2**20  # of kept texts: ~8 KB of states a word for the default model once read again
WORD_BYTES = 64  # a word's share of a text's memory besides states, rounded up (tracemalloc: about 20)
TOP_WORDS = 10


class Gone(WordRNNError):
    """The text is no longer kept (or never was)."""

    def __init__(self) -> None:
        super().__init__("that text is not kept on the server (a text id from /generate_words or /branch is "
                         "kept for a while, not for ever); generate it again")


@dataclass(frozen=True)
class Word:
    """One generated word, explained: its probability and rank under the model at its position,
    and the TOP_WORDS most likely words there (word, probability), most likely first."""

    word: str
    probability: float
    rank: int
    alternatives: list[tuple[str, float]]

    def to_json(self, name: Callable[[str], str] = str) -> dict[str, Any]:
        """As JSON, each word as `name` names it (the API: as the page shows it)."""
        return {"word": name(self.word), "probability": self.probability, "rank": self.rank,
                "alternatives": [{"word": name(w), "probability": p} for w, p in self.alternatives]}


@dataclass
class Text:
    """A complete text and how it was written."""

    id: str
    seed: Prompt  # the seed words as typed
    ids: list[int]  # what the model read, then wrote: the context (a line break first), then the words
    start: int  # ids[start:] are the generated words (a branch's kept prefix included)
    states: Trail  # states[j]: after reading ids[j], for every id but the last (never read);
    # or the last of them alone (states.last_only) until Texts.states reads the text again
    options: dict[str, Any]  # the sampler's settings (rng seed included) that wrote ids[written_from:]
    written_from: int  # a fresh generation from ids[:written_from] with `options` writes the rest
    explained: list[Word] | None = field(default=None, repr=False)
    after: list[tuple[str, float]] | None = field(default=None, repr=False)  # the words after the last

    @property
    def size(self) -> int:
        return self.states.nbytes + WORD_BYTES * len(self.ids)


class Texts:
    """The texts written through `model`, each under its id; see the module's docstring."""

    def __init__(self, model: Any, max_bytes: int = MAX_BYTES) -> None:
        self.model = model  # a Scheduler or a Generator: stream(..., state=, trail=)
        self.generator: Generator = getattr(model, "generator", model)
        self.vocab = model.vocab
        self.max_bytes = max_bytes
        self._kept: OrderedDict[str, Text] = OrderedDict()  # least recently used first
        self._sizes: dict[str, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(*parts: Any) -> str:
        """A text's id from what decides its words (prompt, length, settings with the rng seed)."""
        if isinstance(parts[0], Prompt):
            parts = (parts[0].words, *parts[1:])
        return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def stream(self, prompt: Prompt, words: int, halt: Halt | None = None, **options: Any) -> Iterator[str]:
        """model.stream, keeping the text under key(prompt, words, options) once it has all its
        words (a text that `halt` ends early is not kept). Errors (Busy, bad settings) come from
        this call."""
        context = self.generator.context(prompt.ids)
        trail = Trail(last_only=True)  # the rest when asked for: states()
        tokens = halted(self.model.stream(prompt, words, trail=trail, **options), halt)
        text = Text(self.key(prompt, words, options), prompt, list(context), len(context), trail, options,
                    len(context))
        return self._keeping(tokens, text, words)

    def _keeping(self, tokens: Iterator[str], text: Text, words: int) -> Iterator[str]:
        try:
            for token in tokens:
                text.ids.append(self.vocab.id(token))
                yield token
        finally:
            getattr(tokens, "close", lambda: None)()  # stopped early: free the stream's slot now
        if len(text.ids) - text.start == words:
            self._keep(text)

    def get(self, text_id: Any) -> Text:
        with self._lock:
            if not isinstance(text_id, str) or text_id not in self._kept:
                raise Gone()
            self._kept.move_to_end(text_id)
            return self._kept[text_id]

    def branch(self, text_id: str, position: int, word: str, options: dict[str, Any],
               words: int | None = None) -> Text:
        """Text `text_id` with generated word `position` (0 is the first after the seed) replaced
        by `word`, then `words` new ones (default: as many as followed it, so the length stays),
        from the state kept before `position`. Replacing the last word by itself and asking for
        `words` more is "continue"."""
        text = self.get(text_id)
        count = len(text.ids) - text.start
        if not isinstance(position, int) or not 0 <= position < count:
            raise WordRNNError(f"position must be a whole number from 0 to {count - 1}; got {position!r}.")
        if word not in self.vocab or self.vocab.id(word) == self.vocab.unk_id:
            raise WordRNNError(f"{str(word)[:40]!r} is not a word the model can write")
        at = text.start + position
        ids = text.ids[:at] + [self.vocab.id(word)]
        states = self.states(text)
        words = count - position - 1 if words is None else words
        typed = text.seed.words + [self.vocab.tokens[i] for i in ids[text.start :]]
        context = text.start - len(text.seed.ids)  # the line break the model reads first, if any
        prompt = Prompt(typed, ids[context:], text.seed.unknown)  # what a fresh generation would read
        trail = Trail()
        if words:
            tokens = self.model.stream(prompt, words, state=states[at - 1], trail=trail, **options)
            ids += [self.vocab.id(t) for t in tokens]
        branched = Text(self.key(text_id, position, word, words, options), text.seed, ids, text.start,
                        states[:at] + trail, options, at + 1)
        self._keep(branched)
        return branched

    def explain(self, text: Text) -> list[Word]:
        """Each generated word's probability, rank and alternatives (computed once per text)."""
        if text.explained is None:
            model = self.generator.model
            like = next(model.parameters())
            features = torch.stack([s[-1][0].reshape(-1) for s in self.states(text)[text.start - 1 :]])  # (T, O)
            with torch.inference_mode():
                logits = model.logits(features.to(like.device, like.dtype)).float().cpu()  # (T, V)
            chosen = torch.tensor(text.ids[text.start :])
            text.explained = self._words(logits, chosen)
        return text.explained

    def after(self, text: Text) -> list[tuple[str, float]]:
        """The TOP_WORDS most likely words after the last one: one step from the kept state."""
        if text.after is None:
            trail: list[State] = []
            last = self.vocab.tokens[text.ids[-1]]
            prompt = Prompt([last], text.ids[-1:], {})
            for _ in self.model.stream(prompt, 1, state=text.states[-1], trail=trail):
                pass  # the word drawn is not used: only the state after reading the last one
            model, like = self.generator.model, next(self.generator.model.parameters())
            with torch.inference_mode():
                logits = model.logits(trail[0][-1][0].reshape(1, -1).to(like.device, like.dtype)).float().cpu()
            text.after = self._words(logits, torch.tensor([text.ids[-1]]))[0].alternatives
        return text.after

    def states(self, text: Text) -> Trail:
        """Every state of `text` (see Text.states): read again from its words the first time
        they are asked for, as one greedy stream of one word (whose word is not used), then kept."""
        if text.states.last_only:
            context = text.start - len(text.seed.ids)  # the line break the model reads first, if any
            typed = text.seed.words + [self.vocab.tokens[i] for i in text.ids[text.start : -1]]
            trail = Trail()
            for _ in self.model.stream(Prompt(typed, text.ids[context:-1], text.seed.unknown), 1, trail=trail):
                pass
            text.states = trail
            self._resized(text)
        return text.states

    def _words(self, logits: torch.Tensor, chosen: torch.Tensor) -> list[Word]:
        """Words from logits (T, V) at temperature 1 over every word but <unk>, and the chosen ids (T,)."""
        logits = logits.clone()
        logits[:, self.vocab.unk_id] = -float("inf")
        probs = logits.softmax(-1)  # (T, V)
        picked = probs.gather(1, chosen[:, None])  # (T, 1)
        ranks = (probs > picked).sum(1, dtype=torch.int32) + 1  # (T,); int32: half the time of int64's sum
        top, best = probs.topk(min(TOP_WORDS, probs.size(1) - 1))  # (T, TOP_WORDS)
        tokens = self.vocab.tokens
        return [Word(tokens[c], p, r, [(tokens[i], q) for i, q in zip(ids, ps)])
                for c, p, r, ids, ps in zip(chosen.tolist(), picked[:, 0].tolist(), ranks.tolist(),
                                            best.tolist(), top.tolist())]

    def _keep(self, text: Text) -> None:
        with self._lock:
            self._kept[text.id] = text
            self._kept.move_to_end(text.id)
            self._count(text)

    def _resized(self, text: Text) -> None:
        """Count a kept text's memory again (its states were read again)."""
        with self._lock:
            if self._kept.get(text.id) is text:
                self._count(text)

    def _count(self, text: Text) -> None:
        """Under the lock: count `text` at its size now, then drop the least recently used
        texts beyond max_bytes."""
        size = text.size  # (a branch shares its prefix's states: counted again, an upper bound)
        self._bytes += size - self._sizes.get(text.id, 0)
        self._sizes[text.id] = size
        while self._bytes > self.max_bytes and len(self._kept) > 1:
            gone, _ = self._kept.popitem(last=False)
            self._bytes -= self._sizes.pop(gone)
