"""wordrnn: train a word-level LSTM on any text, publish it to the Hugging Face Hub, play with it."""

from wordrnn.checkpoint import Checkpoint
from wordrnn.errors import CheckpointError, HubError, PromptError, WordRNNError
from wordrnn.model import ModelConfig, WordRNN
from wordrnn.source import DEFAULT_MODEL
from wordrnn.detokenizer import detokenize
from wordrnn.tokenizer import EOL, tokenize
from wordrnn.vocab import UNK, Vocabulary

__all__ = [
    "Checkpoint", "CheckpointError", "DEFAULT_MODEL", "EOL", "Generator", "HubError", "ModelConfig", "PromptError",
    "UNK", "Vocabulary", "WordRNN", "WordRNNError", "detokenize", "tokenize",
]
__version__ = "0.1.0"  # the one place: pyproject.toml reads it (tool.setuptools.dynamic)


def __getattr__(name: str):
    # Imported lazily: `python -m wordrnn.generate` would otherwise load that module twice.
    if name == "Generator":
        from wordrnn.generate import Generator

        return Generator
    raise AttributeError(f"module 'wordrnn' has no attribute {name!r}")
