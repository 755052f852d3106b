"""Which checkpoint to load, decided once for the app, the generate CLI, training's release
step and the benchmarks.

    source = resolve()                                   # the embedded default (models/kjv-lstm)
    source = resolve("runs/kjv")                         # a local checkpoint folder
    source = resolve("owner/wordrnn-kjv", "v1")          # a Hub repo at a branch, tag or sha
    source.checkpoint, source.label, source.notice

A Hub model is read from the local cache when it is there (no request at all: a Space restarts
fast and an offline laptop still works), downloaded otherwise. With `fallback` (the app), a Hub
that cannot be reached while nothing is cached gives the embedded default with a notice rather
than no model at all: visitors get a working demo, the host sees why it is not the model asked
for. A Hub that answers but refuses (wrong name, revision or token) and a missing local folder
are mistakes to fix, so they raise CheckpointError with a message that says what to do.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from wordrnn import hub
from wordrnn.checkpoint import Checkpoint
from wordrnn.errors import CheckpointError, HubUnreachable
from wordrnn.prompt import SEED_WORDS
from wordrnn.tokenizer import EOL, detokenize, tokenize
from wordrnn.vocab import UNK, Vocabulary

log = logging.getLogger(__name__)

# The embedded default model: models/kjv-lstm in a checkout; an installed wheel carries the same
# folder as package data, wordrnn/models/kjv-lstm.
_CHECKOUT_MODEL = Path(__file__).resolve().parents[1] / "models" / "kjv-lstm"
DEFAULT_MODEL = _CHECKOUT_MODEL if _CHECKOUT_MODEL.is_dir() else Path(__file__).resolve().parent / "models" / "kjv-lstm"

# Seed words in the style of the King James Bible, for the default model; a prompt is offered
# only when the loaded model knows every one of its words.
KJV_EXAMPLES = [
    "in the beginning god created the heaven",
    "and god said , let there be",
    "the lord is my shepherd ; i",
    "blessed are the poor in spirit :",
    "for god so loved the world ,",
    "and it came to pass , when",
    "vanity of vanities , saith the preacher",
]


@dataclass(frozen=True)
class Source:
    checkpoint: Checkpoint
    label: str  # for the model panel: "owner/name@revision", a folder, or "embedded (...)"
    notice: str = ""  # why this is not the model that was asked for; "" when it is
    embedded: bool = False


@dataclass(frozen=True)
class Settings:
    model: str | None
    revision: str | None
    host: str | None  # None: Gradio's own default (GRADIO_SERVER_NAME, else 127.0.0.1)
    port: int | None  # None: GRADIO_SERVER_PORT, else 7860


def settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Command line first, then WORDRNN_* / GRADIO_SERVER_* variables (what a Space can set)."""
    p = argparse.ArgumentParser(prog="python app.py", description="The wordrnn text generation app.")
    p.add_argument("--model", help="Hub repo id or checkpoint folder (env WORDRNN_MODEL; default: embedded model)")
    p.add_argument("--revision", help="Hub branch, tag or commit sha (env WORDRNN_REVISION)")
    p.add_argument("--host", help="address to listen on (env GRADIO_SERVER_NAME; default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (env GRADIO_SERVER_PORT; default 7860)")
    # parse_known_args: tools that import app.py (gradio's reload mode, Spaces) pass their own flags.
    args, _ = p.parse_known_args(argv)
    port = args.port or environ.get("GRADIO_SERVER_PORT")
    return Settings(
        model=(args.model or environ.get("WORDRNN_MODEL") or "").strip() or None,
        revision=(args.revision or environ.get("WORDRNN_REVISION") or "").strip() or None,
        host=args.host or environ.get("GRADIO_SERVER_NAME") or None,
        port=int(port) if port else None,
    )


def resolve(
    model: str | None = None, revision: str | None = None, *, fallback: bool = True,
    default: Path | None = None,
) -> Source:
    """The checkpoint named by `model` (a folder or a Hub repo id; None: the embedded default),
    on the CPU. `fallback=False` raises HubUnreachable where the app would fall back."""
    default = DEFAULT_MODEL if default is None else default
    if not model:
        return Source(_embedded(default), f"embedded ({_short(default)})", embedded=True)
    try:
        try:  # a Hub repo in the cache needs no request; a folder is read as it is
            checkpoint = Checkpoint.from_pretrained(model, revision=revision, local_files_only=True)
        except HubUnreachable:  # not cached yet
            checkpoint = Checkpoint.from_pretrained(model, revision=revision)
        return Source(checkpoint, checkpoint.name_or_path)
    except HubUnreachable as err:
        # Only a Hub that did not answer falls back; one that said no (no such repo or
        # revision, no access) is the host's to fix, so that HubError propagates.
        if not fallback:
            raise
        reason = str(err).rstrip(".")
    try:
        checkpoint = _embedded(default)
    except CheckpointError as err:
        raise CheckpointError(f"{reason}. The embedded fallback is not available either: {err}") from None
    log.warning("%s; falling back to the embedded default model", reason)
    name = hub.label(model, revision)
    notice = (
        f"The Hub ({hub.endpoint()}) cannot be reached and {name} is not in the local cache, so "
        f"this app is running the embedded default model instead. Restart it when the network is "
        f"back to serve {name}."
    )
    return Source(checkpoint, f"embedded ({_short(default)})", notice, embedded=True)


def _embedded(folder: Path) -> Checkpoint:
    if not (folder / "config.json").is_file():
        raise CheckpointError(
            f"the embedded default model is missing at {folder}. Train one and copy its "
            f"checkpoint folder there (see the README), or name another model: "
            "--model OWNER/NAME or --model FOLDER (the app also reads WORDRNN_MODEL)."
        )
    return Checkpoint.from_pretrained(folder)


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def examples(vocab: Vocabulary, info: dict[str, Any], n: int = 5) -> list[str]:
    """Up to `n` prompts of SEED_WORDS words that the model knows every word of: the prompts of
    the samples on its card (`info`), then KJV verses; else runs of its own frequent words."""
    samples = info.get("samples") if isinstance(info.get("samples"), list) else []
    candidates = [s.get("prompt", "") for s in samples if isinstance(s, dict)]
    chosen: list[str] = []
    for text in [*candidates, *KJV_EXAMPLES]:
        words = tokenize(str(text), eol=False)[:SEED_WORDS]
        prompt = detokenize(words)  # as a person would type it: "And god said, let there be"
        if len(words) == SEED_WORDS and all(w in vocab for w in words) and prompt not in chosen:
            chosen.append(prompt)
    if not chosen:  # a model trained on something else entirely: runs of its most frequent words
        common = [w for w in vocab.tokens if w not in (EOL, UNK) and any(c.isalnum() for c in w)]
        runs = [common[i : i + SEED_WORDS] for i in range(0, SEED_WORDS * n, SEED_WORDS)]
        chosen = [detokenize(run) for run in runs if len(run) == SEED_WORDS]
    return chosen[:n]


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


# ---------------------------------------------------------------- helpers of the app's handlers


def clamp(value: Any, low: float, high: float, default: Any, integer: bool = True) -> Any:
    """`value` clamped to [low, high] (rounded if `integer`); `default` when it is no number.
    API callers can send anything for a slider: strings, booleans, null, NaN, 1e308."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    if number != number:  # NaN
        return default
    number = min(high, max(low, number))
    return int(round(number)) if integer else number


def seed_runs(words: list[str], unknown: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The seed words as text, in runs labelled "seed" or "unknown"; together they are
    `detokenize(words)`, so the generated text can be appended after them."""
    runs: list[tuple[str, str]] = []
    done = ""
    for i, word in enumerate(words):
        text = detokenize(words[: i + 1])  # detokenize only appends: each prefix is final
        label = "unknown" if word in unknown else "seed"
        piece, done = text[len(done) :], text
        if runs and runs[-1][1] == label:
            runs[-1] = (runs[-1][0] + piece, label)
        else:
            runs.append((piece, label))
    return runs


def prompt_info(text: Any, vocab: Vocabulary, closest: Callable[[str], Sequence[str]], limit: int) -> str:
    """Markdown under the prompt, redone on each keystroke: "5 of 7 words" and the unknown words
    with the closest known ones. No model call; `closest` should be cached (difflib is slow)."""
    text = text if isinstance(text, str) else ""
    if len(text) > limit:
        return f"**Too long:** {len(text):,} characters; the limit is {limit:,}."
    words = tokenize(text, eol=EOL in vocab)
    words = words[:-1] if words and words[-1] == EOL else words  # as the prompt parser does
    unknown = list(dict.fromkeys(w for w in words if w not in vocab and w != EOL))
    if unknown and unknown[-1] == words[-1] and not text[-1:].isspace():
        unknown.pop()  # still being typed: no suggestion yet
    lines = [f"**{len(words)} of {SEED_WORDS} words**"]
    for word in unknown[:5]:  # suggestions take time: a few are enough to get the idea
        close = ", ".join(f"`{w}`" for w in closest(word)[:3])
        hint = f"; did you mean {close}?" if close else "."
        lines.append(f"`{word.replace('`', chr(39))}` is not in the vocabulary (read as `{UNK}`){hint}")
    return "  \n".join(lines)


def md_escape(text: str) -> str:
    """Plain text (a path, a repo id, a message) inside markdown."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)
