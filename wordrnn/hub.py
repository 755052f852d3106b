"""Hugging Face Hub transfer: download a checkpoint snapshot, upload files in one commit.

Downloads go through `snapshot_download`, which resolves the revision to one commit and fetches
every file at that commit, so weights, config and vocabulary always match. The Hub client retries
an unreachable endpoint for many seconds before it gives up; a short TCP probe first lets an
offline machine use its cache (or fail) at once. Set HF_ENDPOINT to use another Hub server.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shlex
import socket
from pathlib import Path
from urllib.parse import urlparse

import httpx2
from huggingface_hub import CommitOperationAdd, HfApi, constants, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HFValidationError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from huggingface_hub.utils import validate_repo_id

from wordrnn.errors import HubError, HubUnreachable

log = logging.getLogger(__name__)

# What a checkpoint repo holds; card.json is the card's data (metrics, samples) for programs.
CHECKPOINT_FILES = ["config.json", "model.safetensors", "vocab.json", "card.json", "README.md", "*.png"]
# Binaries go to LFS, as on a repo the Hub creates: a git clone and a git push then work too.
LFS_PATTERNS = ["*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.png", "*.jpg", "*.jpeg", "*.gif",
                "*.webp", "*.zip", "*.gz", "*.npy", "*.npz"]
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS).encode()


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


def download(
    repo_id: str, revision: str | None = None, *, token: str | bool | None = None,
    cache_dir: str | Path | None = None, force_download: bool = False, local_files_only: bool = False,
) -> Path:
    """A local folder holding the checkpoint files of `repo_id` at `revision`.

    As huggingface_hub's: the Hub is asked for the newest commit, and `local_files_only` uses the
    cache without asking. Unlike it, an unreachable Hub is noticed at once: the cache is used if
    it holds the snapshot, else HubUnreachable (also when `local_files_only` finds nothing cached).
    """
    name = label(repo_id, revision)
    options = dict(token=token, cache_dir=cache_dir)
    if local_files_only or not reachable():
        try:
            return _snapshot(repo_id, revision, local_files_only=True, **options)
        except LocalEntryNotFoundError:
            where = "the Hub was not asked (local_files_only)" if local_files_only else (
                f"the Hub at {endpoint()} cannot be reached"
                + (" (HF_HUB_OFFLINE is set)" if constants.HF_HUB_OFFLINE else ""))
            raise HubUnreachable(
                f"{name} is not in the local cache ({cache_dir or constants.HF_HUB_CACHE}) and {where}. "
                "Connect to the network (or set HF_ENDPOINT to a reachable Hub), or pass a local "
                "checkpoint folder instead."
            ) from None
    try:
        return _snapshot(repo_id, revision, local_files_only=False, force_download=force_download, **options)
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


def _snapshot(repo_id: str, revision: str | None, **options) -> Path:
    path = snapshot_download(
        repo_id, revision=revision, allow_patterns=CHECKPOINT_FILES, library_name="wordrnn",
        endpoint=endpoint(), **options,
    )
    return Path(path)


def checkpoint_files(folder: str | Path) -> dict[str, Path]:
    """The files of `folder` that belong on the Hub (a run folder may also hold logs, state)."""
    folder = Path(folder)
    return {p.name: p for p in sorted(folder.iterdir())
            if p.is_file() and any(fnmatch.fnmatch(p.name, pattern) for pattern in CHECKPOINT_FILES)}


def retry_command(module: str, *args: str, private: bool, message: str, default_message: str) -> str:
    """`python -m MODULE ARGS...` with the options an upload was given (--message only when it is
    not the module's default): what a failed upload names to try again."""
    return shlex.join(["python", "-m", module, *args] + ["--private"] * private
                      + (["--message", message] if message != default_message else []))


def upload(
    files: dict[str, Path | bytes], repo_id: str, *, retry: str, repo_type: str = "model",
    private: bool | None = None, token: str | None = None, commit_message: str = "Upload with wordrnn",
    space_sdk: str | None = None,
) -> str:
    """Create `repo_id` if needed and commit `files` (path in the repo -> local file or bytes)
    with the LFS `.gitattributes`, in ONE commit. Returns the commit's URL.

    Raises HubError naming `retry`, the command that tries again.
    """
    api = HfApi(endpoint=endpoint(), token=token)
    files = {".gitattributes": GITATTRIBUTES, **files}
    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=data if isinstance(data, bytes) else str(data))
                  for path, data in files.items()]
    try:
        api.create_repo(repo_id, private=private, repo_type=repo_type, space_sdk=space_sdk, exist_ok=True)
        commit = api.create_commit(repo_id, operations, commit_message=commit_message, repo_type=repo_type)
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else None
        hint = (
            "Set HF_TOKEN to a token with write access, or run `hf auth login`."
            if status in (401, 403)
            else "Check the repo id and your network."
        )
        raise HubError(f"push to {repo_id} failed ({err}). {hint} Then retry with: {retry}") from None
    except (OSError, RuntimeError, httpx2.HTTPError, EntryNotFoundError, ValueError) as err:
        raise HubError(f"push to {repo_id} failed: {err}. Check your network, then retry with: {retry}") from None
    log.info("pushed %d files to %s", len(files), commit.commit_url)
    return commit.commit_url
