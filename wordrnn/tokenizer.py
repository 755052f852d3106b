"""Text in, words out: the one tokenizer shared by training, generation and the app (words
back to text: wordrnn.detokenizer).

    >>> tokenize("And God said, Let there be light.")
    ['and', 'god', 'said', ',', 'let', 'there', 'be', 'light', '.', '<eol>']
    >>> tokenize("神说：要有光。", eol=False)
    ['神', '说', ':', '要', '有', '光', '。']

Like the teaching notebook this project grows from, a token is a lower-cased word or a single
punctuation mark / symbol, each with its combining marks (vowel signs, accents, points); in
scripts that put no spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Burmese), a
single character. Each line of text ends with an end-of-line token, so a model trained on
verses or poems learns where lines end and the generator can write line breaks.
"""

from __future__ import annotations

import functools
import re
import unicodedata

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
UNSPACED_CHARACTER = re.compile(_CHARACTER)
# A word is a run of letters/digits, each with its combining marks, possibly joined by
# apostrophes ("lord's", "don't"); everything else that is not a space is a token of its own,
# with its marks ("❤️"). A mark with nothing before it to carry it is left out, as a space is.
_LETTER = f"[^\\W_{_UNSPACED}][{_MARKS}]*"
# Letters each with a full stop ("e.g.", "i.e.", "U.S.", "J.R.R.", "т.е.") are one word: apart,
# their full stops would read as sentence ends.
_INITIALS = f"(?:[^\\W\\d_{_UNSPACED}][{_MARKS}]*\\.){{2,}}"
_TOKEN = re.compile(rf"{_CHARACTER}|{_INITIALS}|(?:{_LETTER})+(?:['’](?:{_LETTER})+)*|[^\w\s{_MARKS}][{_MARKS}]*|_",
                    re.UNICODE)


@functools.lru_cache(maxsize=1 << 16)  # asked for every token a style reads or writes; tokens repeat
def is_word(token: str) -> bool:
    """Whether a token is a word (a letter or a digit in it) rather than a mark or a line break."""
    return token != EOL and any(ch.isalnum() for ch in token)


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
