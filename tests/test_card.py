"""Model cards as the Hub reads them: huggingface_hub's ModelCard on every card wordrnn writes,
model-index equal to the metrics, YAML without the prose, and a "use" snippet that runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard

from wordrnn import Checkpoint, Generator, ModelConfig, Vocabulary, WordRNN, card, tokenize
from wordrnn.source import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[1]
METRICS = {"valid_perplexity": 31.5, "valid_accuracy": 0.25, "valid_loss": 3.45, "test_perplexity": 30.25,
           "test_accuracy": 0.26, "train_loss": 3.0}


def results(folder: Path) -> dict[tuple[str, str], float]:
    """(split, metric type) -> value of the model-index, as the Hub's client parses it."""
    data = ModelCard.load(folder / "README.md").data
    return {(r.dataset_split, r.metric_type): r.metric_value for r in data.eval_results or []}


def expected(metrics: dict) -> dict[tuple[str, str], float]:
    return {card.EVALUATIONS[k][:2]: v for k, v in metrics.items() if k in card.EVALUATIONS}


def front_matter(folder: Path) -> str:
    return (folder / "README.md").read_text(encoding="utf-8").split("\n---\n", 1)[0]


@pytest.fixture
def trained(tiny_checkpoint, tmp_path) -> Path:
    checkpoint = Checkpoint(tiny_checkpoint.model, tiny_checkpoint.vocab,
                            {"metrics": METRICS, "training": {"text": "train.txt", "steps": 10},
                             "samples": [{"prompt": "and god said", "mode": "greedy", "text": "And god said."}],
                             "description": "A tiny model.\n\n**Corpus.** Seven words.", "title": "Tiny"})
    return checkpoint.save_pretrained(tmp_path / "tiny")


@pytest.mark.parametrize("which", ["saved", "default model"])
def test_the_hub_reads_metrics_license_and_no_body_from_the_metadata(which, trained):
    folder = trained if which == "saved" else DEFAULT_MODEL
    info = Checkpoint.from_pretrained(folder).info
    assert results(folder) == expected(info["metrics"]) and results(folder)
    data = ModelCard.load(folder / "README.md").data
    assert data.license == "apache-2.0" and data.library_name == "wordrnn" and data.pipeline_tag == "text-generation"
    assert data.language == (None if which == "saved" else "en") and "wordrnn" in data.tags  # stated, or left out
    meta = yaml.safe_load(front_matter(folder)[3:])
    assert set(meta) <= {"language", "library_name", "license", "pipeline_tag", "tags", "datasets", "model-index"}
    text = front_matter(folder)
    assert info["description"].splitlines()[0] not in text and "samples" not in text  # prose lives in the body once
    body = ModelCard.load(folder / "README.md").text
    assert body.count(info["description"]) == 1


def test_the_dataset_and_split_are_named(trained):
    (result, *_) = ModelCard.load(trained / "README.md").data.eval_results
    assert result.dataset_name == "train.txt" and result.task_type == "text-generation"
    assert {r.dataset_split for r in ModelCard.load(trained / "README.md").data.eval_results} == {"test", "validation"}


def test_a_card_without_metrics_has_no_model_index(tiny_checkpoint, tmp_path):
    folder = Checkpoint(tiny_checkpoint.model, tiny_checkpoint.vocab, {}).save_pretrained(tmp_path / "bare")
    data = ModelCard.load(folder / "README.md").data
    assert data.eval_results is None and data.license == "apache-2.0"
    assert "model_name" not in front_matter(folder)


def test_what_the_app_reads_comes_back(trained):
    info = Checkpoint.from_pretrained(trained).info
    assert info["metrics"] == METRICS and info["samples"][0]["prompt"] == "and god said"
    assert info["description"] == "A tiny model.\n\n**Corpus.** Seven words." and info["title"] == "Tiny"
    assert json.loads((trained / "card.json").read_text())["metrics"] == METRICS


def test_older_cards_with_a_wordrnn_block_still_load(trained):
    (trained / "card.json").unlink()
    old = {"library_name": "wordrnn", "license": "mit", "wordrnn": {"metrics": {"valid_perplexity": 9.5}}}
    (trained / "README.md").write_text(f"---\n{yaml.safe_dump(old)}---\n# Old\n", encoding="utf-8")
    assert Checkpoint.from_pretrained(trained).info == {"metrics": {"valid_perplexity": 9.5}, "license": "mit"}


@pytest.mark.parametrize("name, text", [
    ("card.json", "[" * 100000 + "]" * 100000),  # nested past the parser's stack
    ("card.json", '{"metrics": {"steps": ' + "9" * 5000 + "}}"),  # past Python's int digit limit
    ("README.md", "---\nlicense: [apache\n---\n# Tiny\n"),  # front matter YAML cannot read
    ("README.md", "---\nlicense: " + "[" * 100000 + "]" * 100000 + "\n---\n# Tiny\n"),
    ("README.md", b"---\nlicense: mit\n---\n# \xff\n"),  # not UTF-8
])
def test_a_card_that_does_not_parse_is_left_out_with_a_warning(trained, name, text, caplog):
    path = trained / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with caplog.at_level("WARNING", logger="wordrnn.card"):
        info = Checkpoint.from_pretrained(trained).info  # the card is optional: the model loads
    assert f"{path} is left out" in caplog.text
    if name == "README.md":  # card.json still gives the data; the description was README's
        assert info["metrics"] == METRICS and "description" not in info
    else:  # README.md's metadata alone, as for a card written before card.json
        assert "metrics" not in info and info.get("license") == "apache-2.0"


def snippet(folder: Path) -> str:
    return re.search(r"```python\n(.*?)```", (folder / "README.md").read_text(encoding="utf-8"), re.S)[1]


@pytest.mark.parametrize("which", ["saved", "default model"])
def test_the_use_snippet_runs(which, trained, tmp_path):
    folder = trained if which == "saved" else DEFAULT_MODEL
    code = snippet(folder)
    name = re.search(r'from_pretrained\("([^"]+)"\)', code)[1]
    assert name == ("tiny" if which == "saved" else "wordrnn/kjv-lstm")  # the folder's name, or its Hub repo
    code = code.replace(f'"{name}"', json.dumps(str(folder)))  # the Hub repo: here its folder
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr
    prompt = re.search(r'\.text\("([^"]+)"', code)[1]
    assert run.stdout.lower().startswith(prompt.split()[0]) and len(run.stdout.split()) > 16  # words, punctuation attached


def test_without_samples_the_use_prompt_is_words_the_model_knows():
    vocab = Vocabulary(["<unk>", *(f"w{i}" for i in range(40))])  # a model of another text: no KJV word
    model = WordRNN(ModelConfig(len(vocab), embedding_size=8, hidden_sizes=[8]))
    checkpoint = Checkpoint(model, vocab, {})
    prompt = re.search(r'\.text\("([^"]+)"', checkpoint.card("other"))[1]
    assert all(word in vocab for word in tokenize(prompt, eol=False)), prompt
    assert Generator(checkpoint).text(prompt, 4)  # the snippet's call: no PromptError


def test_samples_never_show_unk():
    from training.release import prompts_from

    lines = [["and", "<unk>", "said", "unto", "moses", ",", "go"], "in the beginning god created the heaven".split()]
    assert prompts_from(lines, n=2) == ["in the beginning god created the heaven"]


def test_the_language_is_stated_only_when_known(tiny_checkpoint, tmp_path):
    plain = Checkpoint(tiny_checkpoint.model, tiny_checkpoint.vocab, {}).save_pretrained(tmp_path / "plain")
    german = Checkpoint(tiny_checkpoint.model, tiny_checkpoint.vocab, {"language": "de"}).save_pretrained(tmp_path / "de")
    assert "language" not in yaml.safe_load(front_matter(plain)[3:])
    assert ModelCard.load(german / "README.md").data.language == "de"


def test_the_use_snippet_of_a_local_folder_runs_from_any_folder(trained, tmp_path):
    checkpoint = Checkpoint.from_pretrained(trained)
    checkpoint.info["path"] = str(trained.resolve())
    checkpoint.save_pretrained(trained)
    code = snippet(trained)
    assert f'from_pretrained("{trained.resolve()}")' in code
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr
    published = Checkpoint(checkpoint.model, checkpoint.vocab, {**checkpoint.info, "repo_id": "me/tiny"})
    assert 'from_pretrained("me/tiny")' in published.card("me/tiny")
    assert "path" not in json.loads(card.data(published.info))  # a local path never goes to the Hub


def test_sample_prompts_are_words_and_distinct():
    from training.release import prompts_from
    from wordrnn.examples import _known

    lines = [["~"] * 7, ["="] * 9, "the quick brown fox jumps over the lazy dog".split(),
             "the quick brown fox jumps over the lazy cat".split(), ". , ; a b c d e f g".split(),
             "and god said , let there be light .".split(), "a ~ ~ ~ ~ b c d e f g".split()]
    prompts = prompts_from(lines, n=5)
    assert prompts == ["the quick brown fox jumps over the", "and god said , let there be light"]
    vocab = Vocabulary(["<unk>", *{w for line in lines for w in line}])
    assert _known(prompts, vocab) == ["The quick brown fox jumps over the", "And god said, let there be light"]


def test_list_markers_stray_brackets_and_wrapped_line_fragments_are_no_openings():
    import torch

    from training.release import lines_of
    from wordrnn.examples import opening
    from wordrnn.detokenizer import Style

    assert opening("b ) convey the object code in , or".split()) is None
    assert opening("2 . the licence covers all of it".split()) is None
    assert opening("that material ) supplement the terms of this".split()) is None
    assert opening("the work ( as a whole ) is covered here".split()) == "the work ( as a whole ) is covered"
    assert opening("chfn ( 1 ) tools for users chfn ( 1".split()) is None  # ends inside a bracket
    text = "the man went down to the old\n<eol> house by the river . then he came\n<eol> back again".split()
    tokens = [t for t in dict.fromkeys(text)]
    for wrapped, expected in ((False, [["the", "man", "went", "down", "to", "the", "old"],
                                       ["house", "by", "the", "river", "."], ["then", "he", "came"]]),
                              (True, [["the", "man", "went", "down", "to", "the", "old"], ["then", "he", "came"]])):
        vocab = Vocabulary(["<unk>", *tokens], style=Style(wrapped=wrapped))
        assert lines_of(vocab, torch.tensor(vocab.encode(text))) == expected


def test_the_training_table_reads_as_prose_and_samples_are_text_not_markup(tiny_checkpoint, tmp_path):
    training = {"text": "train.txt", "train_tokens": 849828, "seed": 0, "training_time_s": 3425.2,
                "time_budget_s": 180, "weight_averaging": "mean of the weights"}
    samples = [{"prompt": "press <enter>", "mode": "greedy", "text": "Press <Enter> and *tag* |link| now."}]
    folder = Checkpoint(tiny_checkpoint.model, tiny_checkpoint.vocab,
                        {"training": training, "samples": samples}).save_pretrained(tmp_path / "tiny")
    text = (folder / "README.md").read_text(encoding="utf-8")
    for row in ("| Training text | train.txt |", "| Training tokens | 849,828 |", "| Seed | 0 |",
                "| Training time | 57 min 5 s |", "| Time budget | 3 min |", "| Weight averaging | mean of the weights |"):
        assert row in text, row
    assert r"> Press \<Enter\> and \*tag\* \|link\| now." in text and r"prompt *press \<enter\>*" in text
    assert json.loads((folder / "card.json").read_text())["training"]["train_tokens"] == 849828  # the data as it was
