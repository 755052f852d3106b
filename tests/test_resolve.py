"""One resolver: the app (source.resolve), the generate CLI and the benchmarks load the same
model from the same --model, and refuse the same mistakes with the same words."""

from __future__ import annotations

import re

import pytest
import torch

from bench import ngram
from tiny import TEXT
from wordrnn import CheckpointError, generate, source
from wordrnn.generate import Generator

pytestmark = pytest.mark.usefixtures("hf_cache")


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for split in ("train", "valid", "test"):
        (folder / f"{split}.txt").write_text(TEXT + "\n", encoding="utf-8")
    return folder


def cli_text(model: str, capsys) -> str:
    assert generate.main(["and god said", "--model", model, "--words", "6"]) == 0
    return capsys.readouterr().out.strip()


def bench_perplexity(model: str, data, capsys) -> float:
    ngram.main(["--data", str(data), "--orders", "2", "--model", model])
    return float(re.search(r"\| LSTM .* \| – \| ([\d.]+) \|", capsys.readouterr().out)[1])


@pytest.mark.parametrize("kind", ["folder", "repo id"])
def test_app_cli_and_bench_load_the_same_model(kind, hub, tiny_checkpoint, tmp_path, data, capsys):
    if kind == "folder":
        model = str(tiny_checkpoint.save_pretrained(tmp_path / "model"))
    else:
        model = "test-user/resolve-same-model"
        tiny_checkpoint.push_to_hub(model)
    app = source.resolve(model)
    label = model if kind == "folder" else f"{model} (commit {hub.commits(model)[-1][:7]})"  # which snapshot
    assert app.label == label and not app.embedded and not app.notice
    assert torch.equal(app.checkpoint.model.embedding.weight, tiny_checkpoint.model.embedding.weight)
    assert cli_text(model, capsys) == Generator(app.checkpoint).text("and god said", 6)
    expected = ngram._lstm_perplexity(app.checkpoint, TEXT + "\n", 1, 256)[0]
    assert bench_perplexity(model, data, capsys) == pytest.approx(expected, abs=0.005)


def test_a_missing_folder_offline_is_the_same_error_everywhere(tmp_path, monkeypatch, cut_hub, data, capsys):
    (tmp_path / "runs").mkdir()  # "runs/typo" is then surely meant as a folder
    monkeypatch.chdir(tmp_path)
    cut_hub()
    message = "there is no checkpoint folder at runs/typo"
    with pytest.raises(CheckpointError, match=message):
        source.resolve("runs/typo")  # the app: no fallback for a mistyped folder
    with pytest.raises(SystemExit) as exit_:
        generate.main(["and god said", "--model", "runs/typo"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(f"error: {message}") and err.count("\n") == 1
    with pytest.raises(CheckpointError, match=message):
        ngram.main(["--data", str(data), "--orders", "2", "--model", "runs/typo"])


def test_an_unreachable_hub_falls_back_only_in_the_app(tmp_path, tiny_checkpoint, cut_hub):
    default = tiny_checkpoint.save_pretrained(tmp_path / "kjv-lstm")
    cut_hub()
    assert source.resolve("test-user/never-cached", default=default).embedded  # the app: a demo with a notice
    with pytest.raises(CheckpointError, match="cannot be reached"):  # the CLI and the benchmarks: an error
        source.resolve("test-user/never-cached", fallback=False, default=default)
