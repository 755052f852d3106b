"""Vocabulary: frequency order, cut-offs, <unk>, encode/decode, file format, suggestions."""

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wordrnn.tokenizer import EOL, tokenize
from wordrnn.detokenizer import Style
from wordrnn.vocab import UNK, Vocabulary

WORDS = tokenize("the cat sat on the mat .\nthe dog sat on the log .\na cat ran .")


def test_most_frequent_word_has_lowest_id():
    vocab = Vocabulary.build(WORDS)
    counts = Counter(WORDS)
    # Frequency order, ties alphabetical; <unk> has count 0 here and comes last.
    expected = sorted(counts, key=lambda w: (-counts[w], w)) + [UNK]
    assert vocab.tokens == expected
    assert vocab.counts == [counts[w] for w in expected[:-1]] + [0]
    assert vocab.id("the") == 0 and vocab.tokens[vocab.id(EOL)] == EOL


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from("abcdefgh"), max_size=60), st.integers(1, 4), st.one_of(st.none(), st.integers(2, 6)))
def test_build_invariants(words, min_count, max_size):
    vocab = Vocabulary.build(words, min_count=min_count, max_size=max_size)
    counts = Counter(words)
    kept = [t for t in vocab.tokens if t != UNK]
    assert set(kept) <= set(words)  # built from the given words only
    assert all(counts[t] >= min_count for t in kept)
    assert max_size is None or len(vocab) <= max_size  # max_size counts <unk>
    assert vocab.counts == sorted(vocab.counts, reverse=True)
    assert sum(vocab.counts) == len(words)  # <unk> stands for every dropped token
    # Whatever was dropped is no more frequent than anything that was kept.
    dropped = set(words) - set(kept)
    assert not kept or not dropped or max(counts[w] for w in dropped) <= min(counts[w] for w in kept)
    assert vocab == Vocabulary.build(list(reversed(words)), min_count=min_count, max_size=max_size)


def test_min_count_and_max_size():
    words = ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"] * 1
    assert Vocabulary.build(words, min_count=3).tokens == ["a", "b", "c", UNK]
    assert Vocabulary.build(words, min_count=2).counts == [5, 4, 3, 1]
    vocab = Vocabulary.build(words, max_size=3)
    # <unk> stands for c and d (4 tokens), as many as b: ties are alphabetical, and "<" < "b".
    assert len(vocab) == 3 and vocab.tokens == ["a", UNK, "b"] and vocab.counts == [5, 4, 4]
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(words, min_count=0)
    with pytest.raises(ValueError, match="max_size"):
        Vocabulary.build(words, max_size=1)


def test_unk_takes_its_place_by_frequency():
    words = ["a"] * 3 + ["b", "c", "d", "e"]
    assert Vocabulary.build(words, min_count=2).tokens == [UNK, "a"]  # <unk> stands for 4 tokens
    assert Vocabulary.build([UNK] * 5 + ["a"] * 3).tokens == [UNK, "a"]  # text that is already unked


def test_unknown_words_map_to_unk_and_round_trip():
    vocab = Vocabulary.build(WORDS, min_count=2)
    words = ["the", "cat", "zebra", ".", EOL, "dog"]
    ids = vocab.encode(words)
    assert ids == [vocab.id(w) for w in words]
    assert vocab.decode(ids) == [w if w in vocab else UNK for w in words]
    assert ids[2] == vocab.unk_id == vocab.tokens.index(UNK) and "zebra" not in vocab
    assert vocab.decode(vocab.encode(vocab.tokens)) == vocab.tokens


def test_save_load(tmp_path):
    vocab = Vocabulary.build(tokenize("Ünïcödé “quotes” and, the the . ß"))
    vocab.save(tmp_path / "vocab.json")
    loaded = Vocabulary.load(tmp_path / "vocab.json")
    assert loaded == vocab and loaded.tokens == vocab.tokens and loaded.counts == vocab.counts
    data = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    assert data["format"] == "wordrnn-vocab" and data["tokens"] == vocab.tokens


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "vocab.json is not a valid wordrnn vocabulary"),
        (b"\xff\xfe\x00garbage", "vocab.json is not a valid wordrnn vocabulary"),
        ('["a", "<unk>"]', "not a wordrnn vocabulary"),
        ('{"format": "something-else", "tokens": ["<unk>"]}', "not a wordrnn vocabulary"),
        ('{"format": "wordrnn-vocab", "tokens": "abc"}', "tokens"),
        ('{"format": "wordrnn-vocab", "tokens": ["a", 1, "<unk>"]}', "tokens"),
        ('{"format": "wordrnn-vocab", "tokens": ["a", "b"]}', "<unk>"),
        ('{"format": "wordrnn-vocab", "tokens": ["a", "a", "<unk>"]}', "repeat"),
        ('{"format": "wordrnn-vocab", "tokens": ["a", "<unk>"], "counts": 5}', "counts"),
        ('{"format": "wordrnn-vocab", "tokens": ["a", "<unk>"], "counts": [1]}', "counts"),
        ('{"format": "wordrnn-vocab", "tokens": ["a", "<unk>"], "counts": [1, "x"]}', "counts"),
        ('{"format": "wordrnn-vocab", "tokens": ["a", "", "<unk>"]}', r'"tokens"\[1\] is \'\': every token must be a non-empty'),
        ('{"format": "wordrnn-vocab", "tokens": ["a", "<unk>"], "counts": [1, -2]}', "none negative"),
        ("[" * 100000 + "]" * 100000, "vocab.json is not a valid wordrnn vocabulary: it is nested too deeply"),
    ],
)
def test_bad_files_are_rejected_clearly(tmp_path, content, message):
    path = tmp_path / "vocab.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=message):
        Vocabulary.load(path)


def test_the_empty_string_is_no_token():
    with pytest.raises(ValueError, match="empty string"):
        Vocabulary.build(["a", "", "b"])


def test_closest():
    vocab = Vocabulary.build(tokenize("the light lighted night sight heaven earth"))
    assert vocab.closest("lihgt")[0] == "light"
    assert set(vocab.closest("lightt", n=2)) <= {"light", "lighted"}
    assert vocab.closest("zzzzzz") == []
    assert vocab.closest("<unk") == [] and vocab.closest("<eol") == []  # never suggest special tokens


def test_closest_looks_among_the_most_frequent_words_and_skips_none_that_could_match():
    import difflib

    from wordrnn import vocab as vocab_module

    words = ["<unk>", "<eol>", "the", "said", "sad", "saith", "salad", "israelites", "s", "a" * 40]
    vocab = Vocabulary(words)
    for word in ["saaid", "sa", "isralites", "a" * 30, "x"]:  # the length filter: difflib's own answer
        assert vocab.closest(word) == difflib.get_close_matches(word, words[2:], n=3, cutoff=0.6), word
    many = Vocabulary(["<unk>"] + [f"w{i:06d}" for i in range(vocab_module.SPELLED_FROM + 10)])
    rare = f"w{vocab_module.SPELLED_FROM + 5:06d}"  # past the most frequent SPELLED_FROM words
    assert many.closest("w000001")[0] == "w000001" and rare not in many.closest(rare + "x")


def test_a_style_is_saved_and_a_spelling_that_does_not_read_back_as_its_token_is_refused(tmp_path):
    style = Style({"god": "God", "iphone": "iPhone"}, wrapped=True, abbreviations=frozenset({"iphone"}))
    Vocabulary(["god", "<unk>", "iphone"], style=style).save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json").style == style
    assert Vocabulary.from_json(Vocabulary(["god", "<unk>"], style=Style()).to_json()).style == Style()  # learned: none
    old = Vocabulary(["god", "<unk>"]).to_json()
    assert "spellings" not in old and Vocabulary.from_json(old).style is None  # from before styles: "i" is "I"
    for spellings in ({"god": "Dog"}, {"god": "God said"}, {"odd": "Odd"}, {"god": "GOD\n"}, {"god": "G-o-d"},
                      {"god": "ＧＯＤ"}, {"<unk>": "<UNK>"}):
        with pytest.raises(ValueError, match="is not a way to write a token"):
            Vocabulary(["god", "<unk>"], style=Style(spellings))
    path = tmp_path / "bad.json"
    for bad, message in (('"spellings": ["God"]', "spellings"), ('"spellings": {"god": 1}', "spellings"),
                         ('"wrapped": "yes"', "wrapped"), ('"abbreviations": "etc"', "abbreviations"),
                         ('"abbreviations": [1]', "abbreviations"), ('"abbreviations": ["etc"]', "not tokens")):
        path.write_text('{"format": "wordrnn-vocab", "tokens": ["god", "<unk>"], %s}' % bad)
        with pytest.raises(ValueError, match=message):
            Vocabulary.load(path)


def test_a_learned_spacing_is_saved_and_one_that_names_no_junction_of_its_tokens_is_refused(tmp_path):
    style = Style(spacing={("<word>", "="): True, (" -", "u"): True, ("=", "="): True, (" --", "<word>"): False})
    Vocabulary(["<unk>", "=", "-", "u"], style=style).save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json").style == style
    for bad in ({("<word>", "%"): True}, {("the", "u"): True}, {("<word>", "<word>"): False}, {(" u", "="): True},
                {('"', "u"): True}, {("<eol>", "="): True}, {("-=", "u"): True}, {("  -", "u"): True},
                {("----", "u"): True}):
        with pytest.raises(ValueError, match="does not name a junction"):
            Vocabulary(["<unk>", "=", "-", "u", "the", '"', "<eol>"], style=Style(spacing=bad))
    path = tmp_path / "bad.json"
    for bad in ('"spacing": {"=": 1}', '"spacing": [["=", "="]]', '"spacing": [["=", "=", "yes"]]',
                '"spacing": [[1, "=", "glued"]]'):
        path.write_text('{"format": "wordrnn-vocab", "tokens": ["=", "<unk>"], %s}' % bad)
        with pytest.raises(ValueError, match="spacing"):
            Vocabulary.load(path)
