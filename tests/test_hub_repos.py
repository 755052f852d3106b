"""Hub repos that move, refuse, hide behind a proxy or are hostile, loaded with the real client from
the local test Hub (tests/hub_server.py): which commit is served, what the cache may answer, and
that a strange repo ends in a message naming it, not a traceback.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time

import pytest
import torch
from huggingface_hub import HfApi, close_session, constants
from forward_proxy import ForwardProxy
from hub_server import HubServer

from wordrnn import Checkpoint, CheckpointError, HubError, hub as wordrnn_hub, source
from wordrnn.errors import HubUnreachable
from wordrnn.push import main as push_main

pytestmark = pytest.mark.usefixtures("hf_cache")

IDS = "and god said , let there be light".split()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def logits(checkpoint: Checkpoint) -> torch.Tensor:
    with torch.no_grad():
        return checkpoint.model(torch.tensor([checkpoint.vocab.encode(IDS)]))[0]


def perturbed(checkpoint: Checkpoint) -> Checkpoint:
    model = copy.deepcopy(checkpoint.model)
    with torch.no_grad():
        model.output.bias.add_(1.0 + torch.arange(model.output.bias.numel()) % 3)
    return Checkpoint(model, checkpoint.vocab, {"metrics": {"train_loss": 0.25}})


@pytest.fixture
def repo(request) -> str:
    return "test-user/repos-" + re.sub(r"[^\w.-]+", "-", request.node.name)[:70].strip("-.")


def add_files(server: HubServer, repo: str, files: dict[str, bytes]) -> None:
    """A commit the real client would refuse to make (names like '../x.png'), made in the server."""
    head = server.repos[repo]["commits"][-1]
    head["files"].update(files)


def test_a_new_commit_on_main_is_served_not_the_cached_one(hub, repo, tiny_checkpoint):
    tiny_checkpoint.push_to_hub(repo)
    first = source.resolve(repo, fallback=False)  # now cached
    assert torch.equal(logits(first.checkpoint), logits(tiny_checkpoint))
    second = perturbed(tiny_checkpoint)
    second.push_to_hub(repo)
    old, new = hub.commits(repo)
    for revision in (None, "main"):
        served = source.resolve(repo, revision, fallback=False)
        assert torch.equal(logits(served.checkpoint), logits(second))
        assert served.checkpoint.commit == new and served.label == f"{wordrnn_hub.label(repo, revision)} (commit {new[:7]})"
    pinned = source.resolve(repo, old, fallback=False)  # the old commit, by its sha, from the cache
    assert torch.equal(logits(pinned.checkpoint), logits(tiny_checkpoint)) and pinned.label == f"{repo}@{old}"
    assert first.label == f"{repo} (commit {old[:7]})"  # the label tells the snapshots apart


def test_a_cached_commit_sha_and_an_offline_start_ask_nothing(hub, repo, tiny_checkpoint, monkeypatch):
    tiny_checkpoint.push_to_hub(repo)
    sha = hub.commits(repo)[0]
    source.resolve(repo, fallback=False)  # warms the cache
    requests = len(hub.requests)
    assert source.resolve(repo, sha, fallback=False).checkpoint.commit == sha
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    began = time.monotonic()
    offline = source.resolve(repo, fallback=False)
    assert time.monotonic() - began < 5 and offline.checkpoint.commit == sha and not offline.notice
    assert len(hub.requests) == requests


def test_offline_with_nothing_cached_says_unset_hf_hub_offline(hub, repo, tiny_checkpoint, monkeypatch):
    tiny_checkpoint.push_to_hub(repo)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnreachable) as error:
        Checkpoint.from_pretrained(repo)
    message = str(error.value)
    assert "HF_HUB_OFFLINE is set" in message and "Unset HF_HUB_OFFLINE" in message
    assert "load a model that is in the cache" in message and "Connect to the network" not in message


def test_a_cached_private_repo_needs_a_token_the_hub_accepts(repo, tiny_checkpoint, monkeypatch):
    with HubServer(token="secret") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        tiny_checkpoint.push_to_hub(repo, private=True, token="secret")
        assert torch.equal(logits(Checkpoint.from_pretrained(repo, token="secret")), logits(tiny_checkpoint))
        with pytest.raises(HubError, match="the token given was refused") as error:  # cached, but refused
            Checkpoint.from_pretrained(repo, token="wrong")
        assert "HF_TOKEN" not in str(error.value)
        monkeypatch.setenv("HF_TOKEN", "wrong")
        with pytest.raises(HubError, match=r"set HF_TOKEN or run `hf auth login`"):
            source.resolve(repo)  # the app and the CLI: no fallback to the cache either


def test_behind_a_proxy_the_hub_is_reached_through_it(hub, repo, tiny_checkpoint, monkeypatch):
    tiny_checkpoint.push_to_hub(repo)
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.invalid")  # resolves nowhere: only the proxy gets there
    with ForwardProxy("127.0.0.1", hub.port) as proxy:
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy.url)
        close_session()  # the client reads the proxy variables when it makes its session
        try:
            assert wordrnn_hub.reachable()
            served = source.resolve(repo, fallback=False)
            assert torch.equal(logits(served.checkpoint), logits(tiny_checkpoint)) and not served.notice
            assert any(url.startswith(f"http://hub.invalid/api/models/{repo}") for _, url in proxy.requests)
            for name in ("NO_PROXY", "no_proxy"):  # hub.invalid bypasses the proxy: nothing answers
                monkeypatch.setenv(name, "127.0.0.1,localhost,hub.invalid")
            assert not wordrnn_hub.reachable()
        finally:
            close_session()


def test_a_pickle_only_repo_is_explained_and_never_downloaded(hub, repo, tiny_checkpoint, hf_cache, tmp_path):
    HfApi(endpoint=hub.endpoint).create_repo(repo)
    HfApi(endpoint=hub.endpoint).upload_file(path_or_fileobj=b"\x80\x04pickle", path_in_repo="pytorch_model.bin",
                                             repo_id=repo)
    for extra in ({}, {"config.json": json.dumps(tiny_checkpoint.model.config.to_json()).encode()}):
        add_files(hub, repo, extra)
        with pytest.raises(CheckpointError) as error:
            Checkpoint.from_pretrained(repo)
        message = str(error.value)
        assert f"Hub repo {repo} holds pytorch_model.bin but no model.safetensors" in message
        assert "wordrnn never loads pickled weights" in message and "is missing" not in message
        assert not [p for p in hf_cache.rglob("*") if p.is_file() and "snapshots" in p.parts]  # nothing fetched


def test_path_like_names_in_a_repo_are_left_out(hub, repo, tiny_checkpoint, hf_cache, tmp_path):
    tiny_checkpoint.save_pretrained(tmp_path / "model")
    api = HfApi(endpoint=hub.endpoint)
    api.create_repo(repo)
    api.upload_folder(repo_id=repo, folder_path=str(tmp_path / "model"))
    add_files(hub, repo, {"../../../../tmp/evil.png": PNG, "/tmp/evil4.png": PNG, "fine.png": PNG})
    loaded = Checkpoint.from_pretrained(repo)
    assert torch.equal(logits(loaded), logits(tiny_checkpoint)) and loaded.assets == {"fine.png": PNG}
    assert not list(tmp_path.parent.rglob("evil*.png"))


def test_pictures_are_capped_in_number_and_size(hub, repo, tiny_checkpoint, hf_cache, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(wordrnn_hub, "MAX_PICTURES", 2)
    monkeypatch.setattr(wordrnn_hub, "MAX_PICTURE_BYTES", 1000)
    pictures = {f"p{i}.png": PNG for i in range(4)} | {"big.png": PNG + bytes(1000)}
    checkpoint = Checkpoint(tiny_checkpoint.model, tiny_checkpoint.vocab, tiny_checkpoint.info, pictures)
    checkpoint.push_to_hub(repo)
    with caplog.at_level(logging.WARNING):
        loaded = Checkpoint.from_pretrained(repo)
    assert loaded.assets == {"p0.png": PNG, "p1.png": PNG}
    assert sorted(p.name for p in hf_cache.rglob("*.png")) == ["p0.png", "p1.png"]  # the rest never downloaded
    assert "skipped 3 of its 5 pictures" in caplog.text
    folder = checkpoint.save_pretrained(tmp_path / "local")  # a folder is read with the same caps
    assert Checkpoint.from_pretrained(folder).assets == {"p0.png": PNG, "p1.png": PNG}


def test_a_card_the_yaml_parser_refuses_is_left_out_with_a_warning(hub, repo, tiny_checkpoint, tmp_path, caplog,
                                                                    capsys):
    folder = tiny_checkpoint.save_pretrained(tmp_path / "model")
    (folder / "README.md").write_text("---\nlicense: [apache\n---\n# by hand\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        loaded = Checkpoint.from_pretrained(folder)
    assert torch.equal(logits(loaded), logits(tiny_checkpoint)) and loaded.info == tiny_checkpoint.info
    assert f"{folder / 'README.md'} is left out" in caplog.text
    assert push_main([str(folder), repo]) == 0  # and it can be published as it is
    assert hub.files(repo)["README.md"] == (folder / "README.md").read_bytes()


def test_a_push_while_offline_says_unset_hf_hub_offline(hub, repo, tiny_checkpoint, tmp_path, monkeypatch, capsys):
    folder = tiny_checkpoint.save_pretrained(tmp_path / "model")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert push_main_status([str(folder), repo]) == 2
    err = capsys.readouterr().err
    assert "Unset HF_HUB_OFFLINE" in err and ".." not in err.replace(str(tmp_path), "") and "network" not in err
    assert repo not in hub.repos


def push_main_status(args: list[str]) -> int:
    try:
        return push_main(args)
    except SystemExit as exit_:
        return exit_.code
