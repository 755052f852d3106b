"""The app's request logic without Gradio (wordrnn.session): input checks, options, the kept
texts behind explain / branch / continue / back, and the URL state, on a real tiny model."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs

import pytest

from wordrnn import Generator, PromptError, controls, detokenize
from wordrnn.controls import LENGTH
from wordrnn.errors import WordRNNError
from wordrnn.session import (InputError, Session, choice, continued_note, described, from_url, history_after,
                             length, options, rewrite_options, settle, unknown_warning, used_seed)
from wordrnn.streams import Halt, Stream, Tokens, halted
from wordrnn.trace import Text
from wordrnn.trail import Trail

SEED = "and god said , let there be"
SETTINGS = ("top-p", 10, 0.7, 0.9, 4, "3")  # mode, k, temperature, top_p, no_repeat, rng_seed


@pytest.fixture(scope="module")
def session(tiny_checkpoint):
    return Session(Generator(tiny_checkpoint))


def written(session, words=6, settings=SETTINGS):
    tokens = list(session.stream(session.prompt(SEED), words, options(*settings)))
    text = session.kept(SEED, words, *settings)
    assert text is not None
    return tokens, text


def test_options_clamp_and_check():
    opts = options("top-k", "500", 9, -1, "x", " 12 ")
    assert opts == dict(mode="top-k", k=100, temperature=2.0, top_p=0.05, no_repeat_ngram=4, seed=12)
    assert options("greedy", 1, 1, 1, 0, "")["seed"] is None
    with pytest.raises(InputError, match="mode must be one of greedy, top-k, top-p, not 'beam'"):
        options("beam", 1, 1, 1, 0, None)
    with pytest.raises(InputError, match="rng seed must be a whole number"):
        options("greedy", 1, 1, 1, 0, "abc")
    assert issubclass(InputError, WordRNNError)


def test_length_warns_only_when_changed():
    assert length(12) == (12, None)
    count, warning = length(10_000)
    assert count == LENGTH.high and f"from {LENGTH.low} to {LENGTH.high}; using {LENGTH.high}." in warning
    assert length("many") == (LENGTH.default, warning.replace(str(LENGTH.high) + ".", f"{LENGTH.default}."))


def test_prompt_checks(session):
    with pytest.raises(InputError, match="The prompt must be text, not int."):
        session.prompt(7)
    with pytest.raises(PromptError):
        session.prompt("")
    assert unknown_warning(session.prompt(SEED)) is None
    warning = unknown_warning(session.prompt("and god saiid"))
    assert warning.startswith("Not in the vocabulary (read as an unknown word): 'saiid'") and "<unk>" not in warning


def test_kept_text_is_described_and_found_again(session):
    tokens, text = written(session)
    words, after = session.explained(text)
    result = described(text, words)
    assert result["text"] == detokenize(session.prompt(SEED).words + tokens)
    assert [w["word"] for w in result["words"]] == tokens and result["text_id"] == text.id
    assert len(after) == 10
    assert session.kept(SEED, 6, *SETTINGS[:-1], "4") is None  # another rng seed: never written
    assert session.kept(SEED, 6, "beam", *SETTINGS[1:]) is None  # a bad setting finds nothing, raises nothing
    random = list(session.stream(session.prompt(SEED), 6, options(*SETTINGS[:-1], "")))
    assert len(random) == 6 and session.kept(SEED, 6, *SETTINGS[:-1], "") is None  # unknown seed: not kept


def test_branch_continue_and_back(session):
    tokens, text = written(session)
    word = next(w for w, _ in session.explained(text)[0][2].alternatives if w != tokens[2] and w != "<eol>")
    branched = session.branch(text.id, 2.0, word, options(*SETTINGS))  # a float position from an API client
    assert session.explained(branched)[0][2].word == word and len(branched.ids) == len(text.ids)
    last, again = session.continuation(branched.id)
    assert (last, again) == (5, session.vocab.tokens[branched.ids[-1]])
    longer = session.branch(branched.id, last, again, options(*SETTINGS), 3)
    assert len(longer.ids) == len(branched.ids) + 3
    assert session.previous([text.id, branched.id]) is branched
    with pytest.raises(InputError, match="There is no earlier version."):
        session.previous([])
    with pytest.raises(InputError, match="There is no text on the page to continue"):
        session.continuation(None)
    with pytest.raises(WordRNNError, match="position must be a whole number from 0 to 5"):
        session.branch(text.id, 2.5, word, options(*SETTINGS))


def linked(session, query):
    """The text a page writes from a shared link's query, as the page generates it."""
    prompt, count, *settings = from_url({k: v[0] for k, v in parse_qs(query[1:], keep_blank_values=True).items()})
    tokens = list(session.stream(session.prompt(prompt), count, options(*settings)))
    return detokenize(session.prompt(prompt).words + tokens)


def shown(session, text):
    return detokenize(text.seed.words + session.words(text))


def test_a_version_has_an_address_that_writes_it_again(session):
    tokens, text = written(session, words=30)
    assert linked(session, session.address(text)) == shown(session, text)
    word = next(w for w, _ in session.explained(text)[0][12].alternatives if w != tokens[12] and w != "<unk>")
    branched = session.branch(text.id, 12, word, options(*SETTINGS[:-1], "8"))  # a new rng seed, as the page draws
    longer = session.branch(branched.id, 29, session.vocab.tokens[branched.ids[-1]], options(*SETTINGS), 20)
    for version in (branched, longer):
        query = session.address(version)
        assert "prompt=" in query and linked(session, query) == shown(session, version)
    assert "length=20" in session.address(longer) and "rng_seed=8" in session.address(branched)
    last = session.branch(text.id, 29, word, options(*SETTINGS))  # the last word rewritten: no word after it
    assert session.address(last) is None


def test_a_version_without_a_faithful_prompt_has_no_address(session):
    """A link's seed words are the version's words up to the rewritten one: none when they are
    over the prompt's 200, or when reading them back would not give the same words."""
    words = "and god said , let there be light .".split()
    seed = session.prompt(SEED)

    def version(written: list[str], rewritten: int) -> Text:  # a branch's words: its states play no part
        ids = seed.ids + [session.vocab.id(w) for w in written]
        return Text("x", seed, ids, len(seed.ids), Trail(), options(*SETTINGS), len(seed.ids) + rewritten + 1)

    assert "prompt=And+god+said" in session.address(version(words * 30, 150))
    assert session.address(version(words * 30, 200)) is None  # 7 + 201 words and punctuation marks
    eols = words[:4] + ["<eol>", "<eol>"] + words  # two line breaks: a prompt reads one
    assert session.address(version(eols, 8)) is None
    assert session.address(version(words[:4] + ["<eol>"] + words, 8)) is not None


def test_stop_ends_the_page_generation_of_its_visitor_only(session):
    opts, prompt = options(*SETTINGS), session.prompt(SEED)
    session.begin("page")
    session.begin("other page")
    tokens = session.stream(prompt, 300, opts, "page")
    others = session.stream(prompt, 40, options(*SETTINGS[:-1], "4"), "other page")
    first = [next(tokens) for _ in range(3)]
    session.stop("page")
    assert list(tokens) == [] and len(first) == 3  # the next word is not written
    assert session.kept(SEED, 300, *SETTINGS) is None  # cut short: not kept, as a stopped text
    assert len(list(others)) == 40 and session.kept(SEED, 40, *SETTINGS[:-1], "4") is not None
    session.begin("page")  # Stop before the text starts (still waiting for its turn): no word
    session.stop("page")
    assert list(session.stream(prompt, 30, opts, "page")) == []
    session.begin("page")  # the next generation runs in full
    assert len(list(session.stream(prompt, 30, opts, "page"))) == 30
    session.stop("a page that never generated")  # nothing to stop


def test_a_stop_that_overtakes_its_generate_click_still_ends_that_generation(session):
    """The page sends its Generate click's number with both requests; Stop's may arrive first."""
    opts, prompt = options(*SETTINGS), session.prompt(SEED)
    session.stop("page", "3")  # pressed after click 3, whose checks have not arrived yet
    session.begin("page", "3")
    assert list(session.stream(prompt, 30, opts, "page")) == []
    session.begin("page", "4")  # the next click runs in full
    assert len(list(session.stream(prompt, 30, opts, "page"))) == 30
    session.stop("page", "not a number")  # what no page sends: the latest generation alone
    session.begin("page", "5")
    assert len(list(session.stream(prompt, 30, opts, "page"))) == 30


def test_a_halt_wakes_a_consumer_waiting_for_words():
    """A scheduler's consumer waits on its stream's outbox (words come in bunches, in a crowd
    about a second apart): Stop must not wait for the next bunch."""
    released = threading.Event()
    tokens = Tokens(Stream([1, 2], 50, None), ["a", "b"], lambda stream: released.set())
    halt = Halt()
    words = halted(halted(tokens, halt), halt)  # as the app's page: checked outside the GPU call too
    ended = threading.Event()
    consumer = threading.Thread(target=lambda: (list(words), ended.set()), daemon=True)
    consumer.start()  # waits: no word ever comes
    assert not ended.wait(0.2)
    halt.set()
    assert ended.wait(30) and released.is_set()  # woken, and its slot freed


def test_choice_of_a_clicked_word(session):
    _, text = written(session)
    words, _ = session.explained(text)
    seed_runs = 1  # the seed words are one "seed" run
    assert choice(text, words, 0) is None and choice(text, words, seed_runs + len(words)) is None
    position, label, chart, choices = choice(text, words, seed_runs + 1)
    assert position == 1 and label.startswith("Most likely words at word 2 (written: “")
    assert [w for _, w in choices] == list(chart) and len(chart) == 10


def test_settle_and_url_state():
    used, note, query = settle(SEED, 12, "top-k", 5, 0.7, 0.9, 4, "")
    assert 0 <= int(used) < controls.DRAWN_SEEDS and note == f"rng seed **{used}** (drawn) · the page's address now reproduces this text"
    values = from_url({k: v[0] for k, v in parse_qs(query[1:], keep_blank_values=True).items()})
    assert values == [SEED, 12, "top-k", 5, 0.7, 0.9, 4, int(used)]
    assert settle(SEED, 12, "greedy", 5, 0.7, 0.9, 0, "8")[:2] == ("8", "the page's address now reproduces this text")
    assert from_url({"length": "3"}) is None
    with pytest.raises(InputError):
        settle(SEED, 12, "top-k", 5, 0.7, 0.9, 4, "abc")


def test_versions_and_notes():
    assert history_after(["a"], "b", "c") == ["a", "b"]
    assert history_after(["a"], "c", "c") == ["a"] and history_after(["a"], None, "c") == ["a"]
    opts = rewrite_options(("greedy", 10, 0.7, 0.9, 0, " "))
    assert opts["seed"] is not None  # drawn: the rewritten text can be found again
    assert continued_note(4, None, opts) == (
        "Rewritten from word 5 · the page's address now reproduces it · **Back** returns to the last version")
    assert continued_note(4, 20, {"mode": "top-p", "seed": 9}, linked=False) == (
        "Continued with 20 words with rng seed **9** · no link can write it again: the page's address is cleared"
        " · **Back** returns to the last version")
    assert used_seed(7) == "7" and 0 <= int(used_seed(None)) < controls.DRAWN_SEEDS
