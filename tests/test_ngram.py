"""Tests for bench.ngram: normalisation, the KN recursion, the scoring convention, the CLI."""
import math
import random
from collections import Counter

import numpy as np
import pytest

from bench.ngram import KneserNey, discounts, encode, main
from training.evaluate import stream
from wordrnn import EOL, Vocabulary, tokenize

TRAIN = "\n".join(
    ["in the beginning god created the heaven and the earth .",
     "and the earth was without form , and void .",
     "and god said , let there be light : and there was light .",
     "and god saw the light , that it was good ."] * 3
)
TEST = "and god said , let there be darkness .\nthe earth was good .\n"


def random_ids(n: int, vocab_size: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(vocab_size) for _ in range(n)]  # vocab_size - 1 may never occur


def reference_prob(ids, order, vocab_size, context, word, modified=True):
    """Interpolated KN straight from its definition, recounting everything (slow, obvious)."""
    def level(k):  # raw counts at the top, continuation counts N1+(. gram) below
        grams = lambda m: [tuple(ids[i:i + m]) for i in range(len(ids) - m + 1)]
        return Counter(grams(k)) if k == order else Counter(g[1:] for g in set(grams(k + 1)))

    def p(k, h):
        if k == 0:
            return 1 / vocab_size
        counts = level(k)
        d = discounts(counts, modified)
        row = {g[-1]: c for g, c in counts.items() if g[:-1] == h}
        total = sum(row.values())
        if not total:
            return p(k - 1, h[1:])
        cut = lambda c: d[min(c, 3) - 1]
        own = row[word] - cut(row[word]) if word in row else 0.0
        return own / total + sum(map(cut, row.values())) / total * p(k - 1, h[1:])

    h = tuple(context)[len(context) - order + 1:] if order > 1 else ()
    return p(len(h) + 1, h)


@pytest.mark.parametrize("modified", [True, False])
@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_distribution_sums_to_one(order, modified):
    ids = random_ids(300, 8) + [1, 2, 3, 1, 2, 3, 1, 2, 4]  # some repeated n-grams
    model = KneserNey(order, 10, modified).fit(ids)
    contexts = [[], [1], [1, 2], [3, 1, 2], [0, 3, 1, 2], [9, 9, 9, 9], [1, 2, 3, 1, 2, 3, 1, 2]]
    contexts += [ids[i - 4:i] for i in (10, 100, 200)]
    for context in contexts:
        dist = model.distribution(context)
        assert dist.shape == (10,)
        assert dist.sum() == pytest.approx(1.0, abs=1e-12)
        assert (dist > 0).all()  # ids 8 and 9 never occur, yet keep some probability


@pytest.mark.parametrize("modified", [True, False])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_matches_the_definition(order, modified):
    # Id 5 only starts the stream: its n-grams have no word before them.
    ids = [5] + random_ids(120, 5, seed=order) + [0, 1, 2, 0, 1, 2, 0, 1]
    model = KneserNey(order, 6, modified).fit(ids)
    for context in ([], [0], [0, 1], [2, 0, 1], [5, 5], ids[-2:]):
        for word in range(6):
            expected = reference_prob(ids, order, 6, context, word, modified)
            assert model.prob(context, word) == pytest.approx(expected, rel=1e-12)


def test_discounts_follow_chen_goodman():
    counts = Counter({("a",): 1, ("b",): 1, ("c",): 1, ("d",): 1, ("e",): 2, ("f",): 2,
                      ("g",): 3, ("h",): 4, ("i",): 9})
    n1, n2, n3, n4 = 4, 2, 1, 1
    y = n1 / (n1 + 2 * n2)
    assert discounts(counts, modified=False) == pytest.approx((y, y, y))
    expected = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    assert discounts(counts) == pytest.approx(expected)


@pytest.mark.parametrize("order", [2, 3, 4, 5])
def test_deterministic_corpus_has_low_perplexity(order):
    vocab = Vocabulary.build(tokenize("a b c d e f\n" * 50))
    model = KneserNey(order, len(vocab)).fit(encode("a b c d e f\n" * 50, vocab))
    assert model.perplexity(encode("a b c d e f\n" * 3, vocab)) < 1.3
    assert model.perplexity(encode("f e d c b a\n", vocab)) > 3  # the reverse is surprising


def test_unknown_words_get_probability():
    vocab = Vocabulary.build(tokenize(TRAIN), min_count=4)  # words seen 3 times become <unk>
    assert "beginning" not in vocab and vocab.counts[vocab.unk_id] > 0
    model = KneserNey(3, len(vocab)).fit(encode(TRAIN, vocab))
    ids = encode("the serpent was subtil .", vocab)  # neither word is in TRAIN
    assert ids.count(vocab.unk_id) == 2
    assert all(math.isfinite(lp) for lp in model.token_logprobs(ids))
    # A vocabulary word that never occurs in the train stream (as from an LSTM's vocab.json).
    big = KneserNey(3, len(vocab) + 1).fit(encode(TRAIN, vocab))
    context = encode("and god", vocab)[1:]
    assert 0 < big.prob(context, len(vocab)) < big.distribution(context).max() / 10


def test_convention_scores_exactly_n_tokens():
    vocab = Vocabulary.build(tokenize(TRAIN))
    words = tokenize(TEST)  # line by line, <eol> after each line
    ids = encode(TEST, vocab)
    assert words.count(EOL) == 2 and ids.count(vocab.unk_id) == 1  # "darkness"
    assert ids == stream(TEST, vocab).tolist()  # the LSTM's stream
    model = KneserNey(3, len(vocab)).fit(encode(TRAIN, vocab))
    logprobs = model.token_logprobs(ids)
    assert len(logprobs) == len(words)  # the leading <eol> is context only
    assert logprobs[0] == pytest.approx(model.logprob([vocab.id(EOL)], ids[1]))
    assert logprobs[5] == pytest.approx(model.logprob(ids[4:6], ids[6]))  # last order - 1 words
    assert model.perplexity(ids) == pytest.approx(math.exp(-np.mean(logprobs)))


def test_fit_rejects_foreign_ids():
    with pytest.raises(ValueError):
        KneserNey(3, 4).fit([0, 1, 4])


def test_cli_prints_a_table(tmp_path, capsys):
    for split, text in {"train": TRAIN, "valid": TEST, "test": TEST}.items():
        (tmp_path / f"{split}.txt").write_text(text, encoding="utf-8")
    main(["--data", str(tmp_path), "--orders", "2", "3"])
    out = capsys.readouterr().out
    assert f"Vocabulary: {len(Vocabulary.build(tokenize(TRAIN)))} tokens" in out
    assert "| 2-gram KN (modified) |" in out and "| 3-gram KN (modified) |" in out
