"""Deploy the app to a Hugging Face Space in one commit, from a checkout.

    python -m wordrnn.space me/wordrnn [--private]

Uploads app.py, requirements.txt, the wordrnn package, the default model (models/kjv-lstm),
LICENSE (if present) and README.md, whose front matter is the Space's configuration (and the
pictures it shows, docs/*.png), with a
`.gitattributes` that keeps binaries in LFS, as one commit to a Gradio Space. The token comes
from HF_TOKEN or `hf auth login`. Prints the commit URL; a mistake prints one line and exits 2.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

from wordrnn import cli, upload
from wordrnn.errors import WordRNNError

ROOT = Path(__file__).resolve().parents[1]  # the checkout
FILES = ["app.py", "requirements.txt", "README.md"]
OPTIONAL = ["LICENSE"]
FOLDERS = ["wordrnn", "models/kjv-lstm"]
SKIPPED = ("__pycache__", ".pyc", ".pyo")  # build leftovers, not sources
MESSAGE = "Deploy the wordrnn app"  # the commit message unless --message


def files(root: Path = ROOT) -> dict[str, Path]:
    """Path in the Space -> local file; WordRNNError when `root` is not a checkout."""
    missing = [name for name in FILES + FOLDERS if not (root / name).exists()]
    if missing:
        raise WordRNNError(f"{root} is not a wordrnn checkout (no {', '.join(missing)}): "
                           "run this from a clone of the repository")
    chosen = {name: root / name for name in FILES + [n for n in OPTIONAL if (root / n).is_file()]}
    chosen.update(pictures(root / "README.md", root))  # the Space's page is README.md: its images too
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and not any(part.endswith(SKIPPED) for part in path.relative_to(root).parts):
                chosen[path.relative_to(root).as_posix()] = path
    return chosen


def pictures(readme: Path, root: Path) -> dict[str, Path]:
    """The files in `root` that `readme` shows as images by a relative path (![...](docs/app.png))."""
    found = {}
    for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", readme.read_text(encoding="utf-8")):
        path = root / target
        if "://" not in target and path.is_file() and path.resolve().is_relative_to(root.resolve()):
            found[path.relative_to(root).as_posix()] = path
    return found


def deploy(repo_id: str, *, private: bool | None = None, token: str | None = None, root: Path = ROOT,
           commit_message: str = MESSAGE) -> str:
    """Create or update the Gradio Space `repo_id` with the app; returns the commit URL."""
    retry = upload.retry_command("wordrnn.space", repo_id, private=bool(private), message=commit_message,
                                 default_message=MESSAGE)
    return upload.upload(files(root), repo_id, retry=retry, repo_type="space", space_sdk="gradio",
                      private=private, token=token, commit_message=commit_message)


def main(argv: list[str] | None = None) -> int:
    parser = cli.Parser("wordrnn.space", __doc__)
    parser.add_argument("repo_id", type=cli.repo_id, help="the Space to create or update, as owner/name")
    parser.add_argument("--private", action="store_true", help="create the Space as private")
    parser.add_argument("--message", default=MESSAGE, help="the commit message")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    return cli.run(lambda: deploy(args.repo_id, private=args.private or None, commit_message=args.message))


if __name__ == "__main__":
    sys.exit(main())
