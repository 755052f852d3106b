"""Tokenizer: tokenize/detokenize round trip (property test), casing, punctuation, lines."""

import doctest

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import wordrnn.detokenizer
import wordrnn.tokenizer
from wordrnn import spacing
from wordrnn.style import learn
from wordrnn.detokenizer import Style, detokenize, pieces
from wordrnn.tokenizer import EOL, is_word, tokenize

# Text that exercises the detokenizer's rules: quotes and apostrophes of both kinds, joiners,
# brackets, sentence ends, "i", letters whose capital does not lower back to them (ß, ı, ǰ),
# Chinese, Japanese and Thai characters and punctuation, combining marks (Devanagari vowel signs
# and virama, Hebrew points, a variation selector), line breaks, and arbitrary unicode
# (surrogates and control characters too).
PIECES = [" ", "\n", "a", "i", "'", "’", "‘", "“", "”", '"', "-", "–", "/", "(", ")", "[", "$", "¿", "¡", ".", ",",
          "!", "?", "…", ":", ";", "%", "_", "don't", "i'm", "ß", "ı", "ǰ", "ŉ", "σ", "ς", "İ", "\u0301",
          "\u0338", "<", "=", "3", "½", "ﬁ", "\t", "\r\n", "\u2028", "\x00", "\u200b",
          "神", "说", "は", "カ", "。", "、", "「", "」", "，", "𠀋", "न", "\u093f", "\u094d", "\u05b0", "ส",
          "\u0e31", "\u0e48", "❤", "\ufe0f", "।", "،", "؟", "e.g.", "U.S.", "z. B.", "v1.2", "3.14", "1,000",
          "x=1", "====", "<Enter>", "one.c", " - ", "-u", "|x|", "**b**", "e.g", "a.b.c", " .vim"]
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(st.characters(exclude_categories=()), max_size=3)),
                max_size=30).map("".join)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(TEXT)
@example("He said 'don't' - and/or 'i'm' (maybe).")
@example("Straße ǰ ı")
@example("ǰ")
@example("ß")
@example("a ' b ' c ’ d")
def test_detokenize_round_trips(text):
    tokens = tokenize(text)
    assert tokenize(detokenize(tokens)) == tokens


@SETTINGS
@given(TEXT)
@example("God said. GOD said, god said: God's İstanbul ǰ 3.14 1,000")
@example("a line that goes\non here. And a new one")
@example("<Enter> .vimA .vimA")
def test_detokenize_round_trips_in_the_texts_own_style(text):
    tokens = tokenize(text)
    style = learn(text, set(tokens))
    written = detokenize(tokens, style)
    assert tokenize(written) == tokens
    # each word as the text spells it, its first letter a capital where a sentence begins
    assert all(spelling in written or spelling[:1].upper() + spelling[1:] in written
               for spelling in style.spellings.values())


# Every junction of a word and a mark, or of two marks, learned as glued: the most a style can
# join. Words must still read back as themselves ("e" "." "g" "." is not "e.g.").
_MARKS = sorted({t for piece in PIECES for t in tokenize(piece, eol=False) if not is_word(t)})
GLUE_ALL = Style(spacing={**{(a, b): True for a in [*_MARKS, *(" " + m for m in _MARKS), spacing.WORD]
                             for b in [*_MARKS, spacing.WORD]}})


@SETTINGS
@given(TEXT)
@example("e. g. a. b. c")
@example("don ' t and i ’ m")
def test_detokenize_round_trips_when_a_style_joins_every_mark(text):
    tokens = tokenize(text)
    assert tokenize(detokenize(tokens, GLUE_ALL)) == tokens
    whole = pieces(tokens, GLUE_ALL)  # and a prefix's pieces are still the prefix's text (streaming)
    assert all(pieces(tokens[:n], GLUE_ALL) == whole[:n] for n in range(0, len(tokens), 7))


@SETTINGS
@given(st.text(st.characters(exclude_categories=()), max_size=50))
def test_arbitrary_unicode_and_control_characters_do_not_crash(text):
    tokens = tokenize(text)
    assert all(isinstance(t, str) and t and not t.isspace() for t in tokens)
    assert isinstance(detokenize(tokens), str)


def test_documented_examples():
    assert doctest.testmod(wordrnn.tokenizer).failed == 0
    assert doctest.testmod(wordrnn.detokenizer).failed == 0


def test_lowercases_and_splits_punctuation():
    assert tokenize("And GOD said, 'Let there be light!'", eol=False) == [
        "and", "god", "said", ",", "'", "let", "there", "be", "light", "!", "'"]
    assert tokenize("the lord's don’t beth-el", eol=False) == ["the", "lord's", "don’t", "beth", "-", "el"]


def test_one_eol_per_non_empty_line():
    text = "first line\n\n   \n\x00\x07\nsecond, line\r\nthird"
    tokens = tokenize(text)
    assert tokens == ["first", "line", EOL, "second", ",", "line", EOL, "third", EOL]
    assert tokenize(text, eol=False) == [t for t in tokens if t != EOL]
    assert tokenize("") == tokenize("\n\n") == []


def test_control_and_format_characters_separate_words():
    assert tokenize("a\x00b\x1bc\u200bd\ufeffe", eol=False) == ["a", "b", "c", "d", "e"]


def test_detokenize_capitalises_sentences_and_i():
    words = ["i", "think", ".", "so", "i'm", "here", "!", "is", "it", "?", "yes", EOL, "new", "line"]
    assert detokenize(words) == "I think. So I'm here! Is it? Yes\nNew line"


def test_numbers_keep_their_points_colons_and_thousands():
    assert detokenize(tokenize("Pi is 3.14, at 10:30 in verse 3:16 and 1,000,000 men.", eol=False)) == (
        "Pi is 3.14, at 10:30 in verse 3:16 and 1,000,000 men.")
    assert detokenize(tokenize("Count 1, 2, 3, 10, 25.", eol=False)) == "Count 1, 2, 3, 10, 25."  # a list stays one
    assert detokenize(tokenize("In 1990, 200 came.", eol=False)) == "In 1990, 200 came."  # no thousands there
    assert detokenize(["3", ".", "5", "a"]) == "3.5 a"
    assert detokenize(["it", "was", "3", ".", "then"]) == "It was 3. Then"
    assert detokenize(tokenize("deb_target_arch and file_name", eol=False)) == "Deb_target_arch and file_name"
    assert detokenize(tokenize("Version 1.2.3 and v1.2.3", eol=False)) == "Version 1.2.3 and v1.2.3"
    assert detokenize(tokenize("--build makes it.\n-v shows the version.", eol=True)) == "--build makes it.\n-v shows the version.\n"


def test_german_guillemet_and_tex_quotes_open_and_close():
    assert detokenize(tokenize('er sagt: „das ist gut.“ dann »dpkg« und «ça» lesen', eol=False)) == (
        'Er sagt: „das ist gut.“ Dann »dpkg« und «ça» lesen')
    assert detokenize(tokenize("type `show w' now", eol=False)) == "Type `show w' now"


def test_letters_each_with_a_full_stop_are_one_word():
    assert tokenize("e.g. the shell, i.e. bash, in the U.S. and J.R.R. Tolkien; т.е. это", eol=False) == [
        "e.g.", "the", "shell", ",", "i.e.", "bash", ",", "in", "the", "u.s.", "and", "j.r.r.", "tolkien", ";",
        "т.е.", "это"]
    assert tokenize("plan a. Then z. B.", eol=False) == ["plan", "a", ".", "then", "z", ".", "b", "."]
    assert detokenize(["it", "runs", ",", "e.g.", "the", "shell", "."]) == "It runs, e.g. the shell."


def test_a_style_writes_words_as_the_text_does_and_sentences_still_start_with_a_capital():
    style = Style({"god": "God", "lord": "LORD", "i": "I", "iphone": "iPhone"})
    words = ["and", "god", "said", "unto", "the", "lord", ".", "iphone", "and", "i", EOL, "god", "is"]
    assert detokenize(words, style) == "And God said unto the LORD. IPhone and I\nGod is"
    assert detokenize(["i", "think"]) == "I think"  # no style (a vocabulary from before styles): "I"
    assert detokenize(["so", "i", "think"], Style({"so": "So"})) == "So i think"  # Polish "i" is "and"
    # a prefix's pieces are the start of the whole text's: the page appends words as they come
    whole = pieces(words, style)
    assert all(pieces(words[:n], style) == whole[:n] for n in range(len(words)))


def test_a_wrapped_style_capitalises_a_line_only_where_a_sentence_starts():
    words = ["the", "man", "went", EOL, "to", "the", "house", ".", EOL, "then", "he", "slept", EOL]
    assert detokenize(words) == "The man went\nTo the house.\nThen he slept\n"
    assert detokenize(words, Style(wrapped=True)) == "The man went\nto the house.\nThen he slept\n"


def test_detokenize_attaches_punctuation():
    words = ["and", "god", "said", ",", "let", "(", "there", ")", "be", "beth", "-", "el", "and", "/", "or",
             ";", '"', "light", '"', ":", "100", "%", "$", "5", "."]
    assert detokenize(words) == 'And god said, let (there) be beth-el and/or; "light": 100% $5.'


@pytest.mark.parametrize("words", [[], [EOL], [EOL, EOL], ["."], ["'"], ["-"], ["(", ")"]])
def test_detokenize_edge_cases(words):
    assert tokenize(detokenize(words), eol=False) == [w for w in words if w != EOL]


def test_chinese_and_japanese_are_read_a_character_at_a_time_and_written_without_spaces():
    assert tokenize("起初，神创造天地。", eol=False) == ["起", "初", ",", "神", "创", "造", "天", "地", "。"]
    assert detokenize(tokenize("神说：「要有光」，就有了光。", eol=False)) == "神说:「要有光」,就有了光。"
    assert tokenize("私はカメラが好き", eol=False) == ["私", "は", "カ", "メ", "ラ", "が", "好", "き"]
    assert detokenize(tokenize("Hello 世界, and 日本語 text.", eol=False)) == "Hello 世界, and 日本語 text."
    assert tokenize("한국어 문장입니다", eol=False) == ["한국어", "문장입니다"]  # Korean has spaces: words


def test_combining_marks_stay_with_their_letters():
    """Vowel signs, viramas, points and accents are part of the letter before them (Python's \\w
    leaves them out): a word of Hindi, Tamil, pointed Hebrew or Arabic stays one token."""
    assert tokenize("नमस्ते दुनिया", eol=False) == ["नमस्ते", "दुनिया"]
    assert tokenize("வணக்கம் உலகம்", eol=False) == ["வணக்கம்", "உலகம்"]
    assert tokenize("בְּרֵאשִׁית בָּרָא", eol=False) == ["בְּרֵאשִׁית", "בָּרָא"]
    assert tokenize("السَّلَامُ عَلَيْكُمْ", eol=False) == ["السَّلَامُ", "عَلَيْكُمْ"]
    assert tokenize("I ❤\ufe0f it", eol=False) == ["i", "❤\ufe0f", "it"]  # the emoji's variation selector
    assert tokenize("a \u0301 b", eol=False) == ["a", "b"]  # a mark on nothing is left out, as a space is
    assert detokenize(tokenize("नमस्ते दुनिया, बहुत अच्छा।", eol=False)) == "नमस्ते दुनिया, बहुत अच्छा।"
    assert detokenize(tokenize("مرحبا، كيف حالك؟", eol=False)) == "مرحبا، كيف حالك؟"


def test_thai_lao_khmer_and_burmese_are_read_a_character_at_a_time_with_its_marks():
    assert tokenize("สวัสดีครับ", eol=False) == ["ส", "วั", "ส", "ดี", "ค", "รั", "บ"]
    assert detokenize(tokenize("สวัสดีครับ ขอบคุณ", eol=False)) == "สวัสดีครับขอบคุณ"
    assert tokenize("ខ្ញុំ", eol=False) == ["ខ្", "ញុំ"]  # Khmer: the coeng stays with its consonant
