"""The training state that `--resume` needs, saved without pickles.

    out/training_state/
        tensors.safetensors   model parameters, optimizer moments, carried LSTM state, RNG,
                              the weight average once it has begun
        state.json            step, epoch, batch position, best score, arguments, vocabulary

Tensors go to safetensors and everything else to JSON, so even a state file from someone else
can be opened without running code. The folder is replaced atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .average import WeightAverage
from wordrnn.folders import atomic_folder
from wordrnn.model import State, WordRNN

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
