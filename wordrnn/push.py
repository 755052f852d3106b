"""Upload a checkpoint folder to the Hugging Face Hub in one commit.

    python -m wordrnn.push runs/kjv me/wordrnn-kjv [--private] [--message "..."]

The folder is loaded (and so validated) first: a folder wordrnn cannot load is never published.
Its files are uploaded as they are, README.md included. The token comes from HF_TOKEN or
`hf auth login`. This is also the retry command that a failed push prints.
Prints the commit URL; on failure prints one line saying what to do and exits with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from wordrnn import hub
from wordrnn.checkpoint import Checkpoint
from wordrnn.errors import CheckpointError, WordRNNError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wordrnn.push", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a checkpoint folder saved by wordrnn")
    parser.add_argument("repo_id", help="the Hub repo to create or update, as owner/name")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--message", default="Upload wordrnn checkpoint", help="the commit message")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        if not args.folder.is_dir():
            raise CheckpointError(f"{args.folder} is not a folder; give the checkpoint folder to upload")
        if "/" not in args.repo_id or not hub.is_repo_id(args.repo_id):
            raise CheckpointError(f"{args.repo_id!r} is not a Hub repo id: use owner/name, e.g. me/wordrnn-kjv")
        Checkpoint.from_pretrained(args.folder)
        url = hub.upload(args.folder, args.repo_id, private=args.private, message=args.message)
    except WordRNNError as err:
        print("error: " + " ".join(str(err).split()), file=sys.stderr)  # one line, for scripts and logs
        return 2
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
