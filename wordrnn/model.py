"""WordRNN: embedding -> stacked LSTM -> linear layer over the vocabulary.

    ids (B, T) ──embedding──> (B, T, E) ──LSTM 1..L──> (B, T, H_L or E) ──linear──> logits (B, T, V)

Every layer has its own hidden size, so the teaching notebook's stack [1024, 512] is
`ModelConfig(vocab_size, hidden_sizes=[1024, 512], tie_weights=False)`. With `tie_weights` the
output layer shares the embedding matrix (Press & Wolf, 2017: fewer parameters, better
perplexity); when the last hidden size differs from the embedding size, the last LSTM projects
its output down to the embedding size (LSTMP, Sak et al. 2014), so tying is always possible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from .dropout import LockedDropout, embedding_dropout, weight_dropped

# One (h, c) pair per layer; h is (num_layers=1, B, output size), c is (1, B, hidden size).
State = list[tuple[torch.Tensor, torch.Tensor]]

MODEL_TYPE = "wordrnn-lstm"
# The adaptive softmax's clusters narrow by this factor each (nn.AdaptiveLogSoftmaxWithLoss's div_value).
ADAPTIVE_DIV_VALUE = 4.0


@dataclass
class ModelConfig:
    """The model's constructor arguments; saved as config.json in every checkpoint."""

    vocab_size: int
    embedding_size: int = 256
    hidden_sizes: list[int] = field(default_factory=lambda: [512, 512])
    dropout: float = 0.2
    tie_weights: bool = True
    adaptive_cutoffs: list[int] = field(default_factory=list)
    # Training-only regularizers (wordrnn/dropout.py); None means "the same as dropout".
    input_dropout: float | None = None
    embedding_dropout: float = 0.0
    weight_dropout: float = 0.0

    def __post_init__(self) -> None:
        # Strict types: config.json comes from anywhere, and JSON's true or 2.5 is no layer size.
        for name in ("hidden_sizes", "adaptive_cutoffs"):
            if isinstance(getattr(self, name), tuple):
                setattr(self, name, list(getattr(self, name)))
            if not isinstance(getattr(self, name), list):
                raise ValueError(f"{name} must be a list of whole numbers, got {getattr(self, name)!r}")
        sizes = [self.vocab_size, self.embedding_size, *self.hidden_sizes]
        if not self.hidden_sizes or any(not _integer(s) or s < 1 for s in sizes):
            raise ValueError(
                "vocab_size, embedding_size and every hidden size must be positive integers, "
                f"and hidden_sizes must not be empty (got {sizes})"
            )
        rates = {"dropout": self.dropout, "input_dropout": self.input_dropout,
                 "embedding_dropout": self.embedding_dropout, "weight_dropout": self.weight_dropout}
        for name, rate in rates.items():
            if rate is not None and (not _number(rate) or not 0.0 <= rate < 1.0):
                raise ValueError(f"{name} must be a number in [0, 1), got {rate!r}")
        if not isinstance(self.tie_weights, bool):  # JSON's "false" in quotes would be true
            raise ValueError(f"tie_weights must be true or false, got {self.tie_weights!r}")
        cutoffs = self.adaptive_cutoffs
        if not all(_integer(c) for c in cutoffs):
            raise ValueError(f"adaptive_cutoffs must be a list of whole numbers, got {cutoffs!r}")
        if cutoffs:
            if self.tie_weights:
                raise ValueError("an adaptive softmax cannot share the embedding: set tie_weights=False")
            if cutoffs != sorted(set(cutoffs)) or cutoffs[0] < 1 or cutoffs[-1] >= self.vocab_size - 1:
                raise ValueError(
                    f"adaptive_cutoffs must increase and lie between 1 and vocab_size - 2 "
                    f"({self.vocab_size - 2}), got {cutoffs}"
                )
            divisor = int(ADAPTIVE_DIV_VALUE ** len(cutoffs))
            if self.output_size // divisor < 1:
                raise ValueError(
                    f"with {len(cutoffs)} adaptive cutoffs the last cluster would be "
                    f"{self.output_size} // {divisor} = 0 wide: use fewer cutoffs "
                    "or a larger last hidden size"
                )

    @property
    def output_size(self) -> int:
        """Width of the last LSTM output, i.e. the input of the output layer."""
        return self.embedding_size if self.tie_weights else self.hidden_sizes[-1]

    def to_json(self) -> dict:
        return {"model_type": MODEL_TYPE, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON's true is no size


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class WordRNN(nn.Module):
    def __init__(self, config: ModelConfig, device: str | torch.device | None = None) -> None:
        """`device="meta"` builds the shapes without memory (what checkpoint loading checks)."""
        super().__init__()
        self.config = config
        # On the meta device an explicit weight skips Embedding's normal_ init, which first imports
        # torch._refs there (seconds); elsewhere it runs, so a seed gives the same weights as ever.
        meta = torch.empty(config.vocab_size, config.embedding_size, device=device) if device == "meta" else None
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size, _weight=meta, device=device)
        # Variational dropout: one mask per sequence, the same at every step (Gal & Ghahramani).
        self.dropout = LockedDropout(config.dropout)
        input_dropout = config.dropout if config.input_dropout is None else config.input_dropout
        self.input_dropout = LockedDropout(input_dropout)
        layers = []
        input_size = config.embedding_size
        for i, hidden_size in enumerate(config.hidden_sizes):
            last = i == len(config.hidden_sizes) - 1
            project = last and config.tie_weights and hidden_size != config.embedding_size
            proj_size = config.embedding_size if project else 0
            layers.append(nn.LSTM(input_size, hidden_size, batch_first=True, proj_size=proj_size,
                                  device=device))
            input_size = proj_size or hidden_size
        self.layers = nn.ModuleList(layers)
        self.output: nn.Module
        if config.adaptive_cutoffs:
            # Frequent words get the full width, rare ones share low-rank clusters (Grave et al.
            # 2017): a fraction of the full softmax's cost, the same probabilities over all words.
            self.output = nn.AdaptiveLogSoftmaxWithLoss(
                config.output_size, config.vocab_size, config.adaptive_cutoffs, div_value=ADAPTIVE_DIV_VALUE,
                device=device,
            )
        else:
            self.output = nn.Linear(config.output_size, config.vocab_size, device=device)
        if config.tie_weights:
            self.output.weight = self.embedding.weight
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        if isinstance(self.output, nn.Linear):
            nn.init.zeros_(self.output.bias)
            if not self.config.tie_weights:
                nn.init.uniform_(self.output.weight, -0.1, 0.1)
        for lstm in self.layers:
            # A forget-gate bias of 1 lets memories survive the first steps of training.
            hidden = lstm.hidden_size
            for name, bias in lstm.named_parameters():
                if name.startswith("bias_ih"):
                    with torch.no_grad():
                        bias.zero_()
                        bias[hidden : 2 * hidden].fill_(1.0)
                elif name.startswith("bias_hh"):
                    nn.init.zeros_(bias)

    def forward(
        self, ids: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        """Logits for the word after each position, and the state after the last one.

        ids: (B, T) token ids. state: as returned by the previous call, or None for zeros.
        Returns logits (B, T, V) and the new state.
        """
        x, new_state = self.features(ids, state)  # (B, T, O)
        return self.logits(x), new_state  # (B, T, V)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Output layer: (..., O) -> (..., V). An adaptive softmax gives log-probabilities,
        which are logits too (softmax(log p) = p)."""
        if isinstance(self.output, nn.AdaptiveLogSoftmaxWithLoss):
            flat = self.output.log_prob(features.reshape(-1, features.size(-1)))
            return flat.view(*features.shape[:-1], -1)
        return self.output(features)

    def features(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """`forward` without the output layer: (B, T, output_size). Training computes its loss
        from these (an adaptive softmax never needs all V logits), generation scores only the
        last position."""
        config = self.config
        x = embedding_dropout(self.embedding, ids, config.embedding_dropout, self.training)
        x = self.input_dropout(x)  # (B, T, E)
        new_state: State = []
        for i, lstm in enumerate(self.layers):
            layer_state = None if state is None else state[i]
            x, layer_state = weight_dropped(lstm, x, layer_state, config.weight_dropout, self.training)
            new_state.append(layer_state)
            x = self.dropout(x)
        return x, new_state

    def num_parameters(self) -> int:
        """Trainable parameters, counting a tied matrix once."""
        return sum(p.numel() for p in self.parameters())


def detach(state: State) -> State:
    """Cut the graph between truncated-BPTT windows while keeping the values."""
    return [(h.detach(), c.detach()) for h, c in state]
