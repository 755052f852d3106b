"""training/: learning, resuming, interrupting, distributed runs, bad input and pushing."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tiny import TEXT
from training.data import DataError, holdout_split, load_corpus
from wordrnn.cli import UsageError
from training.precision import autocast_dtype, native_bf16
from training.evaluate import evaluate, stream
from training.train import main
from wordrnn import Checkpoint

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--embedding-size", "32", "--hidden-sizes", "64", "--batch-size", "4", "--seq-len", "16",
         "--lr", "0.01", "--warmup", "10", "--threads", "1", "--no-progress",
         # the regularizers off unless a test turns them on (the rules would choose them)
         "--embedding-dropout", "0", "--weight-dropout", "0", "--activation-penalty", "0",
         "--temporal-penalty", "0", "--average-epochs", "0"]
CPU = torch.device("cpu")
needs_native_bf16 = pytest.mark.skipif(not native_bf16(CPU), reason="this CPU has no native bfloat16")


@pytest.fixture(scope="module")
def text(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("text") / "genesis.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def generated_corpus(words: int = 40, per_line: int = 8, repeats: int = 8) -> str:
    """A cycle of distinct words in fixed lines: each word determines the next, so a model that
    learns at all reaches (almost) 100% next-word accuracy."""
    cycle = [f"w{(i * 7) % words}" for i in range(words)]
    lines = [" ".join(cycle[i : i + per_line]) for i in range(0, words, per_line)]
    return "\n".join(lines * repeats) + "\n"


def train(text: Path, out: Path, *extra: str) -> int:
    return main(["--text", str(text), "--valid", str(text), "--out", str(out), *SMALL, *extra])


@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=needs_native_bf16)])
def test_a_generated_corpus_is_learned_to_high_accuracy(tmp_path, precision):
    corpus = generated_corpus()
    text = tmp_path / "cycle.txt"
    text.write_text(corpus, encoding="utf-8")
    assert train(text, tmp_path / "run", "--epochs", "40", "--dropout", "0", "--eval-interval", "80",
                 "--precision", precision) == 0
    checkpoint = Checkpoint.from_pretrained(tmp_path / "run" / "model")
    assert checkpoint.info["training"]["precision"] == {"fp32": "float32", "bf16": "bfloat16 autocast"}[precision]
    score = evaluate(checkpoint.model, stream(corpus, checkpoint.vocab), batch_size=1)
    assert score.accuracy >= 0.95
    files = {p.name for p in (tmp_path / "run" / "model").iterdir()}
    assert {"config.json", "model.safetensors", "vocab.json", "README.md", "loss_curve.png"} <= files
    metrics = checkpoint.info["metrics"]
    assert metrics["valid_perplexity"] > 1.0 and "valid_accuracy" in metrics
    assert "![loss_curve.png](loss_curve.png)" in (tmp_path / "run" / "model" / "README.md").read_text()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"train", "valid"} == {row["kind"] for row in rows}


@pytest.mark.parametrize("precision, device, native, expected", [
    ("fp32", "cpu", True, None), ("auto", "cpu", True, torch.bfloat16), ("auto", "cpu", False, None),
    ("bf16", "cpu", True, torch.bfloat16), ("auto", "cuda", True, torch.bfloat16),
    ("auto", "cuda", False, torch.float16), ("bf16", "cuda", False, torch.bfloat16),
    ("fp16", "cuda", True, torch.float16), ("fp32", "cuda", True, None),
])
def test_autocast_dtype_is_bf16_where_native_and_fp16_on_older_gpus(precision, device, native, expected):
    assert autocast_dtype(precision, torch.device(device), native=native) is expected


@pytest.mark.parametrize("precision, device", [("bf16", "cpu"), ("fp16", "cpu")])
def test_precisions_that_cannot_run_are_refused_with_the_reason(precision, device):
    with pytest.raises(UsageError, match="--precision"):
        autocast_dtype(precision, torch.device(device), native=False)


def test_auto_precision_follows_the_cpu_features(monkeypatch):
    for avx512_bf16, amx, expected in [(False, False, None), (True, False, torch.bfloat16),
                                       (False, True, torch.bfloat16)]:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
        assert autocast_dtype("auto", CPU) is expected


def test_bf16_on_a_cpu_without_it_says_why_and_exits_2(text, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert train(text, tmp_path / "run", "--max-steps", "2", "--precision", "bf16") == 2
    assert "error: --precision bf16 needs a CPU that multiplies bfloat16 natively" in caplog.text
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_resume_gives_the_same_parameters_as_an_uninterrupted_run(text, tmp_path):
    common = ["--epochs", "3", "--eval-interval", "7", "--dropout", "0.3"]
    assert train(text, tmp_path / "whole", *common, "--max-steps", "30") == 0
    assert train(text, tmp_path / "parts", *common, "--max-steps", "13") == 0
    assert main(["--out", str(tmp_path / "parts"), "--resume", "--max-steps", "30", "--no-progress"]) == 0
    whole = load_file(str(tmp_path / "whole" / "training_state" / "tensors.safetensors"))
    parts = load_file(str(tmp_path / "parts" / "training_state" / "tensors.safetensors"))
    assert whole.keys() == parts.keys()
    for name in whole:
        assert torch.equal(whole[name], parts[name]), name


def test_a_resume_refuses_options_it_would_ignore_and_says_when_nothing_is_left(text, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="training")
    run = tmp_path / "run"
    assert train(text, run, "--epochs", "1") == 0
    rows = (run / "metrics.jsonl").read_text()
    caplog.clear()
    assert main(["--out", str(run), "--resume", "--epochs", "500", "--lr", "0.5", "--no-tie"]) == 2
    said = " ".join(caplog.text.split())
    assert "--epochs 500.0 (the run's: 1.0)" in said and "--lr 0.5 (the run's: 0.01)" in said
    assert "--no-tie (the run's: True)" in said and "start a new run with another --out" in said
    caplog.clear()  # the same text and its own options again are no change; a finished run says so
    assert main(["--out", str(run), "--resume", "--text", str(text), *SMALL]) == 0
    assert "nothing to train: the run is at step" in caplog.text and "steps in all" in caplog.text
    assert (run / "metrics.jsonl").read_text().count('"train"') == rows.count('"train"')


def test_starting_over_an_existing_run_is_refused(text, tmp_path, caplog):
    assert train(text, tmp_path / "run", "--max-steps", "3") == 0
    assert train(text, tmp_path / "run", "--max-steps", "3") == 2
    assert "--resume" in caplog.text


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x00\x01\x02binary\x00", "binary"),
        ("caf\u00e9 na\u00efve".encode("latin-1"), "UTF-8"),
        (b"too short", "too few"),
    ],
)
def test_bad_input_files_are_refused_with_a_message(tmp_path, caplog, content, message):
    path = tmp_path / "input.txt"
    path.write_bytes(content)
    assert main(["--text", str(path), "--out", str(tmp_path / "run"), *SMALL]) == 2
    assert message in caplog.text
    assert not (tmp_path / "run" / "model").exists()


@pytest.mark.parametrize("lines", [1, 7, 40, 400])
def test_the_held_out_text_is_never_training_text(lines):
    words = [f"w{i}" for i in range(2000)]
    per = len(words) // lines
    text = "\n".join(" ".join(words[n * per : (n + 1) * per]) for n in range(lines))
    train, valid = holdout_split(text)
    assert train.split() + valid.split() == words[: per * lines]  # the end held out, nothing twice
    assert len(valid.split()) == pytest.approx(0.05 * per * lines, rel=0.05)
    assert len(train.splitlines()) + len(valid.splitlines()) in (lines, lines + 1)  # lines kept (one cut)


def test_the_vocabulary_learns_how_the_training_text_writes_its_words(tmp_path):
    text = "And God said unto Moses, see.\nThen God spake and Moses went.\n" * 3 + "So the god of the land.\n"
    (tmp_path / "valid.txt").write_text("God said.", encoding="utf-8")
    corpus = load_corpus(_written(tmp_path, text), valid_path=tmp_path / "valid.txt", min_count=1)
    assert corpus.vocab.style.spellings == {"god": "God", "moses": "Moses"} and not corpus.vocab.style.wrapped


def test_a_gzip_text_is_read_and_a_folder_is_named(tmp_path, capsys):
    plain = generated_corpus(words=20, repeats=20)
    (tmp_path / "text.txt.gz").write_bytes(gzip.compress(plain.encode()))
    assert load_corpus(tmp_path / "text.txt.gz").vocab.tokens == load_corpus(_written(tmp_path, plain)).vocab.tokens
    (tmp_path / "broken.gz").write_bytes(gzip.compress(plain.encode())[:30])
    with pytest.raises(DataError, match="gzip-compressed but cannot be read"):
        load_corpus(tmp_path / "broken.gz")
    assert main(["--text", str(tmp_path), "--out", str(tmp_path / "run"), *SMALL]) == 2
    assert "is a folder" in capsys.readouterr().err


def _written(folder, text: str):
    path = folder / "text.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_missing_file_is_refused(tmp_path, capsys):
    assert main(["--text", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "run"), *SMALL]) == 2
    assert "there is no file" in capsys.readouterr().err


def test_a_missing_file_is_named_by_its_flag(text, tmp_path):
    # training.train's argument check says it first; the library says it for any other caller
    with pytest.raises(DataError, match=r"nope.txt does not exist or is not a file; pass a UTF-8 text file with --text$"):
        load_corpus(tmp_path / "nope.txt")
    with pytest.raises(DataError, match=r"nope.txt does not exist or is not a file; pass a UTF-8 text file with --valid$"):
        load_corpus(text, valid_path=tmp_path / "nope.txt")


@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=needs_native_bf16)])
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(text, tmp_path, caplog, precision):
    # An absurd learning rate makes the loss blow up after the first step (whose loss comes
    # from the initial weights), and the validation after step 1 has saved a checkpoint.
    code = train(text, tmp_path / "bad", "--lr", "1e9", "--warmup", "1", "--clip", "1e30",
                 "--max-steps", "200", "--eval-interval", "1", "--precision", precision)
    assert code == 1
    assert "the loss became" in caplog.text and "The last good checkpoint is" in caplog.text
    Checkpoint.from_pretrained(tmp_path / "bad" / "model")  # the last good checkpoint still loads


def test_nan_loss_before_any_checkpoint_says_so(text, tmp_path, caplog):
    code = train(text, tmp_path / "bad", "--lr", "1e9", "--warmup", "1", "--clip", "1e30",
                 "--max-steps", "200", "--eval-interval", "1000")
    assert code == 1
    assert "No checkpoint had been saved yet" in caplog.text
    assert not (tmp_path / "bad" / "model").exists()


def test_push_to_hub_and_a_failed_push_keeps_the_checkpoint(text, tmp_path, hub, caplog, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))  # none stored: the test Hub takes none
    assert train(text, tmp_path / "ok", "--max-steps", "4", "--push-to-hub", "tester/tiny-run") == 0
    assert "no Hub token found" in caplog.text  # said at the start, not after the training
    files = hub.files("tester/tiny-run")
    assert "model.safetensors" in files
    assert b'from_pretrained("tester/tiny-run")' in files["README.md"]  # the repo, not the local folder
    assert str(tmp_path).encode() not in files["card.json"] + files["README.md"]
    hub.fail_commits = 422
    try:
        assert train(text, tmp_path / "fail", "--max-steps", "4", "--push-to-hub", "tester/tiny-fail") == 1
    finally:
        hub.fail_commits = None
    assert f"{tmp_path / 'fail' / 'model'} tester/tiny-fail" in caplog.text  # the retry command (wordrnn-push or -m)
    Checkpoint.from_pretrained(tmp_path / "fail" / "model")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "RANK", "WORLD_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_sigint_leaves_a_loadable_checkpoint(text, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "training.train", "--text", str(text), "--valid", str(text),
           "--out", str(run), *SMALL, "--epochs", "100000", "--eval-interval", "100000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "metrics.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err
    Checkpoint.from_pretrained(run / "model")
    assert (run / "training_state" / "state.json").exists()


def test_torchrun_two_processes_end_identical_with_a_checkpoint(text, tmp_path):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training.train", "--text", str(text), "--valid", str(text), "--out", str(run),
           *SMALL, "--max-steps", "12", "--eval-interval", "6"]
    result = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "parameters identical on all 2 ranks" in result.stderr
    checkpoint = Checkpoint.from_pretrained(run / "model")
    assert checkpoint.info["training"]["processes"] == 2


def test_awd_regularizers_go_into_the_checkpoint_and_still_learn(tmp_path):
    text = tmp_path / "cycle.txt"
    text.write_text(generated_corpus(), encoding="utf-8")
    assert train(text, tmp_path / "run", "--epochs", "40", "--eval-interval", "80", "--dropout", "0.1",
                 "--input-dropout", "0.1", "--embedding-dropout", "0.05", "--weight-dropout", "0.2") == 0
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert (config["input_dropout"], config["embedding_dropout"], config["weight_dropout"]) == (0.1, 0.05, 0.2)
    valid = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open() if '"valid"' in line]
    assert valid[-1]["valid_accuracy"] > 0.6  # chance is 1 in 40; unregularized runs reach 0.95
    assert "weight 0.2" in (tmp_path / "run" / "model" / "README.md").read_text()


def test_weight_averaging_validates_the_mean_and_resumes_exactly(text, tmp_path):
    common = ["--epochs", "12", "--average-epochs", "4", "--eval-interval", "5", "--dropout", "0.3"]
    assert train(text, tmp_path / "whole", *common) == 0
    rows = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").open()]
    train_rows = [row for row in rows if row["kind"] == "train"]
    total, per_epoch = train_rows[-1]["step"], train_rows[-1]["step"] / train_rows[-1]["epoch"]
    start = total - 4 * per_epoch  # the first averaged step
    held = [row["lr"] for row in train_rows if row["step"] > start]
    decaying = [row["lr"] for row in train_rows if 10 < row["step"] <= start]  # after warm-up
    assert len(held) >= 2 and all(lr == pytest.approx(0.001) for lr in held)  # 10% of --lr 0.01
    assert len(decaying) >= 2 and decaying == sorted(decaying, reverse=True) and decaying[-1] > 0.001

    # Interrupted inside the averaging epochs and resumed: the same weights and the same mean.
    assert train(text, tmp_path / "parts", *common, "--max-steps", str(total - 7)) == 0
    assert main(["--out", str(tmp_path / "parts"), "--resume", "--no-progress"]) == 0
    whole = load_file(str(tmp_path / "whole" / "training_state" / "tensors.safetensors"))
    parts = load_file(str(tmp_path / "parts" / "training_state" / "tensors.safetensors"))
    assert whole.keys() == parts.keys() and any(k.startswith("average.") for k in whole)
    for name in whole:
        assert torch.equal(whole[name], parts[name]), name

    # The last validation scored the mean, not the last step's weights.
    checkpoint = Checkpoint.from_pretrained(tmp_path / "whole" / "model")
    mean = {k[len("average."):]: v for k, v in whole.items() if k.startswith("average.")}
    with torch.no_grad():
        for name, value in checkpoint.model.named_parameters():  # a tied matrix once
            value.copy_(mean[name])
    last = [row for row in rows if row["kind"] == "valid"][-1]
    valid = load_corpus(text, text, vocab=checkpoint.vocab).valid  # as the run read it
    assert evaluate(checkpoint.model, valid).loss == pytest.approx(last["valid_loss"], rel=1e-6)
    averaging = checkpoint.info["training"].get("weight_averaging", "")
    if checkpoint.info["training"]["steps"] > start:  # the best came from the mean
        assert f"last {checkpoint.info['training']['steps'] - round(start)} steps" in averaging


def test_activation_penalties_are_named_on_the_card(text, tmp_path):
    assert train(text, tmp_path / "run", "--max-steps", "4", "--eval-interval", "2",
                 "--activation-penalty", "2", "--temporal-penalty", "1") == 0
    assert "AR 2.0, TAR 1.0" in (tmp_path / "run" / "model" / "README.md").read_text()
    assert train(text, tmp_path / "bad", "--epochs", "2", "--average-epochs", "2") == 2


def test_without_a_progress_bar_the_log_says_how_far_the_run_is_between_validations(text, tmp_path, caplog,
                                                                                  monkeypatch):
    from training import report
    monkeypatch.setattr(report, "LOG_EVERY", 0.0)  # a line every minute, here at every row
    caplog.set_level(logging.INFO, logger="training")
    assert train(text, tmp_path / "run", "--max-steps", "30", "--eval-interval", "1000") == 0
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ") and "tokens/s" in r.getMessage()]
    assert lines and lines[-1].startswith("step 30 of 30: loss ")
