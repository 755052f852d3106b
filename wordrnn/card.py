"""The model card: README.md with YAML metadata for the Hub, and a human-readable body.

Training results live in the metadata under `wordrnn:` (metrics, hyperparameters, samples), so
the app and the tests read them back from the same file people read on the Hub.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

TAGS = ["wordrnn", "lstm", "word-level", "text-generation", "pytorch"]

# What `read_info` gives back: everything `render` needs to write the same card again.
_KEPT = ("title", "description", "metrics", "training", "samples")

_METRIC_NAMES = {
    "valid_loss": "Validation loss (nats/word)",
    "valid_perplexity": "Validation perplexity (16 columns from blank states)",
    "valid_accuracy": "Validation next-word accuracy",
    "test_perplexity": "Test perplexity (one continuous pass)",
    "test_accuracy": "Test next-word accuracy",
    "train_loss": "Training loss (last steps, with dropout)",
}


def render(config: dict[str, Any], vocab_size: int, num_parameters: int, info: dict[str, Any]) -> str:
    """README.md text for a checkpoint. `info` may hold metrics, training, samples, title,
    description, license, datasets and images (file names of pictures in the checkpoint)."""
    meta: dict[str, Any] = {
        "library_name": "wordrnn",
        "pipeline_tag": "text-generation",
        "tags": TAGS,
        "language": info.get("language", "en"),
    }
    for key in ("license", "datasets"):
        if info.get(key):
            meta[key] = info[key]
    # What read_info gives back: a checkpoint loaded and saved again keeps its results.
    meta["wordrnn"] = {k: info[k] for k in _KEPT if info.get(k)}
    lines = [
        "---",
        # ASCII with escapes: PyYAML's unicode output does not read back (U+0085 breaks a line,
        # a lone U+00A0 becomes null), and read_info must give back what was written.
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=False).rstrip(),
        "---",
        "",
        f"# {info.get('title', 'WordRNN word-level LSTM')}",
        "",
        info.get("description", "A word-level LSTM language model trained with wordrnn."),
        "",
        "## Model",
        "",
        "| | |",
        "|---|---|",
        f"| Vocabulary | {vocab_size:,} tokens |",
        f"| Parameters | {num_parameters:,} |",
        f"| Embedding size | {config['embedding_size']} |",
        f"| LSTM hidden sizes | {config['hidden_sizes']} |",
        f"| Dropout | {_dropouts(config)} |",
        f"| Tied embedding/output | {config['tie_weights']} |",
        f"| Adaptive softmax cutoffs | {config.get('adaptive_cutoffs') or 'none (full softmax)'} |",
        "",
    ]
    lines += _metrics_table(info.get("metrics", {}))
    lines += _training_table(info.get("training", {}))
    for image in info.get("images", []):
        lines += [f"![{image}]({image})", ""]
    lines += _samples(info.get("samples", []))
    lines += [
        "## Use",
        "",
        "```python",
        "from wordrnn import Checkpoint, Generator",
        "",
        'checkpoint = Checkpoint.from_pretrained("FOLDER_OR_REPO_ID")',
        'print(Generator(checkpoint).text("in the beginning god created the heaven", words=32))',
        "```",
        "",
    ]
    return "\n".join(lines)


def _metrics_table(metrics: dict[str, float]) -> list[str]:
    if not metrics:
        return []
    rows = [f"| {_METRIC_NAMES.get(k, k)} | {_fmt(v)} |" for k, v in metrics.items()]
    return ["## Results", "", "| Metric | Value |", "|---|---|", *rows, ""]


def _training_table(training: dict[str, Any]) -> list[str]:
    if not training:
        return []
    rows = [f"| {k} | {_fmt(v)} |" for k, v in training.items()]
    return ["## Training", "", "| Setting | Value |", "|---|---|", *rows, ""]


def _samples(samples: list[dict[str, str]]) -> list[str]:
    if not samples:
        return []
    lines = ["## Samples", ""]
    for sample in samples:
        lines += [f"**{sample.get('mode', 'greedy')}**, prompt *{sample['prompt']}*:", ""]
        lines += ["> " + line for line in sample["text"].splitlines() if line.strip()]
        lines += [""]
    return lines


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The YAML metadata of a model card, or {} when it has none or it cannot be parsed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    try:
        meta = yaml.safe_load(text[3:end]) if end > 0 else None
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}


def read_info(path: str | Path) -> dict[str, Any]:
    """What `render` was given (title, description, metrics, training, samples, license,
    datasets), read back from a model card's metadata."""
    meta = read_metadata(path)
    info = meta.get("wordrnn")
    info = dict(info) if isinstance(info, dict) else {}
    for key in ("license", "datasets"):
        if meta.get(key):
            info[key] = meta[key]
    return info


def _dropouts(config: dict) -> str:
    """'0.4' for plain dropout; with the AWD-LSTM regularizers, each one by name."""
    extra = {"input": config.get("input_dropout"), "embedding": config.get("embedding_dropout"),
             "weight": config.get("weight_dropout")}
    parts = [f"{name} {rate}" for name, rate in extra.items() if rate]
    return f"{config['dropout']}" + (f" (layers and output); {', '.join(parts)}" if parts else "")
