"""Which checkpoint to load, decided once for the app, the generate CLI, training's release
step and the benchmarks.

    source = resolve()                                   # the embedded default (models/kjv-lstm)
    source = resolve("runs/kjv")                         # a local checkpoint folder
    source = resolve("owner/wordrnn-kjv", "v1")          # a Hub repo at a branch, tag or sha
    source.checkpoint, source.label, source.notice

A Hub model is loaded as `Checkpoint.from_pretrained` loads it: the Hub is asked which commit the
revision is now (one small request when the files are cached, so a Space restarts fast and a new
commit on main is served), and the cache answers without a request when the Hub cannot be reached
(a short probe, so an offline laptop starts at once), when HF_HUB_OFFLINE is set, or when the
revision is a cached commit sha. The label names the commit served. With `fallback` (the app), a Hub
that cannot be reached while nothing is cached gives the embedded default with a notice rather
than no model at all: visitors get a working demo, the host sees why it is not the model asked
for. A Hub that answers but refuses (wrong name, revision or token) and a missing local folder
are mistakes to fix, so they raise CheckpointError with a message that says what to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from wordrnn import hub
from wordrnn.checkpoint import Checkpoint
from wordrnn.errors import CheckpointError, HubUnreachable

log = logging.getLogger(__name__)

# The embedded default model: models/kjv-lstm in a checkout; an installed wheel carries the same
# folder as package data, wordrnn/models/kjv-lstm.
_CHECKOUT_MODEL = Path(__file__).resolve().parents[1] / "models" / "kjv-lstm"
DEFAULT_MODEL = _CHECKOUT_MODEL if _CHECKOUT_MODEL.is_dir() else Path(__file__).resolve().parent / "models" / "kjv-lstm"

@dataclass(frozen=True)
class Source:
    checkpoint: Checkpoint
    label: str  # for the model panel: "owner/name@revision", a folder, or "embedded (...)"
    notice: str = ""  # why this is not the model that was asked for; "" when it is
    embedded: bool = False


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
        # Not the cache first: it would serve an old commit of main (or a private repo to a token
        # the Hub refuses) for as long as the cache lives.
        checkpoint = Checkpoint.from_pretrained(model, revision=revision)
        return Source(checkpoint, _label(checkpoint, revision))
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


def _label(checkpoint: Checkpoint, revision: str | None) -> str:
    """"owner/name@revision (commit 1a2b3c4)": which snapshot is served, since a branch moves."""
    if not checkpoint.commit or revision == checkpoint.commit:
        return checkpoint.name_or_path
    return f"{checkpoint.name_or_path} (commit {checkpoint.commit[:7]})"


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
