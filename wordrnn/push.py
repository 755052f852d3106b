"""Upload a checkpoint folder to the Hugging Face Hub in one commit.

    python -m wordrnn.push models/kjv-lstm me/wordrnn-kjv [--private] [--message "..."]

The folder is loaded (and so validated) first: a folder wordrnn cannot load is never published.
Its files go up as they are, with the `.gitattributes` that keeps binaries in LFS; a card that
wordrnn wrote gets its "use" snippet pointed at the repo, a card edited by hand is left alone.
The token comes from HF_TOKEN or `hf auth login`. This is also the retry command that a failed
push prints. Prints the commit URL; a mistake prints one line `error: ...` and exits with 2.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from wordrnn import card, cli, upload
from wordrnn.checkpoint import CARD, CARD_DATA, PUSH_MESSAGE, Checkpoint

MESSAGE = PUSH_MESSAGE  # the commit message unless --message


def files_for(folder: Path, repo_id: str) -> dict[str, Path | bytes]:
    """The checkpoint files of `folder` as they go to `repo_id` (validated by loading them)."""
    checkpoint = Checkpoint.from_pretrained(folder)
    files: dict[str, Path | bytes] = dict(upload.checkpoint_files(folder))
    written = checkpoint.card(checkpoint.info.get("repo_id") or folder.name)
    if (folder / CARD).is_file() and (folder / CARD).read_bytes() == written.encode():  # wordrnn's card, not edited since
        published = Checkpoint(checkpoint.model, checkpoint.vocab, {**checkpoint.info, "repo_id": repo_id},
                               checkpoint.assets)
        files[CARD] = published.card(repo_id).encode()
        files[CARD_DATA] = card.data(published.info).encode()
    return files


def publish(folder: Path, repo_id: str, *, private: bool = False, commit_message: str = MESSAGE) -> str:
    """Upload the checkpoint folder to `repo_id` in one commit; returns the commit URL. A HubError
    names the command that retries (this module's, on the same folder, with the same options)."""
    retry = upload.retry_command("wordrnn.push", str(folder), repo_id, private=private, message=commit_message,
                                 default_message=MESSAGE, script="wordrnn-push")
    return upload.upload(files_for(folder, repo_id), repo_id, retry=retry, private=private or None,
                      commit_message=commit_message)


def main(argv: list[str] | None = None) -> int:
    parser = cli.Parser("wordrnn.push", __doc__)
    parser.add_argument("folder", type=cli.folder, help="a checkpoint folder saved by wordrnn")
    parser.add_argument("repo_id", type=cli.repo_id, help="the Hub repo to create or update, as owner/name")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--message", default=MESSAGE, help="the commit message")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    return cli.run(lambda: publish(args.folder, args.repo_id, private=args.private, commit_message=args.message))


if __name__ == "__main__":
    sys.exit(main())
