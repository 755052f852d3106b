"""Tests for wordrnn.scheduler: continuous batching that writes the same words as a lone stream."""
import threading

import pytest

from wordrnn import WordRNNError
from wordrnn.generate import Generator
from wordrnn.scheduler import SHARE_UPDATES, UPDATE_EVERY, Busy, Scheduler, update_every
from wordrnn.worker import Worker, serve

PROMPTS = ["and god said", "in the beginning god created", "darkness", "and the spirit of god moved upon"]
SETTINGS = [
    dict(mode="greedy"), dict(mode="greedy", no_repeat_ngram=2),
    dict(mode="top-k", k=5, temperature=1.5, seed=1), dict(mode="top-k", k=3, seed=2, no_repeat_ngram=3),
    dict(mode="top-p", top_p=0.8, seed=3), dict(mode="top-p", top_p=0.95, temperature=2.0, seed=4, no_repeat_ngram=2),
]


@pytest.fixture(scope="module")
def fast(tiny_checkpoint):
    gen = Generator(tiny_checkpoint, device="cpu")
    assert gen.fast
    return gen


@pytest.fixture
def scheduler(fast):
    scheduler = Scheduler(fast, max_batch=8, max_queue=8)
    yield scheduler
    scheduler.close()


def requests():
    return [(PROMPTS[n % len(PROMPTS)], 30 + 7 * n, settings) for n, settings in enumerate(SETTINGS)]


def test_each_stream_writes_what_it_writes_alone_whoever_shares_its_batch(fast, scheduler):
    alone = [list(fast.stream(p, n, **o)) for p, n, o in requests()]
    assert [list(scheduler.stream(p, n, **o)) for p, n, o in requests()] == alone  # one at a time
    streams = [scheduler.stream(p, n, **o) for p, n, o in requests()]  # all at once, read in turns
    crowd = [[] for _ in streams]
    while any(streams):
        for n, stream in enumerate(streams):
            if stream is not None:
                word = next(stream, None)
                crowd[n].append(word) if word is not None else streams.__setitem__(n, None)
    assert crowd == alone


def test_the_exact_path_writes_the_same_words_alone_and_in_a_crowd(tiny_checkpoint):
    scheduler = Scheduler(Generator(tiny_checkpoint, device="cpu", exact=True))
    try:
        alone = [list(scheduler.stream(p, n, **o)) for p, n, o in requests()]
        together = [scheduler.stream(p, n, **o) for p, n, o in requests()]
        assert [list(s) for s in together] == alone
    finally:
        scheduler.close()


def test_streams_join_and_leave_mid_batch(fast, scheduler):
    first = scheduler.stream("and god said", 200, mode="top-k", k=4, seed=5)
    head = [next(first) for _ in range(10)]  # running alone for a while
    second = scheduler.stream("darkness", 40, mode="top-k", k=4, seed=6)  # joins mid-way
    middle = [next(first) for _ in range(5)]
    first.close()  # leaves mid-way
    assert head + middle == list(fast.stream("and god said", 200, mode="top-k", k=4, seed=5))[:15]
    assert list(first) == []
    assert list(second) == list(fast.stream("darkness", 40, mode="top-k", k=4, seed=6))


def test_a_closed_stream_frees_its_slot_at_once(fast):
    scheduler = Scheduler(fast, max_batch=1, max_queue=0)
    try:
        first = scheduler.stream("and god said", 400)
        next(first)
        with pytest.raises(Busy):
            scheduler.stream("darkness", 5)
        first.close()
        assert len(list(scheduler.stream("darkness", 5))) == 5
    finally:
        scheduler.close()


def test_a_burst_beyond_the_queue_is_told_to_come_back(fast):
    scheduler = Scheduler(fast, max_batch=2, max_queue=3)
    try:
        with scheduler._wake:  # the scheduler's thread waits: nobody is admitted meanwhile
            accepted = [scheduler.stream("and god", 50) for _ in range(5)]
            with pytest.raises(Busy, match="^busy, try again in a moment$"):
                scheduler.stream("and god", 50)
            with pytest.raises(Busy):
                scheduler.next_words("and god")
        assert isinstance(Busy(), WordRNNError)
        assert [len(list(s)) for s in accepted] == [50] * 5  # FIFO: every accepted one finishes
    finally:
        scheduler.close()


def test_many_client_threads_at_once(fast, scheduler):
    want = {seed: list(fast.stream("and the earth", 25, mode="top-k", k=6, seed=seed)) for seed in range(16)}
    got, errors = {}, []

    def client(seed):
        try:
            got[seed] = list(scheduler.stream("and the earth", 25, mode="top-k", k=6, seed=seed))
            assert scheduler.next_words("and the earth", 3) == fast.next_words("and the earth", 3)
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and got == want


def test_the_app_interface(fast, scheduler, monkeypatch):
    assert scheduler.vocab is fast.vocab and scheduler.device == fast.device
    assert scheduler.concurrency == 16
    assert scheduler.prompt("and god").ids == fast.prompt("and god").ids
    assert scheduler.next_words("and god said", 4) == fast.next_words("and god said", 4)
    with pytest.raises(ValueError, match="unknown mode"):
        scheduler.stream("god", mode="beam")  # settings errors come from the call, as for Generator
    monkeypatch.setenv("WORDRNN_BATCHING", "0")
    assert serve(fast) is fast
    for batching, kind in (("thread", Scheduler), ("1", Worker)):
        monkeypatch.setenv("WORDRNN_BATCHING", batching)
        served = serve(fast, max_batch=2, max_queue=2)
        try:
            assert isinstance(served, kind) and served.concurrency == 4
        finally:
            served.close()


def test_pages_update_less_often_in_a_crowd(fast):
    assert update_every(fast) == UPDATE_EVERY and update_every(fast, 0.0) == 0.0  # one stream per request
    scheduler = Scheduler(fast, max_batch=64, max_queue=64)
    try:
        assert update_every(scheduler) == UPDATE_EVERY  # a lone visitor: word by word
        with scheduler._wake:  # the scheduler's thread waits: nobody is admitted meanwhile
            streams = [scheduler.stream("and god", 5, mode="top-k", seed=n) for n in range(8 * SHARE_UPDATES)]
            assert scheduler.streams == 8 * SHARE_UPDATES
            assert update_every(scheduler) == 8 * UPDATE_EVERY
            assert update_every(scheduler, 0.0) == 0.0  # the app's "every word"
        assert [list(s) for s in streams] == [list(fast.stream("and god", 5, mode="top-k", seed=n)) for n in range(len(streams))]
        assert scheduler.streams == 0 and update_every(scheduler) == UPDATE_EVERY
    finally:
        scheduler.close()
