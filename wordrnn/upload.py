"""Uploads to the Hugging Face Hub: files in ONE commit, with the LFS `.gitattributes` a repo the
Hub creates has (so a later git clone / git push works too), and the command that retries a
failed upload.
"""

from __future__ import annotations

import fnmatch
import logging
import shlex
import shutil
import sys
import sysconfig
from pathlib import Path

import httpx2
from huggingface_hub import CommitOperationAdd, HfApi, constants
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

from wordrnn.errors import HubError
from wordrnn.hub import CHECKPOINT_FILES, endpoint

log = logging.getLogger(__name__)

# Binaries go to LFS, as on a repo the Hub creates: a git clone and a git push then work too.
LFS_PATTERNS = ["*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.png", "*.jpg", "*.jpeg", "*.gif",
                "*.webp", "*.zip", "*.gz", "*.npy", "*.npz"]
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS).encode()


def checkpoint_files(folder: str | Path) -> dict[str, Path]:
    """The files of `folder` that belong on the Hub (a run folder may also hold logs, state)."""
    folder = Path(folder)
    return {p.name: p for p in sorted(folder.iterdir())
            if p.is_file() and any(fnmatch.fnmatch(p.name, pattern) for pattern in CHECKPOINT_FILES)}


def retry_command(module: str, *args: str, private: bool, message: str, default_message: str,
                  script: str | None = None) -> str:
    """The command a failed upload names to try again, with the options it was given (--message
    only when it is not the module's default): the console `script` when this installation put it
    on PATH, else this Python's `-m MODULE` (a bare "python" may be another Python, or none)."""
    return shlex.join(command(module, script) + list(args) + ["--private"] * private
                      + (["--message", message] if message != default_message else []))


def command(module: str, script: str | None = None) -> list[str]:
    """How to run `module` here: its console script if it is on PATH and this installation's."""
    found = shutil.which(script) if script else None
    if found and Path(found).parent.resolve() == Path(sysconfig.get_path("scripts")).resolve():
        return [script]
    return [sys.executable, "-m", module]


def upload(
    files: dict[str, Path | bytes], repo_id: str, *, retry: str, repo_type: str = "model",
    private: bool | None = None, token: str | None = None, commit_message: str = "Upload with wordrnn",
    space_sdk: str | None = None,
) -> str:
    """Create `repo_id` if needed and commit `files` (path in the repo -> local file or bytes)
    with the LFS `.gitattributes`, in ONE commit. Returns the commit's URL.

    Raises HubError naming `retry`, the command that tries again.
    """
    if constants.HF_HUB_OFFLINE:  # huggingface_hub would refuse every request, after a try
        raise HubError(f"push to {repo_id} needs the Hub, but HF_HUB_OFFLINE is set. Unset HF_HUB_OFFLINE, "
                       f"then retry with: {retry}")
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
            ("The token given was refused: pass one with write access to it." if isinstance(token, str) else
             "Set HF_TOKEN to a token with write access, or run `hf auth login`.")
            if status in (401, 403)
            else "Check the repo id and your network."
        )
        raise HubError(f"push to {repo_id} failed ({_sentence(err)}). {hint} Then retry with: {retry}") from None
    except (OSError, RuntimeError, httpx2.HTTPError, EntryNotFoundError, ValueError) as err:
        raise HubError(f"push to {repo_id} failed: {_sentence(err)}. Check your network, then retry with: {retry}") from None
    log.info("pushed %d files to %s", len(files), commit.commit_url)
    return commit.commit_url


def _sentence(err: Exception) -> str:
    """An exception's text to go inside a sentence: one line, no full stop of its own."""
    return " ".join(str(err).split()).rstrip(".")
