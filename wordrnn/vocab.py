"""Vocabulary: words <-> ids, ordered by frequency and saved beside the weights.

As in the teaching notebook, the most frequent word gets the lowest id. Words seen fewer than
`min_count` times (or beyond `max_size`) map to `<unk>`, which takes its place in the order by the
number of training tokens it stands for. The vocabulary is a JSON file in every checkpoint, so a
model can never be separated from the ids it was trained with.

Tokens are lower-case; `spellings` remembers how the text usually writes the ones it does not
write in lower case ("God", "LORD", "Haus"), so generated text reads as the training text did.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from wordrnn.tokenizer import EOL, clean, fold, tokenize_line, written

UNK = "<unk>"
FORMAT = "wordrnn-vocab"
SPELLED_FROM = 50_000  # "did you mean" looks among this many of the most frequent words


class Vocabulary:
    """An ordered list of tokens; a token's id is its position."""

    def __init__(self, tokens: Sequence[str], counts: Sequence[int] | None = None,
                 spellings: Mapping[str, str] | None = None) -> None:
        if "" in tokens:  # no prompt can name it, and a text written with it reads back without it
            raise ValueError("a vocabulary must not hold the empty string as a token")
        if UNK not in tokens:
            raise ValueError(f"a vocabulary needs the {UNK} token")
        if len(set(tokens)) != len(tokens):
            raise ValueError("a vocabulary must not repeat a token")
        if counts is not None and len(counts) != len(tokens):
            raise ValueError("counts and tokens differ in length")
        self.tokens: list[str] = list(tokens)
        self.counts: list[int] | None = list(counts) if counts is not None else None
        self._ids = {token: i for i, token in enumerate(self.tokens)}
        self.spellings: dict[str, str] = dict(spellings or {})  # token -> its usual written form
        for token, spelling in self.spellings.items():
            # A spelling must read back as its token, or a text written with it would not.
            if token not in self._ids or fold(spelling) != token or tokenize_line(spelling) != [token]:
                raise ValueError(f"the spelling {spelling!r} of {token!r} is not a way to write a token of "
                                 "this vocabulary")
        self.unk_id = self._ids[UNK]
        self._spelled: list[str] | None = None  # closest()'s candidates, once asked

    @classmethod
    def build(
        cls, words: Iterable[str], min_count: int = 1, max_size: int | None = None, text: str | None = None
    ) -> "Vocabulary":
        """Count `words` (the training split only) and keep the frequent ones.

        `max_size` counts every entry, `<unk>` included. Ties are broken alphabetically so the
        same text always gives the same ids. With the `text` the words come from, the vocabulary
        also learns its usual spellings (`usual_spellings`).
        """
        if min_count < 1:
            raise ValueError("min_count must be at least 1")
        if max_size is not None and max_size < 2:
            raise ValueError("max_size must be at least 2 (one word and <unk>)")
        counter = Counter(words)
        # Text that is already "unked" (e.g. Penn Treebank) counts towards <unk>'s rank.
        literal_unks = counter.pop(UNK, 0)
        ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        kept = [(w, c) for w, c in ranked if c >= min_count]
        if max_size is not None:
            kept = kept[: max_size - 1]
        unk_count = literal_unks + sum(counter.values()) - sum(c for _, c in kept)
        kept.append((UNK, unk_count))
        kept.sort(key=lambda item: (-item[1], item[0]))
        tokens = [w for w, _ in kept]
        return cls(tokens, [c for _, c in kept], usual_spellings(text, set(tokens)) if text else None)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, word: object) -> bool:
        return word in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens: {', '.join(self.tokens[:8])}, ...)"

    def id(self, word: str) -> int:
        return self._ids.get(word, self.unk_id)

    def encode(self, words: Iterable[str]) -> list[int]:
        return [self._ids.get(w, self.unk_id) for w in words]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

    def closest(self, word: str, n: int = 3) -> list[str]:
        """Up to `n` vocabulary words spelled most like `word` (for "did you mean"), among the
        SPELLED_FROM most frequent: over a million words, difflib took seconds a word."""
        if self._spelled is None:
            self._spelled = [t for t in self.tokens[: SPELLED_FROM + 2] if t not in (UNK, EOL)][:SPELLED_FROM]
        # difflib's ratio 2M / (a + b) >= 0.6 needs a length within [0.6 / 1.4, 1.4 / 0.6] x the
        # word's: the others cannot match, and skipping them changes nothing
        low, high = len(word) * 3 / 7, len(word) * 7 / 3
        candidates = [t for t in self._spelled if low <= len(t) <= high]
        return difflib.get_close_matches(word, candidates, n=n, cutoff=0.6)

    def to_json(self) -> dict:
        data: dict = {"format": FORMAT, "version": 1, "unk": UNK, "tokens": self.tokens}
        if self.counts is not None:
            data["counts"] = self.counts
        if self.spellings:
            data["spellings"] = self.spellings
        return data

    @classmethod
    def from_json(cls, data: object) -> "Vocabulary":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a wordrnn vocabulary (expected \"format\": \"{FORMAT}\")")
        tokens = data.get("tokens")
        if not isinstance(tokens, list):
            raise ValueError(f"\"tokens\" must be a list of strings, not {type(tokens).__name__}")
        for i, token in enumerate(tokens):
            if not isinstance(token, str) or not token:
                raise ValueError(f"\"tokens\"[{i}] is {token!r}: every token must be a non-empty string")
        counts = data.get("counts")
        if counts is not None and not (
            isinstance(counts, list) and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)
        ):
            raise ValueError("\"counts\" must be a list of integers, none negative")
        spellings = data.get("spellings", {})
        if not (isinstance(spellings, dict) and all(isinstance(s, str) for s in spellings.values())):
            raise ValueError("\"spellings\" must map tokens to strings")
        return cls(tokens, counts, spellings)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        """Read a vocabulary file; ValueError (naming the file) when it is not one."""
        try:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
        except (UnicodeDecodeError, ValueError) as err:  # JSONDecodeError is a ValueError
            raise ValueError(f"{path} is not a valid wordrnn vocabulary: {err}") from None
        except RecursionError:  # [[[[...: valid JSON nested deeper than the parser's stack
            raise ValueError(f"{path} is not a valid wordrnn vocabulary: it is nested too deeply") from None


def usual_spellings(text: str, tokens: set[str]) -> dict[str, str]:
    """How `text` usually writes each of `tokens` when not in lower case: the form it takes in at
    least two thirds of its uses inside sentences ("God", "LORD", "Haus"). A sentence's first
    word is capitalised anyway, and a title ("Appendix B: Bibliography") capitalises most of its
    words, so neither is counted."""
    forms: dict[str, Counter[str]] = {}
    for line in clean(text).splitlines():
        words = [(token, form) for token, form, start in written(line) if not start]
        if 2 * sum(form != token for token, form in words) > len(words) > 2:  # a title
            continue
        for token, form in words:
            if token in tokens:
                forms.setdefault(token, Counter())[form] += 1
    usual = {token: max(seen.items(), key=lambda item: (item[1], item[0] == token)) for token, seen in forms.items()}
    # A word the text writes both ways ("the Red sea", "red wine") stays in lower case, the
    # usual case inside a sentence, unless one spelling has two thirds of it.
    return {token: form for token, (form, count) in usual.items()
            if form != token and 3 * count >= 2 * sum(forms[token].values())}
