"""Tests for training.corpus: the bible output parser, the block split, the kjv and text recipes."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from training.corpus import PATTERN, main, parse_bible_output, split_blocks, write_splits

ROOT = Path(__file__).resolve().parents[1]

# Real output of `bible "2Ki25:29-1Chr1:2"` (default pretty format: headings
# between blank lines, verse numbers, wrapped at 79 columns).
PRETTY_SAMPLE = """
2 Kings 25

  29 And changed his prison garments: and he did eat bread continually before
him all the days of his life.
  30 And his allowance was a continual allowance given him of the king, a daily
rate for every day, all the days of his life.

1 Chronicles 1

  1 Adam, Sheth, Enosh,
  2 Kenan, Mahalaleel, Jered,
"""

# Real output of `bible -f "Jn11:35-36" "Josh7:2" "Mk10:19"`; the source
# really has the double space in Josh7:2 and the trailing one in Mark10:19.
PLAIN_SAMPLE = "\n".join([
    "John11:35 Jesus wept.",
    "John11:36 Then said the Jews, Behold how he loved him!",
    "Josh7:2 And Joshua sent men from Jericho to Ai, which is beside Bethaven, on the east "
    "side of Bethel, and spake unto them, saying, Go up and view the country.  And the men "
    "went up and viewed Ai.",
    "Mark10:19 Thou knowest the commandments, Do not commit adultery, Do not kill, Do not "
    "steal, Do not bear false witness, Defraud not, Honour thy father and mother. ",
]) + "\n"


def test_parse_pretty_output_drops_headings_and_numbers_and_joins_wrapped_lines():
    assert parse_bible_output(PRETTY_SAMPLE) == [
        "And changed his prison garments: and he did eat bread continually before "
        "him all the days of his life.",
        "And his allowance was a continual allowance given him of the king, a daily "
        "rate for every day, all the days of his life.",
        "Adam, Sheth, Enosh,",
        "Kenan, Mahalaleel, Jered,",
    ]


def test_parse_plain_output_drops_references_and_normalises_whitespace():
    verses = parse_bible_output(PLAIN_SAMPLE)
    assert verses[:2] == ["Jesus wept.", "Then said the Jews, Behold how he loved him!"]
    assert "country. And the men" in verses[2]
    assert verses[3].endswith("Honour thy father and mother.")


def test_parse_rejects_unknown_format():
    with pytest.raises(ValueError, match="unrecognised"):
        parse_bible_output("Bad Book: 'xyz1:1'\nnot a verse\n")


def test_split_blocks_proportions_order_and_no_overlap():
    lines = [f"line {i}" for i in range(10_000)]
    splits = split_blocks(lines, block_size=50)
    assert list(splits) == ["train", "valid", "test"]
    assert {k: len(v) for k, v in splits.items()} == {"train": 9000, "valid": 500, "test": 500}
    assert sorted(sum(splits.values(), [])) == sorted(lines)  # partition: nothing lost or shared
    assert splits["valid"][:50] == lines[450:500]  # block 9 of every 20
    assert splits["test"][:50] == lines[950:1000]  # block 19 of every 20
    for part in splits.values():  # order within a split follows the source
        assert part == sorted(part, key=lambda s: int(s.split()[1]))


def test_split_blocks_is_deterministic_and_handles_ragged_tail():
    lines = [str(i) for i in range(1234)]
    assert split_blocks(lines, 7) == split_blocks(list(lines), 7)
    splits = split_blocks(lines, block_size=50)
    assert splits["train"][-1] == "1233"  # partial last block (block 24) goes to train
    assert sum(map(len, splits.values())) == 1234
    assert split_blocks([], 50) == {"train": [], "valid": [], "test": []}
    with pytest.raises(ValueError):
        split_blocks(lines, 0)


def test_write_splits_manifest(tmp_path):
    manifest = write_splits({"train": ["a b", "c"], "valid": ["d"]}, tmp_path, {"recipe": "x"})
    assert (tmp_path / "train.txt").read_text(encoding="utf-8") == "a b\nc\n"
    assert manifest == json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["recipe"] == "x"
    assert manifest["splits"]["train"]["verses"] == 2
    assert manifest["splits"]["train"]["words"] == 3
    assert manifest["splits"]["valid"]["sha256"] == hashlib.sha256(b"d\n").hexdigest()


def test_missing_bible_program_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `bible` on PATH
    assert main(["kjv", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "apt-get install bible-kjv" in err and "any UTF-8 text file" in err


def test_kjv_end_to_end(tmp_path):
    if shutil.which("bible") is None:
        pytest.skip("bible-kjv not installed: apt-get install bible-kjv")
    out = tmp_path / "kjv"
    subprocess.run([sys.executable, "-m", "training.corpus", "kjv", "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["pattern"] == list(PATTERN) and manifest["block_size"] == 50
    counts = {}
    for name, info in manifest["splits"].items():
        data = (out / info["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"]
        lines = data.decode("utf-8").splitlines()
        assert len(lines) == info["verses"]
        assert not [s for s in lines if not s or s != s.strip() or "  " in s]
        assert not [s for s in lines if re.search(r"\d", s)]  # no reference or verse number left
        counts[name] = len(lines)
    total = sum(counts.values())
    assert total == 31_102
    assert counts == {"train": 28_002, "valid": 1_550, "test": 1_550}
    assert abs(counts["valid"] / total - 0.05) < 0.002
    assert abs(counts["test"] / total - 0.05) < 0.002
    train = (out / "train.txt").read_text(encoding="utf-8")
    assert train.startswith("In the beginning God created the heaven and the earth.\n")
    # 31,102 = 622 full blocks + 2 verses; block 622 is position 2 of 20: train.
    assert train.endswith("The grace of our Lord Jesus Christ be with you all. Amen.\n")


def test_text_recipe_splits_any_file_gzip_too(tmp_path):
    import gzip
    lines = [f"line {i} of a  user's\ttext" for i in range(400)]
    raw = "\n\n".join(lines) + "\n"  # blank lines between: dropped
    (tmp_path / "mine.txt").write_text(raw, encoding="utf-8")
    (tmp_path / "mine.txt.gz").write_bytes(gzip.compress(raw.encode("utf-8")))
    for name in ("mine.txt", "mine.txt.gz"):
        out = tmp_path / f"out-{name}"
        assert main(["text", str(tmp_path / name), "--out", str(out), "--block-size", "10"]) == 0
        got = {s: (out / f"{s}.txt").read_text(encoding="utf-8").splitlines() for s in ("train", "valid", "test")}
        assert sorted(sum(got.values(), []), key=lambda l: int(l.split()[1])) == \
            [" ".join(l.split()) for l in lines]  # every line once, whitespace collapsed
        assert len(got["train"]) == 360 and len(got["valid"]) == len(got["test"]) == 20
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["recipe"] == "text" and manifest["source"] == name


def test_text_recipe_refuses_non_utf8_and_tiny_files(tmp_path, capsys):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1") * 100)
    assert main(["text", str(tmp_path / "latin1.txt"), "--out", str(tmp_path / "a")]) == 2
    assert "not UTF-8" in capsys.readouterr().err and not (tmp_path / "a").exists()
    (tmp_path / "short.txt").write_text("one\ntwo\n", encoding="utf-8")
    assert main(["text", str(tmp_path / "short.txt"), "--out", str(tmp_path / "b")]) == 2
    assert "at least" in capsys.readouterr().err


def test_text_recipe_counts_lines_not_verses(tmp_path, caplog):
    (tmp_path / "fortunes.txt").write_text("".join(f"fortune {i} says hello\n" for i in range(400)), encoding="utf-8")
    with caplog.at_level("INFO", logger="training.corpus"):
        assert main(["text", str(tmp_path / "fortunes.txt"), "--out", str(tmp_path / "out"), "--block-size", "10"]) == 0
    assert [r.getMessage().split()[:3] for r in caplog.records] == [
        ["train", "360", "lines"], ["valid", "20", "lines"], ["test", "20", "lines"]]


def test_text_recipe_names_its_file_argument_when_the_file_is_missing(tmp_path):
    # as a user runs it: the file is a positional argument here, not training.train's --text
    run = subprocess.run([sys.executable, "-m", "training.corpus", "text", "nope.txt", "--out", str(tmp_path / "n")],
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and not (tmp_path / "n").exists()
    assert run.stderr == ("error: nope.txt does not exist or is not a file; pass a UTF-8 text file after `text` "
                          "(text FILE --out DIR)\n")
