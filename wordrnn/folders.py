"""Folders that readers see either whole-old or whole-new, never half-written."""

from __future__ import annotations

import os
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
        yield tmp
        share(tmp)
        old = folder.with_name(f".{folder.name}.old")
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def share(folder: Path) -> None:
    """Give `folder` and everything in it the modes a plain mkdir and open would, under the
    umask: mkdtemp makes the folder private (0700) and safetensors writes its files 0600, while
    a saved folder is meant to be read like any other (executable bits are kept)."""
    mask = umask()
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        executable = path.is_dir() or path.stat().st_mode & 0o111
        path.chmod((0o777 if executable else 0o666) & ~mask)


def umask() -> int:
    """The process's umask, read without changing it where Linux says it (os.umask can only
    read it by setting it, for a moment, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
