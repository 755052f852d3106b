"""Words out, text in: tokens joined into text that reads like the text they came from.

    >>> detokenize(['and', 'god', 'said', ',', 'let', 'there', 'be', 'light', '.'])
    'And god said, let there be light.'
    >>> detokenize(['and', 'god', 'said', ','], Style({'god': 'God'}))
    'And God said,'
    >>> detokenize(['神', '说', ':', '要', '有', '光', '。'])
    '神说:要有光。'

Tokens keep neither case nor spaces (wordrnn.tokenizer); fixed rules put back what prose does
(a comma after its word, a capital after a full stop), and a `Style` learned from the training
text (wordrnn.style) what that text does: its spellings, its line breaks, its spacing of marks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from wordrnn import spacing as spacings
from wordrnn.tokenizer import EOL, UNSPACED_CHARACTER, fold, is_word, tokenize_line

_NO_SPACE_BEFORE = set(".,;:!?)]}%…。、」』〉》】〕،؛؟۔।॥։።፣፤")  # with Arabic, Urdu, Indic, Armenian, Ethiopic marks
_NO_SPACE_AFTER = set("([{$¿¡「『〈《【〔")
_JOINERS = {"-", "/", "–", "_"}  # glue both neighbours: "beth-el", "and/or", "file_name"
SENTENCE_END = {".", "!", "?", "…", "؟", "۔", "।", "։", "።"}
QUOTES = {'"', "'", "“", "”", "‘", "’", "»", "«"}  # each opens or closes by turns
_STRAIGHT_QUOTES = {'"', "'"}  # the same mark opens and closes: a text's spacing cannot tell which
_OPENING_QUOTES = {"„", "‚", "`"}  # German, and TeX's `quote': the next of QUOTES closes them
# A mark between two numbers is part of the number: "3.14", "10:30", "1,000" (a comma only
# between groups of at most three digits and of three, so that "1, 2, 3" stays a list and
# "in 1990, 200 came" two numbers).
_IN_NUMBERS = {".", ":", ","}


def joinable(before: str, after: str) -> bool:
    """Whether a text's spacing decides this junction (wordrnn.spacing). Not at a straight
    quote, which opens and closes by turns (a curly one says which: "“" opens in English and
    closes in German, and the text tells), nor at a number's mark ("3.14": the number rule),
    nor in scripts written without spaces, nor between two words (joined, they would be one)."""
    if is_word(before) and is_word(after) or EOL in (before, after):
        return False
    if UNSPACED_CHARACTER.fullmatch(before) or UNSPACED_CHARACTER.fullmatch(after):
        return False
    return not ({before, after} & _STRAIGHT_QUOTES or before in _IN_NUMBERS and after.isdecimal())


@dataclass(frozen=True)
class Style:
    """How a text writes its words and lines, which lower-cased tokens and `<eol>` leave out
    (learned with its vocabulary: wordrnn.style). `spellings`: the usual form of each word it
    does not write in lower case ("God", "LORD", "Haus"). `wrapped`: its line breaks fall inside
    sentences (a hard-wrapped book), so a line starts with a capital only after a sentence's end.
    `abbreviations`: words whose full stop ends no sentence ("z. B.", "etc."), so the next word
    keeps its case. `spacing`: where it puts spaces around its marks (wordrnn.spacing: "level=0",
    "<Enter>", "home - it"), where that is not the fixed rules'."""

    spellings: Mapping[str, str] = field(default_factory=dict)
    wrapped: bool = False
    abbreviations: frozenset[str] = frozenset()
    spacing: Mapping[tuple[str, str], bool] = field(default_factory=dict)


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
    spacing = style.spacing if style is not None else {}
    previous = ("", "")  # the two tokens before this one
    out: list[str] = []
    capitalize = True
    glue_next = True  # no space before the first token
    open_quote = False
    cjk = False  # after a script written without spaces (and the punctuation since): no spaces
    last = ""  # the token before, as a junction's key names it (wordrnn.spacing: " --")
    joined = False  # whether that token was written right after a mark
    run = _Run()
    for word in words:
        (number, mark), previous = previous, (previous[1], word)
        if word == EOL:
            out.append("\n")
            capitalize, glue_next, open_quote, cjk, last, run = capitalize or not wrapped, True, False, False, "", _Run()
            joined = False
            continue
        if mark in _IN_NUMBERS and word.isdecimal() and number[-1:].isdecimal() and (
                mark != "," or len(word) == 3 and len(number) <= 3 and number.isdecimal()):
            glue_next = True  # "3" "." "14": 3.14; "v1" "." "2": v1.2
        unspaced = UNSPACED_CHARACTER.fullmatch(word) is not None
        glue = glue_next or (cjk and (unspaced or word in _NO_SPACE_AFTER))
        glue_next = False
        learnable = bool(spacing) and not cjk and joinable(mark, word)
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
        # an option's or a variable's name starts no sentence: "--build", "$PAGER", not "--Build", "$Pager"
        capital = capitalize and mark not in _JOINERS and mark != "$"
        learned = spacings.glued(spacing, last, word, joined) if learnable and out and out[-1] != "\n" else None
        overrides = learned is not None and learned != glue
        if overrides:  # glued to a mark, a word is a name ("one.c", ":set"); apart, one of its own ("-- Mark")
            glue, capital = learned, capitalize and not learned
        text = _cased(word, spellings.get(word), capital, style is None)
        if glue and out and out[-1] != "\n" and not run.takes(word, text, overrides):
            glue = False  # joined, the text would read back as other tokens ("e.g." from "e" "." "g" ".")
        if capitalize and is_word(word):
            capitalize = False
        if word in SENTENCE_END and not (word == "." and mark in abbreviations):
            capitalize = True
        spaced = not glue or not out or out[-1] == "\n"
        out.append(text if glue or not out or out[-1] == "\n" else " " + text)
        run.add(word, text, spaced)
        joined = not spaced and not is_word(mark)  # a word right after a mark: "git-rebase(1)"
        last = spacings.before(last, word, spaced)
    return out


class _Run:
    """The tokens written since the last space, once one of their joins was learned: joined by a
    learned spacing, they must still read back as the same tokens."""

    def __init__(self) -> None:
        self.text, self.tokens, self.learned = "", [], False

    def takes(self, word: str, text: str, learned: bool) -> bool:
        if not (learned or self.learned):
            return True
        self.learned = True
        return tokenize_line(self.text + text) == [*self.tokens, word]

    def add(self, word: str, text: str, spaced: bool) -> None:
        if spaced:
            self.text, self.tokens, self.learned = "", [], False
        self.text += text
        self.tokens.append(word)


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
