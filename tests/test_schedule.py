"""training/schedule.py and the time budget: warm-up, cosine to the floor, held while averaging;
a run given a short budget is sized to end on it, at the learning rate's floor, normally."""

from __future__ import annotations

import json
import logging
import math
from typing import Callable

import pytest

from test_training import SMALL, generated_corpus
from training import schedule
from training.schedule import Budget, Schedule
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


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The budget's clock, moved by hand."""
    fake = Clock()
    monkeypatch.setattr(schedule.time, "monotonic", fake)
    return fake


def plans(clock: Clock, budget: Budget, seconds: Callable[[int], float], steps: int) -> dict[int, int | None]:
    """The steps left that `budget` plans every 10 steps, step n taking seconds(n)."""
    budget.start(0)
    out = {}
    for step in range(1, steps + 1):
        clock.now += seconds(step)
        if step % 10 == 0:
            out[step] = budget.steps_left(step)
    return out


def test_a_slower_machine_halfway_shortens_the_plan_at_once(clock):
    planned = plans(clock, Budget(100.0), lambda step: 0.125 if step <= 200 else 0.375, 300)  # 3x slower from 200
    assert planned[200] == pytest.approx(75 * Budget.MARGIN / 0.125, abs=1)  # steady: the mean step
    # 37.5 s are left at step 300; the mean step since the start (0.208 s) would plan 171 more
    # steps, 64 s at the speed of now; the last RECENT steps' 0.375 s plan what fits
    assert planned[300] == pytest.approx(37.5 * Budget.MARGIN / 0.375, abs=1)


def test_a_machine_busy_at_the_start_lengthens_the_plan_when_it_frees(clock):
    # another program held the cores for the first 20 s
    planned = plans(clock, Budget(100.0), lambda step: 0.5 if step <= 40 else 0.125, 100)
    # 72.5 s are left at step 100; the mean since the start (0.275 s) would plan 250 more steps
    # and leave 41 s unused: the last RECENT steps' 0.125 s plan what fits
    assert planned[100] == pytest.approx(72.5 * Budget.MARGIN / 0.125, abs=1)


def test_validations_are_spread_over_the_steps_not_taken_for_a_slowdown(clock):
    budget = Budget(100.0)
    budget.start(0)
    for step in range(1, 201):
        clock.now += 0.125
        if step % 100 == 0:  # a 4 s validation
            clock.now += 4.0
            budget.validated(4.0)
        if step % 10 == 0:
            left = budget.steps_left(step)
    # 33 s for 200 steps, validations included: 0.165 s a step; 4 s kept for the final one
    assert left == pytest.approx((67 * Budget.MARGIN - 4) / 0.165, abs=1)


def test_the_budget_keeps_time_for_the_final_validation_before_one_is_timed(clock):
    budget = Budget(100.0, validation_steps=80)  # a large validation split: 80 steps' time
    budget.start(0)
    for _ in range(10):
        clock.now += 0.125
    assert budget.steps_left(10) == int(((100 - 1.25) * Budget.MARGIN - 80 * 0.125) / 0.125)
    clock.now = 1000.0 + 100 - 80 * 0.125 - 0.01
    assert not budget.over()
    clock.now += 0.02  # only the final validation still fits: the steps stop here, not at the end
    assert budget.over()


def test_a_resumed_budget_is_what_is_left_of_the_whole(clock):
    budget = Budget(60.0, used=40.9)
    assert budget.used() == pytest.approx(40.9)
    clock.now += 19.0
    assert not budget.over() and budget.used() == pytest.approx(59.9)
    clock.now += 0.2
    assert budget.over()


def test_a_budget_that_ends_before_one_pass_over_the_text_says_so(tmp_path, caplog):
    text = tmp_path / "long.txt"
    text.write_text(generated_corpus(words=60, repeats=3000), encoding="utf-8")  # ~5,000 steps a pass
    args = ["--text", str(text), "--valid", str(text), "--out", str(tmp_path / "run"), *SMALL,
            "--eval-interval", "100000", "--time-budget", "4s"]
    caplog.set_level(logging.INFO, logger="training")
    assert main(args) == 0
    assert "of one pass over the text: the model has barely begun to learn it" in caplog.text
    caplog.clear()
    short = tmp_path / "short.txt"
    short.write_text(generated_corpus(words=60, repeats=20), encoding="utf-8")
    assert main(["--text", str(short), "--valid", str(short), "--out", str(tmp_path / "short"), *SMALL,
                 "--eval-interval", "100000", "--time-budget", "4s"]) == 0
    assert "barely begun" not in caplog.text  # many passes in the same seconds
