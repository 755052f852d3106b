"""Prepare a trained checkpoint for release: sample generations, a title and description for
its model card, the data it was evaluated on, and compact (float16) storage.

    python -m training.release runs/kjv/model models/kjv-lstm --dtype float16 \\
        --title "wordrnn KJV LSTM" --description-file training/kjv_card.md \\
        --eval-dataset "King James Bible (Debian bible-kjv)" --test data/kjv/test.txt \\
        --prompt "in the beginning god created the heaven" --prompt "..."

Training runs call `samples` too, so every checkpoint's card shows what the model writes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import torch

from .data import read_text
from .evaluate import evaluate, stream
from wordrnn import EOL, Checkpoint, Vocabulary, WordRNNError, cli
from wordrnn.examples import opening
from wordrnn.generate import Generator
from wordrnn.source import resolve
from wordrnn.style import described, learn

log = logging.getLogger(__name__)

SENTENCE_ENDS = {".", "!", "?"}
WINDOWS = 40  # pieces of a token stream read for prompts
PROGRESS_FROM = 100_000  # test tokens from which the scoring's progress is logged


def samples(checkpoint: Checkpoint, prompts: list[str], words: int = 40) -> list[dict[str, str]]:
    """Greedy and top-k (k=10, seed 0) continuations of each prompt, for the model card."""
    quiet = logging.getLogger("wordrnn.generate")  # its "generating on cpu, exact path" says nothing here
    level, _ = quiet.level, quiet.setLevel(logging.WARNING)
    try:
        generator = Generator(checkpoint, device="cpu", exact=True)
    finally:
        quiet.setLevel(level)
    rows = []
    for prompt in prompts:
        unknown = list(generator.prompt(prompt).unknown)
        if unknown:  # the card would show them as <unk>
            raise ValueError(f"the sample prompt {prompt!r} has words the model does not know ({unknown}); "
                             "choose a prompt of words from its vocabulary")
        for mode in ("greedy", "top-k"):
            text = generator.text(prompt, words=words, mode=mode, k=10, seed=0)
            rows.append({"prompt": prompt, "mode": mode if mode == "greedy" else "top-k (k=10, seed 0)",
                         "text": text})
    return rows


def score_test(checkpoint: Checkpoint, path: str | Path, stop: Callable[[], bool] | None = None) -> None:
    """Put the test perplexity and accuracy into the checkpoint's metrics.

    One column: every test word is read after all of the text before it (the n-gram baseline's
    convention too); validation reads 16 columns from blank states, for speed. All of the text
    is scored, with its progress logged when it is long; `stop` ends it (evaluate.Interrupted)."""
    ids = stream(read_text(path), checkpoint.vocab)
    shown = [0]

    def progress(done: int, total: int) -> None:
        if total >= PROGRESS_FROM and done * 10 // total > shown[0]:
            shown[0] = done * 10 // total
            log.info("test scoring: %d%% of %s tokens", 10 * shown[0], f"{total:,}")

    if ids.numel() > PROGRESS_FROM:
        log.info("test scoring: %s tokens in one column (Ctrl-C skips it)", f"{ids.numel() - 1:,}")
    score = evaluate(checkpoint.model, ids, batch_size=1, stop=stop, progress=progress)
    checkpoint.info.setdefault("metrics", {}).update(
        test_perplexity=score.perplexity, test_accuracy=score.accuracy)


def lines_of(vocab: Vocabulary, ids: torch.Tensor) -> list[list[str]]:
    """The words of each complete `<eol>`-ended line of an id stream, and of each sentence in
    them after the first (so that a text of few, long lines still has openings). In a wrapped
    text (wordrnn.style) a line that goes on a sentence of the line before is no opening."""
    wrapped = vocab.style is not None and vocab.style.wrapped
    lines, line, opens = [], [], True
    for word in vocab.decode(ids.tolist()):
        if word == EOL:
            if opens:
                lines.append(line)
            opens = not wrapped or bool(line) and line[-1] in SENTENCE_ENDS
            line = []
        else:
            line.append(word)
            if word in SENTENCE_ENDS:
                if opens:
                    lines.append(line)  # a sentence's opening; the line goes on
                line, opens = [], True
    return lines


def prompts_from(lines_of_words: list[list[str]], n: int = 3) -> list[str]:
    """`n` distinct prompts of SEED_WORDS words from spread-out line openings (used when no
    prompts are given), each one wordrnn.examples accepts: words rather than runs of marks
    (`= = = = = = =`), never an unknown word, which a card would show as `<unk>`."""
    prompts = list(dict.fromkeys(p for p in map(opening, lines_of_words) if p))
    step = max(1, len(prompts) // max(1, n))
    return prompts[::step][:n]


def openings(vocab: Vocabulary, ids: torch.Tensor, n: int) -> list[str]:
    """`n` prompts from lines spread over an id stream, reading WINDOWS pieces of it rather than
    all of it (a 100 MB text's stream has 20M tokens)."""
    span = 2_000
    starts = sorted({i * max(0, ids.numel() - span) // (WINDOWS - 1) for i in range(WINDOWS)})
    lines = []
    for start in starts:
        piece = lines_of(vocab, ids[start : start + span])
        lines += piece[1:] if start else piece  # a window's first line began before it
    return prompts_from(lines, n)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        release(args)
    except (WordRNNError, OSError, ValueError) as err:  # PromptError is a ValueError too
        cli.fail(str(err))
    return 0


def release(args) -> None:
    checkpoint = resolve(args.source, fallback=False).checkpoint
    info = checkpoint.info
    if args.description_file:
        info["description"] = args.description_file.read_text(encoding="utf-8").strip()
    for key, value in (("title", args.title), ("license", args.license), ("datasets", args.dataset),
                       ("language", args.language), ("repo_id", args.repo_id)):
        if value:
            info[key] = value
    if args.eval_dataset:
        info["dataset"] = {"name": args.eval_dataset, "type": (args.dataset or ["text"])[0]}
    if args.style_from:
        vocab = checkpoint.vocab
        checkpoint.vocab = Vocabulary(vocab.tokens, vocab.counts, learn(read_text(args.style_from), set(vocab.tokens)))
        log.info("style of %s: %s", args.style_from, described(checkpoint.vocab.style))
        # the card's samples were written in the old style: the same prompts again, unless new ones are given
        args.prompt = args.prompt or list(dict.fromkeys(s["prompt"] for s in info.get("samples", [])
                                                        if isinstance(s, dict) and isinstance(s.get("prompt"), str)))
    dtype = getattr(torch, args.dtype)
    with torch.no_grad():  # what loading the stored weights will give back
        for tensor in checkpoint.model.state_dict().values():
            tensor.copy_(tensor.to(dtype).float())
    if args.test:
        log.info("scoring %s ...", args.test)
        score_test(checkpoint, args.test)
    if args.prompt:
        log.info("writing the card's samples (%d prompt%s) ...", len(args.prompt), "s" * (len(args.prompt) != 1))
        info["samples"] = samples(checkpoint, args.prompt)
    if not info.get("repo_id"):  # the card's use snippet loads the folder wherever it is run
        info["path"] = str(args.target.resolve())
    checkpoint.save_pretrained(args.target, dtype=dtype)
    size = sum(f.stat().st_size for f in args.target.iterdir())
    log.info("wrote %s (%.1f MB)", args.target, size / 1e6)


def _parser() -> cli.Parser:
    p = cli.Parser("training.release", __doc__)
    p.add_argument("source", help="the trained checkpoint: a folder or a Hub repo id")
    p.add_argument("target", type=Path, help="where to write the release checkpoint")
    p.add_argument("--dtype", choices=["float32", "float16"], default="float16", help="storage precision")
    p.add_argument("--title", help="the card's title")
    p.add_argument("--description-file", type=cli.file, help="markdown for the top of the card")
    p.add_argument("--prompt", action="append", default=[], help="a sample prompt (repeatable)")
    p.add_argument("--license", help="the weights' license, as a Hub license id (default on the card: apache-2.0)")
    p.add_argument("--language", help="the text's language, as an ISO 639-1 code (default: the source's, else not stated)")
    p.add_argument("--dataset", action="append", default=[], help="a Hub dataset id it was trained on (repeatable)")
    p.add_argument("--eval-dataset", help="the name of the data the metrics were measured on, for model-index")
    p.add_argument("--repo-id", type=cli.repo_id, help="the Hub repo it will be published to (the card's use snippet)")
    p.add_argument("--test", type=cli.file, help="re-score this test text with the stored (rounded) weights")
    p.add_argument("--style-from", type=cli.file, metavar="TEXT",
                   help="learn how the training text TEXT writes its words (\"God\", \"LORD\") and lines, "
                   "for a checkpoint trained before vocabularies kept it; the card's samples are written again")
    return p


if __name__ == "__main__":
    raise SystemExit(main())
