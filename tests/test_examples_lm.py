"""bench/examples_lm.py: the pytorch/examples baseline keeps upstream's layout and learns."""

import math

import torch

from bench.examples_lm import ExamplesLM, batchify, mean_loss, train
from tiny import TEXT
from training.evaluate import stream
from wordrnn import Vocabulary, tokenize


def test_batchify_cuts_the_stream_into_columns_as_upstream():
    columns = batchify(torch.arange(11), 3)  # (3, 3): 11 // 3 rows, the remainder dropped
    assert columns.tolist() == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]


def test_the_state_carries_down_each_column():
    torch.manual_seed(0)
    model = ExamplesLM(50, 8, 12)
    ids = torch.randint(0, 50, (61,))
    whole = mean_loss(model, ids[:, None], bptt=100)
    pieces = mean_loss(model, ids[:, None], bptt=7)
    assert math.isclose(whole, pieces, rel_tol=1e-5)


def test_a_short_run_learns_and_keeps_the_best_epoch():
    vocab = Vocabulary.build(tokenize(TEXT))
    ids = stream(TEXT, vocab)
    torch.manual_seed(0)
    model = ExamplesLM(len(vocab), 32, 64)
    before = math.exp(mean_loss(model, batchify(ids, 10), 35))
    result = train(model, ids, ids, seconds=60, max_steps=150, batch_size=4, bptt=16)
    valid = [row["valid_perplexity"] for row in result["history"]]
    assert result["steps"] == 150 and len(valid) > 5
    after = math.exp(mean_loss(model, batchify(ids, 10), 16))
    assert after == min(valid) or math.isclose(after, min(valid), rel_tol=1e-5)
    assert after < before / 2  # it learns (plain SGD: slowly on so little text)
