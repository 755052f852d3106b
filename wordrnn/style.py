"""How a text writes its words and lines, learned from the training text with its vocabulary.

Tokens are lower-case and every line ends with `<eol>`; what that leaves out, detokenize puts
back from a wordrnn.tokenizer.Style:

- **spellings**: each word the text does not write in lower case, in the form it takes in at
  least three quarters of its uses inside sentences ("God", "LORD", "Haus"). A word written
  both ways ("the Red sea", "red wine") stays in lower case, the usual case inside a sentence.
  What says nothing of a word's usual form is not counted: the first word of a sentence or of a
  line (a heading, a list item, or a capital that only the layout put there), the markers before
  it that are no word of it ("b)", "|02.3|", "-g": letters alone and numbers), title lines (most
  words capitalised) and lines all in capitals.
- **abbreviations**: words whose full stop is mostly followed by a word in lower case or by a
  comma ("d. h.", "etc."): their full stop ends no sentence. (Letters each with a full stop,
  "e.g.", are one token already.)
- **wrapped**: the text's line breaks fall inside sentences (a hard-wrapped book, a licence):
  most lines that follow one not ending a sentence begin in lower case. Then detokenize
  capitalises a line only where a sentence starts. Verses and poems, whose every line starts
  with a capital, are not wrapped.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from typing import Collection, Iterator

from wordrnn.tokenizer import SENTENCE_END, Style, clean, tokenize_line

CLOSING = frozenset("\"'”’)]}»")  # may follow a sentence's end on the same line
Read = tuple[str | None, str]  # a token (None: not one token in lower case) and its form in the text
Word = tuple[str, str, bool]  # token, as the text writes it, whether a sentence starts there


def learn(text: str, tokens: Collection[str]) -> Style:
    """The style of `text`, for those of its words that are `tokens`. One pass, a line at a time:
    a 100 MB text's lines are never all held as tokens."""
    forms: dict[str, Counter[str]] = defaultdict(Counter)  # token -> its forms inside sentences
    stops: dict[str, Counter[bool]] = defaultdict(Counter)  # token -> whether the text goes on after its full stop
    starts: Counter[bool] = Counter()  # after a line that ends inside a sentence: lower case next?
    before: list[Read] = []
    for line in map(_read, clean(text).splitlines()):
        _count_stops(line, tokens, stops)
        _count_line_start(before, line, starts)
        before = line
        words = list(_words(line))
        if _title(words):
            continue
        for token, form, start in words:
            if not start and token in tokens:
                forms[token][form] += 1
    spellings = {}
    for token, seen in sorted(forms.items(), key=lambda item: -item[1].total()):  # the most frequent first
        form, count = max(seen.items(), key=lambda item: (item[1], item[0] == token))
        if form != token and 4 * count >= 3 * seen.total():
            spellings[token] = form
    abbreviations = frozenset(token for token, seen in stops.items() if seen[True] >= 2 and 4 * seen[True] >= 3 * seen.total())
    return Style(spellings, starts[True] > starts[False], abbreviations)


def _read(line: str) -> list[Read]:
    """(token, as the line writes it) for each token of a line; None for a token whose capitals
    do not read back as one token."""
    return [(form if form == form.lower() else _token_of(form), form) for form in tokenize_line(line, keep_case=True)]


@functools.lru_cache(maxsize=1 << 16)
def _token_of(form: str) -> str | None:
    tokens = tokenize_line(form)
    return tokens[0] if len(tokens) == 1 else None


def _words(line: list[Read]) -> Iterator[Word]:
    """The words of a line and whether each starts a sentence or the line. A letter alone or a
    number does not take the start from the word after it."""
    start = True
    for token, form in line:
        if token is None:
            continue
        if token in SENTENCE_END:
            start = True
        letters = len(token) if token.isalpha() else sum(ch.isalpha() for ch in token)
        if letters:
            yield token, form, start
        if letters > 1:
            start = False


def _title(words: list[Word]) -> bool:
    """A heading ("Appendix B: The Bibliography") or a line in capitals ("SUCH DAMAGES.")."""
    inside = [(token, form) for token, form, start in words if not start]
    if 2 * sum(form != token for token, form in inside) > len(inside) > 2:
        return True
    cased = [form for _, form, _ in words if form.lower() != form.upper()]
    return sum(len(form) > 1 for form in cased) > 1 and all(form.isupper() for form in cased)


def _ends_sentence(line: list[Read]) -> bool:
    for token, form in reversed(line):
        if form not in CLOSING:
            return form in SENTENCE_END
    return False


def _count_stops(line: list[Read], tokens: Collection[str], stops: dict[str, Counter[bool]]) -> None:
    """For each word before a full stop: does the line go on with a word in lower case or a comma
    (True), or with a capital (False)?"""
    for (before, _), (stop, _), (_, after) in zip(line, line[1:], line[2:]):
        if stop == "." and before in tokens and any(ch.isalpha() for ch in before):
            goes_on = after in (",", ";", ":") or after == after.lower() != after.upper()
            if goes_on or after[:1].isupper():
                stops[before][goes_on] += 1


def _count_line_start(before: list[Read], line: list[Read], starts: Counter[bool]) -> None:
    """After a line that ends inside a sentence: does this one begin in lower case (True) or with
    a capital (False)? Wrapped text's lines mostly go on in lower case; verses' start anew."""
    if not before or not line or _ends_sentence(before):
        return
    first = next((form for token, form, _ in _words(line) if len(token) > 1), None)
    if first is not None and first.lower() != first.upper():
        starts[first == first.lower()] += 1


def described(style: Style | None, examples: int = 5) -> str:
    """One line for logs: how many spellings, a few of the most frequent, and the lines."""
    if style is None:
        return "not learned"
    shown = ", ".join(list(style.spellings.values())[:examples])
    return (f"{len(style.spellings):,} words written as the text writes them{f' ({shown}, ...)' if shown else ''}; "
            f"{'line breaks inside sentences (wrapped)' if style.wrapped else 'each line starts with a capital'}")
