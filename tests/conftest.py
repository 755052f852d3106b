"""Test-session setup: a local Hub, a private Hugging Face home, one torch thread.

huggingface_hub reads HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE when it is imported, so the
environment is set here, at import time, before any test module imports wordrnn (and with it
huggingface_hub). The endpoint is a socket reserved now and served by the session `hub` fixture,
so no test can ever reach huggingface.co.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # hub_server, tiny

from hub_server import HubServer, reserve_socket  # noqa: E402

if "huggingface_hub" in sys.modules:  # too late: its constants would point at the real Hub
    raise RuntimeError("tests/conftest.py must run before huggingface_hub is imported")

_SOCKET = reserve_socket()
_HF_HOME = tempfile.mkdtemp(prefix="wordrnn-tests-hf-")
atexit.register(shutil.rmtree, _HF_HOME, ignore_errors=True)

for _name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
              "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ASSETS_CACHE", "HF_XET_CACHE"):
    os.environ.pop(_name, None)
os.environ.update(
    HF_ENDPOINT=f"http://127.0.0.1:{_SOCKET.getsockname()[1]}",
    HF_HOME=_HF_HOME,
    HF_HUB_DISABLE_TELEMETRY="1",
    HF_HUB_DISABLE_PROGRESS_BARS="1",
    NO_PROXY="127.0.0.1,localhost",  # the client honours proxy variables, even for 127.0.0.1
    no_proxy="127.0.0.1,localhost",
)

import pytest  # noqa: E402
import torch  # noqa: E402

# Tests use tiny models: on a busy 2-core machine more threads only add contention.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def hub():
    """The local Hub every test's HF_ENDPOINT points at (token-free: anyone may write)."""
    server = HubServer(sock=_SOCKET).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_checkpoint():
    """A small trained Checkpoint (shared: tests must not modify it; copy it first)."""
    from tiny import train_tiny

    return train_tiny()


@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    """A fresh, empty Hub cache for one test. snapshot_download reads constants.HF_HUB_CACHE at
    call time (its cache_dir default), so patching the constant is enough."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def cut_hub(monkeypatch):
    """Call it to make the Hub unreachable: HF_ENDPOINT then names a port where nothing listens.
    wordrnn.hub reads HF_ENDPOINT at each call and passes it to the client explicitly."""

    def cut() -> str:
        sock = reserve_socket()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        sock.close()  # connections to it are now refused at once
        monkeypatch.setenv("HF_ENDPOINT", url)
        return url

    return cut
