"""What every training command-line tool shares: a parser whose errors are one line and exit 2,
`--help` with the defaults, value checks used as argparse types, and the warnings users never
need to see."""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from pathlib import Path
from typing import Callable, NoReturn


class UsageError(ValueError):
    """A flag's value cannot be used here (for example bf16 on a CPU without it); the message
    says what to pass instead."""


class _Help(argparse.RawDescriptionHelpFormatter):
    """Shows "(default: X)" after each option that has a default worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        shown = not (default is None or isinstance(default, bool) or default == [] or default is argparse.SUPPRESS)
        if shown and "default" not in text and action.option_strings:
            text += f" (default: {' '.join(map(str, default)) if isinstance(default, list) else '%(default)s'})"
        return text


class Parser(argparse.ArgumentParser):
    """argparse with the team's error format: `error: ...` on one line of stderr, exit status 2."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(**kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"error: {' '.join(message.split())} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def _checked(kind: Callable[[str], float], test: Callable[[float], bool], wanted: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}")
        return value

    parse.__name__ = wanted  # argparse names the type in some messages
    return parse


positive_int = _checked(int, lambda v: v >= 1, "a whole number of at least 1")
non_negative_int = _checked(int, lambda v: v >= 0, "a whole number of at least 0")
positive_float = _checked(float, lambda v: v > 0 and v < float("inf"), "a number above 0")
non_negative_float = _checked(float, lambda v: 0 <= v < float("inf"), "a number of at least 0")
rate = _checked(float, lambda v: 0 <= v < 1, "a rate in [0, 1)")


def existing_file(text: str) -> str:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text} does not exist or is not a file")
    return text


def duration(text: str) -> float:
    """'90', '90s', '15m', '1.5h' -> seconds (above 0)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m or 1.5h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def quiet_known_warnings() -> None:
    """Hide PyTorch's notice that LSTMs with projections skip oneDNN: it is expected (the tied
    model projects its last layer) and a user can do nothing about it."""
    warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
