"""The command lines of wordrnn.generate, wordrnn.push, wordrnn.space and training.release: a
user's mistake is one line `error: ...` and exit status 2, never a traceback; --help shows
how each is invoked and its defaults."""

from __future__ import annotations

import argparse

import pytest

from training import release
from wordrnn import generate, push, space
from wordrnn.cli import duration

TOOLS = {"wordrnn.generate": generate.main, "wordrnn.push": push.main, "wordrnn.space": space.main,
         "training.release": release.main}

BAD = [
    ("wordrnn.generate", ["and god", "--words", "0"], "--words: '0' is not a whole number from 1 to 500"),
    ("wordrnn.generate", ["and god", "--words", "many"], "'many' is not a whole number"),
    ("wordrnn.generate", ["and god", "--k", "0"], "--k: '0' is not a whole number of at least 1"),
    ("wordrnn.generate", ["and god", "--temperature", "0"], "--temperature: '0' is not a number above 0"),
    ("wordrnn.generate", ["and god", "--temperature", "nan"], "--temperature: 'nan' is not a number above 0"),
    ("wordrnn.generate", ["and god", "--top-p", "1.5"], "--top-p: '1.5' is not a number in (0, 1]"),
    ("wordrnn.generate", ["and god", "--seed", "-1"], "--seed: '-1' is not a whole number of at least 0"),
    ("wordrnn.generate", ["and god", "--no-repeat-ngram", "-2"], "--no-repeat-ngram: '-2' is not a whole number of at least 0"),
    ("wordrnn.generate", ["and god", "--mode", "beam"], "invalid choice: 'beam'"),
    ("wordrnn.generate", ["and god", "--modle", "x"], "unrecognized arguments: --modle x"),
    ("wordrnn.generate", [], "give seed words"),
    ("wordrnn.generate", ["and god", "--model", "{tmp}/missing"], "there is no checkpoint folder at"),
    ("wordrnn.generate", ["and god", "--model", "{model}", "--device", "tpu"], "unknown device 'tpu'"),
    ("wordrnn.push", ["{tmp}/missing", "me/x"], "there is no folder"),
    ("wordrnn.push", ["{model}", "no-owner"], "'no-owner' is not a Hub repo id"),
    ("wordrnn.push", ["{model}"], "the following arguments are required: repo_id"),
    ("wordrnn.push", ["{tmp}", "me/x"], "config.json is missing"),
    ("wordrnn.space", ["bad id!"], "'bad id!' is not a Hub repo id"),
    ("wordrnn.space", ["me/x", "--public"], "unrecognized arguments: --public"),
    ("training.release", ["{tmp}/missing", "{tmp}/out"], "there is no checkpoint folder at"),
    ("training.release", ["{model}", "{tmp}/out", "--test", "{tmp}/missing.txt"], "there is no file"),
    ("training.release", ["{model}", "{tmp}/out", "--description-file", "{tmp}/no.md"], "there is no file"),
    ("training.release", ["{model}", "{tmp}/out", "--dtype", "int8"], "invalid choice: 'int8'"),
    ("training.release", ["{model}", "{tmp}/out", "--repo-id", "x y"], "'x y' is not a Hub repo id"),
    ("training.release", ["{model}", "{tmp}/out", "--prompt", "and zebra said"], "has words the model does not know"),
]


@pytest.fixture(scope="module")
def model(tiny_checkpoint, tmp_path_factory):
    return tiny_checkpoint.save_pretrained(tmp_path_factory.mktemp("cli") / "model")


@pytest.mark.parametrize("tool, argv, message", BAD, ids=[f"{t}:{' '.join(a)}" for t, a, _ in BAD])
def test_a_mistake_is_one_line_and_exit_2(tool, argv, message, model, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, model=model) for a in argv]
    with pytest.raises(SystemExit) as exit_:
        TOOLS[tool](argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tool", TOOLS)
def test_help_shows_the_invocation_and_defaults(tool, capsys):
    with pytest.raises(SystemExit) as exit_:
        TOOLS[tool](["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and out.startswith(f"usage: python -m {tool} ")
    assert tool == "wordrnn.space" or "(default: " in out


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("15m", 900), ("1.5h", 5400), ("1m30s", 90),
                                           (" 1h 30m ", 5400), (".5m", 30)])
def test_durations_read_as_people_write_them(text, seconds):
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "0m", "1x", "m", "1m30", "-5", ""])
def test_a_duration_that_is_not_one_says_how_to_write_it(text):
    with pytest.raises(argparse.ArgumentTypeError, match="like 90s, 15m, 1m30s or 1.5h"):
        duration(text)
