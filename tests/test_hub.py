"""Hub round trips against the local test Hub (tests/hub_server.py) with the real client.

Each test gets an empty Hub cache (`hf_cache`) and its own repo on the session's `hub`.
"""

import copy
import dataclasses
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi, constants
from hub_server import HubServer

from wordrnn import Checkpoint, CheckpointError, HubError, hub as wordrnn_hub, upload as wordrnn_upload
from wordrnn.push import main as push_main

pytestmark = pytest.mark.usefixtures("hf_cache")

IDS = "and god said , let there be light".split()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
ROOT = Path(__file__).resolve().parents[1]


def logits(checkpoint: Checkpoint) -> torch.Tensor:
    with torch.no_grad():
        return checkpoint.model(torch.tensor([checkpoint.vocab.encode(IDS)]))[0]


def commit_requests(server: HubServer) -> int:
    return sum(1 for method, path in server.requests if method == "POST" and "/commit/" in path)


def perturbed(checkpoint: Checkpoint) -> Checkpoint:
    """Another checkpoint with the same vocabulary and different weights."""
    model = copy.deepcopy(checkpoint.model)
    with torch.no_grad():
        model.output.bias.add_(1.0 + torch.arange(model.output.bias.numel()) % 3)
    return Checkpoint(model, checkpoint.vocab, {"metrics": {"train_loss": 0.25}})


@pytest.fixture(autouse=True)
def own_tempdir(tmp_path, monkeypatch):
    """A failed push keeps its files in a temporary folder (for the retry): keep those in tmp_path."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


@pytest.fixture
def repo(request) -> str:
    return "test-user/" + re.sub(r"[^\w.-]+", "-", request.node.name)[:80].strip("-.")


@pytest.fixture
def failing_commits(hub):
    hub.fail_commits = 422  # a 4xx: a 5xx would make the client retry for ~23 s
    yield
    hub.fail_commits = None


def test_push_then_load(hub, repo, tiny_checkpoint, tmp_path, hf_cache):
    checkpoint = dataclasses.replace(tiny_checkpoint, assets={"loss_curve.png": PNG})
    commits_before = commit_requests(hub)
    url = checkpoint.push_to_hub(repo)
    assert commit_requests(hub) == commits_before + 1  # ONE commit, holding every file:
    (sha,) = hub.commits(repo)
    assert url == f"{hub.endpoint}/{repo}/commit/{sha}"
    published = dataclasses.replace(checkpoint, info={**checkpoint.info, "repo_id": repo})
    local = published.save_pretrained(tmp_path / "local")  # the files save_pretrained writes, and LFS rules
    assert hub.files(repo) == {".gitattributes": wordrnn_upload.GITATTRIBUTES, **{p.name: p.read_bytes() for p in local.iterdir()}}
    assert set(hub.files(repo)) == {".gitattributes", "config.json", "model.safetensors", "vocab.json", "card.json",
                                    "README.md", "loss_curve.png"}
    assert hub.lfs_files(repo) == {"model.safetensors", "loss_curve.png"}
    assert f'Checkpoint.from_pretrained("{repo}")' in hub.files(repo)["README.md"].decode()  # the card's snippet
    loaded = Checkpoint.from_pretrained(repo)
    assert torch.equal(logits(loaded), logits(tiny_checkpoint))
    assert loaded.vocab == tiny_checkpoint.vocab and loaded.info == published.info
    assert loaded.assets == {"loss_curve.png": PNG} and loaded.name_or_path == repo
    assert list(hf_cache.rglob("model.safetensors"))  # downloaded into this test's own cache


def test_second_push_is_a_new_commit_and_old_revisions_stay(hub, repo, tiny_checkpoint):
    tiny_checkpoint.push_to_hub(repo)
    second = perturbed(tiny_checkpoint)
    second.push_to_hub(repo, commit_message="second")
    first_sha, second_sha = hub.commits(repo)
    assert hub.repos[repo]["commits"][-1]["summary"] == "second"
    assert torch.equal(logits(Checkpoint.from_pretrained(repo)), logits(second))
    old = Checkpoint.from_pretrained(repo, revision=first_sha)
    assert torch.equal(logits(old), logits(tiny_checkpoint)) and old.name_or_path == f"{repo}@{first_sha}"
    assert torch.equal(logits(Checkpoint.from_pretrained(repo, revision=second_sha)), logits(second))
    assert not torch.equal(logits(second), logits(tiny_checkpoint))


def test_private_push(hub, repo, tiny_checkpoint, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "any-token")  # the token-free test Hub lets any token see private repos
    tiny_checkpoint.push_to_hub(repo, private=True)
    assert hub.repos[repo]["private"] is True
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(HubError, match="not found.*HF_TOKEN"):  # invisible without a token
        Checkpoint.from_pretrained(repo)
    monkeypatch.setenv("HF_TOKEN", "any-token")
    assert torch.equal(logits(Checkpoint.from_pretrained(repo)), logits(tiny_checkpoint))


def test_missing_repo_and_revision(hub, repo, tiny_checkpoint):
    with pytest.raises(HubError, match=r"'test-user/no-such-model' was not found at http://127\.0\.0\.1"):
        Checkpoint.from_pretrained("test-user/no-such-model")
    tiny_checkpoint.push_to_hub(repo)
    for revision in ("no-such-branch", "f" * 40):
        with pytest.raises(HubError, match=f"has no revision '{revision}'"):
            Checkpoint.from_pretrained(repo, revision=revision)


def test_repo_without_safetensors(hub, repo, tiny_checkpoint, tmp_path, hf_cache):
    folder = tiny_checkpoint.save_pretrained(tmp_path / "model")
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")  # as if it were a pickle
    api = HfApi(endpoint=hub.endpoint)
    api.create_repo(repo)
    api.upload_folder(repo_id=repo, folder_path=str(folder))
    with pytest.raises(CheckpointError, match=r"holds pytorch_model\.bin but no model\.safetensors\. wordrnn never "
                                              r"loads pickled weights"):
        Checkpoint.from_pretrained(repo)
    assert not list(hf_cache.rglob("*.bin"))  # pickles are never fetched


def test_repo_without_a_config(hub, repo, tiny_checkpoint, tmp_path, hf_cache):
    folder = tiny_checkpoint.save_pretrained(tmp_path / "model")
    (folder / "config.json").unlink()
    api = HfApi(endpoint=hub.endpoint)
    api.create_repo(repo)
    api.upload_folder(repo_id=repo, folder_path=str(folder))
    with pytest.raises(CheckpointError, match=f"Hub repo {repo} has no config.json: it is not a wordrnn checkpoint"):
        Checkpoint.from_pretrained(repo)


def test_warm_cache_works_without_the_hub(hub, repo, tiny_checkpoint, cut_hub):
    tiny_checkpoint.push_to_hub(repo)
    sha = hub.commits(repo)[0]
    Checkpoint.from_pretrained(repo)  # warms the cache
    requests = len(hub.requests)
    cut_hub()
    assert torch.equal(logits(Checkpoint.from_pretrained(repo)), logits(tiny_checkpoint))
    assert torch.equal(logits(Checkpoint.from_pretrained(repo, revision=sha)), logits(tiny_checkpoint))
    assert torch.equal(logits(Checkpoint.from_pretrained(repo, local_files_only=True)), logits(tiny_checkpoint))
    assert len(hub.requests) == requests


def test_local_files_only_asks_nothing(hub, repo, tiny_checkpoint):
    tiny_checkpoint.push_to_hub(repo)
    Checkpoint.from_pretrained(repo)  # a cold cache: downloads
    second = perturbed(tiny_checkpoint)
    second.push_to_hub(repo)
    requests = len(hub.requests)
    # The cached snapshot is used as it is: a new commit on main is not seen...
    assert torch.equal(logits(Checkpoint.from_pretrained(repo, local_files_only=True)), logits(tiny_checkpoint))
    assert len(hub.requests) == requests
    # ...until the Hub is asked.
    assert torch.equal(logits(Checkpoint.from_pretrained(repo)), logits(second))


@pytest.mark.parametrize("local_files_only", [False, True])
def test_cold_cache_without_hub_fails_at_once_with_advice(hub, repo, tiny_checkpoint, cut_hub, local_files_only):
    tiny_checkpoint.push_to_hub(repo)
    url = cut_hub()
    with pytest.raises(HubError) as error:
        Checkpoint.from_pretrained(repo, local_files_only=local_files_only)
    message = str(error.value)
    assert f"{repo} is not in the local cache ({constants.HF_HUB_CACHE})" in message
    assert ("the Hub was not asked (local_files_only)" if local_files_only
            else f"the Hub at {url} cannot be reached") in message
    assert "HF_ENDPOINT" in message and "local checkpoint folder" in message


def test_token_protected_hub(repo, tiny_checkpoint, tmp_path, monkeypatch):
    folder = tiny_checkpoint.save_pretrained(tmp_path / "model")
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    with HubServer(token="secret") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        for token, hint in ((None, "Set HF_TOKEN to a token with write access"),
                            ("wrong", "The token given was refused: pass one with write access")):
            with pytest.raises(HubError, match=rf"(?s)(401|403).*{hint}"):
                Checkpoint.from_pretrained(folder).push_to_hub(repo, token=token)
        assert server.repos == {}
        assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == before
        monkeypatch.setenv("HF_TOKEN", "secret")
        Checkpoint.from_pretrained(folder).push_to_hub(repo)
        assert len(server.commits(repo)) == 1


def test_failed_commit_says_how_to_retry_and_the_retry_works(hub, repo, tiny_checkpoint, failing_commits,
                                                             monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "any-token")  # a private repo: the test Hub wants some token
    with pytest.raises(HubError, match="422") as error:
        tiny_checkpoint.push_to_hub(repo, private=True)
    assert hub.commits(repo) == []
    command = shlex.split(re.search(r"retry with: (.+)$", str(error.value))[1])
    program = retry_program("wordrnn.push", "wordrnn-push")
    assert command[:len(program)] == program and command[len(program) + 1:] == [repo, "--private"]
    folder = Path(command[len(program)])
    try:
        assert torch.equal(logits(Checkpoint.from_pretrained(folder)), logits(tiny_checkpoint))  # the files were kept
        hub.fail_commits = None
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=os.environ["HF_HOME"], HF_TOKEN="any-token",
                   HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1",  # the test Hub speaks LFS, not Xet
                   NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
        proc = subprocess.run(command, cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True,
                               timeout=120)  # as printed, from anywhere
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr
    (sha,) = hub.commits(repo)
    assert proc.stdout.strip() == f"{hub.endpoint}/{repo}/commit/{sha}"
    assert hub.repos[repo]["private"] is True
    assert torch.equal(logits(Checkpoint.from_pretrained(repo)), logits(tiny_checkpoint))


def test_a_failed_push_command_retries_with_its_own_message(hub, repo, tiny_checkpoint, failing_commits, tmp_path,
                                                           capsys):
    folder = tiny_checkpoint.save_pretrained(tmp_path / "model")
    with pytest.raises(SystemExit) as stopped:
        push_main([str(folder), repo, "--message", "first words, at last"])
    assert stopped.value.code == 2
    retry = shlex.split(re.search(r"retry with: (.+)$", capsys.readouterr().err)[1])
    assert retry == [*retry_program("wordrnn.push", "wordrnn-push"), str(folder), repo, "--message",
                     "first words, at last"]


def retry_program(module: str, script: str) -> list[str]:
    """The console script where this installation put it on PATH (as `. .venv/bin/activate` does),
    else this Python with -m: never a bare "python", which may be another one or none."""
    found = shutil.which(script)
    if found and Path(found).parent == Path(sys.executable).parent:
        return [script]
    return [sys.executable, "-m", module]


def test_the_retry_command_is_this_installation_s(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # not activated: no console script on PATH
    assert wordrnn_upload.command("wordrnn.push", "wordrnn-push") == [sys.executable, "-m", "wordrnn.push"]
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    assert wordrnn_upload.command("wordrnn.push", "wordrnn-push") == ["wordrnn-push"]
    assert wordrnn_upload.command("wordrnn.space") == [sys.executable, "-m", "wordrnn.space"]


def test_push_command_uploads_the_folder_as_it_is(hub, repo, tiny_checkpoint, tmp_path, capsys):
    folder = tiny_checkpoint.save_pretrained(tmp_path / "model")
    (folder / "README.md").write_text("---\nlibrary_name: wordrnn\n---\n# Edited by hand\n")
    (folder / "optimizer.pt").write_bytes(b"not for the Hub")  # training leftovers stay local
    (folder / "notes.txt").write_text("private notes")
    assert push_main([str(folder), repo, "--message", "by hand"]) == 0
    (sha,) = hub.commits(repo)
    assert capsys.readouterr().out.strip() == f"{hub.endpoint}/{repo}/commit/{sha}"
    files = hub.files(repo)
    assert set(files) == {".gitattributes", "config.json", "model.safetensors", "vocab.json", "card.json", "README.md"}
    assert files["README.md"] == (folder / "README.md").read_bytes()  # edited by hand: as it is
    assert hub.repos[repo]["commits"][0]["summary"] == "by hand" and not hub.repos[repo]["private"]


@pytest.mark.parametrize("problem", ["no folder", "bad repo id", "broken checkpoint", "no hub"])
def test_push_command_errors_are_one_line(hub, repo, tiny_checkpoint, tmp_path, capsys, cut_hub, problem):
    folder = tiny_checkpoint.save_pretrained(tmp_path / "model")
    args = [str(folder), repo]
    if problem == "no folder":
        args[0] = str(tmp_path / "nope")
    elif problem == "bad repo id":
        args[1] = "no namespace"
    elif problem == "broken checkpoint":
        (folder / "model.safetensors").write_bytes(b"garbage")
    else:
        cut_hub()
    try:
        status = push_main(args)
    except SystemExit as exit_:  # a flag refused where it is parsed
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    expected = {"no folder": "there is no folder", "bad repo id": "not a Hub repo id",
                "broken checkpoint": "model.safetensors is truncated or corrupt", "no hub": "retry with"}[problem]
    assert expected in err
    assert repo not in hub.repos


def test_endpoint_is_read_at_call_time(hub, monkeypatch):
    assert wordrnn_hub.endpoint() == hub.endpoint
    monkeypatch.setenv("HF_ENDPOINT", "http://example.invalid:8080/")
    assert wordrnn_hub.endpoint() == "http://example.invalid:8080"
    monkeypatch.delenv("HF_ENDPOINT")
    assert wordrnn_hub.endpoint() == constants.ENDPOINT
