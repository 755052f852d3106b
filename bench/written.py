"""How a text reads once it has been through the tokenizer and back: the share of its lines that
detokenize writes as the text does (case aside: spellings are another measure), with the
fixed rules alone and with the text's learned spacing of marks (wordrnn/spacing.py).

    python -m bench.written data/jargon/train.txt /usr/share/common-licenses/GPL-3

The style is learned from each whole text, as training learns it from its --text, and each
line is written back from its own tokens: what a model trained on that text would write, if it
wrote those words. Deterministic: no timing, nothing depends on the machine.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
from pathlib import Path

from wordrnn.cli import Parser
from wordrnn.detokenizer import Style, detokenize
from wordrnn.tokenizer import tokenize, tokenize_line
from wordrnn.vocab import Vocabulary


def written_back(lines: list[str], style: Style) -> tuple[int, int]:
    """(lines written as the text writes them, characters that differ in the others)."""
    same = differ = 0
    for line, tokens in lines:
        want, got = " ".join(line.split()).lower(), detokenize(tokens, style).lower()
        if want == got:
            same += 1
            continue
        ops = difflib.SequenceMatcher(None, want, got, autojunk=False).get_opcodes()
        differ += sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in ops if op != "equal")
    return same, differ


def main(argv: list[str] | None = None) -> int:
    p = Parser("bench.written", __doc__)
    p.add_argument("texts", nargs="+", type=Path, help="text files (UTF-8)")
    args = p.parse_args(argv)
    print("| text | lines | fixed rules | learned spacing | keys learned |")
    print("|---|---:|---:|---:|---:|")
    for path in args.texts:
        text = path.read_text(encoding="utf-8", errors="replace")
        style = Vocabulary.build(tokenize(text), 2, text=text).style
        lines = [(line, tokens) for line in text.splitlines() if (tokens := tokenize_line(line))]
        cells = []
        for way in (dataclasses.replace(style, spacing={}), style):
            same, differ = written_back(lines, way)
            cells.append(f"{same / len(lines):.1%} ({differ:,} characters differ)")
        print(f"| {path} | {len(lines):,} | {cells[0]} | {cells[1]} | {len(style.spacing):,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
