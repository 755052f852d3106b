"""Tests for wordrnn.worker: the scheduler in a model process of its own writes what a lone
stream writes, keeps trails to branch from, frees slots, says busy, and survives its process."""
import threading
import time

import pytest
import torch

from wordrnn import WordRNNError
from wordrnn.generate import Generator
from wordrnn.scheduler import Busy
from wordrnn.trace import Texts
from wordrnn.worker import Worker

SETTINGS = [
    dict(mode="greedy"), dict(mode="greedy", no_repeat_ngram=2), dict(mode="top-k", k=5, temperature=1.5, seed=1),
    dict(mode="top-k", k=3, seed=2, no_repeat_ngram=3), dict(mode="top-p", top_p=0.8, seed=3),
]
PROMPTS = ["and god said", "in the beginning god created", "darkness", "and the spirit of god moved upon"]


@pytest.fixture(scope="module")
def fast(tiny_checkpoint):
    return Generator(tiny_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def worker(fast):
    worker = Worker(fast, max_batch=8, max_queue=8)
    yield worker
    worker.close()


def requests():
    return [(PROMPTS[n % len(PROMPTS)], 20 + 9 * n, settings) for n, settings in enumerate(SETTINGS)]


@pytest.mark.parametrize("exact", [False, True])
def test_texts_are_the_same_alone_and_in_a_crowd_in_the_model_process(tiny_checkpoint, exact):
    gen = Generator(tiny_checkpoint, device="cpu", exact=exact)
    worker = Worker(gen, max_batch=8, max_queue=8)
    try:
        alone = [list(gen.stream(p, n, **o)) for p, n, o in requests()]
        together = [worker.stream(p, n, **o) for p, n, o in requests()]  # all in the batch at once
        assert [list(s) for s in together] == alone
        assert worker.next_words("and god said", 4) == gen.next_words("and god said", 4)
    finally:
        worker.close()


def test_kept_texts_branch_and_explain_as_in_this_process(fast, worker):
    here, there = Texts(fast), Texts(worker)
    prompt = fast.prompt("and god said")
    options = dict(mode="top-k", k=4, seed=7)
    assert list(there.stream(prompt, 24, **options)) == list(here.stream(prompt, 24, **options))
    a, b = here.get(Texts.key(prompt, 24, options)), there.get(Texts.key(prompt, 24, options))
    assert len(a.states) == len(b.states) == 1  # the last state alone, until asked for the rest
    assert len(here.states(a)) == len(there.states(b)) == len(a.ids) - 1
    for mine, theirs in zip(a.states, b.states):
        assert all(torch.equal(x.reshape(-1), y.reshape(-1)) for p, q in zip(mine, theirs) for x, y in zip(p, q))
    assert there.explain(b) == here.explain(a) and there.after(b) == here.after(a)
    word = fast.vocab.tokens[a.ids[a.start + 3]]
    assert there.branch(b.id, 10, word, options).ids == here.branch(a.id, 10, word, options).ids


def test_a_closed_or_dropped_stream_frees_its_slot(fast):
    worker = Worker(fast, max_batch=1, max_queue=0)
    try:
        first = worker.stream("and god said", 400)
        next(first)
        with pytest.raises(Busy, match="^busy, try again in a moment$"):
            worker.stream("darkness", 5)
        with pytest.raises(Busy):
            worker.next_words("darkness")
        first.close()
        assert worker.streams == 0 and len(list(worker.stream("darkness", 5))) == 5
        dropped = worker.stream("and god said", 400)
        next(dropped)
        del dropped  # never closed: the next tick's words find it dropped
        for _ in range(100):
            if worker.streams == 0:
                break
            time.sleep(0.05)
        assert len(list(worker.stream("darkness", 5))) == 5
    finally:
        worker.close()


def test_many_client_threads_at_once(fast, worker):
    want = {seed: list(fast.stream("and the earth", 25, mode="top-k", k=6, seed=seed)) for seed in range(12)}
    got, errors = {}, []

    def client(seed):
        try:
            got[seed] = list(worker.stream("and the earth", 25, mode="top-k", k=6, seed=seed))
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and got == want


def test_a_killed_model_process_ends_its_texts_with_a_message_and_the_next_request_gets_a_new_one(fast):
    worker = Worker(fast, max_batch=4, max_queue=4)
    try:
        running = worker.stream("and god said", 400)
        next(running)
        worker._process.kill()
        with pytest.raises(WordRNNError, match="the model stopped while writing this text; try again"):
            list(running)
        assert worker.streams == 0
        assert list(worker.stream("darkness", 6, mode="top-k", seed=3)) == list(fast.stream("darkness", 6, mode="top-k", seed=3))
    finally:
        worker.close()


def test_settings_errors_come_from_the_call_and_a_closed_worker_says_so(fast):
    worker = Worker(fast, max_batch=2, max_queue=2)
    with pytest.raises(ValueError, match="unknown mode"):
        worker.stream("god", mode="beam")
    worker.close()
    with pytest.raises(WordRNNError, match="closed"):
        worker.stream("god", 3)


def test_the_wire_carries_messages_and_samplers_without_pickle():
    import socket
    from multiprocessing.connection import Connection

    import numpy as np

    from wordrnn.sampling import Sampler
    from wordrnn.wire import get, put, sampler_in, sampler_out

    ours, theirs = (Connection(s.detach()) for s in socket.socketpair())
    state = np.arange(12, dtype=np.float32).reshape(3, 4)
    put(ours, ("tick", [(7, [3, None, "an error"], state), (8, [], None)], {"ids": np.array([1, 2], np.int64)}))
    kind, entries, extra = get(theirs)
    assert kind == "tick" and entries[0][:2] == [7, [3, None, "an error"]] and entries[1] == [8, [], None]
    assert np.array_equal(entries[0][2], state) and entries[0][2].flags.writeable
    assert extra["ids"].dtype == np.int64 and extra["ids"].tolist() == [1, 2]
    with pytest.raises(TypeError):
        put(ours, object())  # anything but JSON values and arrays is refused, not pickled
    sampler = Sampler("top-k", k=4, seed=5, no_repeat_ngram=2, never=[0])
    sampler.observe([3, 4, 3])
    sampler.choose(torch.randn(50))  # a draw made: the rest of its block of exponentials goes too
    assert len(sampler.noise)
    put(ours, sampler_out(sampler))
    copy = sampler_in(get(theirs))
    logits = torch.randn(20, 50)
    assert [copy.choose(row) for row in logits] == [sampler.choose(row) for row in logits]


def test_the_warm_up_runs_every_mode_and_leaves_the_scheduler_idle(fast):
    """The model process's warm-up (before the app hears it is ready) ends its texts: no slot or
    queue place stays taken, and texts afterwards are as ever."""
    from wordrnn.model_process import warm_up
    from wordrnn.scheduler import Scheduler

    for limits in (dict(), dict(max_batch=1, max_queue=0)):  # within its limits: a text at a time there
        scheduler = Scheduler(fast, **limits)
        try:
            before = scheduler.text("and god said", 8, mode="top-k", seed=5)
            warm_up(scheduler)
            assert scheduler.streams == 0
            assert scheduler.text("and god said", 8, mode="top-k", seed=5) == before
        finally:
            scheduler.close()
