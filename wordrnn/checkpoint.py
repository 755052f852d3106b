"""A checkpoint: model weights, config, vocabulary and model card, always together.

On disk and on the Hub it is one folder:

    config.json        ModelConfig as JSON, with "model_type": "wordrnn-lstm"
    model.safetensors  the weights (never a pickle), float32 or float16
    vocab.json         the vocabulary, ids in order
    README.md          the model card with YAML metadata (metrics, training settings)
    *.png              optional pictures for the card (e.g. the loss curve)

    checkpoint = Checkpoint(model, vocab, info={"metrics": {...}})
    checkpoint.save_pretrained("runs/kjv")           # atomic: write aside, then rename
    checkpoint = Checkpoint.from_pretrained("runs/kjv")  # or a Hub repo id, with revision=
    checkpoint.push_to_hub("me/wordrnn-kjv")         # one commit with every file
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from wordrnn import card, hub, weights
from wordrnn.folders import atomic_folder
from wordrnn.errors import CheckpointError, HubError
from wordrnn.model import MODEL_TYPE, ModelConfig, WordRNN
from wordrnn.vocab import Vocabulary

log = logging.getLogger(__name__)

CONFIG, WEIGHTS, VOCAB, CARD = "config.json", "model.safetensors", "vocab.json", "README.md"
PICKLES = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl", "*.pickle")


@dataclass
class Checkpoint:
    model: WordRNN
    vocab: Vocabulary
    info: dict[str, Any] = field(default_factory=dict)  # metrics, training, samples, ...
    assets: dict[str, bytes] = field(default_factory=dict)  # *.png card pictures, e.g. loss_curve.png
    source: str = ""  # where it was loaded from, for display

    def __post_init__(self) -> None:
        if len(self.vocab) != self.model.config.vocab_size:
            raise CheckpointError(
                f"the vocabulary has {len(self.vocab)} tokens but the model expects "
                f"{self.model.config.vocab_size}"
            )

    def save_pretrained(self, folder: str | Path, dtype: torch.dtype = torch.float32) -> Path:
        """Write the checkpoint folder atomically: a reader sees the old or the new one, whole."""
        with atomic_folder(folder) as tmp:
            self.write(tmp, dtype)
        return Path(folder)

    def write(self, folder: Path, dtype: torch.dtype = torch.float32) -> None:
        """Write the files into an existing folder (not atomic; `save` is)."""
        bad = [n for n in self.assets if Path(n).name != n or not n.endswith(".png")]
        if bad:  # a name like "../x.png" or "model.safetensors" would escape or overwrite files
            raise CheckpointError(f"asset names must be plain *.png file names (card pictures), got {bad}")
        config = self.model.config.to_json()
        (folder / CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        weights.save(self.model, folder / WEIGHTS, dtype)
        self.vocab.save(folder / VOCAB)
        for name, data in self.assets.items():
            (folder / name).write_bytes(data)
        info = {**self.info, "images": sorted(n for n in self.assets if n.endswith(".png"))}
        text = card.render(config, len(self.vocab), self.model.num_parameters(), info)
        (folder / CARD).write_text(text, encoding="utf-8")

    def push_to_hub(
        self, repo_id: str, *, private: bool = False, token: str | None = None,
        commit_message: str = "Upload wordrnn checkpoint",
    ) -> str:
        """Upload every file to the Hub repo `repo_id` in one commit; returns the commit URL.

        When the Hub refuses, the files stay in a temporary folder: the HubError's retry command
        (`python -m wordrnn.push FOLDER REPO`) names it.
        """
        tmp = Path(tempfile.mkdtemp(prefix="wordrnn-push-"))
        try:
            self.write(tmp)
            url = hub.upload(tmp, repo_id, token=token, private=private, message=commit_message)
        except HubError:
            log.warning("the checkpoint files are kept in %s for a retry", tmp)
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        return url

    @classmethod
    def from_pretrained(
        cls, source: str | Path, revision: str | None = None, prefer_cache: bool = False,
    ) -> "Checkpoint":
        """Load from a local folder, or from a Hub repo id at `revision` (branch, tag, sha)."""
        path = Path(source).expanduser()
        if path.is_dir():
            label = str(path)
        elif hub.is_repo_id(str(source)) and not path.exists():
            path = hub.download(str(source), revision, prefer_cache=prefer_cache)
            label = f"{source}@{revision}" if revision else str(source)
        else:
            raise CheckpointError(
                f"{source} is neither a checkpoint folder nor a Hub repo id (owner/name)"
            )
        checkpoint = read_folder(path)
        checkpoint.source = label
        return checkpoint


def read_folder(folder: Path) -> Checkpoint:
    """Validate and read a checkpoint folder; every problem names the file at fault."""
    _refuse_pickles(folder)
    config = _read_config(folder / CONFIG)
    vocab = _read_vocab(folder / VOCAB, config)
    state = weights.load(folder / WEIGHTS, config)  # checked against config before any allocation
    model = WordRNN(config)
    model.load_state_dict(state)  # strict: every tensor present, none extra
    model.eval()
    info = card.read_info(folder / CARD)
    assets = {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}
    return Checkpoint(model, vocab, info, assets)


def _refuse_pickles(folder: Path) -> None:
    if (folder / WEIGHTS).exists():
        return
    pickles = sorted(p.name for pattern in PICKLES for p in folder.glob(pattern))
    if pickles:
        raise CheckpointError(
            f"{folder} holds {', '.join(pickles)} but no {WEIGHTS}. wordrnn never loads pickled "
            "weights: unpickling a file can run arbitrary code. Convert it to safetensors on a "
            "machine you trust, or ask its author for a model.safetensors."
        )


def _read_config(path: Path) -> ModelConfig:
    data = _read_json(path)
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


def _read_vocab(path: Path, config: ModelConfig) -> Vocabulary:
    try:
        vocab = Vocabulary.from_json(_read_json(path))
    except ValueError as err:
        raise CheckpointError(f"{path} is not a valid vocabulary: {err}") from None
    if len(vocab) != config.vocab_size:
        raise CheckpointError(
            f"{path} has {len(vocab)} tokens but config.json says vocab_size={config.vocab_size}: "
            "the vocabulary does not belong to these weights"
        )
    return vocab


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; a wordrnn checkpoint needs {CONFIG}, {WEIGHTS} and {VOCAB}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}); the file is truncated or corrupt") from None
