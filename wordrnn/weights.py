"""model.safetensors: write a WordRNN's weights; read them back only after checking them.

Reading never unpickles (safetensors is a JSON header plus raw tensor bytes), and the header is
checked against config.json before any tensor is read or any model is built: `expected_shapes`
builds the model on PyTorch's meta device, which has shapes but no storage. So a hostile or
mistaken config.json (hidden_sizes [10**9]) fails with a message, not after allocating
gigabytes, and a real model is only built once its weights are known to fit it.
"""

from __future__ import annotations

from pathlib import Path

import safetensors.torch  # called as safetensors.torch.save_file, so tests can make it fail
import torch
from safetensors import SafetensorError, safe_open

from wordrnn.errors import CheckpointError
from wordrnn.model import ModelConfig, WordRNN

FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor model.safetensors must hold for `config`, read from a
    WordRNN built on the meta device (no memory). The tied output matrix is not stored: it is
    the embedding. ValueError when no such model can exist (sizes beyond PyTorch's limits)."""
    try:
        model = WordRNN(config, device="meta")
    except (RuntimeError, OverflowError, TypeError) as err:  # TypeError: a size beyond int64
        raise ValueError(f"no model can have this config ({str(err).splitlines()[0]})") from None
    return {name: tuple(t.shape) for name, t in model.state_dict().items() if name not in _tied(model)}


def _tied(model: WordRNN) -> set[str]:
    return {"output.weight"} if model.config.tie_weights else set()


def save(model: WordRNN, path: Path, dtype: torch.dtype = torch.float32) -> None:
    tensors = {
        name: t.detach().to("cpu", dtype).contiguous()
        for name, t in model.state_dict().items()
        if name not in _tied(model)
    }
    safetensors.torch.save_file(tensors, str(path), metadata={"format": "pt"})


def load(path: Path, config: ModelConfig) -> dict[str, torch.Tensor]:
    """The float32 state_dict for WordRNN(config) stored in `path`; CheckpointError naming the
    file for anything missing, truncated, corrupt, mis-shaped, extra or non-finite."""
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; a wordrnn checkpoint needs its weights in {path.name}")
    try:
        with safe_open(str(path), framework="pt") as file:
            header = {k: (tuple(file.get_slice(k).get_shape()), file.get_slice(k).get_dtype()) for k in file.keys()}
            _check_header(path, header, _expected(path, config))
            tensors = {k: file.get_tensor(k) for k in header}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path} is truncated or corrupt ({err}); save or download it again") from None
    bad = sorted(k for k, t in tensors.items() if not torch.isfinite(t).all())
    if bad:
        raise CheckpointError(f"{path} has non-finite values (inf or nan) in {bad}: the training diverged")
    weights = {k: t.float() for k, t in tensors.items()}
    if config.tie_weights:
        weights["output.weight"] = weights["embedding.weight"]
    return weights


def _expected(path: Path, config: ModelConfig) -> dict[str, tuple[int, ...]]:
    try:
        return expected_shapes(config)
    except ValueError as err:
        raise CheckpointError(f"{path} does not match config.json: {err}") from None


def _check_header(path: Path, header: dict[str, tuple[tuple[int, ...], str]],
                  expected: dict[str, tuple[int, ...]]) -> None:
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    problems = [f"missing {missing}"] * bool(missing) + [f"unexpected {unexpected}"] * bool(unexpected)
    problems += [
        f"{k} {header[k][0]} != {expected[k]}"
        for k in sorted(set(expected) & set(header))
        if header[k][0] != expected[k]
    ]
    if problems:
        raise CheckpointError(f"{path} does not match config.json: " + "; ".join(problems))
    not_float = sorted(k for k, (_, dtype) in header.items() if dtype not in FLOAT_DTYPES)
    if not_float:
        raise CheckpointError(f"{path} has non-float tensors {not_float}; weights must be floating point")
