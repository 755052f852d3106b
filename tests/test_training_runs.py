"""A run as someone training on their own text meets it: its run folder and --out, what its card
carries for the app, resuming with flags and a budget, and validation that stays bounded and
stops when asked."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import torch

from test_training import SMALL, generated_corpus, train
from tiny import TEXT
from training import loop as training_loop
from training.evaluate import Interrupted, evaluate
from training.train import main
from wordrnn import Checkpoint, CheckpointError, examples


@pytest.fixture
def text(tmp_path) -> Path:
    path = tmp_path / "genesis.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_validation_reads_a_bounded_prefix_and_says_so(tmp_path, monkeypatch, caplog):
    corpus = tmp_path / "cycle.txt"
    corpus.write_text(generated_corpus(repeats=20), encoding="utf-8")  # 900 validation tokens
    monkeypatch.setattr(training_loop, "VALID_TOKENS", 100)
    caplog.set_level(logging.INFO, logger="training")
    assert train(corpus, tmp_path / "run", "--max-steps", "6", "--eval-interval", "3", "--precision", "fp32") == 0
    checkpoint = Checkpoint.from_pretrained(tmp_path / "run" / "model")
    said = "the first 100 of 899 held-out tokens, the same at every validation"  # the first token is context
    assert checkpoint.info["training"]["validation"] == said and said in caplog.text
    from training.data import load_corpus

    valid = load_corpus(corpus, corpus).valid
    score = evaluate(checkpoint.model, valid[:101])  # the prefix the card's score was measured on
    assert score.tokens == 100 and score.loss == pytest.approx(checkpoint.info["metrics"]["valid_loss"], rel=1e-5)


def test_a_stop_request_ends_a_scoring_pass_between_chunks(tiny_checkpoint):
    ids = torch.tensor(tiny_checkpoint.vocab.encode(TEXT.split()) * 4)
    asked, seen = [], []
    with pytest.raises(Interrupted, match="scoring stopped after"):
        evaluate(tiny_checkpoint.model, ids, batch_size=1, seq_len=16,
                 stop=lambda: asked.append(1) or len(asked) > 2, progress=lambda done, total: seen.append(done))
    assert len(asked) == 3 and seen == [16, 32]  # two chunks scored, the third never begun


def test_a_stop_during_validation_keeps_the_best_checkpoint_and_the_test_is_skipped(text, tmp_path, caplog):
    from training import finish
    from training.data import load_corpus

    caplog.set_level(logging.INFO, logger="training")
    run = tmp_path / "run"
    assert train(text, run, "--max-steps", "3") == 0
    before = (run / "model" / "model.safetensors").read_bytes()
    corpus = load_corpus(text, text, min_count=2)
    finish.complete(run / "model", corpus, run / "metrics.jsonl", str(text), stop=lambda: True)
    info = Checkpoint.from_pretrained(run / "model").info
    assert "test_perplexity" not in info["metrics"] and info["samples"]  # the card is still completed
    assert "test scoring skipped on the stop request" in caplog.text
    assert (run / "model" / "model.safetensors").read_bytes() == before


def test_a_fresh_run_starts_a_fresh_metrics_log(text, tmp_path):
    run = tmp_path / "run"
    run.mkdir()  # an earlier run, killed before its first save: metrics but no training_state
    (run / "metrics.jsonl").write_text(json.dumps({"kind": "train", "step": 310, "loss": 2.0}) + "\n")
    assert train(text, run, "--max-steps", "4") == 0
    steps = [row["step"] for row in rows(run)]
    assert 310 not in steps and steps == sorted(steps)


def test_the_card_carries_held_out_prompts_and_examples_the_app_accepts(text, tmp_path):
    valid = tmp_path / "valid.txt"
    valid.write_text("and the spirit of god moved upon the face of the waters .\n~ ~ ~ ~ ~ ~ ~ ~\n", encoding="utf-8")
    run = tmp_path / "run"
    assert main(["--text", str(text), "--valid", str(valid), "--out", str(run), *SMALL, "--max-steps", "3"]) == 0
    checkpoint = Checkpoint.from_pretrained(run / "model")
    info, vocab = checkpoint.info, checkpoint.vocab
    assert examples.held_out(vocab, info) == ["And the spirit of god moved upon"]  # the validation text's line
    shown = examples.examples(vocab, info)
    assert len(shown) == 5 and shown[0] == "In the beginning god created the heaven"  # the text's own lines
    assert len(set(shown)) == len(shown) and {s["prompt"] for s in info["samples"]} == set(info["held_out"])


def test_language_is_stated_only_when_given_and_checked(text, tmp_path, caplog):
    assert train(text, tmp_path / "plain", "--max-steps", "2") == 0
    assert train(text, tmp_path / "de", "--max-steps", "2", "--language", "DE") == 0
    assert "language" not in Checkpoint.from_pretrained(tmp_path / "plain" / "model").info
    assert Checkpoint.from_pretrained(tmp_path / "de" / "model").info["language"] == "de"
    assert "language: de" in (tmp_path / "de" / "model" / "README.md").read_text()
    assert "language:" not in (tmp_path / "plain" / "model" / "README.md").read_text()
    assert train(text, tmp_path / "bad", "--max-steps", "2", "--language", "German!") == 2


def test_the_card_snippet_loads_the_folder_wherever_it_runs(text, tmp_path):
    assert train(text, tmp_path / "run", "--max-steps", "2") == 0
    readme = (tmp_path / "run" / "model" / "README.md").read_text()
    assert f'Checkpoint.from_pretrained("{(tmp_path / "run" / "model").resolve()}")' in readme


def test_a_resume_refuses_a_typed_flag_even_at_its_default(text, tmp_path, caplog):
    run = tmp_path / "run"
    assert train(text, run, "--max-steps", "3") == 0  # SMALL's --batch-size 4
    caplog.clear()
    assert main(["--out", str(run), "--resume", "--max-steps", "6", "--batch-size", "32"]) == 2
    assert "--batch-size 32 (the run's: 4)" in caplog.text


def test_a_resume_keeps_the_budget_and_says_what_is_left(text, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="training")
    run = tmp_path / "run"
    assert train(text, run, "--max-steps", "3", "--time-budget", "1h") == 0
    caplog.clear()
    assert main(["--out", str(run), "--resume", "--max-steps", "5", "--no-progress"]) == 0
    state = json.loads((run / "training_state" / "state.json").read_text())
    assert state["args"]["time_budget"] == 3600.0 and state["budget_used"] > 0
    assert "time budget 60.0 min in all (--time-budget is the whole run's)" in caplog.text
    assert " used, " in caplog.text and " left" in caplog.text


def test_a_run_folder_given_for_its_checkpoint_names_the_model_folder(text, tmp_path, capsys):
    from training import evaluate as evaluate_cli

    run = tmp_path / "run"
    assert train(text, run, "--max-steps", "2") == 0
    with pytest.raises(CheckpointError, match=f"{run} is a training run folder: its checkpoint is {run / 'model'}"):
        Checkpoint.from_pretrained(run)
    assert evaluate_cli.main(["--model", str(run), "--text", str(text)]) == 2
    assert "is a training run folder" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["a file", "a read-only folder"])
def test_an_out_that_cannot_be_written_is_refused_before_the_text_is_read(tmp_path, caplog, where):
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01" * 100)  # would be refused too, but only once read
    if where == "a file":
        out, message = tmp_path / "taken", "is a file; pass a folder for the run"
        out.write_text("x")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        out, message = locked / "run", "cannot be written"
        if os.access(locked, os.W_OK):  # root may write any folder: a folder the kernel refuses it instead
            out = Path("/sys/wordrnn-run")
            if not Path("/sys").is_dir() or os.access("/sys", os.W_OK) and not os.path.ismount("/sys"):
                pytest.skip("no folder here refuses this user")
    assert main(["--text", str(binary), "--out", str(out), "--no-progress"]) == 2
    assert message in caplog.text and "binary" not in caplog.text
