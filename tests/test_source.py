"""Where the app's model comes from (wordrnn/source.py): embedded default, folder, Hub, fallback."""

from __future__ import annotations

import time

import pytest
import torch

from wordrnn import Checkpoint, CheckpointError, HubError, source

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
    label = f"{repo} (commit {hub.commits(repo)[-1][:7]})"
    src = source.resolve(repo, default=default)
    assert src.label == label and not src.notice and not src.embedded
    assert torch.equal(logits(src.checkpoint), logits(tiny_checkpoint))
    requests = len(hub.requests)
    assert source.resolve(repo, default=default).label == label  # warm: which commit is main now, no download
    assert [path for _, path in hub.requests[requests:]] == [f"/api/models/{repo}", f"/api/models/{repo}/revision/main"]
    cut_hub()
    began = time.monotonic()
    src = source.resolve(repo, default=default)  # offline, warm cache: the model, not the fallback, at once
    assert src.label == label and not src.notice and not src.embedded and time.monotonic() - began < 5


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
