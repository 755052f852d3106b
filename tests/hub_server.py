"""A small Hugging Face Hub-compatible HTTP server for tests (standard library only).

Why: no test may reach huggingface.co, and request-mocking libraries (responses, requests-mock,
respx) do not intercept huggingface_hub 2.x, which talks through its own httpx2 transport. So the
tests run the *real* client against this server: start it, set ``HF_ENDPOINT=server.endpoint``
*before* huggingface_hub is imported (``constants.ENDPOINT`` is read at import time) and use the
normal API (create_repo, upload_folder, snapshot_download, hf_hub_download, ...).

Endpoints, as huggingface_hub 2.4 calls them ({t} is "model", "dataset" or "space"; {p} is
"", "datasets/" or "spaces/"):

    POST /api/repos/create                    create_repo; an existing repo is a 409 that still
                                              carries "url" (create_repo(exist_ok=True) reads it);
                                              a space needs its "sdk"
    GET  /api/whoami-v2                       whoami
    POST /api/validate-yaml                   sent by upload_folder/create_commit for README.md
    POST /api/{t}s/{repo}/preupload/{rev}     "lfs" for binaries as the Hub decides it (a NUL byte
                                              in the sample, 10 MiB or more, or a pattern of the
                                              repo's .gitattributes with filter=lfs), else
                                              "regular"; with the remote "oid" (sha256 for LFS
                                              files, git blob sha otherwise) so unchanged files
                                              are skipped
    POST /{p}{repo}.git/info/lfs/objects/batch  LFS batch API, "basic" transfer: an upload and a
                                              verify action per object not stored yet
    PUT  /lfs-upload/{oid}                    the object's bytes (sha256 checked)
    POST /lfs-verify/{oid}                    {"oid", "size"} of an uploaded object
    POST /api/{t}s/{repo}/commit/{rev}        NDJSON: header, file (base64), lfsFile (an uploaded
                                              object), deletedFile, deletedFolder; parentCommit is
                                              checked (412)
    GET  /api/{t}s/{repo}[/revision/{rev}]    model_info / dataset_info / repo_info
    GET  /api/{t}s/{repo}/tree/{rev}[/{dir}]  list_repo_tree (single page, ?recursive=true)
    HEAD|GET /{p}{repo}/resolve/{rev}/{path}  file metadata + content (Range supported); an LFS
                                              file's ETag is its sha256, as on the Hub

Errors are JSON and carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound) so the
client raises its own exception classes. A repo has a linear history on branch "main"; a revision
is "main" or a full commit sha. New repos start without any commit (the real Hub adds an initial
.gitattributes commit). With ``token`` set, writes need "Authorization: Bearer <token>" (missing:
401, wrong: 403) and private repos are invisible (404 RepoNotFound) without it; with no
``token`` anyone may write, and any bearer token unlocks private repos. README metadata is not
checked.

Importing this module sets HF_HUB_DISABLE_XET=1 (unless set): the client then uploads binaries
with plain LFS, which this server speaks, rather than Xet, which it does not. Import it before
huggingface_hub (tests/conftest.py does), which reads the variable once.

Caveat for ``fail_commits``: the client retries a commit answered with 408/429/5xx five times
with 1+2+4+8+8 s of backoff; use a 4xx (e.g. 400, 422) to fail at once.
"""

import base64
import fnmatch
import hashlib
import json
import os
import re
import socket
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

os.environ.setdefault("HF_HUB_DISABLE_XET", "1")

USER = "test-user"  # namespace of repos created without an organization, and whoami's name
_API = re.compile(r"^/api/(models|datasets|spaces)/(.+?)(?:/(revision|tree|preupload|commit)/([^/]+)(?:/(.*))?)?$")
_RESOLVE = re.compile(r"^/(?:(datasets|spaces)/)?(.+?)/resolve/([^/]+)/(.+)$")
_LFS_BATCH = re.compile(r"^/(?:(datasets|spaces)/)?(.+?)\.git/info/lfs/objects/batch$")
_LFS_OBJECT = re.compile(r"^/lfs-(upload|verify)/([0-9a-f]{64})$")
_PREFIX = {"model": "", "models": "", None: "", "dataset": "datasets/", "datasets": "datasets/",
           "space": "spaces/", "spaces": "spaces/"}
LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub stores files this big in LFS whatever their content


def reserve_socket() -> socket.socket:
    """A listening socket on 127.0.0.1 with a free port, to know the endpoint before starting."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def git_blob_sha(data: bytes) -> str:
    """The git object id of a regular file (what the Hub uses as its ETag and "oid")."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubError(Exception):
    def __init__(self, status, message, code=None, headers=None, extra=None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers, self.extra = headers or {}, extra or {}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lfs_patterns(gitattributes: bytes | None) -> list[str]:
    """The patterns a .gitattributes file sends through LFS (filter=lfs)."""
    lines = (gitattributes or b"").decode("utf-8", "replace").splitlines()
    return [line.split()[0] for line in lines if line.strip() and "filter=lfs" in line.split()[1:]]


class HubServer:
    """In-memory Hub. ``repos[key] = {"private": bool, "sdk": str | None, "commits": [{"sha",
    "summary", "files", "lfs"}]}`` with key "owner/name" for models, "datasets/owner/name" and
    "spaces/owner/name" for the others; "lfs" is the set of paths stored as LFS objects."""

    def __init__(self, token: str | None = None, sock: socket.socket | None = None):
        self.token = token
        self.repos: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []  # (method, raw path without query) of each request
        self.errors: list[str] = []  # tracebacks of unexpected server-side exceptions
        self.fail_commits: int | None = None  # status code to answer commit requests with
        self.lfs_objects: dict[str, bytes] = {}  # sha256 -> content, uploaded through the LFS API
        self._lock = threading.Lock()
        sock = sock if sock is not None else reserve_socket()
        sock.listen(64)
        self._httpd = ThreadingHTTPServer(sock.getsockname(), _Handler, bind_and_activate=False)
        self._httpd.socket.close()
        self._httpd.socket, self._httpd.hub = sock, self
        self.port = sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()  # open keep-alive connections, closed by stop()

    def start(self) -> "HubServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        for conn in list(self._connections):  # else keep-alive connections would still be served
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def commits(self, repo_id: str) -> list[str]:
        return [c["sha"] for c in self.repos[repo_id]["commits"]]

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        return dict(self._resolve(self.repos[repo_id], revision)["files"])

    def lfs_files(self, repo_id: str, revision: str = "main") -> set[str]:
        """The paths of `repo_id` at `revision` that were committed as LFS objects."""
        return set(self._resolve(self.repos[repo_id], revision)["lfs"])

    # ------------------------------------------------------------------ request handling

    def _authorized(self, given):
        return given is not None and (self.token is None or given == self.token)

    def _check_write(self, given):
        if self.token is not None and given is None:
            raise HubError(401, "Authorization header is missing: a write token is required")
        if self.token is not None and given != self.token:
            raise HubError(403, "Invalid token: no write access")

    def _repo(self, key, given, write=False):
        if write:
            self._check_write(given)
        repo = self.repos.get(key)
        if repo is None or (repo["private"] and not self._authorized(given)):
            raise HubError(404, f"Repository not found: {key}", "RepoNotFound")
        return repo

    def _resolve(self, repo, rev, allow_empty=False):
        rev = unquote(rev)
        if rev == "main" and (repo["commits"] or allow_empty):
            return repo["commits"][-1] if repo["commits"] else None
        for commit in repo["commits"]:
            if commit["sha"] == rev:
                return commit
        raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")

    def _handle(self, method, path, query, headers, body):
        auth = headers.get("Authorization") or ""
        given = auth[7:] if auth.lower().startswith("bearer ") else None
        if method == "POST" and path == "/api/repos/create":
            return self._create(json.loads(body), given)
        if method == "GET" and path == "/api/whoami-v2":
            if not self._authorized(given):
                raise HubError(401, "Invalid credentials in Authorization header")
            access = {"displayName": "test", "role": "write"}
            return 200, {}, {"type": "user", "name": USER, "fullname": USER, "orgs": [],
                             "auth": {"type": "access_token", "accessToken": access}}
        if method == "POST" and path == "/api/validate-yaml":
            return 200, {}, {"errors": [], "warnings": []}
        if method == "POST" and (m := _LFS_BATCH.match(path)):
            return self._lfs_batch(_PREFIX[m[1]] + m[2], json.loads(body), given)
        if m := _LFS_OBJECT.match(path):
            return self._lfs_object(method, m[1], m[2], body)
        if m := _API.match(path):
            kind, repo_id, action, rev, rest = m.groups()
            key = _PREFIX[kind] + repo_id
            if method == "POST" and action == "preupload":
                return self._preupload(key, rev, json.loads(body), given)
            if method == "POST" and action == "commit":
                return self._commit(key, repo_id, kind, rev, query, body, given)
            if method == "GET" and action in (None, "revision"):
                repo = self._repo(key, given)
                commit = self._resolve(repo, rev or "main", allow_empty=rev is None)
                files = commit["files"] if commit else {}
                return 200, {}, {"id": repo_id, "author": repo_id.split("/")[0], "private": repo["private"],
                                 "sdk": repo.get("sdk"),
                                 "sha": commit and commit["sha"], "gated": False, "disabled": False,
                                 "downloads": 0, "likes": 0, "tags": [],
                                 "siblings": [{"rfilename": p} for p in sorted(files)]}
            if method == "GET" and action == "tree":
                commit = self._resolve(self._repo(key, given), rev)
                return 200, {}, _tree(commit["files"], commit["lfs"], unquote(rest or ""), query)
        elif (m := _RESOLVE.match(path)) and method in ("GET", "HEAD") and not path.startswith("/api/"):
            kind, repo_id, rev, file_path = m.groups()
            commit = self._resolve(self._repo(_PREFIX[kind] + repo_id, given), rev)
            data, hdrs = commit["files"].get(unquote(file_path)), {"X-Repo-Commit": commit["sha"]}
            if data is None:
                raise HubError(404, f"Entry not found: {unquote(file_path)}", "EntryNotFound", hdrs)
            lfs = unquote(file_path) in commit["lfs"]
            hdrs.update({"ETag": f'"{sha256(data) if lfs else git_blob_sha(data)}"', "Accept-Ranges": "bytes",
                         "Content-Type": "application/octet-stream"})
            rng = re.fullmatch(r"bytes=(\d+)-(\d*)", headers.get("Range") or "")
            if method == "GET" and rng and int(rng[1]) < len(data):
                start, end = int(rng[1]), min(int(rng[2] or len(data) - 1), len(data) - 1)
                hdrs["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                return 206, hdrs, data[start : end + 1]
            return 200, hdrs, data
        raise HubError(404, f"Not implemented by the test Hub: {method} {path}")

    def _create(self, data, given):
        self._check_write(given)
        kind = data.get("type") or "model"
        if kind not in ("model", "dataset", "space"):
            raise HubError(400, f"Repo type {kind!r} is not supported by the test Hub")
        if kind == "space" and data.get("sdk") not in ("gradio", "streamlit", "docker", "static"):
            raise HubError(400, "A space needs an sdk: gradio, streamlit, docker or static")
        repo_id = f"{data.get('organization') or USER}/{data['name']}"
        prefix = _PREFIX[kind]
        url = f"{self.endpoint}/{prefix}{repo_id}"
        with self._lock:
            if prefix + repo_id in self.repos:
                raise HubError(409, f"You already created this {kind} repo", extra={"url": url})
            private = bool(data.get("private")) or data.get("visibility") == "private"
            self.repos[prefix + repo_id] = {"private": private, "sdk": data.get("sdk"), "commits": []}
        return 200, {}, {"url": url, "name": repo_id, "id": repo_id}

    def _preupload(self, key, rev, payload, given):
        commit = self._resolve(self._repo(key, given, write=True), rev, allow_empty=True)
        remote, remote_lfs = (commit["files"], commit["lfs"]) if commit else ({}, set())
        patterns = lfs_patterns(remote.get(".gitattributes"))
        files = []
        for f in payload["files"]:
            path, sample = f["path"], base64.b64decode(f.get("sample") or "")
            lfs = (b"\0" in sample or f.get("size", 0) >= LFS_THRESHOLD
                   or any(fnmatch.fnmatch(path.rsplit("/", 1)[-1], p) or fnmatch.fnmatch(path, p) for p in patterns))
            old = remote.get(path)
            oid = None if old is None else sha256(old) if path in remote_lfs else git_blob_sha(old)
            files.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        return 200, {}, {"files": files, "commitOid": commit and commit["sha"]}

    def _lfs_batch(self, key, payload, given):
        self._repo(key, given, write=True)
        if payload.get("operation") != "upload" or "basic" not in payload.get("transfers", ["basic"]):
            raise HubError(400, "The test Hub's LFS batch API takes uploads with the basic transfer")
        objects = []
        for obj in payload["objects"]:
            oid, size = obj["oid"], obj["size"]
            entry = {"oid": oid, "size": size}
            if oid not in self.lfs_objects:  # already stored: no actions, the client skips it
                entry["actions"] = {"upload": {"href": f"{self.endpoint}/lfs-upload/{oid}"},
                                    "verify": {"href": f"{self.endpoint}/lfs-verify/{oid}"}}
            objects.append(entry)
        return 200, {}, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}

    def _lfs_object(self, method, action, oid, body):
        if action == "upload" and method == "PUT":
            if sha256(body) != oid:
                raise HubError(400, f"LFS object {oid} does not match its content")
            with self._lock:
                self.lfs_objects[oid] = body
            return 200, {}, {}
        if action == "verify" and method == "POST":
            info = json.loads(body)
            if info.get("oid") != oid or oid not in self.lfs_objects or len(self.lfs_objects[oid]) != info.get("size"):
                raise HubError(404, f"LFS object {oid} was not uploaded (or has another size)")
            return 200, {}, {}
        raise HubError(405, f"{method} is not allowed on an LFS {action} URL")

    def _commit(self, key, repo_id, kind, rev, query, body, given):
        repo = self._repo(key, given, write=True)
        if self.fail_commits:
            raise HubError(self.fail_commits, f"Commit refused by the test Hub (fail_commits={self.fail_commits})")
        if unquote(rev) != "main" or "create_pr" in query:
            raise HubError(400, "The test Hub only commits to branch 'main' (no pull requests)")
        with self._lock:
            head = repo["commits"][-1] if repo["commits"] else None
            files, header = dict(head["files"]) if head else {}, {}
            lfs = set(head["lfs"]) if head else set()
            for line in filter(None, body.splitlines()):
                item = json.loads(line)
                op, value = item["key"], item["value"]
                if op == "header":
                    header = value
                elif op == "file":
                    raw = value["content"]
                    files[value["path"]] = base64.b64decode(raw) if value.get("encoding") == "base64" else raw.encode()
                    lfs.discard(value["path"])
                elif op == "lfsFile":
                    if value.get("algo") != "sha256" or value["oid"] not in self.lfs_objects:
                        raise HubError(422, f"LFS object {value['oid']} of {value['path']} was never uploaded")
                    files[value["path"]] = self.lfs_objects[value["oid"]]
                    lfs.add(value["path"])
                elif op == "deletedFile":
                    if files.pop(value["path"], None) is None:
                        raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
                    lfs.discard(value["path"])
                elif op == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {p: d for p, d in files.items() if not p.startswith(prefix)}
                    lfs = {p for p in lfs if p in files}
                else:
                    raise HubError(400, f"Commit operation {op!r} is not supported by the test Hub (no Xet)")
            parent = head["sha"] if head else None
            if header.get("parentCommit") not in (None, parent):
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            tree = sorted((p, git_blob_sha(d)) for p, d in files.items())
            summary = header.get("summary", "")
            sha = hashlib.sha1(json.dumps([parent, summary, len(repo["commits"]), tree]).encode()).hexdigest()
            repo["commits"].append({"sha": sha, "summary": summary, "files": files, "lfs": lfs})
        url = f"{self.endpoint}/{_PREFIX[kind]}{repo_id}/commit/{sha}"
        return 200, {}, {"success": True, "commitOid": sha, "commitUrl": url, "hookOutput": "",
                         "pullRequestUrl": None}


def _tree(files, lfs, base, query):
    """Entries of list_repo_tree under directory ``base`` (all descendants if ?recursive=true)."""
    recursive = (query.get("recursive") or ["false"])[0].lower() in ("true", "1")
    prefix, entries = (base.strip("/") + "/") if base.strip("/") else "", {}
    for path in sorted(p for p in files if p.startswith(prefix)):
        parts = path[len(prefix) :].split("/")
        for i in range(1, len(parts) if recursive else min(2, len(parts))):
            folder = prefix + "/".join(parts[:i])
            entries[folder] = {"type": "directory", "path": folder, "oid": hashlib.sha1(folder.encode()).hexdigest()}
        if recursive or len(parts) == 1:
            entries[path] = {"type": "file", "path": path, "size": len(files[path]), "oid": git_blob_sha(files[path])}
            if path in lfs:
                entries[path]["lfs"] = {"oid": sha256(files[path]), "size": len(files[path]), "pointerSize": 134}
    if prefix and not entries:
        raise HubError(404, f"Entry not found: {base}", "EntryNotFound")
    return list(entries.values())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries a Content-Length

    def log_message(self, format, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self.server.hub._connections.add(self.connection)

    def finish(self):
        super().finish()
        self.server.hub._connections.discard(self.connection)

    def do_GET(self):
        hub: HubServer = self.server.hub
        url = urlsplit(self.path)
        hub.requests.append((self.command, url.path))
        body = self._body()
        try:
            status, headers, payload = hub._handle(self.command, url.path, parse_qs(url.query), self.headers, body)
        except HubError as err:
            status, payload = err.status, {"error": err.message, **err.extra}
            headers = {**err.headers, "X-Error-Message": err.message.encode("ascii", "backslashreplace").decode()}
            if err.code:
                headers["X-Error-Code"] = err.code
        except Exception:
            hub.errors.append(traceback.format_exc())
            status, headers, payload = 500, {"X-Error-Message": "test Hub crashed"}, {"error": hub.errors[-1]}
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(chunks)

    do_HEAD = do_POST = do_PUT = do_GET
