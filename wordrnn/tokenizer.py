"""Words in, words out: the one tokenizer shared by training, generation and the app.

    >>> tokenize("And God said, Let there be light.")
    ['and', 'god', 'said', ',', 'let', 'there', 'be', 'light', '.', '<eol>']
    >>> detokenize(['and', 'god', 'said', ',', 'let', 'there', 'be', 'light', '.'])
    'And god said, let there be light.'
    >>> tokenize("神说：要有光。", eol=False)
    ['神', '说', ':', '要', '有', '光', '。']
    >>> detokenize(['神', '说', ':', '要', '有', '光', '。'])
    '神说:要有光。'

Like the teaching notebook this project grows from, a token is a lower-cased word or a single
punctuation mark / symbol, each with its combining marks (vowel signs, accents, points); in
scripts that put no spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Burmese), a
single character. Each line of text ends with an end-of-line token, so a model trained on
verses or poems learns where lines end and the generator can write line breaks.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Mapping

EOL = "<eol>"


def _marks() -> str:
    """A regex class body of every combining mark (Unicode categories Mn, Mc, Me): the vowel
    signs and viramas of Indic scripts, Hebrew and Arabic vowel points, Thai vowels and tones,
    variation selectors. Python's \\w leaves them out, so without them "नमस्ते" fell apart
    into letters and marks. (Scanned once: they all lie below U+20000 or in U+E0100-E01EF.)"""
    codes = [c for c in [*range(0x20000), *range(0xE0100, 0xE01F0)] if unicodedata.category(chr(c))[0] == "M"]
    ranges, start = [], codes[0]
    for previous, code in zip(codes, codes[1:] + [-1]):
        if code != previous + 1:
            ranges.append(f"\\U{start:08x}" + (f"-\\U{previous:08x}" if previous > start else ""))
            start = code
    return "".join(ranges)


_MARKS = _marks()
# Chinese, Japanese, Thai, Lao, Khmer and Burmese write no spaces between words, so each of
# their characters (with its marks) is a token of its own: a "word" would otherwise be a whole
# clause, seen once.
_UNSPACED = ("\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
             "\U00020000-\U0002fa1f")
_CHARACTER = f"(?![{_MARKS}])[{_UNSPACED}][{_MARKS}]*"  # one of their characters, its marks with it
_IS_UNSPACED = re.compile(_CHARACTER)
# A word is a run of letters/digits, each with its combining marks, possibly joined by
# apostrophes ("lord's", "don't"); everything else that is not a space is a token of its own,
# with its marks ("❤️"). A mark with nothing before it to carry it is left out, as a space is.
_LETTER = f"[^\\W_{_UNSPACED}][{_MARKS}]*"
# Letters each with a full stop ("e.g.", "i.e.", "U.S.", "J.R.R.", "т.е.") are one word: apart,
# their full stops would read as sentence ends.
_INITIALS = f"(?:[^\\W\\d_{_UNSPACED}][{_MARKS}]*\\.){{2,}}"
_TOKEN = re.compile(rf"{_CHARACTER}|{_INITIALS}|(?:{_LETTER})+(?:['’](?:{_LETTER})+)*|[^\w\s{_MARKS}][{_MARKS}]*|_",
                    re.UNICODE)

# Spacing rules used by detokenize.
_NO_SPACE_BEFORE = set(".,;:!?)]}%…。、」』〉》】〕،؛؟۔।॥։።፣፤")  # with Arabic, Urdu, Indic, Armenian, Ethiopic marks
_NO_SPACE_AFTER = set("([{$¿¡「『〈《【〔")
_JOINERS = {"-", "/", "–", "_"}  # glue both neighbours: "beth-el", "and/or", "file_name"
SENTENCE_END = {".", "!", "?", "…", "؟", "۔", "।", "։", "።"}
QUOTES = {'"', "'", "“", "”", "‘", "’", "»", "«"}  # each opens or closes by turns
_OPENING_QUOTES = {"„", "‚", "`"}  # German, and TeX's `quote': the next of QUOTES closes them
# A mark between two numbers is part of the number: "3.14", "10:30", "1,000" (a comma only
# between groups of at most three digits and of three, so that "1, 2, 3" stays a list and
# "in 1990, 200 came" two numbers).
_IN_NUMBERS = {".", ":", ","}


@dataclass(frozen=True)
class Style:
    """How a text writes its words and lines, which lower-cased tokens and `<eol>` leave out
    (learned with its vocabulary: wordrnn.style). `spellings`: the usual form of each word it
    does not write in lower case ("God", "LORD", "Haus"). `wrapped`: its line breaks fall inside
    sentences (a hard-wrapped book), so a line starts with a capital only after a sentence's end.
    `abbreviations`: words whose full stop ends no sentence ("z. B.", "etc."), so the next word
    keeps its case."""

    spellings: Mapping[str, str] = field(default_factory=dict)
    wrapped: bool = False
    abbreviations: frozenset[str] = frozenset()


def clean(text: str) -> str:
    """Normalise unicode (NFKC) and turn control and format characters into spaces."""
    text = unicodedata.normalize("NFKC", text)
    if text.replace("\n", "").replace("\t", "").isprintable():  # no C-category character (in C, the common case)
        return text
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text
    )


def fold(text: str) -> str:
    """`clean` and lower-case. Normalised again after lower-casing: "ǰ" has no one-letter
    capital, so "J̌" (J + combining caron) lower-cases to two characters that NFKC makes "ǰ" again."""
    return unicodedata.normalize("NFKC", clean(text).lower())


def tokenize_line(line: str) -> list[str]:
    """Tokens of one line of text, without the end-of-line token."""
    return _TOKEN.findall(fold(line))


def spaced_tokens(line: str) -> list[tuple[str, bool]]:
    """The tokens of one line in the case it writes them, each with whether it follows a space
    (or starts the line): what wordrnn.style reads a text's habits from."""
    line = clean(line)
    return [(m.group(), m.start() == 0 or line[m.start() - 1].isspace()) for m in _TOKEN.finditer(line)]


def tokenize(text: str, eol: bool = True) -> list[str]:
    """Tokens of a text; with `eol`, every non-empty line ends with `<eol>`."""
    words: list[str] = []
    for line in clean(text).splitlines():
        tokens = tokenize_line(line)
        if tokens:
            words.extend(tokens)
            if eol:
                words.append(EOL)
    return words


def detokenize(words: Iterable[str], style: Style | None = None) -> str:
    """Join tokens into text that reads like text.

    Punctuation is attached to the word before it, numbers keep their points and colons
    ("3.14"), sentences and lines start with a capital letter (with a `wrapped` style, lines
    only where a sentence starts), words are written as the style's spellings say ("God",
    "LORD"; with no style, a vocabulary's from before styles were learned, "i" is written "I"),
    and `<eol>` becomes a line break. Tokenizing the result gives the original tokens back (for
    tokens that `tokenize` can produce).
    """
    return "".join(pieces(words, style))


def pieces(words: Iterable[str], style: Style | None = None) -> list[str]:
    """What detokenize writes for each token, in order (its space before it included): a
    token's piece depends only on the tokens before it, so the pieces of a prefix are the
    prefix's text."""
    spellings = style.spellings if style is not None else {}
    wrapped = style is not None and style.wrapped
    abbreviations = style.abbreviations if style is not None else frozenset()
    previous = ("", "")  # the two tokens before this one
    out: list[str] = []
    capitalize = True
    glue_next = True  # no space before the first token
    open_quote = False
    cjk = False  # after a script written without spaces (and the punctuation since): no spaces
    for word in words:
        (number, mark), previous = previous, (previous[1], word)
        if word == EOL:
            out.append("\n")
            capitalize, glue_next, open_quote, cjk = capitalize or not wrapped, True, False, False
            continue
        if mark in _IN_NUMBERS and word.isdecimal() and number[-1:].isdecimal() and (
                mark != "," or len(word) == 3 and len(number) <= 3 and number.isdecimal()):
            glue_next = True  # "3" "." "14": 3.14; "v1" "." "2": v1.2
        unspaced = _IS_UNSPACED.fullmatch(word) is not None
        glue = glue_next or (cjk and (unspaced or word in _NO_SPACE_AFTER))
        glue_next = False
        if unspaced:
            cjk = True
        elif word not in _NO_SPACE_BEFORE and word not in _NO_SPACE_AFTER:
            cjk = False
        if word in QUOTES:
            # Alternate opening and closing quotes: an opening quote sticks to the next word,
            # a closing one to the previous word.
            glue = glue or open_quote
            glue_next = not open_quote
            open_quote = not open_quote
        elif word in _OPENING_QUOTES:
            glue_next, open_quote = True, True
        elif word in _NO_SPACE_BEFORE:
            glue = True
        elif word in _JOINERS:
            glue, glue_next = True, True
        elif word in _NO_SPACE_AFTER:
            glue_next = True
        # an option's name starts no sentence: "--build", not "--Build"
        text = _cased(word, spellings.get(word), capitalize and mark not in _JOINERS, style is None)
        if capitalize and any(ch.isalnum() for ch in word):
            capitalize = False
        if word in SENTENCE_END and not (word == "." and mark in abbreviations):
            capitalize = True
        out.append(text if glue or not out or out[-1] == "\n" else " " + text)
    return out


def _cased(word: str, spelling: str | None, capitalize: bool, unlearned: bool) -> str:
    if unlearned and (word == "i" or word.startswith(("i'", "i’"))):
        return "I" + word[1:]
    text = spelling or word
    first = text[:1].upper()
    # Some letters have no capital that lower-cases back to them ("ß" -> "SS", "ı" -> "I"):
    # they stay as they are, so that tokenizing the text gives the same tokens back.
    if capitalize and fold(first) == word[:1]:
        return first + text[1:]
    return text
