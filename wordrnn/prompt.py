"""A prompt: the seed words a visitor types, checked and turned into token ids.

    >>> prompt = parse("And God saaid, let there be", vocab)
    >>> prompt.words, prompt.used, prompt.unknown
    (['and', 'god', 'saaid', ',', 'let', 'there', 'be'], 7, {'saaid': ['said', 'saith']})

The teaching notebook demanded exactly 7 words and stopped at the first word it did not know.
Here any number of words from 1 to `MAX_PROMPT_WORDS` is fine (7 is what we suggest), and an
unknown word is fed to the model as `<unk>`, which it saw in training, and reported back with the
closest words it does know. Punctuation marks are words too (the tokenizer makes them tokens).
Line breaks inside the prompt become `<eol>` tokens, as in training; the last line is left open
so that the model continues it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wordrnn.errors import PromptError
from wordrnn.tokenizer import EOL, tokenize
from wordrnn.vocab import UNK, Vocabulary

SEED_WORDS = 7  # what the app asks for, as the notebook did
MAX_PROMPT_WORDS = 200
# Checked before tokenizing, so a pasted book is refused at once; 200 words fit easily.
MAX_PROMPT_CHARS = 2000
SUGGESTIONS = 3  # closest known words per unknown word
# Finding them takes ~50 ms a word on a 12k vocabulary: a prompt of 200 made-up words must not
# cost 10 s, so only the first few unknown words get suggestions (all are still reported).
SUGGESTED_WORDS = 5


@dataclass(frozen=True)
class Prompt:
    """Seed words as the model reads them. Make one with `parse` (or `Generator.prompt`)."""

    words: list[str]  # the tokens, unknown ones as typed (lower-cased)
    ids: list[int]  # what the model reads: unknown words are <unk>
    unknown: dict[str, list[str]] = field(default_factory=dict)  # word -> closest known words

    @property
    def used(self) -> int:
        """How many words the model reads: unknown ones count (as <unk>), line breaks do not."""
        return sum(w != EOL for w in self.words)

    def notes(self) -> list[str]:
        """What a user should know about how the prompt was read, one sentence each."""
        notes = []
        if self.used != SEED_WORDS:
            notes.append(f"Used {self.used} word{'s' * (self.used != 1)} ({SEED_WORDS} work best).")
        for word, close in self.unknown.items():
            hint = f"; did you mean {', '.join(repr(w) for w in close)}?" if close else "."
            notes.append(f"Unknown word {word!r} was read as {UNK}{hint}")
        return notes


def parse(text: str | None, vocab: Vocabulary) -> Prompt:
    """Check `text` and encode it; PromptError says what is wrong and what to do."""
    text = text or ""
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptError(
            f"The prompt is {len(text):,} characters long; the limit is {MAX_PROMPT_CHARS:,} "
            f"characters ({MAX_PROMPT_WORDS} words). Shorten it: {SEED_WORDS} words are enough."
        )
    words = tokenize(text, eol=EOL in vocab)
    if words and words[-1] == EOL:
        words.pop()  # the model continues the last line rather than starting a new one
    if not words:
        raise PromptError(f"The prompt is empty. Type a few words to start from ({SEED_WORDS} work best).")
    count = sum(w != EOL for w in words)
    if count > MAX_PROMPT_WORDS:
        raise PromptError(
            f"The prompt has {count} words and punctuation marks; the limit is {MAX_PROMPT_WORDS}. "
            f"Shorten it: {SEED_WORDS} words are enough."
        )
    ids = vocab.encode(words)
    unknown_words = dict.fromkeys(w for w, i in zip(words, ids) if i == vocab.unk_id)  # in order, once
    unknown = {
        w: vocab.closest(w, SUGGESTIONS) if n < SUGGESTED_WORDS else [] for n, w in enumerate(unknown_words)
    }
    if all(i == vocab.unk_id or w == EOL for w, i in zip(words, ids)):
        raise PromptError(_no_known_words(unknown))
    return Prompt(words, ids, unknown)


def _no_known_words(unknown: dict[str, list[str]]) -> str:
    close = sorted({w for suggestions in unknown.values() for w in suggestions})
    hint = f" Close words it knows: {', '.join(close[:8])}." if close else ""
    words = [repr(w) for w in unknown]
    named = (f"The word {words[0]} is not" if len(words) == 1 else
             f"None of the words {', '.join(words[:5])}{f' (and {len(words) - 5} more)' if len(words) > 5 else ''} are")
    return (f"{named} in the model's vocabulary, so it has nothing to start from. Use words from the text it "
            f"was trained on.{hint}")
