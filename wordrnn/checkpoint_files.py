"""A checkpoint folder's files: their names, and the checks they pass before they are trusted.

A checkpoint may come from anyone's Hub repo, so its files are read as a stranger's: a file list
with pickles and no safetensors is refused before anything is downloaded, and each JSON file is
measured before it is parsed. Kept apart from wordrnn/checkpoint.py, which builds the Checkpoint
from what these return, so that it reads as saving, loading and pushing; the weights are checked
by wordrnn/weights.py.
"""

from __future__ import annotations

import fnmatch
import json
import logging
from pathlib import Path
from typing import Any

from wordrnn import hub
from wordrnn.errors import CheckpointError
from wordrnn.model import MODEL_TYPE, ModelConfig
from wordrnn.vocab import Vocabulary

log = logging.getLogger("wordrnn.checkpoint")  # one logger for loading a checkpoint, to quiet or raise

CONFIG, WEIGHTS, VOCAB, CARD_DATA, CARD = "config.json", "model.safetensors", "vocab.json", "card.json", "README.md"
PICKLES = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl", "*.pickle")
# Bounds checked before a file is parsed, so a hostile repo cannot make loading take gigabytes: a
# config is a few hundred bytes; a vocabulary token (a word, its quotes, comma and count) a few
# dozen, so 4 KiB a token refuses only a file that cannot be the vocabulary config.json declares.
MAX_CONFIG_BYTES, VOCAB_BYTES_PER_TOKEN, VOCAB_SLACK_BYTES = 2**20, 4096, 2**20


def check_files(where: str, files: list[str]) -> None:
    """A Hub repo's file list, checked before anything is downloaded (a pickle never is)."""
    refuse_pickles(where, files)
    missing = [name for name in (CONFIG, WEIGHTS, VOCAB) if name not in files]
    if missing:
        raise CheckpointError(f"{where} has no {' or '.join(missing)}: it is not a wordrnn checkpoint, which "
                              f"needs {CONFIG}, {WEIGHTS} and {VOCAB}. Check the repo id and revision.")


def refuse_pickles(where: str, files: list[str]) -> None:
    if WEIGHTS in files:
        return
    pickles = sorted(name for name in files if any(fnmatch.fnmatch(name, pattern) for pattern in PICKLES))
    if pickles:
        raise CheckpointError(
            f"{where} holds {', '.join(pickles)} but no {WEIGHTS}. wordrnn never loads pickled "
            "weights: unpickling a file can run arbitrary code. Convert it to safetensors on a "
            "machine you trust, or ask its author for a model.safetensors."
        )


def read_config(path: Path) -> ModelConfig:
    data = _read_json(path, MAX_CONFIG_BYTES)
    if not isinstance(data, dict) or data.get("model_type") != MODEL_TYPE:
        kind = data.get("model_type", "unknown") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(
            f"{path} describes a {kind!r} model, not a wordrnn checkpoint "
            f"(expected \"model_type\": \"{MODEL_TYPE}\"); use a folder saved by wordrnn"
        )
    try:
        return ModelConfig.from_json(data)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path} is not a valid wordrnn config: {err}") from None


def read_vocab(path: Path, config: ModelConfig) -> Vocabulary:
    limit = VOCAB_SLACK_BYTES + VOCAB_BYTES_PER_TOKEN * config.vocab_size
    try:
        vocab = Vocabulary.from_json(_read_json(path, limit, f"for the vocab_size={config.vocab_size} of {CONFIG}"))
    except ValueError as err:
        raise CheckpointError(f"{path} is not a valid vocabulary: {err}") from None
    if len(vocab) != config.vocab_size:
        raise CheckpointError(
            f"{path} has {len(vocab)} tokens but config.json says vocab_size={config.vocab_size}: "
            "the vocabulary does not belong to these weights"
        )
    return vocab


def _read_json(path: Path, limit: int, why: str = "for a wordrnn checkpoint") -> Any:
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; a wordrnn checkpoint needs {CONFIG}, {WEIGHTS} and {VOCAB}")
    size = path.stat().st_size
    if size > limit:  # checked before reading: parsing takes many times the file's size
        raise CheckpointError(f"{path} is {size:,} bytes, too large {why} (at most {limit:,}): "
                              "it does not belong to this checkpoint")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:  # JSONDecodeError, or a number past Python's digit limit
        raise CheckpointError(f"{path} is not valid JSON ({err}); the file is truncated or corrupt") from None
    except RecursionError:  # [[[[...: valid JSON nested deeper than the parser's stack
        raise CheckpointError(f"{path} is nested too deeply to be a wordrnn file; it is corrupt or hostile") from None


def pictures(folder: Path) -> dict[str, bytes]:
    """The card's *.png pictures, as many and as large as hub.download fetches (they are held
    in memory); the rest are skipped with a warning."""
    pictures = sorted(p for p in folder.glob("*.png") if p.is_file())
    kept = [p for p in pictures if p.stat().st_size <= hub.MAX_PICTURE_BYTES][:hub.MAX_PICTURES]
    if len(kept) < len(pictures):
        log.warning("%s: skipped %d of its %d pictures (a checkpoint loads at most %d, of at most %d MiB each)",
                    folder, len(pictures) - len(kept), len(pictures), hub.MAX_PICTURES, hub.MAX_PICTURE_BYTES >> 20)
    return {p.name: p.read_bytes() for p in kept}
