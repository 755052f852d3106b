"""A sampler: picks each next word from the model's logits.

    greedy  the most likely word, as the teaching notebook did: the same prompt always gives
            the same text, which soon repeats itself
    top-k   a draw among the k most likely words, after dividing the logits by a temperature
            (k=1 is greedy; a higher temperature flattens the distribution)
    top-p   a draw among the fewest most likely words whose probabilities add up to p
            ("nucleus sampling", Holtzman et al. 2020): few choices where the model is sure,
            many where it is not

Draws come from the sampler's own `torch.Generator`, so a seed makes a text reproducible and
nothing touches, or is disturbed by, the global RNG that training uses. `<unk>` is never picked.
`no_repeat_ngram=n` forbids any word that would repeat an n-word sequence already in the text,
which breaks the loops greedy decoding falls into.

The contract with the steppers: a sampler says how many of the most likely words it may pick
from (`candidates()`, None for every word); a stepper returns `Logits` that say how many of the
most likely words it got right (`exact`, None for every word); `choose` refuses logits that
do not cover its candidates. A new decoding rule that reads more of the logits must say so in
`candidates`, or it fails loudly instead of reading approximate scores.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import torch

from wordrnn import choice_kernels

MODES = ("greedy", "top-k", "top-p")
NOISE_BLOCK = 1024  # exponentials a sampler draws from its generator at once (Sampler._draw)


@dataclass(frozen=True)
class Logits:
    """Scores (V,) for the next word. The `exact` most likely words are scored right and ranked
    right; the others may be approximate or -inf. None: every word is right. `batch`: the
    (F, V) float32 array whose row `values` is, and the row's index (a batched stepper's), so
    that choose_all reads a batch where it is instead of copying its rows together."""

    values: torch.Tensor
    exact: int | None = None
    batch: tuple[np.ndarray, int] | None = field(default=None, compare=False, repr=False)

    def covers(self, candidates: int | None) -> bool:
        """Whether a sampler that picks among `candidates` words (None: all) may use these."""
        return self.exact is None or (candidates is not None and candidates <= self.exact)


class Sampler:
    """Chooses the words of one text: `observe` the prompt, then `choose` each next word."""

    def __init__(
        self, mode: str = "greedy", k: int = 10, temperature: float = 1.0, top_p: float = 0.9,
        seed: int | None = None, no_repeat_ngram: int = 0, never: Iterable[int] = (),
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a whole number of at least 1, got {k!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be above 0, got {temperature} (use mode 'greedy' for 0)")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if not isinstance(no_repeat_ngram, int) or no_repeat_ngram < 0:
            raise ValueError(f"no_repeat_ngram must be 0 (off) or a number of words, got {no_repeat_ngram!r}")
        self.mode, self.k, self.temperature, self.top_p = mode, k, temperature, top_p
        self.refused = frozenset(never)
        self.refused_ids = sorted(self.refused)
        self.count = {"greedy": 1, "top-k": k, "top-p": 0}[mode]  # words to choose among (0: all)
        self.generator = torch.Generator()
        self.noise = np.empty(0, np.float32)  # exponentials drawn from the generator, not used yet
        if seed is None:
            self.generator.seed()  # fresh entropy, still apart from the global RNG
        else:
            self.generator.manual_seed(seed)
        self.ngrams = NgramBlocker(no_repeat_ngram) if no_repeat_ngram else None

    def observe(self, ids: Iterable[int]) -> None:
        """Tell the sampler words that are already in the text (the prompt)."""
        if self.ngrams is not None:
            for i in ids:
                self.ngrams.add(i)

    def candidates(self) -> int | None:
        """How many of the most likely next words the next `choose` can pick from, counting the
        words it will refuse: a stepper must get those right and may leave out the rest. None
        means every word (top-p)."""
        if self.mode == "top-p":
            return None
        banned = len(self.ngrams.banned()) if self.ngrams is not None else 0
        return self.count + len(self.refused_ids) + banned

    def choose(self, logits: Logits | torch.Tensor) -> int:
        """The id of the next word, given the logits (V,) for it (a tensor: all exact);
        remembers the choice. The same code as choose_all's, so a stream picks the same words
        alone or in a batch."""
        return choose_all([self], [logits])[0]

    def _draw(self, probs: np.ndarray) -> int:
        """A draw from probs (n,) with this sampler's generator, as torch.multinomial(probs, 1)
        draws it on the CPU (argmax of probs / q, q ~ Exp(1)): the same numbers, the same word.
        The exponentials come NOISE_BLOCK at a time and are used in order: torch draws a tensor's
        one after another, so they are the numbers n at a time would give, for less per draw."""
        n = len(probs)
        if len(self.noise) < n:
            fresh = torch.empty(max(NOISE_BLOCK, n - len(self.noise))).exponential_(1, generator=self.generator)
            self.noise = np.concatenate([self.noise, fresh.numpy()])
        q, self.noise = self.noise[:n], self.noise[n:]  # (n,)
        return int(np.argmax(probs / q))


def choose_all(samplers: list[Sampler], logits: list[Logits | torch.Tensor]) -> list[int]:
    """Each sampler's next word from its logits (V,), all at once: one compiled pass over the
    batch selects every row's candidates (its refused and banned words masked) and their
    probabilities; each draw then comes from that sampler's own generator."""
    for sampler, scores in zip(samplers, logits):
        if isinstance(scores, Logits) and not scores.covers(sampler.candidates()):
            raise RuntimeError(f"{sampler.mode} needs {sampler.candidates() or 'all'} exact words, "
                               f"the stepper gave {scores.exact}")
    refused, offsets, banned_from = [], [0], []
    for sampler in samplers:
        refused.extend(sampler.refused_ids)
        banned_from.append(len(refused))
        refused.extend(sampler.ngrams.banned() if sampler.ngrams is not None else ())
        offsets.append(len(refused))
    indices, probs, lengths = choice_kernels.choices(
        _scores(logits), np.array([s.count for s in samplers], np.int64),
        np.array([s.temperature for s in samplers], np.float32), np.array([s.top_p for s in samplers], np.float32),
        np.array(refused, np.int64), np.array(offsets, np.int64), np.array(banned_from, np.int64))
    chosen = []
    for b, sampler in enumerate(samplers):
        pick = 0 if sampler.mode == "greedy" else sampler._draw(probs[b, : lengths[b]])
        token = int(indices[b, pick])
        sampler.observe([token])
        chosen.append(token)
    return chosen


def _scores(logits: list[Logits | torch.Tensor]) -> np.ndarray:
    """The logits as one float32 (B, V) array on the CPU: the batch they are the rows of, in
    order, as it is; else their rows copied together."""
    first = logits[0].batch if isinstance(logits[0], Logits) else None
    if first is not None and len(first[0]) == len(logits) and all(
            isinstance(one, Logits) and one.batch is not None and one.batch[0] is first[0] and one.batch[1] == b
            for b, one in enumerate(logits)):
        return first[0]
    rows = []
    for scores in logits:
        scores = scores.values if isinstance(scores, Logits) else scores
        fast = scores.dtype == torch.float32 and scores.device.type == "cpu" and not scores.requires_grad
        rows.append(scores.numpy() if fast else scores.detach().float().cpu().numpy())  # (V,) on the CPU
    return np.stack(rows)


class NgramBlocker:
    """Remembers every n-gram of a text to forbid the words that would complete one again."""

    def __init__(self, n: int) -> None:
        assert n >= 1
        self.n = n
        self.history: list[int] = []
        self.followers: dict[tuple[int, ...], set[int]] = defaultdict(set)
        self._banned: list[int] | None = None  # banned()'s answer until the next word

    def add(self, token: int) -> None:
        self._banned = None
        self.history.append(token)
        if len(self.history) >= self.n:
            *prefix, last = self.history[-self.n :]
            self.followers[tuple(prefix)].add(last)

    def banned(self) -> list[int]:
        """The words that would complete an n-gram already in the text (asked several times a step)."""
        if self._banned is None:
            prefix = tuple(self.history[len(self.history) - self.n + 1 :]) if self.n > 1 else ()
            self._banned = sorted(self.followers.get(prefix, ()))
        return self._banned
