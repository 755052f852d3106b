"""What every wordrnn command line shares (library, training and benchmarks alike).

A user's mistake ends in one line `error: ... (see TOOL --help)` on stderr and exit status 2
(argparse's convention, without its usage dump); `usage:`, the examples in `--help` and the
commands a tool suggests name it as it was invoked (`wordrnn-train`, `python -m training.train`
in a checkout, `python -m wordrnn.training.train` installed); `--help` shows each flag's default. The
argparse types below check values where they are parsed.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Callable, NoReturn

from wordrnn.errors import WordRNNError
from wordrnn.hub import is_repo_id


class UsageError(ValueError):
    """A flag's value cannot be used here (bf16 on a CPU without it, say); the message says
    what to pass instead."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors. `module` is how the tool runs in a checkout
    ("training.train"); an installed console script shows its own name instead."""

    def __init__(self, module: str | None = None, description: str = "", **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Help)
        if module is not None:  # None: a subcommand's parser, whose prog argparse gives
            kwargs["prog"] = invoked_as(module)
            description = _as_run(description, module, kwargs["prog"])
            kwargs["epilog"] = _as_run(kwargs.get("epilog"), module, kwargs["prog"])
        super().__init__(description=description, **kwargs)

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see {self.prog} --help)")


def invoked_as(module: str) -> str:
    """`python -m MODULE` (MODULE as named in a checkout, e.g. "training.train"), or the console
    script's name when run as one."""
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    as_module = script in ("", "-c", "__main__.py", "-m") or script.endswith(".py") or script.startswith("pytest")
    return f"python -m {module_name(module)}" if as_module else script


def module_name(module: str) -> str:
    """The name a checkout's module runs under here: the wheel installs training/ inside the
    package, so an installed "training.train" is "wordrnn.training.train"."""
    installed = module.startswith("training.") and "wordrnn.training" in sys.modules and "training" not in sys.modules
    return f"wordrnn.{module}" if installed else module


def _as_run(text: str | None, module: str, prog: str) -> str | None:
    """A docstring's examples, written for a checkout, as this installation runs them."""
    if not text:
        return text
    return text.replace(f"python -m {module} ", f"{prog} ").replace(f"-m {module} ", f"-m {module_name(module)} ")


class _Help(argparse.RawDescriptionHelpFormatter):
    """Shows "(default: X)" after each option that has a default worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        shown = not (default is None or isinstance(default, bool) or default == [] or default is argparse.SUPPRESS)
        if shown and "default" not in text and action.option_strings:
            text += f" (default: {' '.join(map(str, default)) if isinstance(default, list) else '%(default)s'})"
        return text


def run(action: Callable[[], object]) -> int:
    """A command's body: print what `action` returns (a commit URL, say); a WordRNNError is the
    user's to fix, so it ends in `fail`."""
    try:
        result = action()
    except WordRNNError as err:
        fail(str(err))
    print(result)
    return 0


def fail(message: str) -> NoReturn:
    """Exit with status 2 after one line `error: message` on stderr."""
    print("error: " + " ".join(str(message).split()), file=sys.stderr)
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


def integer(low: int, high: int | None = None):
    """An argparse type: a whole number in [low, high]."""
    wanted = f"a whole number from {low} to {high}" if high is not None else f"a whole number of at least {low}"
    return _checked(int, lambda v: v >= low and (high is None or v <= high), wanted)


def number(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False):
    """An argparse type: a finite number between low and high (each end closed unless open)."""
    def test(v: float) -> bool:
        return (math.isfinite(v) and (v > low if low_open else v >= low)
                and (v < high if high_open else v <= high))
    span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    return _checked(float, test, f"a number in {span}" if math.isfinite(high) else
                    f"a number {'above' if low_open else 'of at least'} {low:g}")


positive_int = integer(1)
non_negative_int = integer(0)
positive_float = number(0, low_open=True)
non_negative_float = number(0)
rate = number(0, 1, high_open=True)


def file(text: str) -> Path:
    """An argparse type: an existing file."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; pass a file in it")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"there is no file {text}")
    return path


def existing_file(text: str) -> str:
    """`file`, kept as the text given: training saves its arguments as JSON."""
    file(text)
    return text


def folder(text: str) -> Path:
    """An argparse type: an existing folder."""
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"there is no folder {text}")
    return path


def repo_id(text: str) -> str:
    """An argparse type: a Hub repo id owner/name."""
    if "/" not in text or not is_repo_id(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Hub repo id: use owner/name, e.g. me/wordrnn-kjv")
    return text


def duration(text: str) -> float:
    """'90', '90s', '15m', '1.5h', '1m30s' -> seconds (above 0)."""
    compact = "".join(text.split())
    seconds = 0.0
    if re.fullmatch(r"[0-9]*\.?[0-9]+", compact):
        seconds = float(compact)
    elif re.fullmatch(r"(?:[0-9]*\.?[0-9]+[smh])+", compact):
        seconds = sum(float(n) * {"s": 1, "m": 60, "h": 3600}[unit]
                      for n, unit in re.findall(r"([0-9]*\.?[0-9]+)([smh])", compact))
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m, 1m30s or 1.5h")
    return seconds


def quiet_known_warnings() -> None:
    """Hide PyTorch's notice that LSTMs with projections skip oneDNN: it is expected (a tied model
    projects its last layer) and a user can do nothing about it; and the HTTP clients' line per
    request (gradio_client's httpx, huggingface_hub's httpx2) under an INFO log."""
    warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
    for name in HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


HTTP_LOGGERS = ("httpx", "httpx2")
