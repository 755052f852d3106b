"""Example prompts a model knows every word of: those its card carries (a trained run writes
`examples` and `held_out` with `opening`), its samples' prompts, KJV verses for the default model,
else runs of its own most frequent words. The app's page offers them; a model card's "use"
snippet runs the first.

    examples(vocab, info)    # up to 5 prompts of SEED_WORDS words
    held_out(vocab, info)    # for the page's "fill" button: lines the model never trained on
    opening(tokens)          # a line's first SEED_WORDS words as a prompt, or None
"""

from __future__ import annotations

from typing import Any, Sequence

from wordrnn.prompt import SEED_WORDS
from wordrnn.detokenizer import detokenize
from wordrnn.tokenizer import EOL, is_word, tokenize
from wordrnn.vocab import UNK, Vocabulary

# Seed words in the style of the King James Bible, for the default model; a prompt is offered
# only when the loaded model knows every one of its words.
KJV_EXAMPLES = [
    "in the beginning god created the heaven",
    "and god said , let there be light",
    "the lord is my shepherd ; i shall",
    "blessed are the poor in spirit : for",
    "for god so loved the world , that",
    "and it came to pass , when he",
]
# Openings of KJV test-split verses (`python -m training.corpus kjv`), which the default model never
# trained on: the "fill" button's draws when the checkpoint carries no held-out lines of its own.
HELD_OUT_KJV = """and he rose up that night , and|and moses and aaron said unto all
and unto the children of israel thou|rise ye up , take your journey , and|and she made him sleep upon her
and the princes of the philistines were|and he brought also the brasen altar|oh that i might have my request
i will go in the strength of|o how love i thy law ! it|before i formed thee in the belly
because it is a trial , and what|then shall they deliver you up to|and saying , if thou be the king
therefore did my heart rejoice , and my|in the day when god shall judge|thou madest him a little lower than
and the ten horns which thou sawest|and thou , child , shalt be called the""".replace("\n", "|").split("|")


MAX_MARKS = 3  # punctuation marks a prompt may hold between its words ("~ ~ ~ ~ a" is no prompt)


def _first_words(text: str, n: int = SEED_WORDS) -> list[str]:
    """The tokens of `text` up to its n-th word (punctuation marks in between kept)."""
    tokens: list[str] = []
    for token in tokenize(str(text), eol=False):
        if sum(map(is_word, tokens)) == n:
            break
        tokens.append(token)
    return tokens


def opening(tokens: Sequence[str]) -> str | None:
    """The tokens of a line up to its SEED_WORDS-th word, space-joined as sample prompts are
    ("and god said , let there be light"), when they make a prompt a person would type: it
    starts with a word and holds no `<unk>` and at most MAX_MARKS punctuation marks. Else None."""
    chosen: list[str] = []
    for token in tokens:
        if sum(map(is_word, chosen)) == SEED_WORDS or token == EOL:
            break
        chosen.append(token)
    words = sum(map(is_word, chosen))
    if words < SEED_WORDS or not is_word(chosen[0]) or UNK in chosen or len(chosen) - words > MAX_MARKS:
        return None
    if chosen[1] in (")", ".") and len(chosen[0]) == 1 or chosen[0].isdecimal() or not _balanced(chosen):
        return None  # a list item's marker ("b) convey", "2. the"), or a bracket it does not open and close
    return " ".join(chosen)


def _balanced(tokens: Sequence[str]) -> bool:
    """Every bracket closed after it is opened, and none left open."""
    depth = 0
    for token in tokens:
        depth += (token in {"(", "[", "{"}) - (token in {")", "]", "}"})
        if depth < 0:
            return False
    return depth == 0


def _known(texts: Sequence[Any], vocab: Vocabulary) -> list[str]:
    """Each text cut to SEED_WORDS words, as a person would type it, if the model knows them all."""
    chosen: list[str] = []
    for text in texts:
        words = _first_words(text)
        prompt = detokenize(words, vocab.style)  # "And God said, let there be light"
        if sum(map(is_word, words)) == SEED_WORDS and all(w in vocab for w in words) and prompt not in chosen:
            chosen.append(prompt)
    return chosen


def _common(vocab: Vocabulary, n: int) -> list[str]:
    """A model trained on something else entirely: runs of its most frequent words."""
    common = [w for w in vocab.tokens if w != UNK and is_word(w)]
    runs = [common[i : i + SEED_WORDS] for i in range(0, SEED_WORDS * n, SEED_WORDS)]
    return [detokenize(run, vocab.style) for run in runs if len(run) == SEED_WORDS]


def examples(vocab: Vocabulary, info: dict[str, Any], n: int = 5) -> list[str]:
    """Up to `n` prompts of SEED_WORDS words that the model knows every word of: its card's
    (`info`) examples, the prompts of its samples, then KJV verses; else runs of its own
    frequent words."""
    listed = info.get("examples") if isinstance(info.get("examples"), list) else []
    samples = info.get("samples") if isinstance(info.get("samples"), list) else []
    cards = [s.get("prompt", "") for s in samples if isinstance(s, dict)]
    return (_known([*listed, *cards, *KJV_EXAMPLES], vocab) or _common(vocab, n))[:n]


def held_out(vocab: Vocabulary, info: dict[str, Any]) -> list[str]:
    """Prompts for the fill button: held-out lines the checkpoint carries (`info["held_out"]`),
    else KJV test-split openings when the model knows them, else the examples."""
    lines = info.get("held_out") if isinstance(info.get("held_out"), list) else []
    return _known(lines, vocab) or _known(HELD_OUT_KJV, vocab) or examples(vocab, info)
