"""The training state that `--resume` needs, saved without pickles.

    out/training_state/
        tensors.safetensors   model parameters, optimizer moments, carried LSTM state, RNG,
                              the weight average once it has begun
        state.json            step, epoch, batch position, best score, arguments, vocabulary

Tensors go to safetensors and everything else to JSON, so even a state file from someone else
can be opened without running code. The folder is replaced atomically.

save_loop and resume_loop are the training loop's side of it (training/loop.py calls them):
which of a Loop's fields go in, and how a resumed Loop takes them back, with what is left of
its time budget. They live here so that the fields written and the fields read stay together.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_file

from .average import WeightAverage
from .schedule import Budget, Schedule
from wordrnn.folders import atomic_folder
from wordrnn.model import State, WordRNN

if TYPE_CHECKING:
    from .loop import Loop

log = logging.getLogger("training")

TENSORS, META = "tensors.safetensors", "state.json"


def save(
    folder: Path, model: WordRNN, optimizer: torch.optim.Optimizer,
    carried: State | None, meta: dict[str, Any], average: WeightAverage | None = None,
) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items() if k != "output.weight"
               or not model.config.tie_weights}
    opt = optimizer.state_dict()
    for index, slots in opt["state"].items():
        for name, value in slots.items():
            tensors[f"optimizer.{index}.{name}"] = torch.as_tensor(value)
    for i, (h, c) in enumerate(carried or []):
        tensors[f"carried.{i}.h"], tensors[f"carried.{i}.c"] = h, c
    for name, value in (average.tensors() if average else {}).items():
        tensors[f"average.{name}"] = value
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {**meta, "param_groups": opt["param_groups"], "carried_layers": len(carried or []),
            "averaged_steps": average.count if average else 0}
    with atomic_folder(folder) as tmp:
        save_file(tensors, str(tmp / TENSORS))
        (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")


def read_meta(folder: Path) -> dict[str, Any]:
    return json.loads((folder / META).read_text(encoding="utf-8"))


def restore(
    folder: Path, model: WordRNN, optimizer: torch.optim.Optimizer, device: torch.device,
    average: WeightAverage | None = None,
) -> State | None:
    """Load parameters, optimizer, RNG and weight average into the given objects; return the
    carried state."""
    tensors = load_file(str(folder / TENSORS))
    meta = read_meta(folder)
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    if model.config.tie_weights:
        weights["output.weight"] = weights["embedding.weight"]
    model.load_state_dict(weights)
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            slots.setdefault(int(index), {})[name] = value  # load_state_dict moves it
    optimizer.load_state_dict({"state": slots, "param_groups": meta["param_groups"]})
    if average is not None:
        prefix = "average."
        average.restore({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)},
                        meta.get("averaged_steps", 0))
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    layers = meta["carried_layers"]
    if not layers:
        return None
    return [(tensors[f"carried.{i}.h"].to(device), tensors[f"carried.{i}.c"].to(device)) for i in range(layers)]


def save_loop(loop: "Loop") -> None:
    """Write what an exact --resume needs (rank 0 only; atomically)."""
    loop.saved_at = time.monotonic()
    if not loop.process.is_main:
        return
    meta = {"step": loop.step, "best": loop.best, "seconds": loop.seconds, "args": vars(loop.args),
            "vocab": loop.corpus.vocab.to_json(), "schedule": loop.schedule.to_json(),
            "threads": torch.get_num_threads(), "world_size": loop.process.world_size,
            "device_type": loop.process.device.type, "metrics_bytes": loop.report.size(),
            "scaler": loop.precision.state(), "precision": loop.precision.name,
            "budget_used": loop.budget.used() if loop.budget else None}
    save(loop.out / "training_state", loop.model, loop.optimizer, loop.carried, meta, loop.average)


def resume_loop(loop: "Loop", folder: Path) -> None:
    """Put the state saved in `folder` back into a freshly made `loop`."""
    meta = read_meta(folder)
    loop.schedule = Schedule.from_json(meta["schedule"]) if "schedule" in meta else loop.schedule
    if loop.schedule.averaged and loop.average is None and loop.process.is_main:
        loop.average = WeightAverage(loop.model)
    if loop.budget:  # re-fitted to what is left of the budget (without one, the saved plan is exact)
        used = meta.get("budget_used") or meta["seconds"]  # a run without a budget: its training time
        loop.budget = Budget(loop.budget.seconds, used, loop.budget.validation_steps)
        loop.budget.start(meta["step"])
        log.info("time budget %s in all (--time-budget is the whole run's), %s used, %s left", _secs(loop.budget.seconds),
                 _secs(used), _secs(max(0.0, loop.budget.seconds - used)))
    loop.carried = restore(folder, loop.model, loop.optimizer, loop.process.device, loop.average)
    loop.precision.restore(meta.get("scaler"))
    saved = meta.get("precision")  # what `--precision auto` chose where the run began
    if saved and saved != loop.precision.name:
        log.warning("this run trained in %s, which this machine does not run natively: it continues in %s, close "
                    "to but not exactly the run it would have been", saved, loop.precision.name)
    if loop.carried and loop.precision.dtype is None:  # a state saved under autocast, continued in float32
        loop.carried = [(h.float(), c.float()) for h, c in loop.carried]
    if loop.process.rank != 0:  # only rank 0's carried state and RNG were saved
        loop.carried = None
        torch.manual_seed(loop.args.seed + 1000 * loop.process.rank + meta["step"])
    loop.step, loop.best, loop.seconds = meta["step"], meta["best"], meta["seconds"]
    loop.report.truncate(meta.get("metrics_bytes"))
    loop.report.set_total(loop.limit(), loop.step)
    if loop.step >= loop.limit():
        log.info("nothing to train: the run is at step %d and stops at step %d (to train longer, start a "
                 "new run with another --out); writing its model card again", loop.step, loop.limit())
    else:
        best = f"best validation loss {loop.best:.4f}" if math.isfinite(loop.best) else "no validation yet"
        log.info("resumed at step %d (%s)", loop.step, best)


def _secs(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 600 else f"{seconds / 60:.1f} min"
