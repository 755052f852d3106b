"""How a text writes its words and lines, learned from the training text with its vocabulary.

Tokens are lower-case and every line ends with `<eol>`; what that leaves out, detokenize puts
back from a wordrnn.detokenizer.Style:

- **spellings**: each word the text does not write in lower case, in the form it takes in at
  least two thirds of its uses inside sentences, and twice at least ("God", "LORD", "Haus"; a
  letter alone, nine in ten: "I"). A word written both ways ("the Red sea", "red wine") stays in
  lower case, the usual case inside a sentence. What says nothing of a word's usual form is not
  counted: the first word of a sentence or of a line (a heading, a list item, or a capital that
  only the layout put there), the markers before it that are no word of it ("b)", "|02.3|",
  "-g": letters alone and numbers), a word after an opening quote, bracket or colon, a part of an
  identifier ("t_Co"), title lines (most words capitalised) and lines all in capitals.
- **abbreviations**: words whose full stop, written right after them with a space after it, is
  mostly followed by a word in lower case or a comma, three times at least ("d. h.", "etc."; not
  "main.c" or "die .changes"): their full stop ends no sentence. (Letters each with a full stop,
  "e.g.", are one token already.)
- **wrapped**: the text's line breaks fall inside sentences (a hard-wrapped book, a licence):
  most lines that follow one not ending a sentence begin in lower case, leaving out lines that
  begin with a word spelled anyway (German nouns), a mark ("--build") or capitals. Then
  detokenize capitalises a line only where a sentence starts. Verses and poems, whose every line
  starts with a capital, are not wrapped.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from typing import Collection, Iterator

from wordrnn import spacing as spacings
from wordrnn.detokenizer import SENTENCE_END, Style, joinable, pieces
from wordrnn.tokenizer import clean, is_word, spaced_tokens, tokenize_line

CLOSING = frozenset("\"'”’)]}»«")  # may follow a sentence's end on the same line
OPENING = frozenset("([{:\"'“‘„‚«»`")  # a capital after one of these may be the quote's or the list's, not the word's
Read = tuple[str | None, str, bool]  # a token (None: not one token in lower case), its form, after a space?
Word = tuple[str, str, bool]  # token, its form, whether its case says nothing of the word's usual form


def learn(text: str, tokens: Collection[str]) -> Style:
    """The style of `text`, for those of its words that are `tokens`. One pass, a line at a time:
    a 100 MB text's lines are never all held as tokens."""
    forms: dict[str, Counter[str]] = defaultdict(Counter)  # token -> its forms inside sentences
    stops: dict[str, Counter[bool]] = defaultdict(Counter)  # token -> whether the text goes on after its full stop
    starts: Counter[tuple[str, bool]] = Counter()  # (first word, in lower case?) after a line ending inside a sentence
    before: list[Read] = []
    tally = spacings.Tally()
    for line in map(_read, clean(text).splitlines()):
        tally.add(_junctions(line, tokens))
        _count_stops(before, line, tokens, stops)
        _count_line_start(before, line, starts)
        before = line
        words = list(_words(line))
        if _title(words):
            continue
        for token, form, start in words:
            if not start and token in tokens:
                forms[token][form] += 1
    spellings = _spellings(forms)
    # A line's first word that is spelled anyway ("Datei") says nothing of whether lines go on.
    lower = sum(n for (token, low), n in starts.items() if low and token not in spellings)
    upper = sum(n for (token, low), n in starts.items() if not low and token not in spellings)
    abbreviations = frozenset(token for token, seen in stops.items() if seen[True] >= 3 and 4 * seen[True] >= 3 * seen.total())
    return Style(spellings, lower > upper, abbreviations, tally.learned(SENTENCE_END))


def _junctions(line: list[Read], tokens: Collection[str]) -> Iterator[spacings.Junction]:
    """The line's junctions that its spacing can decide: (what is before, as wordrnn.spacing
    names it, the next token, written right after it?)."""
    last, previous = "", None
    for (before, _, spaced), (after, _, after_spaced) in zip(line, line[1:]):
        joined = not spaced and previous is not None and not is_word(previous)  # "-rebase", not "rebase"
        last, previous = (spacings.before(last, before, spaced) if before is not None else ""), before
        if before in tokens and after in tokens and joinable(before, after):
            yield last, after, not after_spaced, joined and is_word(before)


def _spellings(forms: dict[str, Counter[str]]) -> dict[str, str]:
    """The usual form of each word seen at least twice inside sentences, where that is not lower
    case: two thirds of its uses (a letter alone: nine in ten, "I" but not vim's "M" command, 6
    against 1 "m")."""
    spellings = {}
    for token, seen in sorted(forms.items(), key=lambda item: -item[1].total()):  # the most frequent first
        form, count = max(seen.items(), key=lambda item: (item[1], item[0] == token))
        share = 9 / 10 if len(token) == 1 else 2 / 3
        if form != token and seen.total() >= 2 and count >= share * seen.total():
            spellings[token] = form
    return spellings


def _read(line: str) -> list[Read]:
    """(token, as the line writes it, after a space?) for each token of a line; None for a token
    whose capitals do not read back as one token."""
    return [(form if form == form.lower() else _token_of(form), form, spaced) for form, spaced in spaced_tokens(line)]


@functools.lru_cache(maxsize=1 << 16)
def _token_of(form: str) -> str | None:
    tokens = tokenize_line(form)
    return tokens[0] if len(tokens) == 1 else None


def _words(line: list[Read]) -> Iterator[Word]:
    """The words of a line, and whether each one's case says nothing of the word's usual form: it
    starts a sentence or the line (a letter alone or a number before it takes nothing from it),
    it follows an opening quote, bracket or colon, or it is part of an identifier ("t_Co")."""
    start = True
    for i, (token, form, spaced) in enumerate(line):
        if token is None:
            continue
        after = line[i + 1] if i + 1 < len(line) else (None, "", True)
        if token in SENTENCE_END and after[2] or form in OPENING:  # "main.c" and "3.14" end nothing
            start = True
        letters = len(token) if token.isalpha() else sum(ch.isalpha() for ch in token)
        if letters:
            identifier = "_" in (line[i - 1][1] if i and not spaced else "", after[1] if not after[2] else "")
            yield token, form, start or identifier
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
    for token, form, _ in reversed(line):
        if form not in CLOSING:
            return form in SENTENCE_END
    return False


def _count_stops(before: list[Read], line: list[Read], tokens: Collection[str], stops: dict[str, Counter[bool]]) -> None:
    """For each word with a full stop written right after it and a space after that ("d. h.",
    not "main.c" or "die .changes"): does the text go on in lower case or with a comma (True),
    or with a capital (False)? A full stop at the end of the line before is answered by this
    line's first word."""
    if len(before) >= 2 and line:
        _stop(before[-2], before[-1], line[0], tokens, stops)
    for word, stop, after in zip(line, line[1:], line[2:]):
        if after[2]:
            _stop(word, stop, after, tokens, stops)


def _stop(word: Read, stop: Read, after: Read, tokens: Collection[str], stops: dict[str, Counter[bool]]) -> None:
    if stop[1] == "." and not stop[2] and word[0] in tokens and any(ch.isalpha() for ch in word[0]):
        goes_on = after[1] in (",", ";", ":") or after[1] == after[1].lower() != after[1].upper()
        if goes_on or after[1][:1].isupper():
            stops[word[0]][goes_on] += 1


def _count_line_start(before: list[Read], line: list[Read], starts: Counter[tuple[str, bool]]) -> None:
    """After a line that ends inside a sentence: this line's first word, and whether it is in
    lower case. Lines that begin with a mark ("--build", "* item") or in capitals say nothing."""
    if not before or not line or _ends_sentence(before) or line[0][0] is None or not line[0][0].isalpha():
        return
    token, form, _ = line[0]
    if len(token) > 1 and form.lower() != form.upper() and not form.isupper():
        starts[token, form == form.lower()] += 1


def described(style: Style | None, examples: int = 5) -> str:
    """One line for logs: how many spellings, a few of the most frequent, the lines, and the
    spacing of marks where it is not the fixed rules' (wordrnn.spacing)."""
    if style is None:
        return "not learned"
    shown = ", ".join(list(style.spellings.values())[:examples])
    unusual = [spacings.shown(key, way) for key, way in style.spacing.items() if way != _fixed(key)]
    marks = f"; {len(unusual):,} ways of spacing marks ({', '.join(f'`{u}`' for u in unusual[:examples])}, ...)" if unusual else ""
    return (f"{len(style.spellings):,} words written as the text writes them{f' ({shown}, ...)' if shown else ''}; "
            f"{'line breaks inside sentences (wrapped)' if style.wrapped else 'each line starts with a capital'}{marks}")


def _fixed(key: spacings.Key) -> bool:
    """Whether detokenize's fixed rules join the junction a key names."""
    before, after = ("x" if part in (spacings.WORD, spacings.JOINED) else part.lstrip(" ") for part in key)
    lead = ["x"] if not is_word(before) else []  # a mark has a word before it
    return not pieces([*lead, before, after])[-1].startswith(" ")
