"""What the app's page shows and how its controls are read: wordrnn/page.py, wordrnn/controls.py."""

from __future__ import annotations

import random
import re
import socket
from urllib.parse import parse_qsl

import pytest

from wordrnn import Checkpoint, Vocabulary, controls, detokenize, page, tokenize
from wordrnn import examples as prompts
from wordrnn.errors import PromptError
from wordrnn.detokenizer import Style
from wordrnn.tokenizer import EOL
from wordrnn.prompt import parse
from wordrnn.source import Source


def words(text: str) -> list[str]:
    return [t for t in tokenize(text, eol=False) if prompts.is_word(t)]


def test_settings_command_line_over_environment():
    env = {"WORDRNN_MODEL": "env/model", "WORDRNN_REVISION": "v2", "GRADIO_SERVER_NAME": "0.0.0.0",
           "GRADIO_SERVER_PORT": "8080"}
    assert page.settings([], env) == page.Settings("env/model", "v2", "0.0.0.0", 8080)
    args = ["--model", "a/b", "--revision", "v3", "--host", "127.0.0.1", "--port", "9000"]
    assert page.settings(args, env) == page.Settings("a/b", "v3", "127.0.0.1", 9000)
    assert page.settings([], {"WORDRNN_MODEL": "  "}) == page.Settings(None, None, None, None)


@pytest.mark.parametrize("args", [["--modle", "x"], ["--prot", "99"], ["--port", "http"], ["--port", "70000"]])
def test_settings_refuse_unknown_flags_and_bad_ports(args, capsys):
    with pytest.raises(SystemExit) as exit:
        page.settings(args, {})
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python app.py") and "error:" in err


@pytest.mark.parametrize("port", ["abc", "99999", "0", "-1"])
def test_a_bad_port_in_the_environment_is_refused_as_the_flag_is(port, capsys):
    with pytest.raises(SystemExit) as exit:
        page.settings([], {"GRADIO_SERVER_PORT": port})
    assert exit.value.code == 2
    assert f"error: $GRADIO_SERVER_PORT must be a whole number from 1 to 65535, got {port!r}" in capsys.readouterr().err
    assert page.settings(["--port", "9000"], {"GRADIO_SERVER_PORT": port}).port == 9000  # the flag comes first


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        page.settings(["--help"], {})
    assert "(default: $GRADIO_SERVER_PORT, else 7860)" in " ".join(capsys.readouterr().out.split())


def test_examples_are_seven_known_words(tiny_checkpoint):
    examples = prompts.examples(tiny_checkpoint.vocab, tiny_checkpoint.info)
    assert examples, "the tiny model knows two of the KJV prompts"
    for example in examples:
        assert len(words(example)) == 7 and all(w in tiny_checkpoint.vocab for w in tokenize(example, eol=False))


def test_examples_prefer_the_card_and_fit_any_vocabulary(tiny_checkpoint):
    card = {"samples": [{"prompt": "and the spirit of god moved upon the face", "text": "..."}]}
    assert prompts.examples(tiny_checkpoint.vocab, card)[0] == "And the spirit of god moved upon"
    vocabulary = [f"w{i}" for i in range(40)]
    examples = prompts.examples(Vocabulary(["<unk>", *vocabulary]), {})
    assert examples and all(len(words(e)) == 7 and set(words(e)) <= set(vocabulary) for e in examples)


def test_held_out_prompts(tiny_checkpoint):
    vocab = tiny_checkpoint.vocab
    carried = {"held_out": ["and the earth was without form , and void", "qqq zzz"]}
    assert prompts.held_out(vocab, carried) == ["And the earth was without form, and"]  # 7 words
    assert prompts.held_out(vocab, {}) == prompts.examples(vocab, {})  # the tiny model knows no KJV test line
    kjv = Vocabulary(["<unk>", *{w for line in prompts.HELD_OUT_KJV for w in tokenize(line, eol=False)}])
    drawn = prompts.held_out(kjv, {})
    assert len(drawn) == len(prompts.HELD_OUT_KJV) and all(len(words(p)) == 7 for p in drawn)
    assert page.draw(drawn, random.Random(0)) in drawn and page.draw([]) == ""


def test_summary(tiny_checkpoint):
    card = Checkpoint(tiny_checkpoint.model, tiny_checkpoint.vocab, {"metrics": {"valid_perplexity": 123.456}})
    rows = dict(page.summary(Source(card, "owner/name@v1"), "cpu"))
    assert rows["Source"] == "owner/name@v1" and rows["Device"] == "cpu"
    assert rows["Validation perplexity"] == "123.5"
    assert rows["Vocabulary"] == f"{len(card.vocab):,} words"
    assert rows["Parameters"] == f"{card.model.num_parameters():,}"
    assert dict(page.summary(Source(tiny_checkpoint, "x"), "cpu"))["Validation perplexity"] == "not on the card"


@pytest.mark.parametrize("value, expected", [
    (7, 7), (7.6, 8), ("12", 12), (0, 1), (-3, 1), (10_000, 500), (1e308, 500), (float("inf"), 500),
    (float("nan"), 128), ("many", 128), (None, 128), ([1], 128), (True, 1),
])
def test_clamp(value, expected):
    assert controls.LENGTH.clamp(value) == controls.clamp(value, 1, 500, 128) == expected


@pytest.mark.parametrize("value, sent", [("many", "'many'"), (None, "nothing"), ("nan", "'nan'"), (True, "'True'"),
                                         ([1], "'[1]'")])
def test_check_refuses_what_is_no_number(value, sent):
    with pytest.raises(ValueError, match=re.escape(f"temperature must be a number from 0.1 to 2; got {sent}.")):
        controls.check({"length": 12, "temperature": value})


def test_check_lets_numbers_through_to_be_clamped():
    controls.check({"length": 10_000, "k": "12", "temperature": 7.5, "top_p": float("inf"), "no_repeat": -1})
    controls.check({"prompt": "x", "mode": "beam", "rng_seed": "lucky"})  # not numeric controls: checked elsewhere


def test_a_port_in_use_exits_with_one_line(capsys):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(SystemExit) as exit:
            page.check_port(page.Settings(None, None, "127.0.0.1", port))
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err == f"python app.py: error: port {port} is already in use: pass another --port, " \
                  "or neither --port nor $GRADIO_SERVER_PORT to take the first free port from 7860\n"
    page.check_port(page.Settings(None, None, None, port))  # free again
    page.check_port(page.Settings(None, None, None, None))  # Gradio picks one


def test_every_default_lies_in_its_range():
    for name, declared in controls.RANGES.items():
        assert declared.low <= declared.default <= declared.high, name
        assert declared.clamp(declared.default) == declared.default, name


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), (" ", None), ("7", 7), (7, 7), (7.0, 7),
                                             ("1e5", 100_000), (2**63 - 1, 2**63 - 1),
                                             ("1234567890123456789", 1234567890123456789)])  # not through a float
def test_rng_seed(value, expected):
    assert controls.rng_seed(value) == expected


# Not clamped or rounded as a slider is: every seed past the top would draw the same words.
@pytest.mark.parametrize("value", ["lucky", True, [1], "3.7", 2.5, -1, "-1", 2**63, "99999999999999999999", "inf"])
def test_rng_seed_refuses_what_is_no_seed(value):
    with pytest.raises(ValueError, match="rng seed must be a whole number"):
        controls.rng_seed(value)


def test_query_round_trip():
    values = dict(prompt="and god said, let there be light & more", length=64, mode="top-k", k=5, temperature=1.5,
                  top_p=0.8, no_repeat=3, rng_seed=1234)
    text = controls.query(values)
    assert text.startswith("?prompt=and+god+said")
    assert controls.from_query(dict(parse_qsl(text[1:]))) == values
    assert controls.from_query({}) == controls.defaults()
    assert "&length=2&mode=top-k&k=56&" in controls.query({**values, "length": 2.5, "k": 55.5})  # as used
    hostile = {"length": "1e9", "mode": "beam", "k": "x", "temperature": "nan", "rng_seed": "lucky", "prompt": "a" * 5000}
    read = controls.from_query(hostile)
    assert read["length"] == 500 and read["mode"] == controls.DEFAULT_MODE and read["k"] == controls.K.default
    assert read["rng_seed"] is None and len(read["prompt"]) == 2000


def test_drawn_seeds_are_short():
    assert all(0 <= controls.draw_seed() < controls.DRAWN_SEEDS for _ in range(100))


def test_seed_runs_mark_unknown_words_and_add_up_to_the_text():
    tokens = ["and", "god", "saaid", ",", "let", "there", "be"]
    runs = page.seed_runs(tokens, {"saaid": ["said"]})
    assert runs == [("And god", "seed"), (" saaid", "unknown"), (", let there be", "seed")]
    assert "".join(text for text, _ in runs) == detokenize(tokens)


def test_the_text_and_chart_write_words_in_the_vocabularys_style_and_a_chart_word_reads_back():
    style = Style({"god": "God", "lord": "LORD"})
    seed, words = ["and", "god", "said"], ["unto", "the", "lord", EOL, "lord"]
    runs = page.word_runs(seed, {}, words, style=style)
    assert "".join(text for text, _ in runs) == detokenize(seed + words, style) == "And God said unto the LORD\nLORD"
    chart = page.chart([("lord", 0.5), (EOL, 0.25), ("the", 0.25)], style)
    assert list(chart) == ["LORD", page.NEW_LINE, "the"]
    assert [page.word(label) for label in chart] == ["lord", EOL, "the"]  # what a click on it rewrites with


def test_prompt_info_counts_words_and_offers_replacements(tiny_checkpoint):
    vocab = tiny_checkpoint.vocab
    info = lambda text: page.prompt_info(text, vocab, lambda w: vocab.closest(w), 2000)  # noqa: E731
    assert info("") == ("**0 of 7 words**", [])
    assert info(None) == ("**0 of 7 words**", [])
    assert info("and god said , let there be light")[0] == "**7 of 7 words**"  # the comma is no word
    assert info("and god saaid") == ("**3 of 7 words**", [])  # the last word may still be being typed
    text, pairs = info("and god saaid ")
    assert "`saaid` is not in the vocabulary (read as `<unk>`); click a suggestion" in text
    assert ("saaid", "said") in pairs and all(word == "saaid" for word, _ in pairs)
    assert "`qqq` is not in the vocabulary (read as `<unk>`)." in info("qqq god")[0]
    assert "`'` is not" in info("` and")[0]  # a backtick cannot end the code span
    assert info("x" * 2001)[0].startswith("**Too long:** 2,001 characters")
    pasted = ("and god said , let there be light . " * 60)[:2000]  # the box keeps the first 2,000
    assert info(pasted)[0].endswith("The box holds 2,000 characters: the rest of a longer paste was left out.")
    assert "left out" not in info(pasted[:1999])[0]
    assert "left out" in info("x" * 2000)[0]  # one long unknown word: no count over the limit
    over = "god , " * 101  # 101 words, 202 tokens: under the character limit, over the prompt's
    assert info(over)[0].startswith("**Too long:** 202 words and punctuation marks; the limit is 200")
    with pytest.raises(PromptError, match="202 words and punctuation marks; the limit is 200"):
        parse(over, vocab)  # what Generate says: the same count


@pytest.mark.parametrize("text, word, replacement, expected", [
    ("and god saaid , let", "saaid", "said", "and god said , let"),
    ("And God Saaid; saaid!", "saaid", "said", "And God said; said!"),
    ("saaidx saaid", "saaid", "said", "saaidx said"),  # whole words only
    ("a ` b", "`", "and", "a and b"),
])
def test_replace_word(text, word, replacement, expected):
    assert page.replace_word(text, word, replacement) == expected


def test_md_escape():
    assert page.md_escape("/tmp/my_model*/[x](y)<b>") == r"/tmp/my\_model\*/\[x\](y)\<b\>"
