"""The end of a run: complete the best checkpoint's card, then publish the folder as written."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from huggingface_hub.utils import disable_progress_bars

from . import release, report
from .data import Corpus
from wordrnn import Checkpoint, HubError
from wordrnn.push import publish

log = logging.getLogger("training")


def complete(folder: Path, corpus: Corpus, metrics: Path, test_path: str | None) -> None:
    """Add the test scores, sample generations and the loss curve to the checkpoint in `folder`
    (loaded once, saved once)."""
    checkpoint = Checkpoint.from_pretrained(folder)
    if test_path:
        release.score_test(checkpoint, test_path)
    lines = release.lines_of(corpus.vocab, corpus.valid[:20000])
    checkpoint.info["samples"] = release.samples(checkpoint, release.prompts_from(lines))
    curve = report.loss_curve(report.read_log(metrics))
    if curve:
        checkpoint.assets["loss_curve.png"] = curve
    checkpoint.save_pretrained(folder)


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
