"""
Prepare plain-text corpora for wordrnn, one verse (or sentence) per line.

    python -m training.corpus kjv --out data/kjv

The `kjv` recipe reads the King James Bible from Debian's bible-kjv package
(`apt-get install bible-kjv`), keeps each verse's text as printed (case and
punctuation intact, whitespace collapsed; the tokenizer lower-cases later)
and drops book/chapter headings and verse references. It writes
train.txt, valid.txt and test.txt (UTF-8, one verse per line) and a
manifest.json with verse/word counts and the sha256 of each file, so a
reproduction can be checked against a published manifest.

Split: the verses, in canonical order, are cut into consecutive blocks of
--block-size verses (default 50). Block i goes to PATTERN[i % 20], which
puts 18 blocks in train, block 9 in valid and block 19 in test: 90/5/5,
deterministic, with one valid and one test block every 1,000 verses from
Genesis to Revelation (31 blocks each, so not every short book is held out).
Whole blocks, not single verses, are held out so that a held-out passage is
not just the neighbour of two training verses. The data is generated, never
committed.

The `text` recipe splits any UTF-8 text file (gzip too) the same way, one
non-blank line per "verse":

    python -m training.corpus text /usr/share/doc/jargon-text/jargon.txt.gz --out data/jargon
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

KJV_RANGE = "Gen1:1-Rev22:21"
KJV_VERSES = 31_102
PATTERN: tuple[str, ...] = ("train",) * 9 + ("valid",) + ("train",) * 9 + ("test",)
INSTALL_HINT = (
    "the `bible` program was not found; install it with `apt-get install bible-kjv` "
    "(Debian/Ubuntu), or skip this recipe: training works on any UTF-8 text file"
)

# `bible -f` prints one verse per line as "Ge1:1 In the beginning...". The
# default pretty format wraps lines and prints "  1 In the beginning..." under
# headings such as "1 Chronicles 3"; -f toggles between the two, so which one
# a build defaults to is not something to rely on: the parser accepts both.
_REF = re.compile(r"^[1-3]?[A-Za-z]+\d+:\d+ ")
_NUM = re.compile(r"^\s+\d+ ")


def parse_bible_output(text: str) -> list[str]:
    """Return the verse texts in `bible` output, without references or headings."""
    verses: list[list[str]] = []
    after_blank = True
    for line in text.splitlines():
        if not line.strip():
            after_blank = True
            continue
        m = _REF.match(line) or _NUM.match(line)
        if m:
            verses.append([line[m.end():]])
        elif after_blank:
            pass  # pretty mode sets headings off with blank lines; wrapped text never follows one
        elif verses:
            verses[-1].append(line)
        else:
            raise ValueError(f"unrecognised bible output line: {line!r}")
        after_blank = False
    # The source has a few double and trailing spaces (Josh7:2, Mark10:19).
    return [" ".join(" ".join(parts).split()) for parts in verses]


def kjv_verses(bible: str = "bible") -> list[str]:
    """Run the `bible` program over the whole KJV and return its 31,102 verses."""
    exe = shutil.which(bible)
    if exe is None:
        raise RuntimeError(INSTALL_HINT)
    # stdin closed: with no usable reference bible falls back to an interactive prompt.
    proc = subprocess.run([exe, "-f", KJV_RANGE], capture_output=True, text=True,
                          encoding="utf-8", stdin=subprocess.DEVNULL, timeout=120)
    # bible reports errors such as "Bad Book" on stderr and still exits 0.
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"`{exe} -f {KJV_RANGE}` failed (exit {proc.returncode}): "
                           f"{proc.stderr.strip() or 'no output'}")
    verses = parse_bible_output(proc.stdout)
    if len(verses) != KJV_VERSES:
        log.warning("expected %d KJV verses, parsed %d", KJV_VERSES, len(verses))
    return verses


def text_lines(path: Path) -> list[str]:
    """The non-blank lines of a UTF-8 text file (or a gzip-compressed one), whitespace collapsed;
    read as training reads --text (training.data.read_text)."""
    from .data import DataError, read_text  # here: the kjv recipe needs neither it nor torch

    try:
        text = read_text(path, given="after `text` (text FILE --out DIR)")  # a positional argument here
    except DataError as err:
        raise RuntimeError(str(err)) from None
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < len(PATTERN):
        raise RuntimeError(f"{path} has {len(lines)} non-blank lines; a split needs at least {len(PATTERN)}")
    return lines


def split_blocks(lines: Sequence[str], block_size: int = 50,
                 pattern: Sequence[str] = PATTERN) -> dict[str, list[str]]:
    """Assign consecutive blocks of `block_size` lines to splits, cycling `pattern`."""
    if block_size < 1 or not pattern:
        raise ValueError("block_size must be >= 1 and pattern non-empty")
    splits: dict[str, list[str]] = {name: [] for name in dict.fromkeys(pattern)}
    for start in range(0, len(lines), block_size):
        name = pattern[(start // block_size) % len(pattern)]
        splits[name].extend(lines[start:start + block_size])
    return splits


def write_splits(splits: dict[str, list[str]], out_dir: Path | str,
                 meta: dict | None = None, unit: str = "verses") -> dict:
    """Write `<split>.txt` files and manifest.json into `out_dir`; return the manifest. `unit`
    names the lines in the log: verses for the KJV, plain lines for any other text. The
    manifest counts them under "verses" whatever they are, as published manifests do."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, lines in splits.items():
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        (out / f"{name}.txt").write_bytes(data)  # bytes: same file, same hash on any OS
        words = sum(len(line.split()) for line in lines)
        files[name] = {"file": f"{name}.txt", "verses": len(lines), "words": words,
                       "sha256": hashlib.sha256(data).hexdigest()}
        log.info("%-5s %7d %s %9d words -> %s", name, len(lines), unit, words, out / f"{name}.txt")
    # No timestamps or paths: identical input must give a byte-identical manifest.
    manifest = {**(meta or {}), "splits": files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    from wordrnn.cli import Parser, positive_int

    parser = Parser("training.corpus", description="Prepare train/valid/test text corpora.")
    recipes = parser.add_subparsers(dest="recipe", required=True, metavar="RECIPE",
                                    parser_class=Parser)
    kjv = recipes.add_parser("kjv", help="King James Bible from the bible-kjv package",
                             formatter_class=parser.formatter_class)
    kjv.add_argument("--out", type=Path, default=Path("data/kjv"), help="output directory")
    kjv.add_argument("--block-size", type=positive_int, default=50, help="consecutive verses per block")
    text = recipes.add_parser("text", help="any UTF-8 text file (or .gz), split by its non-blank lines",
                              formatter_class=parser.formatter_class)
    text.add_argument("file", type=Path, help="the text file")
    text.add_argument("--out", type=Path, required=True, help="output directory")
    text.add_argument("--block-size", type=positive_int, default=50, help="consecutive lines per block")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.recipe == "kjv":
            verses, unit = kjv_verses(), "verses"
            source = f"bible -f {KJV_RANGE} (Debian bible-kjv)"
        else:
            verses, unit, source = text_lines(args.file), "lines", args.file.name
        meta = {"recipe": args.recipe, "source": source, "block_size": args.block_size, "pattern": list(PATTERN)}
        write_splits(split_blocks(verses, args.block_size), args.out, meta, unit)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
