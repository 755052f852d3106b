"""wordrnn: train a word-level LSTM on any text, publish it to the Hugging Face Hub, play with it."""

from wordrnn.checkpoint import Checkpoint
from wordrnn.errors import CheckpointError, HubError, PromptError, WordRNNError
from wordrnn.model import ModelConfig, WordRNN
from wordrnn.tokenizer import EOL, detokenize, tokenize
from wordrnn.vocab import UNK, Vocabulary

__all__ = [
    "Checkpoint", "CheckpointError", "EOL", "HubError", "ModelConfig", "PromptError", "UNK",
    "Vocabulary", "WordRNN", "WordRNNError", "detokenize", "tokenize",
]
__version__ = "0.1.0"
