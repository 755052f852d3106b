"""How a text writes its words and lines (wordrnn/style.py), learned with its vocabulary."""

from wordrnn import Vocabulary, detokenize, tokenize
from wordrnn.style import described, learn

KJV_LIKE = (
    "And God said, and the LORD said: God is good, the LORD is God. Good god! The gods of Egypt; the lord of Egypt, the LORD of hosts.\n"
    "Moses went up to Egypt. Then Moses and Aaron sang, and Aaron and Moses went.\n"
    "In Germany the Haus and das Haus, in Germany. Haus\n"
    "We saw the Red sea, the Red sea and red wine and red meat.\n"  # 2 of 4: written both ways
    "Comment: this, and the comment and a comment.\n"  # a capital after a colon is the colon's
)


def spellings(text: str) -> dict[str, str]:
    return dict(learn(text, set(tokenize(text))).spellings)


def test_a_spelling_is_the_form_of_two_thirds_of_a_words_uses_inside_sentences_and_of_two_at_least():
    assert spellings(KJV_LIKE) == {"god": "God", "lord": "LORD", "egypt": "Egypt", "moses": "Moses", "aaron": "Aaron",
                                   "germany": "Germany", "haus": "Haus"}
    # "good", "the" and "then" start sentences; "gods" is lower case inside them; "red" goes both ways
    assert spellings("We met Ahab. And Jezebel came.") == {}  # once is not enough
    assert spellings("Press M here, and M there, and m, M, M, M.") == {}  # a letter alone: nine in ten
    assert spellings("I went, and I saw, and I came, and I went, and I saw, and I came.") == {"i": "I"}
    assert spellings("Set t_Co to 8, or t_Co to 256.") == {}  # part of an identifier
    assert learn(KJV_LIKE, {"god"}).spellings == {"god": "God"}  # only the vocabulary's tokens
    vocab = Vocabulary.build(tokenize(KJV_LIKE), text=KJV_LIKE)
    assert dict(vocab.style.spellings) == spellings(KJV_LIKE) and Vocabulary.build(tokenize(KJV_LIKE)).style is None


def test_titles_capital_lines_and_list_markers_say_nothing_of_a_words_usual_form():
    text = ("Appendix B: The Bibliography Of Computing\n"  # a title
            "SUCH DAMAGES.\n"  # a line in capitals
            "b) Requiring notices\n"  # the list marker is no first word
            "|02.3| Moving around\n"
            "-g Adding a package\n"
            "the bibliography, of computing, such damages, requiring, moving and adding.\n")
    assert spellings(text) == {}
    assert spellings("We use Unix. Unix is old and Unix is free.\n-x Unix runs.\n") == {"unix": "Unix"}


def test_a_hard_wrapped_text_is_wrapped_and_verses_are_not():
    book = ("It was the best of times, it was the worst of times, it was the age\n"
            "of wisdom, it was the age of foolishness, it was the epoch of belief,\n"
            "it was the epoch of incredulity. It was the season of Light, it was\n"
            "the season of Darkness, it was the spring of hope.\n")
    verses = ("In the beginning God created the heaven and the earth.\n"
              "And the earth was without form, and void;\n"
              "And darkness was upon the face of the deep.\n")
    assert learn(book, set(tokenize(book))).wrapped and not learn(verses, set(tokenize(verses))).wrapped


def test_described_in_one_line():
    assert described(None) == "not learned"
    line = described(learn(KJV_LIKE, set(tokenize(KJV_LIKE))), examples=2)
    assert line.startswith("7 words written as the text writes them (LORD, God, ...); ") and line.endswith(
        "each line starts with a capital")


def test_release_learns_a_checkpoints_style_and_writes_its_samples_again(tiny_checkpoint, tmp_path):
    from training import release
    from wordrnn import Checkpoint

    old = Checkpoint(tiny_checkpoint.model, tiny_checkpoint.vocab,
                     {"samples": [{"prompt": "and god said", "mode": "greedy", "text": "And god said"}]})
    old.save_pretrained(tmp_path / "old")
    text = tmp_path / "train.txt"
    text.write_text("And God said, let there be light. And God saw the light; and God divided it.\n", encoding="utf-8")
    assert release.main([str(tmp_path / "old"), str(tmp_path / "new"), "--style-from", str(text)]) == 0
    new = Checkpoint.from_pretrained(tmp_path / "new")
    assert new.vocab.style.spellings == {"god": "God"} and new.vocab.tokens == tiny_checkpoint.vocab.tokens
    assert [s["prompt"] for s in new.info["samples"]] == ["and god said"] * 2  # greedy and top-k, written again
    assert all(s["text"].startswith("And God said") for s in new.info["samples"])


def test_abbreviations_are_words_whose_full_stop_the_text_goes_on_after():
    text = ("Es gibt z. B. eine Datei, d. h. nichts. Und z. B. noch eine, d. h. mehr. Es endet hier. Dann etc. und etc. so.\n"
            "Und z. B. drei, d. h. eine Datei, etc. und so. Es endet hier. Also etc.\n"  # the line's end: "etc." goes on
            "und mehr. Here am I. And I said. So I went.\n"
            "See main.c and main.c and main.c, the .changes file and the .changes file and the .changes file.\n")
    style = learn(text, set(tokenize(text)))
    # "z." is followed by a capital "B": a sentence end as far as the text shows, which writes "B" all the same
    assert style.abbreviations == {"b", "d", "h", "etc"}  # "i" and "hier" end sentences; "main.c" says nothing
    assert detokenize(tokenize("es gibt z. b. eine datei. dann etc. und so. here am i. and", eol=False), style) == (
        "Es gibt z. B. eine Datei. Dann etc. und so. Here am I. And")


def test_a_wrapped_text_whose_lines_often_begin_with_a_noun_is_wrapped():
    german = ("Mit diesem Befehl kannst Du die\n"
              "Datei öffnen, und mit dem zweiten die\n"
              "Datei schließen, wenn die\n"
              "Zeile fertig ist und die\n"
              "Datei gespeichert wurde, so dass man\n"
              "sie wieder lesen kann. Die Datei und die Zeile sind da, die Datei auch, die Zeile auch.\n\n"
              "--build Baut das Paket.\n")  # an option line says nothing
    style = learn(german, set(tokenize(german)))
    assert style.wrapped and style.spellings["datei"] == "Datei"


# A help file's habits, written for this test: options set with "=", keys in angle brackets,
# rules of "=", file names, options after a space.
HELP_LIKE = (
    "==========================\n"
    "Type :set ts=8 and press <Enter> to set it, or :set sw=4 and <Esc> to leave.\n"
    "Edit one.c and two.c or main.c with <Enter> again; ts=2 is rare, sw=8 too.\n"
    "==========================\n"
    "Run it with -u or with -n; the -u flag reads no file, and -n no swap file.\n"
    "==========================\n"
    "See -u and -n below. Then save main.c and :set ts=4, press <Esc> to quit.\n"
)


def test_a_texts_spacing_of_marks_is_learned_and_written_back():
    style = learn(HELP_LIKE, set(tokenize(HELP_LIKE)))
    written = detokenize(tokenize(HELP_LIKE), style)
    for line in HELP_LIKE.splitlines():  # each line as the text writes it, but for the capital that starts it
        assert line[1:] in written
    # the fixed rules, for a text that said nothing: "ts = 8", "< enter >", "main. C", "See-u"
    plain = detokenize(tokenize(HELP_LIKE))
    assert "ts = 8" in plain and "< enter >" in plain and "main. C" in plain and "See-u" in plain and "= = =" in plain
    line = described(style)
    assert "ways of spacing marks" in line and "`x,`" not in line and "`x=`" in line  # those the fixed rules miss
    assert ("<word>", ".") in style.spacing and (".", "<word>") not in style.spacing  # 4 file names, 2 sentences


def test_spacing_is_learned_from_three_uses_in_two_of_three_and_words_stay_apart():
    twice = learn("set a=1 and b=2.\n", {"set", "a", "=", "1", "and", "b", "2", "."})
    assert ("<word>", "=") not in twice.spacing  # two uses are not enough
    three = "set a=1, b=2, c=3 and d = 4.\n"
    style = learn(three, set(tokenize(three)))
    assert style.spacing[("<word>", "=")] and style.spacing[("=", "<word>")]  # 3 of 4
    assert detokenize(["x", "=", "y", "z"], style) == "X=y z"
    # an exact pair that goes against its general rule: "the -u" against "beth-el"
    text = "beth-el, beth-horon, kiriath-jearim and the -u, the -v, the -x flags.\n"
    style = learn(text, set(tokenize(text)))
    assert detokenize(["see", "the", "-", "u", "and", "ai", "-", "el"], style) == "See the -u and ai-el"
    # a dash between spaces; a text that also writes hyphens gets the way it writes more often
    dashes = "I went home - it was late - and slept. The road - the long one - was dark.\n"
    assert detokenize(tokenize(dashes), learn(dashes, set(tokenize(dashes)))) == dashes
    assert detokenize(tokenize(dashes)) == dashes.replace(" - ", "-")  # the fixed rule: a hyphen
    # a run of a mark is its own key: "--" after a space signs a quotation, one "-" joins words
    quotes = ("Be good.\n\t-- Mark Twain\nA well-known saying.\n\t-- Oscar Wilde\n"
              "The so-called end of a long-lost art.\n\t-- Anon Author\n")
    written = detokenize(tokenize(quotes), learn(quotes, set(tokenize(quotes))))
    assert "\n-- Mark " in written and "well-known" in written and "long-lost" in written
    assert "--mark" in detokenize(tokenize(quotes))  # the fixed rules: a hyphen, an option's name


def test_the_written_benchmark_finds_the_learned_spacing_closer_to_the_text(tmp_path, capsys):
    from bench.written import main
    (tmp_path / "help.txt").write_text(HELP_LIKE * 2, encoding="utf-8")
    assert main([str(tmp_path / "help.txt")]) == 0
    row = capsys.readouterr().out.splitlines()[-1].split(" | ")
    fixed, learned = (float(cell.split("%")[0]) for cell in row[2:4])
    assert learned == 100.0 > fixed  # every line as the text writes it, case aside


def test_a_word_joined_to_a_mark_has_spacing_of_its_own():
    # "rebase" after "-" is part of a name, and its "(1)" is glued; a word after a space is not
    text = ("See git-rebase(1), git-stash(1) and git-log(1) for more (or less).\n"
            "Read it (twice) and then (once) more, see (below).\n")
    style = learn(text, set(tokenize(text)))
    assert style.spacing[("<joined>", "(")] and not style.spacing[("<word>", "(")]
    assert detokenize(["see", "git", "-", "diff", "(", "1", ")", "and", "more", "(", "1", ")"], style) == (
        "See git-diff(1) and more (1)")
    assert detokenize(tokenize("set $PAGER to less", eol=False)) == "Set $pager to less"  # a variable, not a sentence
