"""Tests for wordrnn.sampling: greedy, top-k, top-p, seeds, the <unk> mask, the n-gram guard."""
import numpy as np
import pytest
import torch

from wordrnn.sampling import MODES, NOISE_BLOCK, NgramBlocker, Sampler

UNK = 0


def logits(seed: int = 0, size: int = 50) -> torch.Tensor:
    return torch.randn(size, generator=torch.Generator().manual_seed(seed)) * 3


def draws(sampler: Sampler, scores: torch.Tensor, n: int = 200) -> list[int]:
    return [sampler.choose(scores) for _ in range(n)]


def test_greedy_picks_the_most_likely_word_but_never_unk():
    scores = logits()
    scores[UNK] = 100.0
    best = int(scores[1:].argmax()) + 1
    assert draws(Sampler("greedy", never=[UNK]), scores, 3) == [best] * 3


@pytest.mark.parametrize("k", [1, 3, 10])
def test_top_k_draws_only_among_the_k_most_likely(k):
    scores = logits(1)
    scores[UNK] = 100.0  # the most likely word of all, and masked
    allowed = set(scores.index_fill(0, torch.tensor([UNK]), -float("inf")).topk(k).indices.tolist())
    picked = set(draws(Sampler("top-k", k=k, temperature=5.0, seed=0, never=[UNK]), scores, 500))
    assert picked == allowed  # a high temperature reaches every allowed word, and no other


def test_top_k_with_k_1_is_greedy():
    for seed in range(5):
        scores = logits(seed)
        sampler = Sampler("top-k", k=1, temperature=3.0, seed=seed)
        assert draws(sampler, scores, 5) == [int(scores.argmax())] * 5


def test_top_p_draws_from_the_nucleus():
    scores = torch.tensor([5.0, 3.5, 3.0, 0.0, -1.0, -2.0])
    probs = scores.softmax(-1)  # 0.73, 0.16, 0.10, 0.005, ...: p=0.9 needs the first three words
    assert probs[:2].sum() < 0.9 < probs[:3].sum()
    picked = set(draws(Sampler("top-p", top_p=0.9, seed=0), scores, 500))
    assert picked == {0, 1, 2}
    assert set(draws(Sampler("top-p", top_p=0.01, seed=0), scores, 20)) == {0}


@pytest.mark.parametrize("mode", ["top-k", "top-p"])
def test_a_seed_makes_draws_reproducible_and_seeds_differ(mode):
    scores = logits(2)
    first = draws(Sampler(mode, k=20, top_p=0.99, temperature=2.0, seed=7), scores, 50)
    assert draws(Sampler(mode, k=20, top_p=0.99, temperature=2.0, seed=7), scores, 50) == first
    assert draws(Sampler(mode, k=20, top_p=0.99, temperature=2.0, seed=8), scores, 50) != first


def test_sampling_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    draws(Sampler("top-p", seed=None), logits(), 20)
    draws(Sampler("top-k", seed=3), logits(), 20)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_low_temperature_approaches_greedy():
    scores = logits(3)
    assert set(draws(Sampler("top-k", k=50, temperature=1e-3, seed=0), scores, 50)) == {int(scores.argmax())}


def test_no_repeat_ngram_breaks_loops():
    scores = torch.linspace(1.0, 0.0, 20)  # greedy would say word 0 forever
    picked = draws(Sampler("greedy", no_repeat_ngram=2), scores, 30)
    bigrams = list(zip(picked, picked[1:]))
    assert len(bigrams) == len(set(bigrams))


def test_no_repeat_ngram_counts_the_prompt():
    scores = torch.zeros(8).index_fill(0, torch.tensor([0]), 1.0)  # greedy says 0
    sampler = Sampler("greedy", no_repeat_ngram=3)
    sampler.observe([0, 0, 0])
    assert sampler.choose(scores) != 0  # "0 0 0" is already in the text
    sampler = Sampler("greedy", no_repeat_ngram=2)
    sampler.observe([3, 0, 3])
    assert sampler.choose(scores) != 0  # "3 0" is already in the text


def test_when_every_word_is_blocked_repeats_are_allowed():
    sampler = Sampler("greedy", no_repeat_ngram=1, never=[UNK])
    assert draws(sampler, torch.tensor([0.0, 1.0]), 3) == [1, 1, 1]


def test_ngram_blocker_remembers_followers():
    blocker = NgramBlocker(3)
    for token in [1, 2, 3, 1, 2]:
        blocker.add(token)
    assert blocker.banned() == [3]  # "1 2 3" already happened
    blocker.add(4)
    assert blocker.banned() == []


@pytest.mark.parametrize("settings, message", [
    (dict(mode="beam"), "unknown mode"),
    (dict(mode="top-k", k=0), "k must be"),
    (dict(mode="top-k", temperature=0.0), "temperature"),
    (dict(mode="top-p", top_p=0.0), "top_p"),
    (dict(mode="top-p", top_p=1.5), "top_p"),
    (dict(no_repeat_ngram=-1), "no_repeat_ngram"),
])
def test_bad_settings_say_what_is_allowed(settings, message):
    with pytest.raises(ValueError, match=message):
        Sampler(**settings)


def test_modes_are_the_documented_ones():
    assert MODES == ("greedy", "top-k", "top-p")


def test_a_draw_is_torch_multinomials_draw():
    """The sampler draws as torch.multinomial(probs, 1) would with the same generator: the
    same words as before draws were batched, and before they were drawn NOISE_BLOCK at a time
    (sizes below, at and across a block, and wider than one)."""
    sizes = [1, 10, 7, NOISE_BLOCK - 18, 1, NOISE_BLOCK, 3, NOISE_BLOCK + 500, 50]
    for seed in range(20):
        sampler = Sampler("top-k", seed=seed)
        reference = torch.Generator().manual_seed(seed)
        for n, size in enumerate(sizes * 3):
            probs = logits(seed * 100 + n, size).softmax(-1)
            expected = int(torch.multinomial(probs, 1, generator=reference))
            assert sampler._draw(probs.numpy()) == expected


def test_choosing_reads_a_batch_in_place_and_leaves_it_as_it_was():
    from wordrnn.sampling import Logits, choose_all

    scores = torch.stack([logits(n, 300) for n in range(6)]).numpy()
    kept = scores.copy()
    batch = [Logits(torch.from_numpy(scores[b]), batch=(scores, b)) for b in range(6)]
    copies = [Logits(torch.from_numpy(scores[b].copy())) for b in range(6)]
    settings = [dict(mode="greedy", no_repeat_ngram=1), dict(mode="top-k", k=7), dict(mode="top-p", top_p=0.8)] * 2
    samplers = [[Sampler(seed=b, never=[UNK, 5], **o) for b, o in enumerate(settings)] for _ in range(2)]
    for sampler in samplers[0] + samplers[1]:
        sampler.observe([int(np.argmax(kept[0]))])  # the no-repeat guard bans a word too
    for _ in range(10):
        assert choose_all(samplers[0], batch) == choose_all(samplers[1], copies)
    np.testing.assert_array_equal(scores, kept)  # refused words were masked only while read
    assert choose_all(samplers[0], batch[::-1])  # rows out of order: read as copies, still right
    np.testing.assert_array_equal(scores, kept)


@pytest.mark.parametrize("mode", MODES)
def test_choosing_for_a_batch_is_choosing_alone(mode):
    from wordrnn.sampling import choose_all

    settings = [dict(k=k, temperature=t, top_p=p, no_repeat_ngram=n) for k, t, p, n in
                [(1, 1.0, 0.5, 0), (3, 0.7, 0.9, 2), (20, 2.0, 0.99, 1), (5, 1.0, 0.3, 3)]]
    alone = [Sampler(mode, seed=n, never=[UNK], **o) for n, o in enumerate(settings)]
    batch = [Sampler(mode, seed=n, never=[UNK], **o) for n, o in enumerate(settings)]
    for step in range(40):
        rows = [logits(step * 4 + n) for n in range(len(settings))]
        assert choose_all(batch, rows) == [s.choose(r) for s, r in zip(alone, rows)]


def nucleus(scores: np.ndarray, temperature: float, top_p: float) -> list[int]:
    """Top-p's words the plain way: every word sorted (ties to the lower index), float64 sums."""
    order = np.argsort(-scores, kind="stable")
    probs = np.exp((scores[order] - scores.max()).astype(np.float64) / temperature)
    probs /= probs.sum()
    before = np.concatenate([[0.0], np.cumsum(probs)[:-1]])  # what the words before each add up to
    return sorted(order[before < top_p].tolist())


@pytest.mark.parametrize("shape", ["peaked", "flat", "ties"])
def test_top_p_keeps_the_words_a_full_sort_keeps(shape):
    """The nucleus sorts only the best words (64, then 256, ...): the same words as a full sort,
    for peaked and flat distributions (hundreds of words), ties and -inf scores."""
    from wordrnn import choice_kernels

    generator = np.random.default_rng(1)
    for trial in range(40):
        size = int(generator.integers(50, 3000))
        scores = generator.standard_normal(size).astype(np.float32) * (4.0 if shape == "peaked" else 0.3)
        if shape == "ties":
            scores = np.round(scores * 2) / 2
        scores[generator.random(size) < 0.1] = -np.inf
        temperature, top_p = float(generator.uniform(0.5, 1.5)), float(generator.choice([0.5, 0.9, 0.99, 1.0]))
        want = nucleus(scores, temperature, top_p)
        edges = np.cumsum(np.sort(np.exp((scores - scores.max()).astype(np.float64) / temperature))[::-1])
        if np.abs(edges / edges[-1] - top_p).min() < 1e-5 and top_p < 1:
            continue  # a cut within float32 rounding of top_p: either side is right
        indices, _, lengths = choice_kernels.choices(
            scores[None].copy(), np.array([0]), np.array([temperature], np.float32), np.array([top_p], np.float32),
            np.zeros(0, np.int64), np.array([0, 0]), np.array([0]))
        got = indices[0, : lengths[0]]
        finite = np.isfinite(scores)  # words of probability 0 count either way (top_p 1: float32 sums)
        kept, wanted = sorted(got[finite[got]].tolist()), [w for w in want if finite[w]]
        if top_p == 1.0:  # float32 sums reach 1 before the last words of probability ~1e-9: left out
            probs = np.exp((scores - scores.max()).astype(np.float64) / temperature)
            assert set(kept) <= set(wanted) and probs[sorted(set(wanted) - set(kept))].sum() < 1e-5 * probs.sum()
        else:
            assert kept == wanted, (trial, size, len(want))
        ranked = scores[got[finite[got]]]
        assert (np.diff(ranked) <= 0).all()  # best first
