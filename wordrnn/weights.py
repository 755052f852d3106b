"""model.safetensors: write a WordRNN's weights; read them back only after checking them.

Reading never unpickles (safetensors is a JSON header plus raw tensor bytes), and the header is
checked against config.json before any tensor is read or any model is built: the tensor names
and shapes come from `expected_shapes`, which computes them from the config without allocating
anything. So a hostile or mistaken config.json (hidden_sizes [10**9]) fails with a message, not
after allocating gigabytes, and a model is only built once its weights are known to fit it.
"""

from __future__ import annotations

from pathlib import Path

import safetensors.torch  # called as safetensors.torch.save_file, so tests can make it fail
import torch
from safetensors import SafetensorError, safe_open

from wordrnn.errors import CheckpointError
from wordrnn.model import ModelConfig, WordRNN

ADAPTIVE_DIV_VALUE = 4.0  # WordRNN's nn.AdaptiveLogSoftmaxWithLoss(div_value=4.0)
FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor model.safetensors must hold for `config`.

    Mirrors WordRNN.__init__ (tests compare it with a real model's state_dict). The tied output
    matrix is not stored: it is the embedding.
    """
    emb, vocab = config.embedding_size, config.vocab_size
    shapes: dict[str, tuple[int, ...]] = {"embedding.weight": (vocab, emb)}
    input_size = emb
    for i, hidden in enumerate(config.hidden_sizes):
        last = i == len(config.hidden_sizes) - 1
        proj = emb if last and config.tie_weights and hidden != emb else 0
        prefix = f"layers.{i}."
        shapes[prefix + "weight_ih_l0"] = (4 * hidden, input_size)
        shapes[prefix + "weight_hh_l0"] = (4 * hidden, proj or hidden)
        shapes[prefix + "bias_ih_l0"] = (4 * hidden,)
        shapes[prefix + "bias_hh_l0"] = (4 * hidden,)
        if proj:
            shapes[prefix + "weight_hr_l0"] = (proj, hidden)
        input_size = proj or hidden
    out = config.output_size
    if config.adaptive_cutoffs:
        cutoffs = [*config.adaptive_cutoffs, vocab]
        shapes["output.head.weight"] = (cutoffs[0] + len(cutoffs) - 1, out)
        for i in range(len(cutoffs) - 1):
            width = int(out // ADAPTIVE_DIV_VALUE ** (i + 1))
            shapes[f"output.tail.{i}.0.weight"] = (width, out)
            shapes[f"output.tail.{i}.1.weight"] = (cutoffs[i + 1] - cutoffs[i], width)
    else:
        if not config.tie_weights:
            shapes["output.weight"] = (vocab, out)
        shapes["output.bias"] = (vocab,)
    return shapes


def save(model: WordRNN, path: Path, dtype: torch.dtype = torch.float32) -> None:
    tensors = {
        name: t.detach().to("cpu", dtype).contiguous()
        for name, t in model.state_dict().items()
        if not (model.config.tie_weights and name == "output.weight")
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
            _check_header(path, header, expected_shapes(config))
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
