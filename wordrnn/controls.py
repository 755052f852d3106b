"""The app's controls: each one's range and default, declared once. The page's sliders are built
from these, the server clamps every API value to them, and a shared link is read back through them.

    LENGTH.clamp("12")   # 12; "many" -> LENGTH.default; 10_000 -> LENGTH.high
    check({"length": "many"})  # ValueError: an API caller's value that is no number at all
    query(values)        # "?prompt=...&length=128&..." for the page's URL
    from_query(params)   # the same values back, clamped
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlencode

from wordrnn.generate import MAX_WORDS, MODES
from wordrnn.prompt import MAX_PROMPT_CHARS


@dataclass(frozen=True)
class Range:
    """A numeric control: [low, high], its default, the slider's step."""

    low: float
    high: float
    default: Any
    step: float = 1
    integer: bool = True

    def clamp(self, value: Any) -> Any:
        return clamp(value, self.low, self.high, self.default, self.integer)


def clamp(value: Any, low: float, high: float, default: Any, integer: bool = True) -> Any:
    """`value` clamped to [low, high] (rounded if `integer`); `default` when it is no number.
    API callers can send anything for a slider: strings, booleans, null, NaN, 1e308."""
    number = _number(value)
    if number is None:
        return default
    number = min(high, max(low, number))
    return int(round(number)) if integer else number


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return None if number != number else number  # NaN is no number either


# The default decoding is chosen by `python -m bench.decoding` (table in the README): top-p 0.9 at
# temperature 0.7 with the no-repeat guard on 4-grams never loops, and its words are more likely
# under the model than plain top-k or top-p draws. Greedy (the exact argmax) is one click away.
DEFAULT_MODE = "top-p"
LENGTH = Range(1, MAX_WORDS, 128)
K = Range(1, 100, 10)
TEMPERATURE = Range(0.1, 2.0, 0.7, step=0.05, integer=False)
TOP_P = Range(0.05, 1.0, 0.9, step=0.05, integer=False)
NO_REPEAT = Range(0, 8, 4)  # n: no n-word sequence twice; 0 is off
RNG_SEED = Range(0, 2**63 - 1, None)  # what torch.Generator.manual_seed takes
DRAWN_SEEDS = 2**31  # a seed the app draws for a visitor is below this: short enough to read

NAMES = ("prompt", "length", "mode", "k", "temperature", "top_p", "no_repeat", "rng_seed")
RANGES = {"length": LENGTH, "k": K, "temperature": TEMPERATURE, "top_p": TOP_P, "no_repeat": NO_REPEAT}


def rng_seed(value: Any) -> int | None:
    """A whole number (0 to 2**63 - 1) for a reproducible draw; None when empty. ValueError
    when it is something else: unlike a slider's, a seed out of range is not clamped (every
    seed above the top would draw the same words), nor is 1.5 rounded."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    seed = _whole(value)
    if seed is None or not RNG_SEED.low <= seed <= RNG_SEED.high:
        raise ValueError(f"The rng seed must be a whole number from 0 to 2**63 - 1, or empty for a random draw; "
                         f"got {str(value)[:24]!r}.")
    return seed


def _whole(value: Any) -> int | None:
    """An int, a float with no fraction, or a string of either ("12", "1e5"); digits are read
    as an int, not through a float, which would round a seed of 17 digits or more."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        number = _number(value)
    return int(number) if number is not None and abs(number) < 2**53 and number.is_integer() else None


def check(values: Mapping[str, Any]) -> None:
    """ValueError for the first numeric control in `values` (RANGES' names) that is no number: an
    API caller's "abc", null or true. Clamping it to the default would answer a request that was
    never made; a number out of range is only clamped (a shared link's junk too: from_query)."""
    for name, declared in RANGES.items():
        value = values.get(name, declared.default)
        if isinstance(value, bool) or _number(value) is None:
            sent = "nothing" if value is None else repr(str(value)[:20])
            raise ValueError(f"{name} must be a number from {declared.low:g} to {declared.high:g}; got {sent}.")


def draw_seed() -> int:
    return secrets.randbelow(DRAWN_SEEDS)


def defaults() -> dict[str, Any]:
    return {"prompt": "", "mode": DEFAULT_MODE, "rng_seed": None,
            **{name: r.default for name, r in RANGES.items()}}


def query(values: Mapping[str, Any]) -> str:
    """The page's URL query for these control values ("?prompt=...&..."), each number as it is
    used (a length of 2.5 writes 2 words, and the link says 2)."""
    used = {**values, **{name: declared.clamp(values[name]) for name, declared in RANGES.items() if name in values}}
    return "?" + urlencode({name: "" if used.get(name) is None else used[name] for name in NAMES})


def from_query(params: Mapping[str, str]) -> dict[str, Any]:
    """Control values from a URL's query, clamped to the ranges; defaults for what is missing."""
    values = defaults()
    values["prompt"] = str(params.get("prompt", ""))[:MAX_PROMPT_CHARS]
    values["mode"] = params.get("mode") if params.get("mode") in MODES else DEFAULT_MODE
    for name, declared in RANGES.items():
        values[name] = declared.clamp(params.get(name, declared.default))
    try:
        values["rng_seed"] = rng_seed(params.get("rng_seed"))
    except ValueError:
        values["rng_seed"] = None
    return values
