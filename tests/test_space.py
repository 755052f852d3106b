"""`python -m wordrnn.space`: the app, the library and the default model in one commit to a Space,
binaries through LFS, against the local test Hub with the real client."""

import fnmatch
import re
import sys

import pytest
from huggingface_hub import SpaceCard
from hub_server import lfs_patterns

from wordrnn import space

ROOT = space.ROOT


@pytest.fixture
def repo(request) -> str:
    return "test-user/space-" + request.node.name[5:40].replace("_", "-").strip("-")


def commits(hub) -> int:
    return sum(1 for method, path in hub.requests if method == "POST" and "/commit/" in path)


def test_one_command_deploys_the_app_in_one_commit(hub, repo, capsys):
    before = commits(hub)
    assert space.main([repo]) == 0
    assert commits(hub) == before + 1
    key = f"spaces/{repo}"
    (sha,) = hub.commits(key)
    assert capsys.readouterr().out.strip() == f"{hub.endpoint}/spaces/{repo}/commit/{sha}"
    assert hub.repos[key]["sdk"] == "gradio" and not hub.repos[key]["private"]
    files = hub.files(key)
    expected = {"app.py", "requirements.txt", "README.md", ".gitattributes", "wordrnn/__init__.py",
                "wordrnn/space.py", "models/kjv-lstm/model.safetensors", "models/kjv-lstm/config.json",
                "models/kjv-lstm/vocab.json", "models/kjv-lstm/README.md"}
    assert expected <= set(files)
    assert ("LICENSE" in files) == (ROOT / "LICENSE").is_file()
    shown = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", files["README.md"].decode())  # the Space's page
    assert shown and all(picture in files for picture in shown if "://" not in picture)
    assert not any("__pycache__" in path or path.endswith(".pyc") for path in files)
    assert all(files[path] == (ROOT / path).read_bytes() for path in files if path != ".gitattributes")
    # Binaries are LFS objects, and the Space's .gitattributes says so for a git clone or push.
    lfs = hub.lfs_files(key)
    assert {"models/kjv-lstm/model.safetensors", "models/kjv-lstm/loss_curve.png"} <= lfs
    assert not any(path.endswith((".py", ".md", ".json", ".txt")) for path in lfs)
    patterns = lfs_patterns(files[".gitattributes"])
    assert all(any(fnmatch.fnmatch(path.rsplit("/", 1)[-1], p) for p in patterns) for path in lfs)


def test_the_readme_front_matter_configures_the_space(hub, repo, tmp_path):
    space.deploy(repo)
    readme = tmp_path / "README.md"
    readme.write_bytes(hub.files(f"spaces/{repo}")["README.md"])
    data = SpaceCard.load(readme).data
    assert data.sdk == "gradio" and data.app_file == "app.py"
    assert data.python_version == f"{sys.version_info.major}.{sys.version_info.minor}"  # as the tests run
    assert data.license == "apache-2.0"


def test_deploying_unchanged_files_again_uploads_nothing(hub, repo, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "any-token")  # the token-free test Hub shows private repos to any token
    space.deploy(repo, private=True)
    stored, requests = dict(hub.lfs_objects), len(hub.requests)
    space.deploy(repo, commit_message="again")
    assert len(hub.commits(f"spaces/{repo}")) == 1 and hub.repos[f"spaces/{repo}"]["private"]  # no empty commit
    assert hub.lfs_objects == stored
    assert not any(method == "PUT" for method, _ in hub.requests[requests:])


def test_outside_a_checkout_it_says_so(tmp_path):
    with pytest.raises(space.WordRNNError, match="is not a wordrnn checkout"):
        space.files(tmp_path)
