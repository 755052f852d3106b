"""Every training CLI answers a user's mistake with one line `error: ...` and exit status 2, never
a traceback; `--help` names the command and shows the defaults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bench.examples_lm
import bench.plain
import bench.training
from tiny import TEXT
from training import corpus, evaluate, train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("cli")
    text = folder / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    return {"text": str(text), "missing": str(folder / "missing.txt"), "out": str(folder / "run"), "folder": str(folder)}


def status(main, argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit:
        return int(exit.code or 0)


TRAIN = ["--text", "{text}", "--out", "{out}"]
BAD = [
    (train.main, [*TRAIN, "--dropout", "1.5"], "--dropout"),
    (train.main, [*TRAIN, "--dropout", "-0.1"], "--dropout"),
    (train.main, [*TRAIN, "--weight-dropout", "1"], "--weight-dropout"),
    (train.main, [*TRAIN, "--hidden-sizes", "0"], "--hidden-sizes"),
    (train.main, [*TRAIN, "--hidden-sizes", "512", "-3"], "--hidden-sizes"),
    (train.main, [*TRAIN, "--embedding-size", "0"], "--embedding-size"),
    (train.main, [*TRAIN, "--batch-size", "0"], "--batch-size"),
    (train.main, [*TRAIN, "--seq-len", "0"], "--seq-len"),
    (train.main, [*TRAIN, "--epochs", "0"], "--epochs"),
    (train.main, [*TRAIN, "--epochs", "nan"], "--epochs"),
    (train.main, [*TRAIN, "--lr", "-1"], "--lr"),
    (train.main, [*TRAIN, "--lr", "inf"], "--lr"),
    (train.main, [*TRAIN, "--threads", "0"], "--threads"),
    (train.main, [*TRAIN, "--clip", "0"], "--clip"),
    (train.main, [*TRAIN, "--warmup", "0"], "--warmup"),
    (train.main, [*TRAIN, "--eval-interval", "0"], "--eval-interval"),
    (train.main, [*TRAIN, "--time-budget", "soon"], "--time-budget"),
    (train.main, [*TRAIN, "--time-budget", "0m"], "--time-budget"),
    (train.main, [*TRAIN, "--save-interval", "-5"], "--save-interval"),
    (train.main, [*TRAIN, "--activation-penalty", "-1"], "--activation-penalty"),
    (train.main, [*TRAIN, "--precision", "fp8"], "--precision"),
    (train.main, [*TRAIN, "--epochs", "2", "--average-epochs", "3"], "--average-epochs"),
    (train.main, [*TRAIN, "--adaptive-cutoffs", "50000"], "adaptive_cutoffs"),  # beyond the vocabulary
    (train.main, [*TRAIN, "--dropuot", "0.1"], "--dropuot"),
    (train.main, [*TRAIN, "--max-vocab", "1"], "--max-vocab"),
    (train.main, [*TRAIN, "--device", "tpu"], "--device tpu: this machine has no such device; it has cpu"),
    (train.main, [*TRAIN, "--device", "cuda:7"], "--device cuda:7: this machine has no such device"),
    (train.main, ["--text", "{folder}", "--out", "{out}"], "is a folder"),
    (train.main, ["--text", "{missing}", "--out", "{out}"], "there is no file"),
    (train.main, ["--text", "{text}", "--valid", "{missing}", "--out", "{out}"], "there is no file"),
    (train.main, ["--out", "{out}"], "--text is required"),
    (train.main, ["--out", "{out}", "--resume"], "nothing to resume"),
    (evaluate.main, ["--model", "{out}", "--text", "{missing}"], "there is no file"),
    (evaluate.main, ["--model", "{missing}", "--text", "{text}"], "missing.txt"),
    (evaluate.main, ["--model", "x", "--text", "{text}", "--batch-size", "0"], "--batch-size"),
    (evaluate.main, ["--text", "{text}"], "--model"),
    (corpus.main, ["kjv", "--block-size", "0"], "--block-size"),
    (corpus.main, ["bible"], "invalid choice"),
    (bench.training.main, ["--steps", "0"], "--steps"),
    (bench.training.main, ["--data", "{missing}"], "missing.txt"),
    (bench.examples_lm.main, ["--data", "{missing}", "--out", "{out}"], "has no train.txt"),
    (bench.examples_lm.main, ["--data", "{missing}", "--out", "{out}", "--minutes", "0"], "--minutes"),
    (bench.plain.main, ["--data", "{missing}"], "not found"),
    (bench.plain.main, ["--data", "{missing}", "--minutes", "-1"], "--minutes"),
]


@pytest.mark.parametrize("main, argv, message", BAD, ids=[" ".join(a) for _, a, _ in BAD])
def test_a_bad_flag_is_one_line_and_exit_2(files, main, argv, message, capsys, caplog):
    assert status(main, [a.format(**files) for a in argv]) == 2
    err = capsys.readouterr().err + caplog.text
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error: " in lines[0], err
    assert message in lines[0]
    assert not Path(files["out"], "model").exists()


@pytest.mark.parametrize("main, prog", [(train.main, "python -m training.train"),
                                        (evaluate.main, "python -m training.evaluate"),
                                        (corpus.main, "python -m training.corpus"),
                                        (bench.training.main, "python -m bench.training"),
                                        (bench.examples_lm.main, "python -m bench.examples_lm"),
                                        (bench.plain.main, "python -m bench.plain")])
def test_help_names_the_command_and_shows_defaults(main, prog, capsys):
    assert status(main, ["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {prog}")
    if main is train.main:
        assert "(default: 32)" in out and "(default: 300.0)" in out and "by the rule" in out


def test_a_real_process_shows_no_traceback(files):
    result = subprocess.run([sys.executable, "-m", "training.evaluate", "--model", "models/kjv-lstm",
                             "--text", files["missing"]], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_evaluate_says_how_much_of_the_text_the_model_does_not_know(files, tmp_path):
    foreign = tmp_path / "foreign.txt"
    foreign.write_text("съешь же ещё этих мягких французских булок\n" * 20, encoding="utf-8")
    for text, share, note in ((files["text"], "unknown words 0.0%", False), (str(foreign), "unknown words 87.5%", True)):
        result = subprocess.run([sys.executable, "-m", "training.evaluate", "--model", "models/kjv-lstm",
                                 "--text", text], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0 and share in result.stdout, result.stdout + result.stderr
        assert ("not in the model's vocabulary" in result.stderr) is note


def test_bench_training_skips_its_bf16_rows_where_bfloat16_is_not_native(tmp_path, caplog):
    words = [f"w{i % 7000}" for i in range(9000)]  # vocabulary enough for the adaptive cutoffs
    text = "\n".join(" ".join(words[i : i + 10]) for i in range(0, len(words), 10))
    for name in ("train", "valid"):
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    caplog.set_level("INFO")
    rows = bench.training.throughput_part(tmp_path, steps=2, out=tmp_path / "runs", bf16=False)
    table = [row for row in rows if row.startswith("| ") and "output layer" not in row]
    assert len(table) == 2 and not any("bf16" in row for row in table)
    assert "skipped (this CPU has no native bfloat16" in caplog.text
