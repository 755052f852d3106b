"""A checkpoint: model weights, config, vocabulary and model card, always together.

On disk and on the Hub it is one folder:

    config.json        ModelConfig as JSON, with "model_type": "wordrnn-lstm"
    model.safetensors  the weights (never a pickle), float32 or float16
    vocab.json         the vocabulary, ids in order
    card.json          the card's data: metrics, training settings, samples
    README.md          the model card: Hub metadata (model-index, license, ...) and prose
    *.png              optional pictures for the card (e.g. the loss curve)

    checkpoint = Checkpoint(model, vocab, info={"metrics": {...}})
    checkpoint.save_pretrained("runs/kjv")                 # atomic: write aside, then rename
    checkpoint = Checkpoint.from_pretrained("runs/kjv")    # or a Hub repo id, revision=...
    checkpoint.push_to_hub("me/wordrnn-kjv")               # one commit with every file
"""

from __future__ import annotations

import fnmatch
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from wordrnn import card, hub, upload, weights
from wordrnn.folders import atomic_folder
from wordrnn.errors import CheckpointError, HubError, HubUnreachable
from wordrnn.model import MODEL_TYPE, ModelConfig, WordRNN
from wordrnn.vocab import Vocabulary

log = logging.getLogger(__name__)

CONFIG, WEIGHTS, VOCAB, CARD_DATA, CARD = "config.json", "model.safetensors", "vocab.json", "card.json", "README.md"
PUSH_MESSAGE = "Upload wordrnn checkpoint"  # a push's commit message unless it is given one
PICKLES = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl", "*.pickle")
# Bounds checked before a file is parsed, so a hostile repo cannot make loading take gigabytes: a
# config is a few hundred bytes; a vocabulary token (a word, its quotes, comma and count) a few
# dozen, so 4 KiB a token refuses only a file that cannot be the vocabulary config.json declares.
MAX_CONFIG_BYTES, VOCAB_BYTES_PER_TOKEN, VOCAB_SLACK_BYTES = 2**20, 4096, 2**20


@dataclass
class Checkpoint:
    model: WordRNN
    vocab: Vocabulary
    info: dict[str, Any] = field(default_factory=dict)  # metrics, training, samples, ... (card.json)
    assets: dict[str, bytes] = field(default_factory=dict)  # *.png card pictures, e.g. loss_curve.png
    name_or_path: str = ""  # what from_pretrained was given: a folder, or "owner/name[@revision]"
    commit: str = ""  # the Hub commit (40 hex) the files came from; "" for a folder

    def __post_init__(self) -> None:
        if len(self.vocab) != self.model.config.vocab_size:
            raise CheckpointError(
                f"the vocabulary has {len(self.vocab)} tokens but the model expects "
                f"{self.model.config.vocab_size}"
            )

    @classmethod
    def from_pretrained(
        cls, repo_id_or_folder: str | Path, *, revision: str | None = None, token: str | bool | None = None,
        cache_dir: str | Path | None = None, force_download: bool = False, local_files_only: bool = False,
    ) -> "Checkpoint":
        """Load a checkpoint folder, or the Hub repo `owner/name` at `revision` (branch, tag, sha).

        A name that exists as a folder is the folder; one that looks like a path ("./x", "a/b/c",
        "runs/x" beside a folder "runs") but is no folder is a mistake, not a repo id.
        """
        path = Path(repo_id_or_folder).expanduser()
        name = str(repo_id_or_folder)  # messages quote it as typed ("./x", not "x")
        commit = ""
        if path.is_dir():
            if revision:
                log.warning("revision %s is ignored: %s is a local folder", revision, name)
            if not (path / CONFIG).exists() and (path / "model" / CONFIG).is_file():  # training's layout
                raise CheckpointError(f"{name} is a training run folder: its checkpoint is "
                                      f"{Path(name) / 'model'}; pass that folder instead")
            folder, name_or_path = path, str(path)
        elif hub.is_repo_id(name) and not _looks_local(name):
            name_or_path = hub.label(name, revision)
            try:
                snapshot = hub.download(name, revision, token=token, cache_dir=cache_dir,
                                        force_download=force_download, local_files_only=local_files_only,
                                        check=lambda files: _check_files(f"Hub repo {name_or_path}", files))
            except HubUnreachable as err:  # say both: it may have been meant as a folder
                raise HubUnreachable(f"there is no checkpoint folder at {name}, and {err}") from None
            folder, commit = snapshot.folder, snapshot.commit
        else:
            raise CheckpointError(
                f"there is no checkpoint folder at {name}. Pass an existing folder (one with {CONFIG}, "
                f"{WEIGHTS} and {VOCAB}) or a Hub repo id such as owner/name."
            )
        checkpoint = _read_folder(folder)
        checkpoint.name_or_path, checkpoint.commit = name_or_path, commit
        return checkpoint

    def save_pretrained(self, folder: str | Path, *, dtype: torch.dtype = torch.float32) -> Path:
        """Write the checkpoint folder atomically: a reader sees the old or the new one, whole."""
        folder = Path(folder)
        with atomic_folder(folder) as tmp:
            self._write(tmp, dtype, name=self.info.get("repo_id") or folder.name)
        return folder

    def push_to_hub(
        self, repo_id: str, *, private: bool | None = None, token: str | None = None,
        commit_message: str = PUSH_MESSAGE,
    ) -> str:
        """Upload every file to the Hub repo `repo_id` in one commit; returns the commit URL.

        When the Hub refuses, the files stay in a temporary folder: the HubError's retry command
        (`wordrnn-push FOLDER REPO`) names it.
        """
        tmp = Path(tempfile.mkdtemp(prefix="wordrnn-push-"))
        retry = upload.retry_command("wordrnn.push", str(tmp), repo_id, private=bool(private), message=commit_message,
                                     default_message=PUSH_MESSAGE, script="wordrnn-push")
        try:
            published = Checkpoint(self.model, self.vocab, {**self.info, "repo_id": repo_id}, self.assets)
            published._write(tmp, torch.float32, name=repo_id)
            url = upload.upload(upload.checkpoint_files(tmp), repo_id, retry=retry, private=private, token=token,
                                commit_message=commit_message)
        except HubError:
            log.warning("the checkpoint files are kept in %s for a retry", tmp)
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        return url

    def card(self, name: str) -> str:
        """The model card (README.md), its "use" snippet loading `name`: the Hub repo id
        (info["repo_id"], set by push_to_hub) or else the folder's name."""
        info = {**self.info, "images": sorted(self.assets)}
        return card.render(self.model.config.to_json(), self.vocab, self.model.num_parameters(), info, name)

    def _write(self, folder: Path, dtype: torch.dtype, name: str) -> None:
        """Write the files into an existing folder (not atomic; save_pretrained is)."""
        bad = [n for n in self.assets if Path(n).name != n or not n.endswith(".png")]
        if bad:  # a name like "../x.png" or "model.safetensors" would escape or overwrite files
            raise CheckpointError(f"asset names must be plain *.png file names (card pictures), got {bad}")
        config = self.model.config.to_json()
        (folder / CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        weights.save(self.model, folder / WEIGHTS, dtype)
        self.vocab.save(folder / VOCAB)
        for asset, data in self.assets.items():
            (folder / asset).write_bytes(data)
        (folder / CARD_DATA).write_text(card.data(self.info), encoding="utf-8")
        (folder / CARD).write_text(self.card(name), encoding="utf-8")


def _read_folder(folder: Path) -> Checkpoint:
    """Validate and read a checkpoint folder; every problem names the file at fault."""
    _refuse_pickles(str(folder), [p.name for p in folder.iterdir()])
    config = _read_config(folder / CONFIG)
    vocab = _read_vocab(folder / VOCAB, config)
    state = weights.load(folder / WEIGHTS, config)  # checked against config before any allocation
    model = WordRNN(config)
    model.load_state_dict(state)  # strict: every tensor present, none extra
    model.eval()
    return Checkpoint(model, vocab, card.read(folder), _pictures(folder))


def _pictures(folder: Path) -> dict[str, bytes]:
    """The card's *.png pictures, as many and as large as hub.download fetches (they are held
    in memory); the rest are skipped with a warning."""
    pictures = sorted(p for p in folder.glob("*.png") if p.is_file())
    kept = [p for p in pictures if p.stat().st_size <= hub.MAX_PICTURE_BYTES][:hub.MAX_PICTURES]
    if len(kept) < len(pictures):
        log.warning("%s: skipped %d of its %d pictures (a checkpoint loads at most %d, of at most %d MiB each)",
                    folder, len(pictures) - len(kept), len(pictures), hub.MAX_PICTURES, hub.MAX_PICTURE_BYTES >> 20)
    return {p.name: p.read_bytes() for p in kept}


def _looks_local(name: str) -> bool:
    """Whether a name that could be a repo id is surely meant as a path: "./x", "~/x",
    "a/b/c", or "runs/kjv" when a folder "runs" is here (no Hub owner is named like that)."""
    if name.startswith((".", "~", "/")) or "\\" in name or name.count("/") > 1:
        return True
    parent = Path(name).parent
    return parent != Path(".") and parent.is_dir()


def _check_files(where: str, files: list[str]) -> None:
    """A Hub repo's file list, checked before anything is downloaded (a pickle never is)."""
    _refuse_pickles(where, files)
    missing = [name for name in (CONFIG, WEIGHTS, VOCAB) if name not in files]
    if missing:
        raise CheckpointError(f"{where} has no {' or '.join(missing)}: it is not a wordrnn checkpoint, which "
                              f"needs {CONFIG}, {WEIGHTS} and {VOCAB}. Check the repo id and revision.")


def _refuse_pickles(where: str, files: list[str]) -> None:
    if WEIGHTS in files:
        return
    pickles = sorted(name for name in files if any(fnmatch.fnmatch(name, pattern) for pattern in PICKLES))
    if pickles:
        raise CheckpointError(
            f"{where} holds {', '.join(pickles)} but no {WEIGHTS}. wordrnn never loads pickled "
            "weights: unpickling a file can run arbitrary code. Convert it to safetensors on a "
            "machine you trust, or ask its author for a model.safetensors."
        )


def _read_config(path: Path) -> ModelConfig:
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


def _read_vocab(path: Path, config: ModelConfig) -> Vocabulary:
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
