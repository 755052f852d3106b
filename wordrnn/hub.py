"""Hugging Face Hub transfer: download a checkpoint snapshot, upload a folder in one commit.

Downloads go through `snapshot_download`, which resolves the revision to one commit and fetches
every file at that commit, so weights, config and vocabulary always match. The Hub client retries
an unreachable endpoint for about 23 s before it gives up; a short TCP probe first lets an
offline machine use its cache (or fail) at once. Set HF_ENDPOINT to use another Hub server.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import socket
from pathlib import Path
from urllib.parse import urlparse

import httpx2
from huggingface_hub import HfApi, constants, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from wordrnn.errors import HubError, HubUnreachable

log = logging.getLogger(__name__)

CHECKPOINT_FILES = ["config.json", "model.safetensors", "vocab.json", "README.md", "*.png"]
_REPO_ID = re.compile(r"^(?:[\w][\w.-]{0,95}/)?[\w][\w.-]{0,95}$")


def is_repo_id(name: str) -> bool:
    return bool(_REPO_ID.match(name)) and ".." not in name and not name.endswith(".")


def endpoint() -> str:
    """The Hub URL, read now: HF_ENDPOINT if set, else huggingface_hub's default.

    huggingface_hub reads HF_ENDPOINT once, when it is imported; wordrnn reads it at each call
    and passes it to the client explicitly, so setting it later (tests, notebooks) takes effect.
    """
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the Hub endpoint opens within `timeout` seconds."""
    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(endpoint())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def download(repo_id: str, revision: str | None = None, prefer_cache: bool = False) -> Path:
    """A local folder holding the checkpoint files of `repo_id` at `revision`.

    With `prefer_cache`, a cached snapshot is used without asking the Hub (fast start-up; a new
    commit on a branch is picked up only on a cold cache). Otherwise the Hub is asked for the
    newest commit, falling back to the cache when it cannot be reached.
    """
    name = f"{repo_id}@{revision}" if revision else repo_id
    if prefer_cache or not reachable():
        try:
            return _snapshot(repo_id, revision, local_files_only=True)
        except LocalEntryNotFoundError:
            # Not cached: ask the Hub only if it answers (the client would retry for ~23 s).
            if not (prefer_cache and reachable()):
                offline = " (HF_HUB_OFFLINE is set)" if constants.HF_HUB_OFFLINE else ""
                raise HubUnreachable(
                    f"{name} is not in the local cache ({constants.HF_HUB_CACHE}) and the Hub at "
                    f"{endpoint()} cannot be reached{offline}. Connect to the network (or set "
                    "HF_ENDPOINT to a reachable Hub), or pass a local checkpoint folder instead."
                ) from None
    try:
        return _snapshot(repo_id, revision, local_files_only=False)
    except RepositoryNotFoundError:
        raise HubError(
            f"Hub repo {repo_id!r} was not found at {endpoint()}. Check the name; if it is "
            "private, set HF_TOKEN or run `hf auth login`."
        ) from None
    except RevisionNotFoundError:
        raise HubError(f"{repo_id!r} has no revision {revision!r}: use a branch, tag or commit sha.") from None
    except LocalEntryNotFoundError as err:
        raise HubUnreachable(f"could not download {name} from {endpoint()} and it is not cached: {err}") from None
    except HfHubHTTPError as err:
        raise HubError(f"the Hub refused to send {name}: {err}") from None


def _snapshot(repo_id: str, revision: str | None, local_files_only: bool) -> Path:
    path = snapshot_download(
        repo_id,
        revision=revision,
        allow_patterns=CHECKPOINT_FILES,
        local_files_only=local_files_only,
        library_name="wordrnn",
        endpoint=endpoint(),
    )
    return Path(path)


def upload(
    folder: str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    message: str = "Upload wordrnn checkpoint",
) -> str:
    """Create `repo_id` if needed and upload the checkpoint files of `folder` in ONE commit.

    Returns the commit's URL. Raises HubError with the command to retry on failure.
    """
    api = HfApi(endpoint=endpoint(), token=token)
    retry = shlex.join(["python", "-m", "wordrnn.push", str(folder), repo_id] + ["--private"] * private)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        # Only checkpoint files: a run folder may also hold logs or optimizer state.
        commit = api.upload_folder(
            repo_id=repo_id, folder_path=str(folder), commit_message=message, allow_patterns=CHECKPOINT_FILES
        )
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else None
        hint = (
            "Set HF_TOKEN to a token with write access, or run `hf auth login`."
            if status in (401, 403)
            else "Check the repo id and your network."
        )
        raise HubError(f"push to {repo_id} failed ({err}). {hint} Then retry with: {retry}") from None
    except (OSError, httpx2.HTTPError, EntryNotFoundError, ValueError) as err:
        raise HubError(
            f"push to {repo_id} failed: {err}. The checkpoint is still in {folder}; "
            f"retry with: {retry}"
        ) from None
    log.info("pushed %s to %s", folder, commit.commit_url)
    return commit.commit_url
