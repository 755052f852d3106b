"""Tests for wordrnn.prefixes: a prompt read before is not read again, and the words stay the same."""
import pytest
import torch

from wordrnn.generate import Generator
from wordrnn.prefixes import Prefixes
from wordrnn.scheduler import Scheduler
from wordrnn.streams import Stream
from wordrnn.trail import Trail
from wordrnn.worker import Worker

PROMPT = "and the spirit of god moved upon"
OPTIONS = [dict(mode="top-p", top_p=0.9, seed=1), dict(mode="top-k", k=4, seed=2, no_repeat_ngram=2),
           dict(mode="greedy")]


class Counted:
    """The generator's own stepper, counting the words it reads."""

    def __init__(self, stepper) -> None:
        self.stepper, self.read = stepper, 0

    def advance(self, tokens, states):
        self.read += len(tokens)
        return self.stepper.advance(tokens, states)

    def logits(self, features, candidates):
        return self.stepper.logits(features, candidates)


@pytest.fixture(params=[False, True], ids=["fast", "exact"])
def generator(tiny_checkpoint, request):
    return Generator(tiny_checkpoint, device="cpu", exact=request.param)


def test_a_prompt_read_before_is_skipped_to_its_last_word_and_writes_the_same_words(generator):
    alone = [list(generator.stream(PROMPT, 25, **o)) for o in OPTIONS]  # the reference: no scheduler
    context = generator.context(generator.prompt(PROMPT).ids)
    scheduler = Scheduler(generator)
    counted = generator.stepper = Counted(generator.stepper)
    try:
        reads = []
        for options, words in zip(OPTIONS, alone):
            before = counted.read
            assert list(scheduler.stream(PROMPT, 25, **options)) == words
            reads.append(counted.read - before)
        assert reads == [len(context) + 24, 1 + 24, 1 + 24]
        assert len(scheduler._prefixes) == 1
    finally:
        scheduler.close()


def test_streams_that_keep_every_state_read_their_whole_prompt(generator):
    scheduler = Scheduler(generator)
    try:
        list(scheduler.stream(PROMPT, 5, seed=3))  # the prompt is kept
        every, last = Trail(), Trail(last_only=True)
        assert list(scheduler.stream(PROMPT, 5, trail=every)) == list(scheduler.stream(PROMPT, 5, trail=last))
        context = generator.context(generator.prompt(PROMPT).ids)
        assert len(every) == len(context) + 4  # a state after each word read: the prompt's too
        reference = []
        list(generator.stream(PROMPT, 5, trail=reference))
        assert all(torch.equal(x.reshape(-1), y.reshape(-1))
                   for mine, theirs in zip(every, reference) for p, q in zip(mine, theirs) for x, y in zip(p, q))
        assert all(torch.equal(x.reshape(-1), y.reshape(-1))
                   for p, q in zip(last[-1], reference[-1]) for x, y in zip(p, q))
    finally:
        scheduler.close()


def test_the_model_process_skips_a_prompt_read_before(tiny_checkpoint):
    gen = Generator(tiny_checkpoint, device="cpu")
    worker = Worker(gen, max_batch=8, max_queue=8)
    try:
        for options in OPTIONS:  # the second and third start from the first one's state
            assert list(worker.stream(PROMPT, 30, **options)) == list(gen.stream(PROMPT, 30, **options))
    finally:
        worker.close()


def test_the_least_recently_used_prompts_go_beyond_max_bytes(tiny_checkpoint):
    gen = Generator(tiny_checkpoint, device="cpu")
    state = gen.stepper.advance([1], [None])[1][0]
    size = sum(h.nbytes + c.nbytes for h, c in state) + 8 * 2
    prefixes = Prefixes(max_bytes=3 * size)
    for first in range(5):
        stream = Stream([first, 7, 9], 1, None)
        prefixes.start(stream)
        stream.inputs.popleft(), stream.inputs.popleft()
        stream.state = state
        prefixes.keep()
    assert len(prefixes) == 3
    for first, kept in [(0, False), (4, True)]:
        stream = Stream([first, 7, 9], 1, None)
        prefixes.start(stream)
        assert list(stream.inputs) == ([9] if kept else [first, 7, 9])
        assert (stream.state is not None) == kept
