"""Vocabulary: words <-> ids, ordered by frequency and saved beside the weights.

As in the teaching notebook, the most frequent word gets the lowest id. Words seen fewer than
`min_count` times (or beyond `max_size`) map to `<unk>`, which takes its place in the order by the
number of training tokens it stands for. The vocabulary is a JSON file in every checkpoint, so a
model can never be separated from the ids it was trained with.

Tokens are lower-case; the vocabulary's `style` (wordrnn.style) remembers how the text writes
the words it does not write in lower case ("God", "LORD", "Haus") and whether its line breaks
fall inside sentences, so generated text reads as the training text did.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from wordrnn import spacing as spacings
from wordrnn import style as styles
from wordrnn.detokenizer import Style, joinable
from wordrnn.tokenizer import EOL, fold, tokenize_line

UNK = "<unk>"
FORMAT = "wordrnn-vocab"
SPELLED_FROM = 50_000  # "did you mean" looks among this many of the most frequent words


class Vocabulary:
    """An ordered list of tokens; a token's id is its position."""

    def __init__(self, tokens: Sequence[str], counts: Sequence[int] | None = None,
                 style: Style | None = None) -> None:
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
        self.style = style  # None: a vocabulary from before styles were learned
        if style is not None:
            self._check(style)
        self.unk_id = self._ids[UNK]
        self._spelled: list[str] | None = None  # closest()'s candidates, once asked

    def _check(self, style: Style) -> None:
        """A style must name this vocabulary's tokens, and a spelling must read back as its token
        (and be written as the tokenizer reads text: "ＬＯＲＤ" would come back "LORD"), or a text
        written with it would not."""
        if not style.abbreviations <= self._ids.keys():
            raise ValueError(f"the abbreviations {sorted(style.abbreviations - self._ids.keys())[:3]} are not tokens "
                             "of this vocabulary")
        for token, spelling in style.spellings.items():
            if (token not in self._ids or unicodedata.normalize("NFKC", spelling) != spelling
                    or fold(spelling) != token or tokenize_line(spelling) != [token]):
                raise ValueError(f"the spelling {spelling!r} of {token!r} is not a way to write a token of "
                                 "this vocabulary")
        for key in style.spacing:
            pair = spacings.tokens(key)
            if pair is None or not all(part == spacings.WORD or part in self._ids for part in pair) or not joinable(
                    *("x" if part == spacings.WORD else part for part in pair)):
                raise ValueError(f"the spacing {list(key)} does not name a junction of this vocabulary's tokens")

    @classmethod
    def build(
        cls, words: Iterable[str], min_count: int = 1, max_size: int | None = None, text: str | None = None
    ) -> "Vocabulary":
        """Count `words` (the training split only) and keep the frequent ones.

        `max_size` counts every entry, `<unk>` included. Ties are broken alphabetically so the
        same text always gives the same ids. With the `text` the words come from, the vocabulary
        also learns how it writes them (wordrnn.style).
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
        return cls(tokens, [c for _, c in kept], styles.learn(text, set(tokens)) if text is not None else None)

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
        if self.style is not None:
            data["spellings"], data["wrapped"] = dict(self.style.spellings), self.style.wrapped
            data["abbreviations"] = sorted(self.style.abbreviations)
            data["spacing"] = spacings.to_json(self.style.spacing)
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
        return cls(tokens, counts, _style(data))

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


def _style(data: dict) -> Style | None:
    if not {"spellings", "wrapped", "abbreviations", "spacing"} & data.keys():
        return None
    spellings, wrapped = data.get("spellings", {}), data.get("wrapped", False)
    abbreviations = data.get("abbreviations", [])
    if not (isinstance(abbreviations, list) and all(isinstance(a, str) for a in abbreviations)):
        raise ValueError("\"abbreviations\" must be a list of tokens")
    if not (isinstance(spellings, dict) and all(isinstance(s, str) for s in spellings.values())):
        raise ValueError("\"spellings\" must map tokens to strings")
    if not isinstance(wrapped, bool):
        raise ValueError("\"wrapped\" must be true or false")
    return Style(spellings, wrapped, frozenset(abbreviations), spacings.from_json(data.get("spacing", [])))
