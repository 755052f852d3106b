"""Folders that readers see either whole-old or whole-new, never half-written."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_folder(folder: str | Path) -> Iterator[Path]:
    """Yield an empty folder beside `folder`; on success it replaces `folder` by renames.

    A crash while writing leaves the old folder untouched; the swap itself is two renames on
    the same file system (the old folder is kept as `.NAME.old` until the new one is in place).
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private (0700); these folders are meant to be shared
        yield tmp
        old = folder.with_name(f".{folder.name}.old")
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
