"""Where the app's model comes from (what the page says about it: wordrnn/page.py).

    source = resolve()                                   # the embedded default (models/kjv-lstm)
    source = resolve("runs/kjv")                         # a local checkpoint folder
    source = resolve("owner/wordrnn-kjv", "v1")          # a Hub repo at a branch, tag or sha
    source.checkpoint, source.label, source.notice

A Hub model is read from the local cache when it is there (no request at all: a Space restarts
fast and an offline laptop still works), downloaded otherwise. When the Hub cannot be reached and
nothing is cached, the app starts on the embedded default with a notice rather than not at all:
visitors get a working demo, the host sees why it is not the model they asked for. A Hub that
answers but refuses (wrong name, revision or token) and a missing local folder are the host's
mistakes to fix, so they stop the start-up with a message that says what to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from wordrnn import hub
from wordrnn.checkpoint import Checkpoint
from wordrnn.errors import CheckpointError, HubUnreachable
from wordrnn.generate import DEFAULT_MODEL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    checkpoint: Checkpoint
    label: str  # for the model panel: "owner/name@revision", a folder, or "embedded (...)"
    notice: str = ""  # why this is not the model that was asked for; "" when it is
    embedded: bool = False


def resolve(model: str | None = None, revision: str | None = None, default: Path = DEFAULT_MODEL) -> Source:
    """Load the checkpoint the app should serve (on the CPU; the Generator moves it).

    Raises CheckpointError with a message for the host when there is nothing sensible to serve.
    """
    if not model:
        return Source(_embedded(default), f"embedded ({_short(default)})", embedded=True)
    path = Path(model).expanduser()
    if path.is_dir():
        if revision:
            log.warning("--revision %s is ignored: %s is a local folder", revision, model)
        return Source(Checkpoint.from_pretrained(path), str(path))
    if not hub.is_repo_id(model) or _looks_local(model):
        raise CheckpointError(
            f"there is no checkpoint folder at {path}. Pass an existing folder (one with config.json, "
            "model.safetensors and vocab.json) or a Hub repo id such as owner/name."
        )
    name = f"{model}@{revision}" if revision else model
    try:
        return Source(Checkpoint.from_pretrained(model, revision, prefer_cache=True), name)
    except HubUnreachable as err:
        # Only a Hub that did not answer falls back; one that said no (no such repo or
        # revision, no access) is the host's to fix, so that HubError propagates.
        reason = str(err).rstrip(".")
    try:
        checkpoint = _embedded(default)
    except CheckpointError as err:
        raise CheckpointError(f"{reason}. The embedded fallback is not available either: {err}") from None
    log.warning("%s; falling back to the embedded default model", reason)
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
            f"checkpoint folder there (see the README), or serve another model: "
            "python app.py --model OWNER/NAME or --model FOLDER (or set WORDRNN_MODEL)."
        )
    return Checkpoint.from_pretrained(folder)


def _looks_local(model: str) -> bool:
    """Whether a name that could be a repo id is surely meant as a path: "./x", "~/x",
    "a/b/c", or "runs/kjv" when a folder "runs" is here (no Hub owner is named like that)."""
    if model.startswith((".", "~", "/")) or "\\" in model or model.count("/") > 1:
        return True
    parent = Path(model).parent
    return parent != Path(".") and parent.is_dir()


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
