"""Hugging Face Hub downloads: a checkpoint's files at one commit, from the Hub or the cache.

The revision is resolved to one commit and every file is fetched at that commit, so weights,
config and vocabulary always match. The Hub client retries an unreachable endpoint for many
seconds before it gives up; a short TCP probe (to the endpoint, or to the proxy the client would
use) first lets an offline machine use its cache (or fail) at once. Set HF_ENDPOINT to use
another Hub server. Uploads are wordrnn.upload's; the endpoint and the probe are
wordrnn/hub_endpoint.py's (`endpoint` and `reachable`, also importable from here).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx2
from huggingface_hub import HfApi, constants, get_cached_repo_tree, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    CachedRepoTreeNotFoundError, HFValidationError, HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from wordrnn.errors import HubError, HubUnreachable
from wordrnn.hub_endpoint import endpoint, reachable

log = logging.getLogger(__name__)

# What a checkpoint repo holds; card.json is the card's data (metrics, samples) for programs.
REQUIRED, OPTIONAL = ["config.json", "model.safetensors", "vocab.json"], ["card.json", "README.md"]
CHECKPOINT_FILES = [*REQUIRED, *OPTIONAL, "*.png"]
# A card shows a loss curve or two; a hostile repo could list gigabytes of pictures.
MAX_PICTURES, MAX_PICTURE_BYTES = 8, 4 * 2**20
COMMIT = re.compile(r"[0-9a-f]{40}")


def is_repo_id(name: str) -> bool:
    """Whether the Hub would take `name` as a repo id ("owner/name" or "name")."""
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def label(repo_id: str, revision: str | None = None) -> str:
    """How a Hub checkpoint is named to people: "owner/name", or "owner/name@revision"."""
    return f"{repo_id}@{revision}" if revision else repo_id


def download(
    repo_id: str, revision: str | None = None, *, token: str | bool | None = None,
    cache_dir: str | Path | None = None, force_download: bool = False, local_files_only: bool = False,
    check: Callable[[list[str]], None] | None = None,
) -> Snapshot:
    """The checkpoint files of `repo_id` at `revision`, in a local folder.

    As huggingface_hub's: the Hub is asked which commit `revision` is now, and `local_files_only`
    uses the cache without asking; so does a full commit sha that is cached (a commit never
    changes). Unlike it, an unreachable Hub is noticed at once (the cache then serves, else
    HubUnreachable), and a Hub that refuses (no such repo, a token it does not accept) is never
    answered from the cache. `check` gets the repo's file names before anything is downloaded.
    Only plain-named files are fetched; pictures (*.png) are optional, capped in number and size,
    and one that cannot be fetched is skipped with a warning.
    """
    name = label(repo_id, revision)
    options = dict(token=token, cache_dir=cache_dir)
    if (local_files_only or (revision and COMMIT.fullmatch(revision))) and not force_download:
        try:
            return _cached(repo_id, revision, **options)
        except LocalEntryNotFoundError:
            if local_files_only:
                raise HubUnreachable(_not_cached(name, cache_dir, "the Hub was not asked (local_files_only)")) from None
    if not reachable():
        return _fallback(repo_id, revision, f"the Hub at {endpoint()} cannot be reached", **options)
    try:
        info = HfApi(endpoint=endpoint(), token=token, library_name="wordrnn").model_info(repo_id, revision=revision)
    except RepositoryNotFoundError:
        raise HubError(_not_found(repo_id, token)) from None
    except RevisionNotFoundError:
        raise HubError(f"{repo_id!r} has no revision {revision!r}: use a branch, tag or commit sha.") from None
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else None
        if status in (401, 403):
            raise HubError(_not_found(repo_id, token, f"the Hub refused access ({status})")) from None
        # A Hub that is down (5xx, 429) is one that cannot be reached: the cache may serve.
        return _fallback(repo_id, revision, f"the Hub at {endpoint()} answered {status}", **options)
    except (httpx2.HTTPError, OSError) as err:  # it went down since the probe
        return _fallback(repo_id, revision, f"the Hub at {endpoint()} did not answer ({err})", **options)
    names = [s.rfilename for s in info.siblings or []]
    if check is not None:
        check(names)
    try:  # by `revision`, not info.sha: the cache then records which commit the branch is (offline use)
        folder = _snapshot(repo_id, revision, [n for n in REQUIRED + OPTIONAL if n in names],
                           force_download=force_download, **options)
    except LocalEntryNotFoundError as err:
        raise HubUnreachable(f"could not download {name} from {endpoint()} and it is not cached: {err}") from None
    except (HfHubHTTPError, httpx2.HTTPError, OSError, ValueError) as err:
        raise HubError(f"could not download {name} from {endpoint()}: {err}") from None
    commit = folder.name  # the cache keeps each commit's files in snapshots/<sha>
    for picture in _pictures(repo_id, commit, names, cache_dir):
        try:
            hf_hub_download(repo_id, picture, revision=commit, endpoint=endpoint(), library_name="wordrnn",
                            force_download=force_download, **options)
        except (HfHubHTTPError, httpx2.HTTPError, OSError, ValueError) as err:
            log.warning("skipped the picture %r of %s, which could not be downloaded: %s", picture, name, err)
    return Snapshot(folder, commit)


@dataclass(frozen=True)
class Snapshot:
    """A checkpoint's files from the Hub: the cache folder holding them and their commit."""

    folder: Path
    commit: str  # the full 40-hex sha: which snapshot is served, whatever revision named it


def _cached(repo_id: str, revision: str | None, **options) -> Snapshot:
    folder = _snapshot(repo_id, revision, REQUIRED + OPTIONAL, local_files_only=True, **options)
    return Snapshot(folder, folder.name)  # the cache keeps each commit's files in snapshots/<sha>


def _fallback(repo_id: str, revision: str | None, why: str, **options) -> Snapshot:
    """The cached snapshot when the Hub cannot answer; HubUnreachable with advice when none is."""
    name = label(repo_id, revision)
    if constants.HF_HUB_OFFLINE:
        why = "HF_HUB_OFFLINE is set"
    try:
        snapshot = _cached(repo_id, revision, **options)
    except LocalEntryNotFoundError:
        raise HubUnreachable(_not_cached(name, options["cache_dir"], why)) from None
    (log.info if constants.HF_HUB_OFFLINE else log.warning)("%s: using %s from the cache (commit %s)", why, name,
                                                             snapshot.commit[:7])
    return snapshot


def _not_cached(name: str, cache_dir: str | Path | None, why: str) -> str:
    advice = ("Unset HF_HUB_OFFLINE to download it, or load a model that is in the cache"
              if constants.HF_HUB_OFFLINE else
              "Connect to the network (or set HF_ENDPOINT to a reachable Hub)")
    return (f"{name} is not in the local cache ({cache_dir or constants.HF_HUB_CACHE}) and {why}. {advice}, "
            "or pass a local checkpoint folder instead.")


def _not_found(repo_id: str, token: str | bool | None, why: str = "") -> str:
    why = why or f"Hub repo {repo_id!r} was not found at {endpoint()}"
    if isinstance(token, str):  # the caller's own token: it is the one to change
        return f"{why}. Check the name; if it is private, the token given was refused or cannot see it."
    return f"{why}. Check the name; if it is private, set HF_TOKEN or run `hf auth login`."


def _pictures(repo_id: str, commit: str, names: list[str], cache_dir: str | Path | None) -> list[str]:
    """The card pictures worth fetching: plain *.png names, at most MAX_PICTURES of at most
    MAX_PICTURE_BYTES each (sizes from the listing snapshot_download just cached)."""
    pictures = [n for n in names if _plain(n) and n.endswith(".png")]
    if not pictures:
        return []
    try:
        sizes = {f.path: f.size for f in get_cached_repo_tree(repo_id, revision=commit, cache_dir=cache_dir)}
    except (CachedRepoTreeNotFoundError, OSError, ValueError):
        sizes = {}
    kept = [n for n in pictures if sizes.get(n, math.inf) <= MAX_PICTURE_BYTES][:MAX_PICTURES]
    if len(kept) < len(pictures):
        log.warning("%s: skipped %d of its %d pictures (a card loads at most %d, of at most %d MiB each)",
                    repo_id, len(pictures) - len(kept), len(pictures), MAX_PICTURES, MAX_PICTURE_BYTES >> 20)
    return kept


def _plain(name: str) -> bool:
    """A file name with no folder in it: what a checkpoint folder holds, and nothing that could
    be written outside the cache (a repo may list '../../x.png')."""
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def _snapshot(repo_id: str, revision: str | None, files: list[str], **options) -> Path:
    path = snapshot_download(
        repo_id, revision=revision, allow_patterns=files, library_name="wordrnn", endpoint=endpoint(), **options,
    )
    return Path(path)
