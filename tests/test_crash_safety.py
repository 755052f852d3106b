"""Crash safety: the training state is written every --save-interval too, a SIGKILL then --resume
continues exactly with no duplicate metrics, the thread count travels with the state, and a
resumption that could not be exact (another world size) is refused before it starts."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from test_training import SMALL, generated_corpus, needs_native_bf16
from training.train import main

ROOT = Path(__file__).resolve().parent.parent
COMMON = ["--epochs", "1000", "--eval-interval", "100000", "--dropout", "0.2"]


@pytest.fixture
def text(tmp_path) -> Path:
    path = tmp_path / "cycle.txt"
    path.write_text(generated_corpus(words=60, repeats=20), encoding="utf-8")
    return path


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "RANK", "WORLD_", "LOCAL_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _tensors(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "training_state" / "tensors.safetensors"))


def _saved_step(run: Path) -> int:
    try:
        return json.loads((run / "training_state" / "state.json").read_text())["step"]
    except (OSError, ValueError):
        return 0


def test_sigkill_then_resume_continues_from_the_periodic_state_exactly(text, tmp_path, caplog):
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "training.train", "--text", str(text), "--valid", str(text),
           "--out", str(killed), *SMALL, *COMMON, "--save-interval", "0.5s"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _saved_step(killed) < 20 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(0.3)  # kill it between two saves, with metrics rows written after the last one
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    saved = _saved_step(killed)
    assert saved >= 20, "no periodic state was written before the kill"
    assert not (killed / "model").exists()  # no validation ran: only the periodic save kept it

    end = saved + 25
    caplog.set_level(logging.INFO, logger="training")
    assert main(["--out", str(killed), "--resume", "--max-steps", str(end), "--no-progress"]) == 0
    assert f"resumed at step {saved} (no validation yet)" in caplog.text
    rows = [json.loads(line) for line in (killed / "metrics.jsonl").read_text().splitlines()]
    steps = [row["step"] for row in rows if row["kind"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == end  # no duplicates, in order
    assert all(row["tokens_per_s"] > 0 for row in rows if row["kind"] == "train")  # the first after it too

    whole = tmp_path / "whole"
    assert main(["--text", str(text), "--valid", str(text), "--out", str(whole), *SMALL, *COMMON,
                 "--max-steps", str(end)]) == 0
    a, b = _tensors(whole), _tensors(killed)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_a_resume_without_threads_uses_the_saved_count_and_is_exact(text, tmp_path, threads):
    args = ["--text", str(text), "--valid", str(text), *SMALL, "--threads", "2", "--epochs", "3",
            "--eval-interval", "7"]
    assert main([*args, "--out", str(tmp_path / "whole"), "--max-steps", "30"]) == 0
    assert main([*args, "--out", str(tmp_path / "parts"), "--max-steps", "13"]) == 0
    assert json.loads((tmp_path / "parts" / "training_state" / "state.json").read_text())["threads"] == 2
    torch.set_num_threads(1)  # what this process would otherwise use
    assert main(["--out", str(tmp_path / "parts"), "--resume", "--max-steps", "30", "--no-progress"]) == 0
    assert torch.get_num_threads() == 2
    a, b = _tensors(tmp_path / "whole"), _tensors(tmp_path / "parts")
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_a_resume_under_another_world_size_is_refused_with_the_reason(text, tmp_path):
    run = tmp_path / "run"
    assert main(["--text", str(text), "--valid", str(text), "--out", str(run), *SMALL, "--max-steps", "3"]) == 0
    before = (run / "training_state" / "state.json").read_bytes()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training.train", "--out", str(run), "--resume", "--max-steps", "6", "--no-progress"]
    result = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "error: this run was trained by 1 process(es) and cannot continue exactly with 2" in result.stderr
    assert (run / "training_state" / "state.json").read_bytes() == before  # untouched


@needs_native_bf16
def test_a_bf16_run_resumed_where_bfloat16_is_not_native_continues_in_float32_and_says_so(text, tmp_path, caplog,
                                                                                          monkeypatch):
    run = ["--text", str(text), "--valid", str(text), "--out", str(tmp_path / "run"), *SMALL, "--epochs", "3",
           "--eval-interval", "5"]
    assert main([*run, "--max-steps", "6"]) == 0  # --precision auto: bfloat16 autocast on this CPU
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)  # an AVX2-only machine
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    caplog.set_level(logging.INFO, logger="training")
    assert main(["--out", str(tmp_path / "run"), "--resume", "--max-steps", "12", "--no-progress"]) == 0
    assert "this run trained in bf16, which this machine does not run natively: it continues in fp32" in caplog.text
