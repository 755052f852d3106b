"""pytorch/examples' word_language_model on our split, for a fixed time: the well-known LSTM
trainer a user would otherwise pick, as a second baseline beside the n-grams of bench/ngram.py.

    python -m training.corpus kjv --out data/kjv
    python -m bench.examples_lm --data data/kjv --minutes 30 --out runs/examples-lm
    python -m bench.examples_lm --data data/kjv --minutes 30 --out runs/examples-lm --model models/kjv-lstm

Re-implemented from its main.py and model.py, with embedding 256 and two LSTM layers of 512
(its --emsize 256 --nhid 512) and its defaults for everything else:

    ids (T, B) ─embedding 256─ dropout 0.2 ─ nn.LSTM(2 x 512, dropout 0.2) ─ dropout 0.2 ─ Linear ─> (T, B, V)

    batches: the train stream cut into 20 columns, read 35 steps at a time, state carried
          column 0: w0  w1  ... w34 | w35 ... w69 | ...
          column 1: ...               (each column is 1/20 of the text)
    plain SGD at lr 20 (p -= lr * grad), gradient norm clipped to 0.25, float32, full softmax,
    uniform(-0.1, 0.1) init; after every epoch, validation on 10 columns, the weights kept when
    it improved and lr / 4 when it did not.

What differs, so that both models are compared on the same terms: the vocabulary is ours (words
of the train split seen at least --min-count times, plus `<unk>`; upstream's dictionary takes
the words of all three files), the
run stops at --minutes (upstream stops after 40 epochs or at Ctrl-C) with one more validation at
the stop, and the test split is scored with bench/ngram.py's convention (one continuous pass, a
leading `<eol>` as first context) as well as with upstream's 10 columns.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from wordrnn.cli import Parser, positive_float, positive_int
from training.evaluate import evaluate, stream
from wordrnn import Vocabulary, tokenize
from wordrnn.source import resolve

log = logging.getLogger(__name__)


class ExamplesLM(nn.Module):
    """word_language_model's RNNModel('LSTM', ...), sequence-first as upstream."""

    def __init__(self, vocab_size: int, embedding_size: int = 256, hidden_size: int = 512,
                 layers: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab_size, embedding_size)
        self.rnn = nn.LSTM(embedding_size, hidden_size, layers, dropout=dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, ids: torch.Tensor, state=None):
        """ids (T, B) -> logits (T, B, V) and the new (h, c)."""
        output, state = self.rnn(self.drop(self.encoder(ids)), state)  # (T, B, H)
        return self.decoder(self.drop(output)), state


def batchify(ids: torch.Tensor, columns: int) -> torch.Tensor:
    """(N,) -> (N // columns, columns): upstream's layout, the remainder dropped."""
    rows = ids.numel() // columns
    return ids[: rows * columns].view(columns, rows).t().contiguous()


def windows(data: torch.Tensor, bptt: int):
    """(inputs, targets) of up to `bptt` steps down (L, B) columns: upstream's get_batch."""
    for i in range(0, data.size(0) - 1, bptt):
        targets = data[i + 1 : i + 1 + bptt]
        yield data[i : i + targets.size(0)], targets


def mean_loss(model: ExamplesLM, data: torch.Tensor, bptt: int) -> float:
    """Mean cross-entropy of every target of (L, B) columns, state carried down each column
    (upstream's evaluate, divided by the number of targets)."""
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for inputs, targets in windows(data, bptt):
            logits, state = model(inputs, state)  # (T, B, V)
            total += float(F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum"))
            count += targets.numel()
    return total / count


def train(model: ExamplesLM, train_ids: torch.Tensor, valid_ids: torch.Tensor, seconds: float,
          max_steps: int | None = None, lr: float = 20.0, clip: float = 0.25, batch_size: int = 20,
          bptt: int = 35) -> dict:
    """Upstream's epochs until the time (or step) budget; returns the history and keeps the best
    validated weights in `model`."""
    data, valid = batchify(train_ids, batch_size), batchify(valid_ids, 10)
    best, best_weights, history, steps, start = math.inf, None, [], 0, time.perf_counter()
    out_of_time = False
    while not out_of_time:
        model.train()
        state = None
        for inputs, targets in windows(data, bptt):
            state = None if state is None else tuple(s.detach() for s in state)
            model.zero_grad()
            logits, state = model(inputs, state)
            F.cross_entropy(logits.flatten(0, 1), targets.flatten()).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
            steps += 1
            out_of_time = time.perf_counter() - start > seconds or steps == max_steps
            if out_of_time:
                break
        loss = mean_loss(model, valid, bptt)
        history.append({"epoch": round(steps * bptt * batch_size / train_ids.numel(), 2), "steps": steps,
                        "valid_perplexity": math.exp(loss), "lr": lr})
        log.info("epoch %.2f: valid perplexity %.2f, lr %g", history[-1]["epoch"], math.exp(loss), lr)
        if loss < best:
            best, best_weights = loss, {k: v.clone() for k, v in model.state_dict().items()}
        else:
            lr /= 4.0
    model.load_state_dict(best_weights)
    return {"history": history, "steps": steps, "seconds": round(time.perf_counter() - start, 1),
            "tokens": steps * bptt * batch_size}


def main(argv: list[str] | None = None) -> None:
    parser = Parser("bench.examples_lm", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="folder with train.txt, valid.txt, test.txt")
    parser.add_argument("--minutes", type=positive_float, default=30.0, help="training time")
    parser.add_argument("--out", type=Path, required=True, help="where to write the weights and result.json")
    parser.add_argument("--model", help="a wordrnn checkpoint: its vocabulary, and its test perplexity beside")
    parser.add_argument("--seed", type=int, default=1111, help="upstream's default seed")
    parser.add_argument("--min-count", type=positive_int, default=1,
                        help="rarer train words become <unk> (default 1: every word of the train split)")
    args = parser.parse_args(argv)
    missing = [s for s in ("train", "valid", "test") if not (args.data / f"{s}.txt").is_file()]
    if missing:
        parser.error(f"{args.data} has no {', '.join(m + '.txt' for m in missing)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    texts = {s: (Path(args.data) / f"{s}.txt").read_text(encoding="utf-8") for s in ("train", "valid", "test")}
    checkpoint = resolve(args.model, fallback=False).checkpoint if args.model else None
    vocab = checkpoint.vocab if checkpoint else Vocabulary.build(tokenize(texts["train"]), min_count=args.min_count)
    ids = {split: stream(text, vocab) for split, text in texts.items()}
    torch.manual_seed(args.seed)
    model = ExamplesLM(len(vocab))
    result = train(model, ids["train"], ids["valid"], args.minutes * 60)
    result["test_perplexity"] = math.exp(mean_loss(model, ids["test"][:, None], 256))  # one column
    result["test_perplexity_10_columns"] = math.exp(mean_loss(model, batchify(ids["test"], 10), 35))
    result["threads"] = torch.get_num_threads()
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), str(args.out / "model.safetensors"))
    (args.out / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"pytorch/examples word_language_model, {result['seconds'] / 60:.1f} min on "
          f"{result['threads']} threads, {result['steps']} steps ({result['history'][-1]['epoch']} epochs):")
    print("| model | test perplexity (one continuous pass) |\n|---|---|")
    print(f"| word_language_model | {result['test_perplexity']:.2f} |")
    if checkpoint:
        ours = evaluate(checkpoint.model, ids["test"], batch_size=1).perplexity
        print(f"| {args.model} | {ours:.2f} |")
        print(f"\nwordrnn test perplexity / word_language_model's = {ours / result['test_perplexity']:.3f}")


if __name__ == "__main__":
    main()
