"""Tests of tests/hub_server.py against the real huggingface_hub client.

The client runs in a subprocess: huggingface_hub reads HF_ENDPOINT (and HF_HOME, HF_HUB_OFFLINE)
when it is imported, and other test modules (or a conftest) may already have imported it in this
process with other settings.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hub_server import HubServer  # noqa: E402

PRELUDE = """
import json, sys
from pathlib import Path
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
api = HfApi()

def err(fn, *args, **kwargs):
    # None if fn succeeds, else [names of the exception's classes, HTTP status or None, message]
    try:
        fn(*args, **kwargs)
    except Exception as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        return [[c.__name__ for c in type(e).__mro__], status, str(e)]
    return None

def read(folder):
    return {p.relative_to(folder).as_posix(): p.read_text() for p in Path(folder).rglob("*") if p.is_file()}

def out(**result):
    print("RESULT " + json.dumps(result))
"""

FOLDER = {
    "README.md": "---\nlicense: mit\ntags:\n- test\n---\n# Test model\n",
    "config.json": '{"hidden_size": 8}\n',
    "weights/part-0.txt": "0123456789" * 100,
}


def run_client(server: HubServer, home: Path, code: str, token: str | None = None, offline: bool = False) -> dict:
    """Run `code` (after PRELUDE) in a fresh interpreter pointed at `server`; return what it out()-ed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_", "TRANSFORMERS_"))}
    env.update(
        HF_ENDPOINT=server.endpoint,
        HF_HOME=str(home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_XET="1",  # the test Hub speaks LFS, not Xet
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    if token is not None:
        env["HF_TOKEN"] = token
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert not server.errors, server.errors
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(lines[-1][len("RESULT ") :]) if lines else {}


def write_folder(path: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(content)
    return path


def upload(server, home, folder, repo_id="user/model", token=None) -> dict:
    code = f"""
        api.create_repo({repo_id!r}, exist_ok=True)
        info = api.upload_folder(repo_id={repo_id!r}, folder_path={str(folder)!r})
        out(oid=info.oid, url=info.commit_url)
    """
    return run_client(server, home, code, token=token)


def commit_requests(server: HubServer) -> list:
    return [r for r in server.requests if r[0] == "POST" and "/commit/" in r[1]]


@pytest.fixture
def server():
    with HubServer() as hub:
        yield hub


def test_create_upload_snapshot_roundtrip(server, tmp_path):
    folder = write_folder(tmp_path / "src", FOLDER)
    result = run_client(
        server,
        tmp_path / "hf",
        f"""
        url1 = api.create_repo("user/model")
        url2 = api.create_repo("user/model", exist_ok=True)
        again = err(api.create_repo, "user/model")
        info = api.upload_folder(repo_id="user/model", folder_path={str(folder)!r}, commit_message="first")
        path = snapshot_download("user/model")
        out(urls=[url1, url2, url1.repo_id], again=again, oid=info.oid, url=info.commit_url,
            files=read(path), path=path, info_sha=api.model_info("user/model").sha)
        """,
    )
    assert result["urls"] == [f"{server.endpoint}/user/model"] * 2 + ["user/model"]
    assert "HfHubHTTPError" in result["again"][0] and result["again"][1] == 409
    assert len(commit_requests(server)) == 1
    assert ("POST", "/api/validate-yaml") in server.requests
    assert server.commits("user/model") == [result["oid"]] == [result["info_sha"]]
    assert result["url"] == f"{server.endpoint}/user/model/commit/{result['oid']}"
    assert server.files("user/model") == {k: v.encode() for k, v in FOLDER.items()}
    assert result["files"] == FOLDER
    assert result["path"].endswith(f"snapshots/{result['oid']}")


def test_second_upload_keeps_old_revision(server, tmp_path):
    v1 = write_folder(tmp_path / "v1", FOLDER)
    v2_files = {**FOLDER, "config.json": '{"hidden_size": 16}\n', "new.txt": "new"}
    v2 = write_folder(tmp_path / "v2", v2_files)
    result = run_client(
        server,
        tmp_path / "hf",
        f"""
        api.create_repo("user/model")
        first = api.upload_folder(repo_id="user/model", folder_path={str(v1)!r}).oid
        second = api.upload_folder(repo_id="user/model", folder_path={str(v2)!r}).oid
        # Identical content: preupload reports the remote oids, so the client skips the commit.
        unchanged = api.upload_folder(repo_id="user/model", folder_path={str(v2)!r}).oid
        out(first=first, second=second, unchanged=unchanged, main=read(snapshot_download("user/model")),
            old=read(snapshot_download("user/model", revision=first)),
            old_file=Path(hf_hub_download("user/model", "config.json", revision=first)).read_text())
        """,
    )
    first, second = result["first"], result["second"]
    assert server.commits("user/model") == [first, second] and first != second == result["unchanged"]
    assert len(commit_requests(server)) == 2
    assert server.files("user/model", first) == {k: v.encode() for k, v in FOLDER.items()}
    assert result["main"] == v2_files
    assert result["old"] == FOLDER
    assert result["old_file"] == FOLDER["config.json"]


def test_missing_entry_repo_and_revision(server, tmp_path):
    upload(server, tmp_path / "hf", write_folder(tmp_path / "src", FOLDER))
    result = run_client(
        server,
        tmp_path / "hf",
        """
        out(entry=err(hf_hub_download, "user/model", "missing.txt"),
            repo=err(hf_hub_download, "user/nope", "config.json"),
            revision=err(hf_hub_download, "user/model", "config.json", revision="f" * 40),
            branch=err(hf_hub_download, "user/model", "config.json", revision="no-such-branch"),
            snapshot_repo=err(snapshot_download, "user/nope"),
            snapshot_revision=err(snapshot_download, "user/model", revision="dev"))
        """,
    )
    assert "EntryNotFoundError" in result["entry"][0] and result["entry"][1] == 404
    assert "RepositoryNotFoundError" in result["repo"][0]
    assert "RevisionNotFoundError" in result["revision"][0]
    assert "RevisionNotFoundError" in result["branch"][0]
    assert "RepositoryNotFoundError" in result["snapshot_repo"][0]
    assert "RevisionNotFoundError" in result["snapshot_revision"][0]


def test_token_protected_writes(tmp_path):
    folder = write_folder(tmp_path / "src", FOLDER)
    with HubServer(token="secret") as server:
        result = run_client(
            server,
            tmp_path / "hf",
            f"""
            def attempts():  # token=False: send no token at all
                return {{str(token): [err(api.create_repo, "user/model", token=token),
                                      err(api.upload_file, repo_id="user/model", path_or_fileobj=b"x",
                                          path_in_repo="x.txt", token=token)]
                        for token in (False, "wrong")}}
            before = attempts()
            api.create_repo("user/model", token="secret")
            oid = api.upload_folder(repo_id="user/model", folder_path={str(folder)!r}, token="secret").oid
            # a failed upload_folder costs 0.5 s (its committer thread polls), so only try it once
            after = attempts()
            after["folder"] = err(api.upload_folder, repo_id="user/model", folder_path={str(folder)!r}, token="wrong")
            out(before=before, after=after, oid=oid, read=read(snapshot_download("user/model", token=False)),
                me=api.whoami(token="secret")["name"], bad_me=err(api.whoami, token="wrong"))
            """,
        )
        for when in ("before", "after"):
            (create, upload), (wrong_create, wrong_upload) = result[when]["False"], result[when]["wrong"]
            assert create[1] == upload[1] == 401 and "HfHubHTTPError" in create[0] and "HfHubHTTPError" in upload[0]
            assert "Authorization header is missing" in create[2]
            assert wrong_create[1] == wrong_upload[1] == 403 and "Forbidden" in wrong_upload[2]
        assert result["after"]["folder"][1] == 403
        assert server.commits("user/model") == [result["oid"]] and len(commit_requests(server)) == 1
        assert result["read"] == FOLDER  # public repo: reads need no token
        assert result["me"] == "test-user"
        assert result["bad_me"][1] == 401 and "Invalid user token" in result["bad_me"][2]


def test_private_repo_needs_token(tmp_path):
    folder = write_folder(tmp_path / "src", FOLDER)
    with HubServer(token="secret") as server:
        result = run_client(
            server,
            tmp_path / "hf",
            f"""
            api.create_repo("user/private", private=True, token="secret")
            api.upload_folder(repo_id="user/private", folder_path={str(folder)!r}, token="secret")
            out(anonymous=[err(hf_hub_download, "user/private", "config.json", token=False),
                           err(snapshot_download, "user/private", token=False),
                           err(api.model_info, "user/private", token=False)],
                private=api.model_info("user/private", token="secret").private,
                files=read(snapshot_download("user/private", token="secret")))
            """,
        )
        for error in result["anonymous"]:
            assert "RepositoryNotFoundError" in error[0], error
        assert result["private"] is True and server.repos["user/private"]["private"] is True
        assert result["files"] == FOLDER


def test_offline_with_warm_cache(server, tmp_path):
    home = tmp_path / "hf"
    folder = write_folder(tmp_path / "src", FOLDER)
    code = f"""
        api.create_repo("user/model")
        out(oid=api.upload_folder(repo_id="user/model", folder_path={str(folder)!r}).oid,
            path=snapshot_download("user/model"))
    """
    warm = run_client(server, home, code)
    oid = warm["oid"]
    nb_requests = len(server.requests)
    server.stop()  # nothing may be asked from the Hub any more
    result = run_client(
        server,
        home,
        """
        out(path=snapshot_download("user/model"), files=read(snapshot_download("user/model")),
            config=Path(hf_hub_download("user/model", "config.json")).read_text(),
            missing=err(hf_hub_download, "user/model", "missing.txt"))
        """,
        offline=True,
    )
    assert result["path"] == warm["path"] and result["path"].endswith(oid)
    assert result["files"] == FOLDER and result["config"] == FOLDER["config.json"]
    assert "LocalEntryNotFoundError" in result["missing"][0]
    assert len(server.requests) == nb_requests


def test_failing_commits(server, tmp_path):
    folder = write_folder(tmp_path / "src", FOLDER)
    server.fail_commits = 422  # a 4xx: 408/429/5xx would be retried by the client with backoff
    result = run_client(
        server,
        tmp_path / "hf",
        f"""
        api.create_repo("user/model")
        out(upload=err(api.upload_folder, repo_id="user/model", folder_path={str(folder)!r}))
        """,
    )
    assert "HfHubHTTPError" in result["upload"][0] and result["upload"][1] == 422
    assert "fail_commits" in result["upload"][2]
    assert len(commit_requests(server)) == 1 and server.commits("user/model") == []
    server.fail_commits = None
    oid = upload(server, tmp_path / "hf", folder)["oid"]
    assert server.commits("user/model") == [oid]


def test_delete_operations_and_tree(server, tmp_path):
    upload(server, tmp_path / "hf", write_folder(tmp_path / "src", {**FOLDER, "weights/part-1.txt": "1"}))
    result = run_client(
        server,
        tmp_path / "hf",
        """
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete
        top = sorted(e.path for e in api.list_repo_tree("user/model"))
        sub = sorted(e.path for e in api.list_repo_tree("user/model", path_in_repo="weights"))
        info = api.create_commit("user/model", commit_message="cleanup", operations=[
            CommitOperationDelete("weights/"), CommitOperationDelete("config.json"),
            CommitOperationAdd("data/x.bin", b"\\x00\\xff")])
        missing = err(api.delete_file, "nope.txt", repo_id="user/model")
        out(top=top, sub=sub, oid=info.oid, missing=missing,
            tree=sorted(e.path for e in api.list_repo_tree("user/model", recursive=True)))
        """,
    )
    assert result["top"] == ["README.md", "config.json", "weights"]
    assert result["sub"] == ["weights/part-0.txt", "weights/part-1.txt"]
    assert server.files("user/model") == {"README.md": FOLDER["README.md"].encode(), "data/x.bin": b"\x00\xff"}
    assert server.commits("user/model")[-1] == result["oid"]
    assert "EntryNotFoundError" in result["missing"][0]
    assert result["tree"] == ["README.md", "data", "data/x.bin"]
