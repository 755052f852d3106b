"""Tests for the fast CPU stepper's output layers: what it may leave out never changes a choice."""
import copy

import numpy as np
import pytest
import torch

from tiny import TEXT, train_tiny
from wordrnn import Generator, tokenize
from wordrnn.sampling import Sampler
from wordrnn import int8
from wordrnn.output import FastLinear
from wordrnn.stepper import FastStepper


@pytest.fixture(scope="module")
def adaptive():
    """A trained model with an adaptive softmax: the frequent words in the head, two clusters."""
    return train_tiny(tie_weights=False, adaptive_cutoffs=[8, 20])


def steps(checkpoint, words=60):
    """(token, state) pairs along the training text, the states from the exact model."""
    gen = Generator(checkpoint, device="cpu")
    ids = checkpoint.vocab.encode(tokenize(TEXT))[:words]
    _, state = gen.exact_stepper.start(ids[:1])
    pairs = []
    with torch.inference_mode():
        for token in ids[1:]:
            pairs.append((token, state))
            _, state = gen.exact_stepper.step(token, state)
    return pairs


@pytest.mark.parametrize("top", [1, 3, 7])
def test_skipped_clusters_never_hold_a_top_word(adaptive, top):
    stepper = FastStepper(adaptive.model)
    skipped = 0
    with torch.inference_mode():
        for token, state in steps(adaptive):
            full, _ = stepper.step(token, state, 10**6)  # the whole shortlist rescored
            pruned, _ = stepper.step(token, state, top)
            full, pruned = full.values, pruned.values
            assert torch.isfinite(full).all()
            best = full.topk(top)
            torch.testing.assert_close(pruned.topk(top).values, best.values, rtol=0, atol=0)
            assert pruned.topk(top).indices.tolist() == best.indices.tolist()
            finite = torch.isfinite(pruned)
            torch.testing.assert_close(pruned[finite], full[finite], rtol=0, atol=0)
            skipped += int((~finite).any())
    assert skipped > 0, "no cluster was ever skipped: the test would prove nothing"


def test_greedy_and_top_k_texts_are_the_same_with_and_without_skipping(adaptive, monkeypatch):
    gen = Generator(adaptive, device="cpu")
    assert gen.fast
    options = [dict(mode="greedy"), dict(mode="top-k", k=4, seed=1, temperature=1.5),
               dict(mode="greedy", no_repeat_ngram=2)]
    pruned = [gen.text("and god said", 40, **o) for o in options]
    monkeypatch.setattr(Sampler, "candidates", lambda self: 10**6)  # every cluster, whole head rescored
    assert [gen.text("and god said", 40, **o) for o in options] == pruned


def test_sampler_says_how_many_words_it_can_pick_from():
    assert Sampler("greedy").candidates() == 1
    assert Sampler("greedy", never=[0]).candidates() == 2
    assert Sampler("top-k", k=5, never=[0]).candidates() == 6
    assert Sampler("top-p").candidates() is None
    blocked = Sampler("greedy", no_repeat_ngram=2, never=[0])
    blocked.observe([3, 4, 3])  # the bigram (3, 4) was seen: after 3, word 4 is refused
    assert blocked.candidates() == 3


def test_the_first_layer_table_matches_the_product_it_replaces(monkeypatch):
    checkpoint = train_tiny()
    with_table = FastStepper(checkpoint.model)
    monkeypatch.setattr(int8, "TABLE_BYTES", 0)
    without = FastStepper(checkpoint.model)
    assert with_table.layers[0].table is not None and without.layers[0].table is None
    with torch.inference_mode():
        for token, state in steps(checkpoint):
            a, (first, _) = with_table.step(token, state, 10**6)
            b, (other, _) = without.step(token, state, 10**6)
            a, b = a.values, b.values
            spread = float(b.max() - b.min())
            torch.testing.assert_close(a, b, atol=0.02 * spread, rtol=0)
            # the cell state c: its error grows with c (through the forget gate), up to 50 or more
            torch.testing.assert_close(first[1], other[1], atol=0.01 + 1e-3 * float(other[1].abs().max()), rtol=0)


def test_the_sketch_shortlists_the_best_word_for_greedy_decoding():
    torch.manual_seed(0)
    linear = torch.nn.Linear(512, 1500)
    with torch.no_grad():  # a trained output layer's spectrum falls off; a random one's is flat
        linear.weight.copy_(torch.randn(1500, 24) @ torch.randn(24, 512) / 8 + 0.02 * torch.randn(1500, 512))
    layer = FastLinear(linear)
    assert layer.sketch is not None
    for _ in range(50):
        x = torch.randn(512).tanh()
        exact = linear(x)
        greedy, full = (torch.from_numpy(layer(x.numpy()[None], np.array([t]))[0]) for t in (2, 10**6))
        assert int(greedy.argmax()) == int(full.argmax()) == int(exact.argmax())
        torch.testing.assert_close(greedy.max(), exact.max(), rtol=0, atol=1e-4)
        assert torch.isfinite(full).all() and int(torch.isfinite(greedy).sum()) == int8.RESCORE


def test_the_fast_prompt_pass_matches_the_exact_one():
    checkpoint = train_tiny(tie_weights=False, adaptive_cutoffs=[8, 20])
    gen = Generator(checkpoint, device="cpu")
    ids = checkpoint.vocab.encode(tokenize(TEXT))[:12]
    with torch.inference_mode():
        exact, exact_state = gen.exact_stepper.start(ids)
        fast, fast_state = gen.stepper.start(ids, 10**6)
        exact, fast = exact.values, fast.values
    spread = float(exact.max() - exact.min())
    torch.testing.assert_close(fast, exact, atol=0.02 * spread, rtol=0)
    for (h, c), (fast_h, fast_c) in zip(exact_state, fast_state):
        torch.testing.assert_close(fast_h, h.reshape(-1), atol=0.02, rtol=0)
        torch.testing.assert_close(fast_c, c.reshape(-1), atol=0.05, rtol=0)


MODES_AND_GUARDS = [dict(mode=m, no_repeat_ngram=n) for m in ("greedy", "top-k", "top-p") for n in (0, 2)]


@pytest.mark.parametrize("settings", MODES_AND_GUARDS)
def test_every_decoding_mode_chooses_alike_through_the_exact_and_the_fast_stepper(adaptive, settings):
    """From the same state, each stepper's logits go to a sampler of the same seed: the exact
    and the fast path choose the same word (int8 rounding may flip a rare close call)."""
    checkpoint = adaptive
    gen = Generator(checkpoint, device="cpu")
    options = dict(k=4, temperature=1.5, top_p=0.8, seed=3, never=[checkpoint.vocab.unk_id], **settings)
    on_exact, on_fast = Sampler(**options), Sampler(**options)
    same = total = 0
    with torch.inference_mode():
        for token, state in steps(checkpoint):
            exact, _ = gen.exact_stepper.step(token, state, on_exact.candidates())
            fast, _ = gen.stepper.step(token, state, on_fast.candidates())
            assert fast.covers(on_fast.candidates())
            _copy_history(on_exact, on_fast)  # each choice from the same history and the same draws
            a, b = on_exact.choose(exact), on_fast.choose(fast)
            same += a == b
            total += 1
    assert same / total >= 0.95


def _copy_history(source, target):
    """target's words so far and random numbers become source's: its generator and the
    exponentials it drew and has not used (a top-p draw takes one per word of its nucleus, so one
    word more or less there would shift every later draw)."""
    target.generator = torch.Generator()
    target.generator.set_state(source.generator.get_state())
    target.ngrams, target.noise = copy.deepcopy(source.ngrams), source.noise.copy()


def test_a_sampler_refuses_logits_that_do_not_cover_its_candidates():
    from wordrnn.sampling import Logits

    scores = torch.arange(10.0)
    assert Sampler("greedy").choose(Logits(scores, exact=1)) == 9
    with pytest.raises(RuntimeError, match="top-k needs 5 exact words, the stepper gave 1"):
        Sampler("top-k", k=5, seed=0).choose(Logits(scores, exact=1))
    with pytest.raises(RuntimeError, match="top-p needs all exact words"):
        Sampler("top-p", seed=0).choose(Logits(scores, exact=64))
    assert Sampler("top-p", seed=0).choose(Logits(scores)) in range(10)


def test_states_from_the_last_batch_give_the_same_numbers_as_copies_of_them(adaptive):
    """FastStepper.advance gathers the rows of states its last call made from that call's arrays;
    a copy of the same states (which it cannot recognize) must give the same bits, in a batch that
    mixes last-call states, older ones, the exact model's and fresh streams."""
    stepper = FastStepper(adaptive.model)
    exact = steps(adaptive, 8)[-1][1]  # the exact model's state, (1, 1, N) tensors
    with torch.inference_mode():
        _, states = stepper.advance([1, 2, 3, 4], [None] * 4)
        older = states[0]
        _, states = stepper.advance([5, 6, 7, 8], states)
        batch = [states[2], older, None, exact, states[0], states[2]]
        copies = [None if s is None else [(h.clone(), c.clone()) for h, c in s] for s in batch]
        words = [9, 10, 11, 12, 13, 14]
        fresh = FastStepper(adaptive.model)  # no last batch: every row from its own tensors
        want, want_states = fresh.advance(words, copies)
        got, got_states = stepper.advance(words, batch)
        np.testing.assert_array_equal(got, want)
        for a, b in zip(got_states, want_states):
            for (h1, c1), (h2, c2) in zip(a, b):
                assert torch.equal(h1, h2) and torch.equal(c1, c2)
        again, _ = stepper.advance(words, got_states)  # every row recognized
        np.testing.assert_array_equal(again, fresh.advance(words, want_states)[0])


@pytest.mark.parametrize("output", ["adaptive", "linear"])
def test_top_p_reads_the_models_own_float32_output_layer_row_by_row(adaptive, output):
    """FloatOutput (every word, for top-p) gives the model's logits to float32 rounding, and a
    stream's row comes out bit for bit the same alone and among others."""
    from wordrnn.output import FloatOutput

    model = adaptive.model if output == "adaptive" else train_tiny(tie_weights=False).model
    layer = FloatOutput(model.output)
    x = torch.randn(9, model.config.output_size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        want = model.logits(x).numpy()
    got = layer(x.numpy())
    assert got.shape == want.shape == (9, layer.words)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    for b in range(9):  # alone, and in every place of a block of four streams
        np.testing.assert_array_equal(layer(x[b : b + 1].numpy())[0], got[b])
    order = [3, 8, 0, 5, 1, 7, 2, 6, 4]
    np.testing.assert_array_equal(layer(x[order].numpy()), got[order])
