"""Text file -> checked words -> train/valid id streams, with errors that say what to do.

Without a validation file, every 20th block of 50 lines is held out (5%), so the validation
text comes from the whole book rather than only its end, and the same file always gives the same
split (shorter texts: their last 5% of lines, or of words when they have under 20 lines). Both streams are encoded with a vocabulary built from the training part only.
"""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from wordrnn import Vocabulary, tokenize
from wordrnn.style import described

from . import rules

log = logging.getLogger(__name__)

HOLDOUT_EVERY, HOLDOUT_BLOCK = 20, 50
GZIP_MAGIC = b"\x1f\x8b"


class DataError(ValueError):
    """The input text cannot be trained on; the message says why and what to do."""


@dataclass
class Corpus:
    vocab: Vocabulary
    train: torch.Tensor  # (N_train,) token ids
    valid: torch.Tensor  # (N_valid,) token ids
    min_count: int | None = None  # the vocabulary's cut (None: the vocabulary was given)
    chosen: list[str] = field(default_factory=list)  # what training.rules chose for it, and why


def read_text(path: str | Path, given: str = "with --text") -> str:
    """The contents of a UTF-8 text file (or a gzip-compressed one), refusing empty, binary and
    non-UTF-8 files. `given` is how the command takes the file ("with --valid"), for the message
    that asks for another: each command names the file its own way."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; pass a UTF-8 text file {given}")
    data = path.read_bytes()
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"{path} looks gzip-compressed but cannot be read ({err}); "
                            "check the file, or gunzip it first") from None
    if not data.strip():
        raise DataError(f"{path} is empty; pass a UTF-8 text file with some words in it")
    if b"\x00" in data[:65536]:
        raise DataError(f"{path} looks like a binary file (it contains NUL bytes); pass a plain UTF-8 text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path} is not UTF-8 text (byte {err.start}: {data[err.start:err.start + 1]!r}); "
            f"convert it first, e.g. `iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8.txt`"
        ) from None


def holdout_split(text: str) -> tuple[str, str]:
    """(train, valid) text: every HOLDOUT_EVERY-th block of HOLDOUT_BLOCK lines is held out.

    Shorter texts hold out their last 5% of lines, and texts of fewer than HOLDOUT_EVERY lines
    (one long line, a short poem) the last 5% of their words: a held-out line must never also
    be a training line.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) >= HOLDOUT_EVERY * HOLDOUT_BLOCK:
        blocks = [lines[i : i + HOLDOUT_BLOCK] for i in range(0, len(lines), HOLDOUT_BLOCK)]
        held = lambda i: i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1  # noqa: E731
        train = [line for i, b in enumerate(blocks) if not held(i) for line in b]
        valid = [line for i, b in enumerate(blocks) if held(i) for line in b]
        return "\n".join(train), "\n".join(valid)
    if len(lines) >= HOLDOUT_EVERY:
        cut = len(lines) - len(lines) // HOLDOUT_EVERY
        return "\n".join(lines[:cut]), "\n".join(lines[cut:])
    joined = "\n".join(lines)
    starts = [word.start() for word in re.finditer(r"\S+", joined)]
    cut = starts[len(starts) - max(1, len(starts) // HOLDOUT_EVERY)] if len(starts) > 1 else len(joined)
    return joined[:cut].rstrip(), joined[cut:]


def load_corpus(
    text_path: str | Path,
    valid_path: str | Path | None = None,
    min_count: int | None = None,
    max_vocab: int | None = None,
    vocab: Vocabulary | None = None,
) -> Corpus:
    """Read, split, build the vocabulary (unless given, e.g. when resuming; min_count None: by
    training.rules.min_count) and encode."""
    text = read_text(text_path)
    if valid_path is not None:
        train_text, valid_text = text, read_text(valid_path, given="with --valid")
    else:
        train_text, valid_text = holdout_split(text)
    train_words = tokenize(train_text)
    chosen, vocab_built = [], vocab is None
    if vocab_built:
        if min_count is None:
            min_count, why = rules.min_count(train_words, max_vocab)
            chosen.append(f"min-count {min_count} ({why})")
        # the style from all of the text, blank lines kept: they end paragraphs (and it scores nothing)
        vocab = Vocabulary.build(train_words, min_count=min_count, max_size=max_vocab, text=text)
        log.info("style: %s", described(vocab.style))
    train = torch.tensor(vocab.encode(train_words), dtype=torch.long)
    valid = torch.tensor(vocab.encode(tokenize(valid_text)), dtype=torch.long)
    log.info(
        "corpus: %s training tokens, %s validation tokens, vocabulary %s (unknown in valid: %.1f%%)",
        f"{train.numel():,}", f"{valid.numel():,}", f"{len(vocab):,}",
        100.0 * float((valid == vocab.unk_id).float().mean()) if valid.numel() else 0.0,
    )
    return Corpus(vocab, train, valid, min_count if vocab_built else None, chosen)


def check_size(corpus: Corpus, batch_size: int, world_size: int = 1) -> None:
    """Refuse a corpus too small to make one (B, 2) batch per process."""
    need = 2 * batch_size * world_size + 1
    if corpus.train.numel() < need:
        raise DataError(
            f"the training text has {corpus.train.numel()} tokens, too few for batch size "
            f"{batch_size} x {world_size} process(es) (at least {need} needed); "
            "use a longer text or a smaller --batch-size"
        )
    if corpus.valid.numel() < 2:
        raise DataError("the validation text has fewer than 2 tokens; use a longer --valid file")
