"""The embedded default model (models/kjv-lstm): it loads, writes, and its card tells the truth."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from training.evaluate import evaluate, stream
from wordrnn import Checkpoint
from wordrnn.generate import Generator
from wordrnn.source import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def default() -> Checkpoint:
    return Checkpoint.from_pretrained(DEFAULT_MODEL)


def test_it_ships_small_and_as_safetensors():
    files = {p.name: p.stat().st_size for p in DEFAULT_MODEL.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.json", "card.json", "README.md", "loss_curve.png"} <= set(files)
    assert sum(files.values()) <= 32 * 2**20
    assert not [name for name in files if name.endswith((".bin", ".pt", ".pth", ".pkl"))]


def test_it_generates_from_seven_seed_words(default):
    gen = Generator(default, device="cpu")
    words = list(gen.stream("and god said unto moses , go", words=32))
    assert len(words) == 32 and "<unk>" not in words
    assert gen.text("in the beginning god created the heaven", words=16).startswith("In the beginning God")


def test_the_card_matches_the_weights(default):
    card = (DEFAULT_MODEL / "README.md").read_text(encoding="utf-8")
    vocab = int(re.search(r"\| Vocabulary \| ([\d,]+) tokens \|", card).group(1).replace(",", ""))
    params = int(re.search(r"\| Parameters \| ([\d,]+) \|", card).group(1).replace(",", ""))
    assert vocab == len(default.vocab) == default.model.config.vocab_size
    assert params == default.model.num_parameters()
    metrics = default.info["metrics"]
    assert {"valid_perplexity", "test_perplexity", "valid_accuracy", "test_accuracy"} <= set(metrics)
    assert "![loss_curve.png](loss_curve.png)" in card
    assert {s["mode"].split()[0] for s in default.info["samples"]} == {"greedy", "top-k"}
    assert "<unk>" not in card.partition("## Samples")[2].lower()
    assert "public domain in most countries" in card and "letters patent" in card  # the KJV text's status
    assert default.info["license"] == "apache-2.0" and "](https://github.com/)" not in card


@pytest.mark.slow
def test_test_perplexity_matches_the_card(default, tmp_path):
    if shutil.which("bible") is None:
        pytest.skip("the KJV corpus needs Debian's bible-kjv: apt-get install bible-kjv")
    subprocess.run([sys.executable, "-m", "training.corpus", "kjv", "--out", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True)
    text = (tmp_path / "test.txt").read_text(encoding="utf-8")
    score = evaluate(default.model, stream(text, default.vocab), batch_size=1)  # the card's settings
    assert score.perplexity == pytest.approx(default.info["metrics"]["test_perplexity"], rel=0.01)
