"""Where a text puts spaces around its marks, learned with its vocabulary (wordrnn.style).

Tokens keep no spaces, so detokenize writes marks by fixed rules: a comma after its word, a
hyphen between two. Those suit prose and not a vim help file ("conceallevel = 0", "< Enter >",
"= = = ="), a README ("one. C", "* * note * *") or the dash of a casual text ("home-it was").
What a text does at each junction of two tokens, one of them a mark, it does the same way most
of the time, so the text can say:

    junction                   key                      the text writes   learned
    "level" "=" / "=" "0"      (<word>, "=") / ("=", <word>)  level=0       glued
    "=" "="                    (" =", "=") ("==", "=")  ====              glued
    "home" "-" "it"            ("home", "-") (" -", <word>)   home - it     spaced
    "-" "u" after a space      (" -", "u")              the -u            glued
    "-" "-" "mark" at a start  (" --", <word>)          -- Mark Twain     spaced

The junction before a mark is decided before the token after it is known (a text is written a
word at a time), so a text that writes both "well-known" and "home - it" gets the way it writes
more often.

A key names the token before the junction and the one after it: a word exactly, or as <word>
(any token with a letter or a digit); a mark with the run of it that it ends (up to three:
"--", "===") and a space before the run (" -", or the start of a line) apart from one glued to
what precedes it ("-"), since " - " is a dash, "-u" an option and " -- " an attribution; a
word written right after a mark ("rebase" in "git-rebase(1)") is of its own class, <joined>,
apart from one after a space. The exact key wins over the general one; a run not learned is
taken as after a word, then as its one mark, and a class of words not learned as the other. A
key is learned when the text writes the junction one way at least two times in three, three
times at least; an exact one only where it differs from its general key, and only an exact key
joins a word to a full stop before it ("one.c"). Junctions no key covers keep the fixed rules,
as do straight quotes (they open and close by turns), numbers ("3.14") and scripts written
without spaces.
"""

from __future__ import annotations

from collections import Counter
from typing import Collection, Iterable, Mapping

from wordrnn.tokenizer import is_word

WORD = "<word>"  # any token with a letter or a digit in it
JOINED = "<joined>"  # before a junction: a word written right after a mark ("rebase" in "git-rebase(1)")
MIN_SEEN, SHARE = 3, 2 / 3
LONGEST_RUN = 3  # "===" stands for any longer rule
Key = tuple[str, str]
Junction = tuple[str, str, bool, bool]  # what is before (`before`'s key), the token after, glued?, joined?


def before(last: str, token: str, spaced: bool) -> str:
    """What a junction after `token` names it by, given `last`, the same for the token before
    it, and whether a space (or the line's start) comes before `token`: the word itself, or the
    run of the mark that `token` ends with the space before the run (" --")."""
    if is_word(token):
        return token
    run = last.lstrip(" ")
    if not spaced and run and run == token * len(run):
        return last[: len(last) - len(run)] + (run + token)[:LONGEST_RUN]
    return " " * spaced + token


def _keys(first: str, after: str, joined: bool = False) -> list[Key]:
    """The keys of a junction, the most particular first: `first` as `before` names it, then
    less particular ones, each learned from its own junctions, for when it was not decided.
    `joined`: `first` is a word written right after a mark, whose class is its own
    ("git-rebase(1)" against "see (1)"); where its class is undecided, the other class's way."""
    general = WORD if is_word(after) else after
    if is_word(first):  # a word, or a class of words
        own = first if first in (WORD, JOINED) else JOINED if joined else WORD
        return list(dict.fromkeys([(first, after), (own, general), (WORD if own == JOINED else JOINED, general)]))
    pair = tokens((first, after))
    if pair is None:
        return [(first, after)]
    mark, space = pair[0], first[: len(first) - len(first.lstrip(" "))]
    if after == mark:  # inside a run ("===="): as after one mark, the run's space before it
        first = space + mark
    return list(dict.fromkeys([(first, after), (first, general), (first.lstrip(" "), general), (space + mark, general),
                               (mark, general)]))


def glued(spacing: Mapping[Key, bool], first: str, after: str, joined: bool = False) -> bool | None:
    """Whether the text writes `after` right after `first` (a `before` key; `joined`: a word
    right after a mark); None: it has not said."""
    for key in _keys(first, after, joined):
        found = spacing.get(key)
        if found is not None:
            return found
    return None


class Tally:
    """A text's junctions counted as they are read, a line at a time (a 100 MB text's are never
    all held), then the keys they decide."""

    def __init__(self) -> None:
        self.exact: dict[Key, Counter[bool]] = {}
        self.general: dict[Key, Counter[bool]] = {}

    def add(self, junctions: Iterable[Junction]) -> None:
        for first, after, glue, joined in junctions:
            keys = _keys(first, after, joined)
            self.general.setdefault(keys[min(1, len(keys) - 1)], Counter())[glue] += 1
            if len(keys) > 1 and keys[0] != keys[1]:
                self.exact.setdefault(keys[0], Counter())[glue] += 1

    def learned(self, ends: Collection[str] = ()) -> dict[Key, bool]:
        """The keys decided (one of a junction's two tokens a mark). After a mark of `ends` (a
        sentence's) only an exact key joins a word: "one.c" joins "c", but a text of a few
        sentences and many file names must not join the next sentence to its full stop."""
        learned = {key: way for key, seen in self.general.items() if (way := _decided(seen)) is not None
                   and not (way and key[1] == WORD and key[0].lstrip(" ")[:1] in ends)}
        for key, seen in self.exact.items():
            way = _decided(seen)
            nexts = {next((learned[k] for k in _keys(*key, joined)[1:] if k in learned), None) for joined in (False, True)}
            if way is not None and nexts != {way}:  # what the lookup would find without it, the word alone or joined
                learned[key] = way
        return learned


def _decided(seen: Counter[bool]) -> bool | None:
    way, count = max(seen.items(), key=lambda item: item[1])
    return way if seen.total() >= MIN_SEEN and count >= SHARE * seen.total() else None


def to_json(spacing: Mapping[Key, bool]) -> list[list[str]]:
    """[[before, after, "glued" or "spaced"], ...], in order."""
    return [[before, after, "glued" if way else "spaced"] for (before, after), way in sorted(spacing.items())]


def from_json(data: object) -> dict[Key, bool]:
    """The spacing of a vocabulary file; ValueError when it is not one (the vocabulary checks
    that it names its tokens)."""
    if not isinstance(data, list):
        raise ValueError('"spacing" must be a list of [before, after, "glued" or "spaced"]')
    spacing = {}
    for entry in data:
        if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(part, str) for part in entry)
                and entry[2] in ("glued", "spaced")):
            raise ValueError(f'"spacing" holds {str(entry)[:60]}, not [before, after, "glued" or "spaced"]')
        spacing[entry[0], entry[1]] = entry[2] == "glued"
    return spacing


def tokens(key: Key) -> tuple[str, str] | None:
    """The two tokens a key's junction is between (<word> for any word; a run's mark once), or
    None when it is no key: a file's spacing is checked against its vocabulary with these."""
    first, after = key
    run = first[1:] if first.startswith(" ") else first
    if not run or run.startswith(" ") or is_word(first) and run != first:
        return None
    if is_word(run) or run in (WORD, JOINED):
        return WORD if run == JOINED else run, after
    for count in range(LONGEST_RUN, 0, -1):  # a mark may be more than one character ("❤️")
        mark = run[: len(run) // count]
        if len(run) % count == 0 and mark * count == run:
            return mark, after
    return None


def shown(key: Key, way: bool) -> str:
    """A key as text, a word as "x": "x=", "x - x", "=="."""
    before, after = (("x" if part in (WORD, JOINED) else part) for part in key)
    return ("x" if before.startswith(" ") else "") + before + ("" if way else " ") + after
