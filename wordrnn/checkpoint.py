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

The files' names, and the checks they pass before they are trusted (pickles refused, JSON
measured before it is parsed, the card's pictures capped), are wordrnn/checkpoint_files.py's.
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

from wordrnn import card, hub, upload, weights
from wordrnn.checkpoint_files import (
    CARD, CARD_DATA, CONFIG, VOCAB, WEIGHTS, check_files, pictures, read_config, read_vocab, refuse_pickles,
)
from wordrnn.folders import atomic_folder
from wordrnn.errors import CheckpointError, HubError, HubUnreachable
from wordrnn.model import WordRNN
from wordrnn.vocab import Vocabulary

log = logging.getLogger(__name__)

PUSH_MESSAGE = "Upload wordrnn checkpoint"  # a push's commit message unless it is given one


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
                                        check=lambda files: check_files(f"Hub repo {name_or_path}", files))
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
    refuse_pickles(str(folder), [p.name for p in folder.iterdir()])
    config = read_config(folder / CONFIG)
    vocab = read_vocab(folder / VOCAB, config)
    state = weights.load(folder / WEIGHTS, config)  # checked against config before any allocation
    model = WordRNN(config)
    model.load_state_dict(state)  # strict: every tensor present, none extra
    model.eval()
    return Checkpoint(model, vocab, card.read(folder), pictures(folder))


def _looks_local(name: str) -> bool:
    """Whether a name that could be a repo id is surely meant as a path: "./x", "~/x",
    "a/b/c", or "runs/kjv" when a folder "runs" is here (no Hub owner is named like that)."""
    if name.startswith((".", "~", "/")) or "\\" in name or name.count("/") > 1:
        return True
    parent = Path(name).parent
    return parent != Path(".") and parent.is_dir()
