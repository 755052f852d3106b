"""Where a text puts spaces around its marks, learned with its vocabulary (wordrnn.style).

Tokens keep no spaces, so detokenize writes marks by fixed rules: a comma after its word, a
hyphen between two. Those suit prose and not a vim help file ("conceallevel = 0", "< Enter >",
"= = = ="), a README ("one. C", "* * note * *") or the dash of a casual text ("home-it was").
What a text does at each junction of two tokens, one of them a mark, it does the same way most
of the time, so the text can say:

    junction                   key                      the text writes   learned
    "level" "=" / "=" "0"      (<word>, "=") / ("=", <word>)  level=0       glued
    "=" "="                    ("=", "=")               ====              glued
    "home" "-" "it"            ("home", "-") (" -", <word>)   home - it     spaced
    "-" "u" after a space      (" -", "u")              the -u            glued

The junction before a mark is decided before the token after it is known (a text is written a
word at a time), so a text that writes both "well-known" and "home - it" gets the way it writes
more often.

A key names the token before the junction and the one after it: a word exactly, or as
<word> (any token with a letter or a digit); a mark with a space before it (" -", or the
start of a line) apart from one glued to what precedes it ("-"), since " - " is a dash and
"-u" an option. The exact key wins over the general one, and a mark after a space not learned
is taken as after a word. A key is learned when the text
writes the junction one way at least two times in three, three times at least; an exact one
only where it differs from its general key, and only an exact key joins a word to a full stop
before it ("one.c"). Junctions no key covers keep the fixed rules, as do
quotes (they open and close by turns), numbers ("3.14") and scripts written without spaces.
"""

from __future__ import annotations

from collections import Counter
from typing import Collection, Iterable, Mapping

WORD = "<word>"  # any token with a letter or a digit in it
MIN_SEEN, SHARE = 3, 2 / 3
Key = tuple[str, str]
Junction = tuple[str, bool, str, bool]  # token before, a space before it?, token after, glued?


def is_word(token: str) -> bool:
    return any(ch.isalnum() for ch in token)


def keys(before: str, spaced: bool, after: str) -> tuple[Key, Key]:
    """The exact and the general key of a junction; `spaced`: a space (or the line's start)
    before `before`."""
    first = before if is_word(before) else " " * spaced + before
    exact = (first, after)
    return exact, (WORD if is_word(before) else first, WORD if is_word(after) else after)


def glued(spacing: Mapping[Key, bool], before: str, spaced: bool, after: str) -> bool | None:
    """Whether the text writes `after` right after `before` (None: it has not said)."""
    exact, general = keys(before, spaced, after)
    for key in (exact, general, (general[0].lstrip(" "), general[1])):  # a mark after a space, as after a word
        found = spacing.get(key)
        if found is not None:
            return found
    return None


def learn(junctions: Iterable[Junction], ends: Collection[str] = ()) -> dict[Key, bool]:
    """The keys a text's junctions decide (one of the two tokens a mark). After a mark of `ends`
    (a sentence's) only an exact key joins a word: "one.c" joins "c", but a text of a few
    sentences and many file names must not join the next sentence to its full stop."""
    exact: dict[Key, Counter[bool]] = {}
    general: dict[Key, Counter[bool]] = {}
    for before, spaced, after, joined in junctions:
        one, many = keys(before, spaced, after)
        general.setdefault(many, Counter())[joined] += 1
        if one != many:
            exact.setdefault(one, Counter())[joined] += 1
    learned = {key: way for key, seen in general.items() if (way := _decided(seen)) is not None
               and not (way and key[1] == WORD and key[0].lstrip(" ") in ends)}
    for key, seen in exact.items():
        way = _decided(seen)
        if way is not None and way != learned.get(_general(key)):
            learned[key] = way
    return learned


def _decided(seen: Counter[bool]) -> bool | None:
    way, count = max(seen.items(), key=lambda item: item[1])
    return way if seen.total() >= MIN_SEEN and count >= SHARE * seen.total() else None


def _general(key: Key) -> Key:
    before, after = key
    return (WORD if is_word(before) else before, WORD if is_word(after) else after)


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


def parts(key: Key) -> list[str]:
    """The tokens a key names (a mark's space before it, and <word>, left out)."""
    return [part for part in (key[0].lstrip(" "), key[1]) if part != WORD]


def shown(key: Key, way: bool) -> str:
    """A key as text, a word as "x": "x=", "x - x", "=="."""
    before, after = (("x" if part == WORD else part) for part in key)
    return ("x" if before.startswith(" ") else "") + before + ("" if way else " ") + after
