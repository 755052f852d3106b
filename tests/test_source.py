"""Where the app's model comes from (wordrnn/source.py): embedded default, folder, Hub, fallback."""

from __future__ import annotations

import time

import pytest
import torch

from wordrnn import Checkpoint, CheckpointError, HubError, Vocabulary, detokenize, source, tokenize

IDS = "and god said , let there be".split()


def logits(checkpoint: Checkpoint) -> torch.Tensor:
    with torch.no_grad():
        return checkpoint.model(torch.tensor([checkpoint.vocab.encode(IDS)]))[0]


@pytest.fixture(scope="module")
def default(tiny_checkpoint, tmp_path_factory):
    """The tiny checkpoint standing in for the embedded default model (models/kjv-lstm)."""
    return tiny_checkpoint.save_pretrained(tmp_path_factory.mktemp("embedded") / "kjv-lstm")


@pytest.fixture
def repo(request) -> str:
    return "test-user/source-" + request.node.name.replace("[", "-").strip("]")[:60]


def test_no_model_means_the_embedded_default(default, tiny_checkpoint):
    src = source.resolve(None, default=default)
    assert src.embedded and not src.notice and src.label.startswith("embedded (")
    assert torch.equal(logits(src.checkpoint), logits(tiny_checkpoint))


def test_missing_embedded_default_says_what_to_do(tmp_path):
    with pytest.raises(CheckpointError, match="embedded default model is missing") as error:
        source.resolve(None, default=tmp_path / "kjv-lstm")
    assert "--model" in str(error.value) and "WORDRNN_MODEL" in str(error.value)


def test_local_folder(default):
    src = source.resolve(str(default), revision="v1", default=default / "nowhere")
    assert src.label == str(default) and not src.embedded and not src.notice


@pytest.mark.parametrize("name", ["/no/such/folder", "./missing-model", "~/missing-model", "tests/missing-model"])
def test_missing_local_folder_is_a_clear_error(name, monkeypatch, default):
    monkeypatch.chdir(source.DEFAULT_MODEL.parents[1])  # the repo root: "tests/" is a folder there
    with pytest.raises(CheckpointError, match="there is no checkpoint folder at"):
        source.resolve(name, default=default)


def test_not_a_checkpoint_folder(tmp_path, default):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="not a wordrnn checkpoint"):
        source.resolve(str(tmp_path), default=default)


@pytest.mark.usefixtures("hf_cache")
def test_hub_id_downloads_then_uses_the_cache_offline(hub, repo, tiny_checkpoint, default, cut_hub):
    tiny_checkpoint.push_to_hub(repo)
    src = source.resolve(repo, default=default)
    assert src.label == repo and not src.notice and not src.embedded
    assert torch.equal(logits(src.checkpoint), logits(tiny_checkpoint))
    requests = len(hub.requests)
    assert source.resolve(repo, default=default).label == repo  # warm: no request at all
    assert len(hub.requests) == requests
    cut_hub()
    src = source.resolve(repo, default=default)  # offline, warm cache: the model, not the fallback
    assert src.label == repo and not src.notice and not src.embedded


@pytest.mark.usefixtures("hf_cache")
def test_hub_revision(hub, repo, tiny_checkpoint, default):
    tiny_checkpoint.push_to_hub(repo)
    sha = hub.commits(repo)[-1]
    assert source.resolve(repo, sha, default=default).label == f"{repo}@{sha}"


@pytest.mark.usefixtures("hf_cache")
def test_unreachable_hub_and_cold_cache_fall_back_at_once(repo, default, cut_hub, tiny_checkpoint):
    cut_hub()
    began = time.monotonic()
    src = source.resolve(repo, default=default)
    assert time.monotonic() - began < 5  # not the Hub client's ~23 s of retries
    assert src.embedded and src.label.startswith("embedded (")
    assert "cannot be reached" in src.notice and repo in src.notice and "embedded default" in src.notice
    assert torch.equal(logits(src.checkpoint), logits(tiny_checkpoint))


@pytest.mark.usefixtures("hf_cache")
def test_unreachable_hub_without_embedded_default(repo, tmp_path, cut_hub):
    cut_hub()
    with pytest.raises(CheckpointError, match="cannot be reached.*embedded fallback is not available"):
        source.resolve(repo, default=tmp_path / "kjv-lstm")


@pytest.mark.usefixtures("hf_cache")
def test_hub_that_refuses_is_an_error_not_a_fallback(hub, repo, default):
    with pytest.raises(HubError, match="was not found"):
        source.resolve(repo, default=default)


def test_settings_command_line_over_environment():
    env = {"WORDRNN_MODEL": "env/model", "WORDRNN_REVISION": "v2", "GRADIO_SERVER_NAME": "0.0.0.0",
           "GRADIO_SERVER_PORT": "8080"}
    assert source.settings([], env) == source.Settings("env/model", "v2", "0.0.0.0", 8080)
    args = ["--model", "a/b", "--revision", "v3", "--host", "127.0.0.1", "--port", "9000", "--unknown-flag"]
    assert source.settings(args, env) == source.Settings("a/b", "v3", "127.0.0.1", 9000)
    assert source.settings([], {"WORDRNN_MODEL": "  "}) == source.Settings(None, None, None, None)


def test_examples_are_seven_known_words(tiny_checkpoint):
    examples = source.examples(tiny_checkpoint.vocab, tiny_checkpoint.info)
    assert examples, "the tiny model knows two of the KJV prompts"
    for example in examples:
        words = tokenize(example, eol=False)
        assert len(words) == 7 and all(w in tiny_checkpoint.vocab for w in words), example


def test_examples_prefer_the_card_and_fit_any_vocabulary(tiny_checkpoint):
    card = {"samples": [{"prompt": "and the spirit of god moved upon the face", "text": "..."}]}
    assert source.examples(tiny_checkpoint.vocab, card)[0] == "And the spirit of god moved upon"
    words = [f"w{i}" for i in range(40)]
    examples = source.examples(Vocabulary(["<unk>", *words]), {})
    assert examples and all(len(tokenize(e, eol=False)) == 7 and set(tokenize(e, eol=False)) <= set(words)
                            for e in examples)


def test_summary(tiny_checkpoint):
    card = Checkpoint(tiny_checkpoint.model, tiny_checkpoint.vocab, {"metrics": {"valid_perplexity": 123.456}})
    rows = dict(source.summary(source.Source(card, "owner/name@v1"), "cpu"))
    assert rows["Source"] == "owner/name@v1" and rows["Device"] == "cpu"
    assert rows["Validation perplexity"] == "123.5"
    assert rows["Vocabulary"] == f"{len(card.vocab):,} words"
    assert rows["Parameters"] == f"{card.model.num_parameters():,}"
    assert dict(source.summary(source.Source(tiny_checkpoint, "x"), "cpu"))["Validation perplexity"] == "not on the card"


@pytest.mark.parametrize("value, expected", [
    (7, 7), (7.6, 8), ("12", 12), (0, 1), (-3, 1), (10_000, 500), (1e308, 500), (float("inf"), 500),
    (float("nan"), 128), ("many", 128), (None, 128), ([1], 128), (True, 1),
])
def test_clamp(value, expected):
    assert source.clamp(value, 1, 500, 128) == expected


def test_seed_runs_mark_unknown_words_and_add_up_to_the_text():
    words = ["and", "god", "saaid", ",", "let", "there", "be"]
    runs = source.seed_runs(words, {"saaid": ["said"]})
    assert runs == [("And god", "seed"), (" saaid", "unknown"), (", let there be", "seed")]
    assert "".join(text for text, _ in runs) == detokenize(words)


def test_prompt_info(tiny_checkpoint):
    vocab = tiny_checkpoint.vocab
    info = lambda text: source.prompt_info(text, vocab, lambda w: vocab.closest(w), 2000)  # noqa: E731
    assert info("") == "**0 of 7 words**"
    assert info(None) == "**0 of 7 words**"
    assert info("and god said , let there be").startswith("**7 of 7 words**")
    assert info("and god saaid") == "**3 of 7 words**"  # the last word may still be being typed
    assert "`saaid` is not in the vocabulary (read as `<unk>`); did you mean `said`" in info("and god saaid ")
    assert "`qqq` is not in the vocabulary (read as `<unk>`)." in info("qqq god")
    assert "`'` is not" in info("` and")  # a backtick cannot end the code span
    assert info("x" * 2001).startswith("**Too long:** 2,001 characters")


def test_md_escape():
    assert source.md_escape("/tmp/my_model*/[x](y)<b>") == r"/tmp/my\_model\*/\[x\](y)\<b\>"
