"""What the app's page shows besides the model's text: its command line, example prompts, the
model panel, the help under the prompt. No Gradio here; the control ranges are in wordrnn.controls.

    settings(["--model", "owner/name"])      # the app's flags, then WORDRNN_* / GRADIO_SERVER_*
    examples(vocab, info)                      # prompts of SEED_WORDS words the model knows
    prompt_info("and god saaid ", vocab, closest)  # ("**3 of 7 words** ...", [("saaid", "said"), ...])
"""

from __future__ import annotations

import argparse
import os
import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from wordrnn.prompt import MAX_PROMPT_CHARS, SEED_WORDS, SUGGESTIONS
from wordrnn.source import Source
from wordrnn.tokenizer import EOL, detokenize, pieces, tokenize
from wordrnn.vocab import UNK, Vocabulary

__all__ = ["KJV_EXAMPLES", "SEED_WORDS", "Settings", "examples", "held_out", "is_word", "md_escape",
           "prompt_info", "replace_word", "seed_runs", "settings", "summary", "word_runs", "BANDS", "NEW_LINE", "band", "chart", "colors", "word"]

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


@dataclass(frozen=True)
class Settings:
    model: str | None
    revision: str | None
    host: str | None  # None: Gradio's own default (GRADIO_SERVER_NAME, else 127.0.0.1)
    port: int | None  # None: GRADIO_SERVER_PORT, else 7860


def settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Command line first, then WORDRNN_* / GRADIO_SERVER_* variables (what a Space can set).
    An unknown flag or a bad port exits with status 2 and the usage line (argparse)."""
    p = argparse.ArgumentParser(prog="python app.py", description="The wordrnn text generation app.")
    p.add_argument("--model", help="Hub repo id or checkpoint folder (default: $WORDRNN_MODEL, else the "
                   "embedded model, models/kjv-lstm)")
    p.add_argument("--revision", help="Hub branch, tag or commit sha (default: $WORDRNN_REVISION, else main)")
    p.add_argument("--host", help="address to listen on (default: $GRADIO_SERVER_NAME, else 127.0.0.1)")
    p.add_argument("--port", type=_port, help="port to listen on (default: $GRADIO_SERVER_PORT, else 7860)")
    args = p.parse_args(argv)
    port = args.port or environ.get("GRADIO_SERVER_PORT")
    return Settings(
        model=(args.model or environ.get("WORDRNN_MODEL") or "").strip() or None,
        revision=(args.revision or environ.get("WORDRNN_REVISION") or "").strip() or None,
        host=args.host or environ.get("GRADIO_SERVER_NAME") or None,
        port=int(port) if port else None,
    )


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 65535, got {text!r}")
    return int(text)


def is_word(token: str) -> bool:
    """Whether a token is a word rather than a punctuation mark or a line break."""
    return token != EOL and any(c.isalnum() for c in token)


def _first_words(text: str, n: int = SEED_WORDS) -> list[str]:
    """The tokens of `text` up to its n-th word (punctuation marks in between kept)."""
    tokens: list[str] = []
    for token in tokenize(str(text), eol=False):
        if sum(map(is_word, tokens)) == n:
            break
        tokens.append(token)
    return tokens


def _known(texts: Sequence[Any], vocab: Vocabulary) -> list[str]:
    """Each text cut to SEED_WORDS words, as a person would type it, if the model knows them all."""
    chosen: list[str] = []
    for text in texts:
        words = _first_words(text)
        prompt = detokenize(words)  # "And god said, let there be light"
        if sum(map(is_word, words)) == SEED_WORDS and all(w in vocab for w in words) and prompt not in chosen:
            chosen.append(prompt)
    return chosen


def _common(vocab: Vocabulary, n: int) -> list[str]:
    """A model trained on something else entirely: runs of its most frequent words."""
    common = [w for w in vocab.tokens if w != UNK and is_word(w)]
    runs = [common[i : i + SEED_WORDS] for i in range(0, SEED_WORDS * n, SEED_WORDS)]
    return [detokenize(run) for run in runs if len(run) == SEED_WORDS]


def examples(vocab: Vocabulary, info: dict[str, Any], n: int = 5) -> list[str]:
    """Up to `n` prompts of SEED_WORDS words that the model knows every word of: the prompts of
    the samples on its card (`info`), then KJV verses; else runs of its own frequent words."""
    samples = info.get("samples") if isinstance(info.get("samples"), list) else []
    cards = [s.get("prompt", "") for s in samples if isinstance(s, dict)]
    return (_known([*cards, *KJV_EXAMPLES], vocab) or _common(vocab, n))[:n]


def held_out(vocab: Vocabulary, info: dict[str, Any]) -> list[str]:
    """Prompts for the fill button: held-out lines the checkpoint carries (`info["held_out"]`),
    else KJV test-split openings when the model knows them, else the examples."""
    lines = info.get("held_out") if isinstance(info.get("held_out"), list) else []
    return _known(lines, vocab) or _known(HELD_OUT_KJV, vocab) or examples(vocab, info)


def draw(prompts: Sequence[str], rng: random.Random | None = None) -> str:
    return (rng or random).choice(prompts) if prompts else ""


def summary(source: Source, device: Any) -> list[tuple[str, str]]:
    """Rows of the model panel: what is running, how big it is, how good it was on the card."""
    checkpoint = source.checkpoint
    metrics = checkpoint.info.get("metrics", {}) if isinstance(checkpoint.info, dict) else {}
    ppl = metrics.get("valid_perplexity") if isinstance(metrics, dict) else None
    return [
        ("Source", source.label),
        ("Vocabulary", f"{len(checkpoint.vocab):,} words"),
        ("Parameters", f"{checkpoint.model.num_parameters():,}"),
        ("Validation perplexity", f"{ppl:.1f}" if isinstance(ppl, (int, float)) else "not on the card"),
        ("Device", str(device)),
    ]


def seed_runs(words: list[str], unknown: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The seed words as text, in runs labelled "seed" or "unknown"; together they are
    `detokenize(words)`, so the generated text can be appended after them."""
    runs: list[tuple[str, str]] = []
    for word, piece in zip(words, pieces(words)):
        label = "unknown" if word in unknown else "seed"
        if runs and runs[-1][1] == label:
            runs[-1] = (runs[-1][0] + piece, label)
        else:
            runs.append((piece, label))
    return runs


def prompt_info(
    text: Any, vocab: Vocabulary, closest: Callable[[str], Sequence[str]], limit: int = MAX_PROMPT_CHARS
) -> tuple[str, list[tuple[str, str]]]:
    """Markdown under the prompt ("5 of 7 words", punctuation marks not counted, and the unknown
    words) and the suggested replacements as (unknown word, known word) pairs. No model call;
    `closest` should be cached (difflib is slow). Redone on each keystroke."""
    text = text if isinstance(text, str) else ""
    if len(text) > limit:
        return f"**Too long:** {len(text):,} characters; the limit is {limit:,}.", []
    words = tokenize(text, eol=EOL in vocab)
    words = words[:-1] if words and words[-1] == EOL else words  # as the prompt parser does
    unknown = list(dict.fromkeys(w for w in words if w not in vocab and w != EOL))
    if unknown and unknown[-1] == words[-1] and not text[-1:].isspace():
        unknown.pop()  # still being typed: no suggestion yet
    lines = [f"**{sum(map(is_word, words))} of {SEED_WORDS} words**"]
    pairs: list[tuple[str, str]] = []
    for word in unknown[:3]:  # suggestions take time: a few are enough to get the idea
        close = list(closest(word))[:SUGGESTIONS]
        pairs += [(word, c) for c in close]
        hint = "; click a suggestion below to replace it." if close else "."
        lines.append(f"`{word.replace('`', chr(39))}` is not in the vocabulary (read as `{UNK}`){hint}")
    return "  \n".join(lines), pairs


def replace_word(text: str, word: str, replacement: str) -> str:
    """`text` with each occurrence of the (lower-cased) token `word` replaced, in any case."""
    pattern = rf"(?<!\w){re.escape(word)}(?!\w)" if word[:1].isalnum() else re.escape(word)
    return re.sub(pattern, lambda _: replacement, text, flags=re.IGNORECASE)


def md_escape(text: str) -> str:
    """Plain text (a path, a repo id, a message) inside markdown."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


NEW_LINE = "↵ (new line)"  # how a line break is named in the chart and the alternatives
# Probability bands for shading the text, most likely first: (lowest probability, label, colour).
BANDS = [(0.5, "50% or more", "#bbf7d0"), (0.1, "10-50%", "#fef9c3"), (0.01, "1-10%", "#fed7aa"),
         (0.0, "under 1%", "#fecaca")]


def colors(shade: bool) -> dict[str, str]:
    """The text's legend: the probability bands only while the text is shaded."""
    return {"seed": "blue", "unknown": "red", "selected": "#93c5fd", **({b: c for _, b, c in BANDS} if shade else {})}


def band(probability: float) -> str:
    return next(label for low, label, _ in BANDS if probability >= low)


def word_runs(seed: list[str], unknown: Mapping[str, Any], words: list[str],
              probabilities: Sequence[float] | None = None, selected: int | None = None) -> list[tuple[str, str | None]]:
    """The text as runs: the seed's (seed_runs), then one per generated word, labelled by its
    probability band when `probabilities` are given, "selected" for word `selected`. Together
    they are `detokenize(seed + words)`."""
    runs: list[tuple[str, str | None]] = list(seed_runs(seed, unknown))
    for i, piece in enumerate(pieces([*seed, *words])[len(seed) :]):  # each word's own piece of the text
        label = "selected" if i == selected else band(probabilities[i]) if probabilities is not None else None
        runs.append((piece, label))
    return runs


def word(label: Any) -> str:
    """A word as the model writes it, from its name in the chart."""
    return EOL if label == NEW_LINE else str(label)


def chart(pairs: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Words and probabilities as the chart shows them (a line break named)."""
    return {(NEW_LINE if w == EOL else w): p for w, p in pairs}
