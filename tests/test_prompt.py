"""Tests for wordrnn.prompt: any number of seed words, unknown words, the documented errors."""
import pytest
from hypothesis import given, settings, strategies as st

from tiny import TEXT
from wordrnn import EOL, UNK, PromptError, Vocabulary, tokenize
from wordrnn import prompt as prompt_module
from wordrnn.prompt import MAX_PROMPT_CHARS, MAX_PROMPT_WORDS, SEED_WORDS, SUGGESTED_WORDS, Prompt, parse

VOCAB = Vocabulary.build(tokenize(TEXT))


def test_seven_known_words():
    prompt = parse("In the beginning God created the heaven", VOCAB)
    assert prompt.words == ["in", "the", "beginning", "god", "created", "the", "heaven"]
    assert prompt.ids == VOCAB.encode(prompt.words)
    assert prompt.used == SEED_WORDS
    assert prompt.unknown == {} and prompt.notes() == []


@pytest.mark.parametrize("text, used", [("god", 1), ("and god", 2), ("god " * MAX_PROMPT_WORDS, MAX_PROMPT_WORDS)],
                         ids=["one", "two", "the cap"])
def test_any_count_from_one_word_to_the_cap(text, used):
    prompt = parse(text, VOCAB)
    assert prompt.used == used
    assert f"Used {used} word" in " ".join(prompt.notes())


def test_unknown_words_become_unk_and_are_reported_with_suggestions():
    prompt = parse("and godd sayd , let there be lihgt", VOCAB)
    assert prompt.used == 8
    assert prompt.ids[1] == prompt.ids[2] == VOCAB.unk_id
    assert prompt.words[1] == "godd"  # shown as typed, fed as <unk>
    assert set(prompt.unknown) == {"godd", "sayd", "lihgt"}
    assert "god" in prompt.unknown["godd"] and "light" in prompt.unknown["lihgt"]
    assert all(len(close) <= 3 for close in prompt.unknown.values())
    notes = " ".join(prompt.notes())
    assert "'godd'" in notes and "did you mean 'god'" in notes and UNK in notes


def test_an_unknown_word_with_nothing_close_is_still_reported():
    prompt = parse("god xqzv", VOCAB)
    assert prompt.unknown == {"xqzv": []}
    assert "Unknown word 'xqzv'" in prompt.notes()[-1]


def test_only_the_first_unknown_words_cost_a_search_for_suggestions(monkeypatch):
    searched = []
    monkeypatch.setattr(VOCAB, "closest", lambda word, n: searched.append(word) or ["god"])
    made_up = [f"zz{chr(97 + i)}" for i in range(20)]
    prompt = parse(" ".join(["god", *made_up, *made_up]), VOCAB)
    assert list(prompt.unknown) == made_up  # all reported, in order, once
    assert searched == made_up[:SUGGESTED_WORDS]
    assert prompt.unknown[made_up[0]] == ["god"] and prompt.unknown[made_up[-1]] == []


def test_punctuation_marks_are_words():
    assert parse(", . ;", VOCAB).ids == VOCAB.encode([",", ".", ";"])


def test_line_breaks_are_eol_inside_and_the_last_line_stays_open():
    prompt = parse("and god said\nlet there be\n", VOCAB)
    assert prompt.words == ["and", "god", "said", EOL, "let", "there", "be"]
    assert prompt.used == 6  # words, not line breaks


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n", None, "\x00\x01"])
def test_an_empty_prompt_asks_for_words(text):
    with pytest.raises(PromptError, match="The prompt is empty. Type a few words"):
        parse(text, VOCAB)


def test_a_prompt_without_known_words_names_them_and_close_ones():
    with pytest.raises(PromptError, match="None of the words 'godd', 'xqzv' are in the model's vocab") as err:
        parse("Godd xqzv", VOCAB)
    assert "Close words it knows: god" in str(err.value)
    with pytest.raises(PromptError, match="^The word 'xqzv' is not in the model's vocabulary"):
        parse("xqzv", VOCAB)
    with pytest.raises(PromptError, match=r"'xa', 'xb', 'xc', 'xd', 'xe' \(and 2 more\) are in"):
        parse("xa xb xc xd xe xf xg", VOCAB)


def test_too_many_words_states_the_cap():
    with pytest.raises(PromptError, match=f"{MAX_PROMPT_WORDS + 1} words and punctuation marks; the limit is {MAX_PROMPT_WORDS}"):
        parse("god " * (MAX_PROMPT_WORDS + 1), VOCAB)


def test_a_huge_prompt_is_refused_before_tokenizing(monkeypatch):
    def tokenize_fails(*args, **kwargs):
        raise AssertionError("tokenized a prompt over the character cap")

    monkeypatch.setattr(prompt_module, "tokenize", tokenize_fails)
    with pytest.raises(PromptError, match=f"100,000 characters long; the limit is {MAX_PROMPT_CHARS:,}"):
        parse("x" * 100_000, VOCAB)


def test_html_and_control_characters_are_just_text():
    prompt = parse("<b>god</b>\u202e\x07 said\u200b", VOCAB)
    assert "god" in prompt.words and "said" in prompt.words


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | st.text(alphabet="god said <>&\n\t\x00\u0301\u202e\ufeffİß", max_size=50))
def test_any_text_gives_a_prompt_or_a_prompt_error(text):
    try:
        prompt = parse(text, VOCAB)
    except PromptError as err:
        assert str(err)
        return
    assert isinstance(prompt, Prompt)
    assert 1 <= prompt.used <= len(prompt.ids) == len(prompt.words) <= MAX_PROMPT_WORDS
    assert any(i != VOCAB.unk_id for i in prompt.ids)
