"""Launch `python app.py` as a real server for the API and browser tests.

    with AppServer(model_folder) as app:      # waits until the app answers
        Client(app.url).predict(...)
        app.log()                             # what the app printed so far

The app runs in its own process, as a host runs it, with the Hub switched off (HF_HUB_OFFLINE)
and Gradio's analytics and update check disabled, so nothing leaves the machine. `app_url` is a
module-scoped fixture over it: import it into a test module to share one server per module.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180  # s; imports alone take ~10 s on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        GRADIO_ANALYTICS_ENABLED="False",
        GRADIO_SERVER_NAME="127.0.0.1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
        PYTHONWARNINGS="ignore",
        **extra,
    )
    for name in ("WORDRNN_MODEL", "WORDRNN_REVISION", "GRADIO_SERVER_PORT"):
        env.pop(name, None)
    return env


class AppServer:
    def __init__(self, model: str | Path | None, args: list[str] | None = None, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(self.port)]
        self.cmd += ["--model", str(model)] if model else []
        self.cmd += args or []
        self.env = env or app_env()
        self._log = tempfile.NamedTemporaryFile(prefix="wordrnn-app-", suffix=".log", delete=False)
        self.process: subprocess.Popen | None = None
        self.started_in: float | None = None  # s from process start to the first answer

    def start(self, timeout: float = START_TIMEOUT) -> "AppServer":
        began = time.monotonic()
        self.process = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        while time.monotonic() - began < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with status {self.process.returncode}:\n{self.log()}")
            if self.answers():
                self.started_in = time.monotonic() - began
                return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"the app did not answer within {timeout} s:\n{self.log()}")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "gradio_api/info", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def app_model(tiny_checkpoint, tmp_path_factory) -> Path:
    """The tiny checkpoint as a folder, with a card that gives a validation perplexity."""
    from wordrnn import Checkpoint

    info = {**tiny_checkpoint.info, "metrics": {"valid_perplexity": 12.5}}
    folder = tmp_path_factory.mktemp("app-model") / "tiny"
    Checkpoint(tiny_checkpoint.model, tiny_checkpoint.vocab, info).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def app_server(app_model):
    """One running app per test module, killed at the end; its log is printed on failure."""
    server = AppServer(app_model).start()
    yield server
    server.stop()
    if "Traceback" in server.log():
        print(server.log()[-5000:])
