"""The model card: README.md with Hub metadata, and card.json with the data it is made from.

README.md's YAML is metadata only, built with huggingface_hub's card classes: license,
language, datasets, library_name, pipeline_tag, tags and a `model-index` whose results the Hub
shows (perplexity and next-word accuracy per split). The prose is in its body, once. card.json
holds what programs read back (metrics, training settings, samples, dataset name), so a
checkpoint loaded and saved again keeps its card.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Callable

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from wordrnn import markdown
from wordrnn.examples import KJV_EXAMPLES, examples
from wordrnn.style import described
from wordrnn.vocab import Vocabulary

log = logging.getLogger(__name__)

MAX_BYTES = 16 * 2**20  # card.json and README.md: samples and prose, far less than this
TAGS = ["wordrnn", "lstm", "word-level", "text-generation", "pytorch"]
LICENSE = "apache-2.0"  # the code's license, and the default for weights trained with it
DEFAULT_TITLE, DEFAULT_DESCRIPTION = "WordRNN word-level LSTM", "A word-level LSTM language model trained with wordrnn."
MODEL_HEADING = "\n\n## Model\n\n| | |\n"  # where the description ends in a rendered body

# Metric key -> (split, metric type, name shown on the Hub). Only these go into model-index.
EVALUATIONS = {
    "test_perplexity": ("test", "perplexity", "Test perplexity (one continuous pass)"),
    "test_accuracy": ("test", "accuracy", "Test next-word accuracy"),
    "valid_perplexity": ("validation", "perplexity", "Validation perplexity (16 columns from blank states)"),
    "valid_accuracy": ("validation", "accuracy", "Validation next-word accuracy"),
    "valid_loss": ("validation", "loss", "Validation loss (nats/word)"),
}
# The training table's rows as a reader names them (card.json keeps the keys): a key not named
# here is shown with spaces for its underscores.
SETTING_NAMES = {"text": "Training text", "train_tokens": "Training tokens", "valid_tokens": "Validation tokens",
                 "validation": "Each validation reads", "tokens_seen": "Tokens seen", "batch_size": "Batch size (streams)",
                 "seq_len": "BPTT length (tokens)", "clip": "Gradient clipping", "min_count": "Minimum word count",
                 "training_time_s": "Training time", "time_budget_s": "Time budget", "torch": "PyTorch"}
_METRIC_NAMES = {**{k: name for k, (_, _, name) in EVALUATIONS.items()},
                 "train_loss": "Training loss (last steps, with dropout)"}


def data(info: dict[str, Any]) -> str:
    """card.json: `info` without the prose (title and description live in README.md), and
    without the local folder once the card names a Hub repo (a published card would show it)."""
    dropped = ("description", "images", "path") if info.get("repo_id") else ("description", "images")
    kept = {k: v for k, v in info.items() if k not in dropped and v not in (None, "", [], {})}
    return json.dumps(kept, indent=2, ensure_ascii=False) + "\n"


def render(config: dict[str, Any], vocab: Vocabulary, num_parameters: int, info: dict[str, Any], name: str) -> str:
    """README.md for a checkpoint loaded as `name` (its Hub repo id or its folder). `info` may hold
    title, description, metrics, training, samples, license, language (left out unless given),
    datasets, dataset (the evaluation data's name), images (file names of pictures in the
    checkpoint) and path (the folder's absolute path). The "use" snippet loads the Hub repo
    (info["repo_id"]), else `path`, which works from any folder (a bare "model" works only
    beside it), else `name`; its prompt is the first sample's, else one `vocab` knows."""
    title = info.get("title") or DEFAULT_TITLE
    results = eval_results(info.get("metrics", {}), _dataset(info))
    meta = ModelCardData(
        language=info.get("language") or None, license=info.get("license", LICENSE),
        library_name="wordrnn", pipeline_tag="text-generation", tags=TAGS,
        datasets=info.get("datasets") or None,
        model_name=title if results else None, eval_results=results or None,  # model-index's name
    )
    lines = [
        f"# {title}", "",
        info.get("description") or DEFAULT_DESCRIPTION,
        "",
        MODEL_HEADING.strip("\n"),
        "|---|---|",
        f"| Vocabulary | {len(vocab):,} tokens |",
        f"| Style of the text | {markdown.escape(described(vocab.style))} |",
        f"| Parameters | {num_parameters:,} |",
        f"| Embedding size | {config['embedding_size']} |",
        f"| LSTM hidden sizes | {config['hidden_sizes']} |",
        f"| Dropout | {_dropouts(config)} |",
        f"| Tied embedding/output | {config['tie_weights']} |",
        f"| Adaptive softmax cutoffs | {config.get('adaptive_cutoffs') or 'none (full softmax)'} |",
        "",
    ]
    lines += markdown.table("Results", "Metric", {_METRIC_NAMES.get(k, k): v for k, v in info.get("metrics", {}).items()})
    lines += markdown.table("Training", "Setting", info.get("training", {}), SETTING_NAMES)
    for image in info.get("images", []):
        lines += [f"![{image}]({image})", ""]
    lines += markdown.samples(info.get("samples", []))
    lines += [
        "## Use", "",
        "With the wordrnn package installed:", "",
        "```python",
        "from wordrnn import Checkpoint, Generator", "",
        f"checkpoint = Checkpoint.from_pretrained({json.dumps(_loaded_as(info, name))})",
        f"print(Generator(checkpoint).text({json.dumps(_use_prompt(info, vocab))}, 32))  # the prompt and 32 more words",
        "```", "",
    ]
    return f"---\n{meta.to_yaml()}\n---\n\n" + "\n".join(lines)


def eval_results(metrics: dict[str, Any], dataset: dict[str, str]) -> list[EvalResult]:
    """model-index entries for the metrics measured on a split of `dataset` (name, type)."""
    return [
        EvalResult(task_type="text-generation", task_name="Text generation",
                   dataset_type=dataset["type"], dataset_name=dataset["name"], dataset_split=split,
                   metric_type=kind, metric_name=name, metric_value=float(metrics[key]))
        for key, (split, kind, name) in EVALUATIONS.items()
        if isinstance(metrics.get(key), (int, float)) and math.isfinite(metrics[key])
    ]


def read(folder: str | Path) -> dict[str, Any]:
    """What `render` was given, from card.json and README.md's title and description; from the
    older `wordrnn:` metadata block for checkpoints saved before card.json.
    The card is optional: a card file that cannot be read is left out with a warning naming it.
    """
    folder = Path(folder)
    info = _parsed(folder / "card.json", json.loads)
    if not isinstance(info, dict):
        return _legacy(folder / "README.md")
    info.pop("images", None)
    card = _parsed(folder / "README.md", lambda text: ModelCard(text, ignore_metadata_errors=True))
    if card is None:
        return info
    body = card.text.lstrip("\n")
    if body.startswith("# ") and MODEL_HEADING in body:
        title, _, rest = body.partition("\n\n")
        description = rest.rpartition(MODEL_HEADING)[0]
        if description != DEFAULT_DESCRIPTION:
            info["description"] = description
        if title[2:] != DEFAULT_TITLE:
            info.setdefault("title", title[2:])
    return info


def _parsed(path: Path, parse: Callable[[str], Any]) -> Any:
    """`parse` of the file's text; None, with a warning, when it is missing or does not parse."""
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"{path.stat().st_size:,} bytes, more than a card's {MAX_BYTES:,}")
        return parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        reason = "nested too deeply" if isinstance(err, RecursionError) else " ".join(str(err).split())[:300]
        log.warning("%s is left out: it does not parse (%s); the checkpoint loads without it", path, reason)
        return None


def _legacy(path: Path) -> dict[str, Any]:
    def front_matter(text: str) -> Any:
        end = text.find("\n---", 3)
        return yaml.safe_load(text[3:end]) if text.startswith("---") and end > 0 else None

    meta = _parsed(path, front_matter)
    meta = meta if isinstance(meta, dict) else {}
    info = dict(meta["wordrnn"]) if isinstance(meta.get("wordrnn"), dict) else {}
    info.update({k: meta[k] for k in ("license", "datasets") if meta.get(k)})
    return info


def _dataset(info: dict[str, Any]) -> dict[str, str]:
    """The evaluation data: info["dataset"], else the first Hub dataset, else the training text."""
    if isinstance(info.get("dataset"), dict):
        return {"name": str(info["dataset"].get("name")), "type": str(info["dataset"].get("type", "text"))}
    datasets = info.get("datasets") or []
    if datasets:
        return {"name": datasets[0], "type": datasets[0]}
    text = info.get("training", {}).get("text") if isinstance(info.get("training"), dict) else None
    return {"name": str(text or "the training text's held-out lines"), "type": "text"}


def _loaded_as(info: dict[str, Any], name: str) -> str:
    if info.get("repo_id") or not isinstance(info.get("path"), str):
        return name
    return info["path"]


def _use_prompt(info: dict[str, Any], vocab: Vocabulary) -> str:
    """A prompt the snippet can run: a model trained on another text than the KJV raises
    PromptError on a KJV verse, since it knows none of its words."""
    samples = [s for s in info.get("samples", []) if isinstance(s, dict) and s.get("prompt")]
    if samples:
        return samples[0]["prompt"]
    return (examples(vocab, info) or KJV_EXAMPLES)[0]


def _dropouts(config: dict) -> str:
    """'0.4' for plain dropout; with the AWD-LSTM regularizers, each one by name."""
    extra = {"input": config.get("input_dropout"), "embedding": config.get("embedding_dropout"),
             "weight": config.get("weight_dropout")}
    parts = [f"{name} {rate}" for name, rate in extra.items() if rate]
    return f"{config['dropout']}" + (f" (layers and output); {', '.join(parts)}" if parts else "")
