"""What every wordrnn command line shares: one-line errors, usage as invoked, checked flags.

A user's mistake ends in one line `error: ...` on stderr and exit status 2 (argparse's own
convention, without its usage dump); `--help` shows each flag's default.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import NoReturn

from wordrnn.hub import is_repo_id


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors; `prog` says how the tool was invoked (module or script)."""

    def __init__(self, module: str, description: str) -> None:
        script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
        invoked_as_module = script in ("", "-c", "__main__.py") or script.endswith(".py")
        super().__init__(prog=f"python -m {module}" if invoked_as_module else script, description=description,
                         formatter_class=_Help)

    def error(self, message: str) -> NoReturn:
        fail(message)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default unless it has none (None, False) or its help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def fail(message: str) -> NoReturn:
    """Exit with status 2 after one line `error: message` on stderr."""
    print("error: " + " ".join(str(message).split()), file=sys.stderr)
    sys.exit(2)


def integer(low: int, high: int | None = None):
    """An argparse type: a whole number in [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}" if high is not None
                                             else f"{value} is less than {low}")
        return value
    return parse


def number(low: float, high: float, low_open: bool = False):
    """An argparse type: a finite number in [low, high], or (low, high] with `low_open`."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"{text} is not in {'(' if low_open else '['}{low:g}, {high:g}]")
        return value
    return parse


def folder(text: str) -> Path:
    """An argparse type: an existing folder."""
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"there is no folder {text}")
    return path


def file(text: str) -> Path:
    """An argparse type: an existing, readable file."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"there is no file {text}")
    return path


def repo_id(text: str) -> str:
    """An argparse type: a Hub repo id owner/name."""
    if "/" not in text or not is_repo_id(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Hub repo id: use owner/name, e.g. me/wordrnn-kjv")
    return text
