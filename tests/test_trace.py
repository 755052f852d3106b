"""Texts that keep their states (wordrnn.trace): every word explained, branches from any word,
on the scheduler and on the plain Generator, the fast path and the exact one."""

from __future__ import annotations

import pytest
import torch

from wordrnn import Generator, detokenize
from wordrnn.generate import Prompt
from wordrnn.scheduler import Scheduler
from wordrnn.trace import TOP_WORDS, Gone, Texts

SEED = "and god said , let there be"
SAMPLED = dict(mode="top-p", top_p=0.9, temperature=0.7, seed=3, no_repeat_ngram=4)


@pytest.fixture(scope="module", params=["scheduler", "generator", "exact"])
def model(request, tiny_checkpoint):
    gen = Generator(tiny_checkpoint, exact=request.param == "exact")
    if request.param != "scheduler":
        yield gen
        return
    scheduler = Scheduler(gen)
    yield scheduler
    scheduler.close()


def written(texts: Texts, prompt: Prompt, words: int, **options):
    tokens = list(texts.stream(prompt, words, **options))
    return tokens, texts.get(Texts.key(prompt, words, options))


def same(a, b) -> bool:
    return all(torch.equal(x.reshape(-1), y.reshape(-1)) for p, q in zip(a, b) for x, y in zip(p, q))


def test_keeping_a_text_changes_none_of_its_words(model):
    texts, prompt = Texts(model), model.prompt(SEED)
    tokens, text = written(texts, prompt, 30, **SAMPLED)
    assert tokens == list(model.stream(prompt, 30, **SAMPLED))
    assert len(texts.states(text)) == len(text.ids) - 1  # every word read but the last


def test_states_read_again_are_the_states_the_text_was_written_with(model):
    """A text keeps its last state alone; the rest, read again from its words when asked for,
    are those of the stream that wrote it, bit for bit, though that stream shared its batch."""
    texts, prompt = Texts(model), model.prompt(SEED)
    crowd = [model.stream(prompt, 40, mode="top-k", seed=n) for n in range(3)] if hasattr(model, "release") else []
    written_with: list = []  # every state, as a stream that keeps them all gets them
    tokens = list(model.stream(prompt, 30, trail=written_with, **SAMPLED))
    assert list(texts.stream(prompt, 30, **SAMPLED)) == tokens
    for other in crowd:
        other.close()
    text = texts.get(Texts.key(prompt, 30, SAMPLED))
    assert len(text.states) == 1 and same(text.states[-1], written_with[-1])
    size = text.size
    states = texts.states(text)
    assert len(states) == len(written_with) == len(text.ids) - 1
    assert all(same(a, b) for a, b in zip(states, written_with))
    assert texts.states(text) is states and text.size > size  # read once, then counted in full


def test_states_read_again_count_towards_max_bytes(model):
    texts, prompt = Texts(model), model.prompt(SEED)
    _, first = written(texts, prompt, 10, mode="greedy")
    texts.max_bytes = 3 * first.size  # three texts that keep their last state alone
    _, second = written(texts, prompt, 10, mode="top-k", seed=1)
    _, third = written(texts, prompt, 10, mode="top-k", seed=2)
    texts.states(third)  # now larger than the three together: the others go
    with pytest.raises(Gone):
        texts.get(first.id)
    with pytest.raises(Gone):
        texts.get(second.id)
    assert texts.get(third.id) is third


def test_greedy_words_are_rank_one_and_probabilities_are_exact(model):
    texts, prompt = Texts(model), model.prompt(SEED)
    tokens, text = written(texts, prompt, 60, mode="greedy")
    words = texts.explain(text)
    assert [w.word for w in words] == tokens
    assert all(w.rank == 1 and w.alternatives[0] == (w.word, w.probability) for w in words)
    if not getattr(model, "generator", model).fast:  # exact path: next_words' probabilities after the seed
        expected = model.next_words(prompt, TOP_WORDS)
        assert [w for w, _ in words[0].alternatives] == [w for w, _ in expected]
        assert [p for _, p in words[0].alternatives] == pytest.approx([p for _, p in expected], abs=1e-5)


def test_sampled_words_are_explained(model):
    texts, prompt = Texts(model), model.prompt(SEED)
    _, text = written(texts, prompt, 40, mode="top-k", k=5, temperature=1.5, seed=1)
    for w in texts.explain(text):
        assert 0 <= w.probability <= 1 and 1 <= w.rank <= 5  # top-k 5 picks among the 5 best
        assert (w.word, w.probability) in w.alternatives and len(w.alternatives) == TOP_WORDS
        ps = [p for _, p in w.alternatives]
        assert ps == sorted(ps, reverse=True) and sum(ps) <= 1 + 1e-5


@pytest.mark.parametrize("position", [0, 13, 29])
def test_a_branch_is_a_fresh_generation_from_the_edited_prefix(model, position):
    texts, prompt = Texts(model), model.prompt(SEED)
    tokens, text = written(texts, prompt, 30, **SAMPLED)
    word = texts.explain(text)[position].alternatives[-1][0]
    branched = texts.branch(text.id, position, word, SAMPLED)
    edited = prompt.words + tokens[:position] + [word]
    fresh = model.prompt(detokenize(edited))
    assert fresh.words == edited
    rest = list(model.stream(fresh, 30 - position - 1, **SAMPLED)) if position < 29 else []
    assert [model.vocab.tokens[i] for i in branched.ids[branched.start :]] == tokens[:position] + [word] + rest
    assert len(branched.states) == len(texts.states(branched)) == len(branched.ids) - 1  # kept as written
    assert [w.word for w in texts.explain(branched)] == tokens[:position] + [word] + rest


def test_continue_is_a_branch_with_the_last_word_kept(model):
    texts, prompt = Texts(model), model.prompt(SEED)
    tokens, text = written(texts, prompt, 20, **SAMPLED)
    longer = texts.branch(text.id, 19, tokens[-1], SAMPLED, words=15)
    fresh = list(model.stream(model.prompt(detokenize(prompt.words + tokens)), 15, **SAMPLED))
    assert [model.vocab.tokens[i] for i in longer.ids[longer.start :]] == tokens + fresh
    assert texts.after(longer)[0][1] >= texts.after(longer)[-1][1]


def test_bad_branches_and_forgotten_texts_are_refused(model):
    texts, prompt = Texts(model, max_bytes=1), model.prompt(SEED)
    _, first = written(texts, prompt, 10, mode="greedy")
    with pytest.raises(Exception, match="position must be"):
        texts.branch(first.id, 10, "god", SAMPLED)
    with pytest.raises(Exception, match="not a word the model can write"):
        texts.branch(first.id, 0, "<unk>", SAMPLED)
    written(texts, prompt, 12, mode="greedy")  # over max_bytes: the least recently used goes
    with pytest.raises(Gone):
        texts.get(first.id)
