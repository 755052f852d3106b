"""training/rules.py: the plain command's defaults on small and large corpora, short and long
budgets; the KJV recipe comes back on KJV; a flag always wins over its rule."""

from __future__ import annotations

import pytest

from training import args as options
from training.data import load_corpus
from wordrnn.tokenizer import tokenize
from training.rules import AVERAGE_FRACTION, KJV_REGULARIZERS, averaged_steps, choose, min_count, warmup_steps
from wordrnn import ModelConfig


def chosen(*flags: str, tokens: int, vocab: int, budget: str | None = None, threads: int | None = None,
           autocast: bool = True):
    """The rules' choices; `autocast` True: a run under bfloat16 autocast, what they were measured in."""
    argv = ["--text", __file__, "--out", "x", *flags, *(["--time-budget", budget] if budget else [])]
    return choose(options.parse(argv), tokens, vocab, threads, autocast=autocast)


@pytest.mark.parametrize("threads", [1, 2, None])
def test_kjv_with_an_hour_gets_the_recipe_of_the_default_model(threads):
    args, said = chosen(tokens=849_828, vocab=12_383, budget="60m", threads=threads)
    recipe = dict(hidden_sizes=[512, 512], embedding_size=256, adaptive_cutoffs=[2000, 6000], tie_weights=False,
                  dropout=0.3, input_dropout=0.4, embedding_dropout=0.1, weight_dropout=0.3,
                  activation_penalty=2.0, temporal_penalty=1.0)
    assert {name: getattr(args, name) for name in recipe} == recipe
    assert len(said) >= len(recipe) and all(line.strip() for line in said)
    ModelConfig(12_383, args.embedding_size, args.hidden_sizes, args.dropout, args.tie_weights,
                args.adaptive_cutoffs)  # a valid model


def test_a_short_text_and_budget_gets_a_small_tied_model_still_regularized():
    args, _ = chosen(tokens=15_000, vocab=2_200, budget="90s")  # Genesis 1-20 in 90 s
    assert args.hidden_sizes == [128, 128] and args.adaptive_cutoffs == [] and args.tie_weights
    assert args.embedding_size == 128  # as wide as the last layer: no projection
    assert args.dropout == KJV_REGULARIZERS["dropout"]  # it sees the text many times


def test_a_large_text_with_little_time_gets_lighter_dropout_and_a_smaller_model():
    args, said = chosen(tokens=5_000_000, vocab=60_000, budget="5m")
    assert args.hidden_sizes == [256, 256]  # one size down for a budget under 10 minutes
    assert args.adaptive_cutoffs == [2000, 6000, 20000]
    assert args.dropout < KJV_REGULARIZERS["dropout"] and args.weight_dropout < KJV_REGULARIZERS["weight_dropout"]
    assert args.dropout >= KJV_REGULARIZERS["dropout"] / 3
    assert any("epochs" in line for line in said)


def test_kjv_with_half_an_hour_on_one_thread_gets_about_half_the_dropout():
    one, said = chosen(tokens=849_828, vocab=12_383, budget="30m", threads=1)  # about 11 epochs
    two, _ = chosen(tokens=849_828, vocab=12_383, budget="30m", threads=2)  # about 18
    for name, full in KJV_REGULARIZERS.items():
        assert 0.4 * full <= getattr(one, name) <= 0.6 * full
        assert getattr(one, name) < getattr(two, name) <= full
    assert any("on 1 thread" in line for line in said)


def test_a_text_the_budget_reads_20_times_gets_an_untied_full_softmax():
    jargon, said = chosen(tokens=334_738, vocab=10_462, budget="30m", threads=1)  # about 27 epochs
    assert jargon.adaptive_cutoffs == [] and not jargon.tie_weights and jargon.embedding_size == 256
    assert any(line.startswith("adaptive-cutoffs none") and "epochs" in line for line in said)
    kjv, _ = chosen(tokens=849_828, vocab=8_369, budget="30m", threads=1)  # about 11 epochs
    assert kjv.adaptive_cutoffs == [2000] and not kjv.tie_weights
    large, _ = chosen(tokens=334_738, vocab=20_000, budget="2h", threads=1)  # many epochs, many words
    assert large.adaptive_cutoffs == [2000, 6000]
    unbudgeted, _ = chosen(tokens=334_738, vocab=10_462)  # 10 epochs
    assert unbudgeted.adaptive_cutoffs == [2000]
    ModelConfig(10_462, jargon.embedding_size, jargon.hidden_sizes, jargon.dropout, jargon.tie_weights,
                jargon.adaptive_cutoffs)  # a valid model


def test_a_run_in_float32_expects_fewer_epochs():
    """A CPU without native bfloat16 (an AVX2-only AMD) trains in float32, at about 0.6x the speed:
    the Jargon File's 30 minutes on one thread are then about 16 epochs, not 27."""
    fast, _ = chosen(tokens=334_738, vocab=10_462, budget="30m", threads=1)
    slow, said = chosen(tokens=334_738, vocab=10_462, budget="30m", threads=1, autocast=False)
    assert fast.adaptive_cutoffs == [] and slow.adaptive_cutoffs == [2000]
    assert slow.dropout < fast.dropout == KJV_REGULARIZERS["dropout"]
    assert any("epochs on 1 thread in float32" in line for line in said)


@pytest.mark.parametrize("tokens, vocab, budget", [(5_000, 300, "1m"), (400_000, 9_000, None),
                                                   (20_000_000, 200_000, "8h")])
def test_every_choice_is_a_valid_model(tokens, vocab, budget):
    args, _ = chosen(tokens=tokens, vocab=vocab, budget=budget)
    ModelConfig(vocab, args.embedding_size, args.hidden_sizes, args.dropout, args.tie_weights,
                args.adaptive_cutoffs, args.input_dropout, args.embedding_dropout, args.weight_dropout)


def test_flags_win_over_the_rules():
    args, said = chosen("--hidden-sizes", "300", "--dropout", "0.5", "--adaptive-cutoffs",
                        "--weight-dropout", "0", "--activation-penalty", "0", tokens=849_828, vocab=12_383)
    assert args.hidden_sizes == [300] and args.dropout == 0.5 and args.weight_dropout == 0
    assert args.adaptive_cutoffs == [] and not args.tie_weights  # a full softmax of 12k words: untied
    assert args.embedding_size == 150  # untied: half the last layer
    tied, why = chosen("--tie", tokens=849_828, vocab=12_383, budget="60m")
    assert tied.adaptive_cutoffs == [] and tied.tie_weights and tied.embedding_size == 512
    assert "adaptive-cutoffs none (--tie: a full softmax)" in why
    assert args.input_dropout is None  # the same as the given --dropout
    assert args.activation_penalty == 0 and not any(line.startswith("dropout") for line in said)


def test_schedule_rules_warmup_and_averaging():
    assert warmup_steps(10_000, None) == 100 and warmup_steps(400, None) == 20 and warmup_steps(5, None) == 1
    assert warmup_steps(400, 77) == 77
    assert averaged_steps(800, 100, None) == round(800 * AVERAGE_FRACTION)
    assert averaged_steps(800, 100, 2.0) == 200 and averaged_steps(800, 100, 0.0) == 0
    assert averaged_steps(10, 100, 4.0) == 9  # at least one step decays


def test_words_seen_once_become_unk_unless_the_text_or_a_flag_decides():
    assert min_count("the light the dark".split())[0] == 2
    assert min_count("the <unk> the dark".split())[0] == 1  # already unked (Penn Treebank)
    assert min_count("the light the dark".split(), max_vocab=100)[0] == 1
    rare, why = min_count("the light and the dark divided".split())  # 4 of 6 words seen once
    assert rare == 1 and "67% of the text's words are seen once" in why
    tiny = tokenize("The cat sat on the mat.\nA dog lay by the door.\nThe bird flew.\n")  # marks come again, words not
    assert min_count(tiny)[0] == 1


def test_the_plain_vocabulary_learns_unk_from_the_words_seen_once(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("in the beginning god created the heaven and the earth .\n" * 30 + "and the earth was void .\n")
    corpus = load_corpus(text, text)
    assert corpus.min_count == 2 and "min-count 2" in corpus.chosen[0]
    assert "void" not in corpus.vocab.tokens and corpus.vocab.counts[corpus.vocab.unk_id] == 2  # was, void
    assert int((corpus.train == corpus.vocab.unk_id).sum()) == 2  # <unk> is a training target
    given = load_corpus(text, text, min_count=1)
    assert given.min_count == 1 and not given.chosen and "void" in given.vocab.tokens


def test_a_text_far_larger_than_the_budget_says_its_fraction_of_an_epoch():
    # 100 MB of text (20M tokens) in 30 seconds reads a small part of it once: "about 0.0 epochs" said nothing
    args, said = chosen(tokens=20_000_000, vocab=50_000, budget="30s", threads=1)
    line = next(line for line in said if line.startswith("dropout"))
    assert "about 0.015 epochs" in line, line  # 30 s x 10k tokens/s (2 x 256) / 20M tokens
    assert "average the last 1/8 of the schedule at the learning rate's floor" in said  # as README says, not 0.125
