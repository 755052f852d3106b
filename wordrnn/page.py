"""What the app's page shows besides the model's text: its command line, the model panel, the
help under the prompt (its example prompts: wordrnn.examples). No Gradio here; the control ranges are in wordrnn.controls.

    settings(["--model", "owner/name"])      # the app's flags, then WORDRNN_* / GRADIO_SERVER_*
    prompt_info("and god saaid ", vocab, closest)  # ("**3 of 7 words** ...", [("saaid", "said"), ...])
"""

from __future__ import annotations

import argparse
import errno
import os
import random
import re
import socket
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from wordrnn.markdown import escape as md_escape
from wordrnn.prompt import MAX_PROMPT_CHARS, MAX_PROMPT_WORDS, SEED_WORDS, SUGGESTIONS
from wordrnn.source import Source
from wordrnn.detokenizer import Style, pieces
from wordrnn.tokenizer import EOL, fold, is_word, tokenize
from wordrnn.vocab import UNK, Vocabulary

__all__ = ["BANDS", "NEW_LINE", "SEED_WORDS", "Settings", "band", "chart", "check_port", "colors", "md_escape",
           "prompt_info", "replace_word", "seed_runs", "settings", "summary", "word", "word_runs"]


@dataclass(frozen=True)
class Settings:
    model: str | None
    revision: str | None
    host: str | None  # None: Gradio's own default (GRADIO_SERVER_NAME, else 127.0.0.1)
    port: int | None  # None: GRADIO_SERVER_PORT, else 7860


def settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Command line first, then WORDRNN_* / GRADIO_SERVER_* variables (what a Space can set).
    An unknown flag or a bad port exits with status 2 and the usage line (argparse)."""
    parser = _parser()
    args = parser.parse_args(argv)
    port = args.port
    if port is None and (environ.get("GRADIO_SERVER_PORT") or "").strip():
        try:  # checked as --port is, before the model loads
            port = _port(environ["GRADIO_SERVER_PORT"].strip())
        except argparse.ArgumentTypeError as err:
            parser.error(f"$GRADIO_SERVER_PORT {err}")
    return Settings(
        model=(args.model or environ.get("WORDRNN_MODEL") or "").strip() or None,
        revision=(args.revision or environ.get("WORDRNN_REVISION") or "").strip() or None,
        host=args.host or environ.get("GRADIO_SERVER_NAME") or None,
        port=port,
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python app.py", description="The wordrnn text generation app.")
    p.add_argument("--model", help="Hub repo id or checkpoint folder (default: $WORDRNN_MODEL, else the "
                   "embedded model, models/kjv-lstm)")
    p.add_argument("--revision", help="Hub branch, tag or commit sha (default: $WORDRNN_REVISION, else main)")
    p.add_argument("--host", help="address to listen on (default: $GRADIO_SERVER_NAME, else 127.0.0.1)")
    p.add_argument("--port", type=_port, help="port to listen on (default: $GRADIO_SERVER_PORT, else 7860)")
    return p


def check_port(chosen: Settings) -> None:
    """Exit as a bad flag does (status 2, one line) when another program listens on the chosen
    port; for the app once Gradio could not start, since Gradio tries a chosen port alone and
    names any failure "Cannot find empty port", in a traceback. Without a port it takes the
    first free one from 7860."""
    if chosen.port is not None and _in_use(chosen.host or "127.0.0.1", chosen.port):
        p = _parser()
        p.exit(2, f"{p.prog}: error: port {chosen.port} is already in use: pass another --port, "
                  "or neither --port nor $GRADIO_SERVER_PORT to take the first free port from 7860\n")


def _in_use(host: str, port: int) -> bool:
    host = host.strip("[]")  # "[::1]", as a URL writes it
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a closing port is free
        try:
            sock.bind((host, port))
        except OSError as err:  # any other failure (a host not on this machine) is Gradio's to report
            return err.errno == errno.EADDRINUSE
    return False


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 65535, got {text!r}")
    return int(text)


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


def seed_runs(words: list[str], unknown: Mapping[str, Any],
              style: Style | None = None) -> list[tuple[str, str]]:
    """The seed words as text, in runs labelled "seed" or "unknown"; together they are
    `detokenize(words, style)`, so the generated text can be appended after them."""
    runs: list[tuple[str, str]] = []
    for word, piece in zip(words, pieces(words, style)):
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
    # The page's box takes `limit` characters and drops the rest of a paste without a word.
    full = f" The box holds {limit:,} characters: the rest of a longer paste was left out."
    full = full if len(text) == limit else ""
    if len(text) > limit:
        return f"**Too long:** {len(text):,} characters; the limit is {limit:,}.", []
    words = tokenize(text, eol=EOL in vocab)
    words = words[:-1] if words and words[-1] == EOL else words  # as the prompt parser does
    tokens = sum(w != EOL for w in words)
    if tokens > MAX_PROMPT_WORDS:  # what Generate would refuse, said while typing, counted as it counts
        return (f"**Too long:** {tokens:,} words and punctuation marks; the limit is {MAX_PROMPT_WORDS}. "
                f"{SEED_WORDS} words are enough.{full}"), []
    unknown = list(dict.fromkeys(w for w in words if w not in vocab and w != EOL))
    if unknown and unknown[-1] == words[-1] and not text[-1:].isspace():
        unknown.pop()  # still being typed: no suggestion yet
    lines = [f"**{sum(map(is_word, words))} of {SEED_WORDS} words**{full}"]
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


NEW_LINE = "↵ (new line)"  # how a line break is named in the chart and the alternatives
# Probability bands for shading the text, most likely first: (lowest probability, label, colour).
BANDS = [(0.5, "50% or more", "#bbf7d0"), (0.1, "10-50%", "#fef9c3"), (0.01, "1-10%", "#fed7aa"),
         (0.0, "under 1%", "#fecaca")]


def colors(shade: bool) -> dict[str, str]:
    """The text's legend: the probability bands only while the text is shaded."""
    # "selected": a named colour, which Gradio adapts to dark mode, and no band's or the seed's hue
    return {"seed": "blue", "unknown": "red", "selected": "purple", **({b: c for _, b, c in BANDS} if shade else {})}


def band(probability: float) -> str:
    return next(label for low, label, _ in BANDS if probability >= low)


def word_runs(seed: list[str], unknown: Mapping[str, Any], words: list[str],
              probabilities: Sequence[float] | None = None, selected: int | None = None,
              style: Style | None = None) -> list[tuple[str, str | None]]:
    """The text as runs: the seed's (seed_runs), then one per generated word, labelled by its
    probability band when `probabilities` are given, "selected" for word `selected`. Together
    they are `detokenize(seed + words, style)`."""
    runs: list[tuple[str, str | None]] = list(seed_runs(seed, unknown, style))
    for i, piece in enumerate(pieces([*seed, *words], style)[len(seed) :]):  # each word's own piece of the text
        label = "selected" if i == selected else band(probabilities[i]) if probabilities is not None else None
        runs.append((piece, label))
    return runs


def word(label: Any) -> str:
    """A word as the model writes it (a token), from its name in the chart, in any case."""
    return EOL if label == NEW_LINE else fold(str(label))


def chart(pairs: Sequence[tuple[str, float]], style: Style | None = None) -> dict[str, float]:
    """Words and probabilities as the chart shows them (`shown`)."""
    return {shown(w, style): p for w, p in pairs}


def shown(token: str, style: Style | None = None) -> str:
    """A word as the page and the API name it: as the text writes it ("God"), a line break named.
    `word` reads it back."""
    return NEW_LINE if token == EOL else style.spellings.get(token, token) if style else token
