"""training/schedule.py and the time budget: warm-up, cosine to the floor, held while averaging;
a run given a short budget is sized to end on it, at the learning rate's floor, normally."""

from __future__ import annotations

import json
import logging
import math

import pytest

from test_training import SMALL, generated_corpus
from training.schedule import Schedule
from training.train import main


def test_the_schedule_warms_up_decays_and_holds_the_floor():
    s = Schedule(peak=1.0, total=200, warmup=10, averaged=50)
    lrs = [s.lr(step) for step in range(200)]
    assert lrs[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    decay = lrs[10:150]
    assert decay == sorted(decay, reverse=True) and decay[0] == pytest.approx(1.0)
    assert all(lr == pytest.approx(Schedule.FLOOR) for lr in lrs[150:])
    assert s.decay_end == 150 and Schedule.from_json(s.to_json()) == s
    assert Schedule(1.0, total=5, warmup=1, averaged=50).decay_end == 1  # at least one step decays


@pytest.mark.parametrize("extra", [["--average-epochs", "0"], []], ids=["no averaging", "averaging by rule"])
def test_a_short_budget_ends_at_the_floor_and_normally(tmp_path, caplog, extra):
    text = tmp_path / "cycle.txt"
    text.write_text(generated_corpus(words=60, repeats=20), encoding="utf-8")
    args = ["--text", str(text), "--valid", str(text), "--out", str(tmp_path / "run"), *SMALL,
            "--eval-interval", "100000", "--time-budget", "6s", *extra]
    if not extra:  # drop SMALL's --average-epochs 0: the rule averages the last 1/8
        at = args.index("--average-epochs")
        del args[at : at + 2]
    caplog.set_level(logging.INFO, logger="training")
    assert main(args) == 0
    assert "interrupted" not in caplog.text and "--resume" not in caplog.text
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train = [row for row in rows if row["kind"] == "train"]
    floor = 0.01 * Schedule.FLOOR  # SMALL's --lr 0.01
    assert train[-1]["step"] > 100  # the budget, not a short schedule, set the length
    assert train[-1]["lr"] == pytest.approx(floor, rel=0.02)
    assert max(row["lr"] for row in train) == pytest.approx(0.01, rel=0.05)  # and it reached the peak
    assert [row for row in rows if row["kind"] == "valid"][-1]["step"] == train[-1]["step"]
    if not extra:
        checkpoint_card = (tmp_path / "run" / "model" / "README.md").read_text()
        assert "mean of the weights" in checkpoint_card
        held = [row["lr"] for row in train[-3:]]
        assert all(math.isclose(lr, floor, rel_tol=1e-9) for lr in held)
