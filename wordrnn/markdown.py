"""Plain text inside a model card's Markdown: escaped, formatted, in tables and quotes."""

from __future__ import annotations

import json
import re
from typing import Any


def escape(text: str) -> str:
    """Plain text (a path, a repo id, a message, a sample) inside markdown."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


def table(heading: str, column: str, rows: dict[str, Any], names: dict[str, str] | None = None) -> list[str]:
    """A "## heading" and a two-column table of `rows`. With `names`, the rows are a reader's: a
    key is shown as named there or else with spaces for its underscores, and "_s" keys as durations."""
    if not rows:
        return []
    shown = {(names or {}).get(k) or (k.replace("_", " ").capitalize() if names is not None else k):
             duration(v) if k.endswith("_s") and names is not None else value(v) for k, v in rows.items()}
    return [f"## {heading}", "", f"| {column} | Value |", "|---|---|", *(f"| {k} | {v} |" for k, v in shown.items()), ""]


def duration(seconds: Any) -> str:
    """57 min 5 s, 1 h 2 min, 12.5 s."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return value(seconds)
    minutes, rest = divmod(round(seconds), 60)
    if not minutes:
        return f"{seconds:g} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min" + (f" {rest} s" if rest else "")


def samples(rows: list[dict[str, str]]) -> list[str]:
    """The card's samples, each under its mode and prompt, quoted as written: "<Enter>", "*bold*"
    or "|link|" in a sample is text, not markup."""
    if not rows:
        return []
    lines = ["## Samples", ""]
    for sample in rows:
        lines += [f"**{sample.get('mode', 'greedy')}**, prompt *{escape(sample['prompt'])}*:", ""]
        lines += ["> " + escape(line) for line in sample["text"].splitlines() if line.strip()]
        lines += [""]
    return lines


def value(item: Any) -> str:
    if isinstance(item, int) and not isinstance(item, bool) and abs(item) >= 10_000:
        return f"{item:,}"  # 849,828 tokens; a seed or a batch size stays as typed
    if isinstance(item, float):
        return f"{item:.4g}"
    if isinstance(item, (list, dict)):
        return json.dumps(item)
    return str(item)
