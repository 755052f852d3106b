"""The end of a run: complete the best checkpoint's card, then publish the folder as written."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Callable

from huggingface_hub import get_token
from huggingface_hub.utils import disable_progress_bars

from . import release, report
from .data import Corpus
from .evaluate import Interrupted
from wordrnn import Checkpoint, HubError
from wordrnn.prompt import SEED_WORDS
from wordrnn.push import publish

log = logging.getLogger("training")

SAMPLES, HELD_OUT, EXAMPLES = 3, 20, 5  # prompts on the card: sampled, held-out ones, examples


def complete(folder: Path, corpus: Corpus, metrics: Path, test_path: str | None,
             stop: Callable[[], bool] | None = None) -> None:
    """Add the test scores, prompts, sample generations and the loss curve to the checkpoint in
    `folder` (loaded once, saved once). A stop request (`stop`) skips the test scoring."""
    checkpoint = Checkpoint.from_pretrained(folder)
    if test_path:
        try:
            release.score_test(checkpoint, test_path, stop)
        except Interrupted as err:
            log.warning("test scoring skipped on the stop request (%s): the card has no test score; score it "
                        "with: wordrnn-evaluate --model %s --text %s", err, folder, test_path)
    info = checkpoint.info
    # The app's example prompts and its "fill from held-out text" button read these (wordrnn.examples)
    info["held_out"] = release.openings(corpus.vocab, corpus.valid, HELD_OUT)
    info["examples"] = release.openings(corpus.vocab, corpus.train, EXAMPLES)
    prompts = info["held_out"][:: max(1, len(info["held_out"]) // SAMPLES)][:SAMPLES] or info["examples"][:SAMPLES]
    if not info["held_out"]:
        log.info("no held-out prompts on the card: no held-out line opens with %d words the model knows%s",
                 SEED_WORDS, "; its samples start from training lines" if prompts else "")
    if not prompts:
        log.info("no samples on the card: no line of the text opens with %d words the model knows", SEED_WORDS)
    info["samples"] = release.samples(checkpoint, prompts)
    info["path"] = str(folder.resolve())  # the card's use snippet loads it wherever it is run
    curve = report.loss_curve(report.read_log(metrics))
    if curve:
        checkpoint.assets["loss_curve.png"] = curve
    checkpoint.save_pretrained(folder)


def check_token(repo_id: str, folder: Path) -> None:
    """Warn at the start, not after the training, when there is no Hub token to push with (a
    Hub of one's own may take pushes without one, so it is no error)."""
    if not get_token():
        log.warning("--push-to-hub %s: no Hub token found (set HF_TOKEN or run `hf auth login`), so the Hub may "
                    "refuse the push when the run ends; the checkpoint stays in %s either way", repo_id, folder)


def push(folder: Path, repo_id: str, private: bool, progress: bool = True) -> int:
    """Upload `folder` in one commit (wordrnn.hub says where it went); on failure say how to
    retry (the folder stays). Without `progress`, no upload bars either."""
    try:
        with contextlib.nullcontext() if progress else disable_progress_bars():
            publish(folder, repo_id, private=private)
    except HubError as err:
        log.error("error: %s\nThe checkpoint is safe in %s.", err, folder)
        return 1
    return 0
