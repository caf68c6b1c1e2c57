"""One reader of a round for every reveal of a process waiting on it
(:mod:`fl_node.flower.watch`): the waiting threads share its readings, a reader's failure is its
own, every wait keeps its caller's limit, and a process keeps watches of recent rounds only."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from fl_node.errors import ChainError
from fl_node.flower.watch import KEEP_BEHIND, RoundWatch, RoundWatches


@dataclass
class FakeWaiter:
    """A waiter woken by :meth:`news` (or its caller's limit), counting its waits."""

    longest: float = 2.0
    waits: int = 0
    marks: int = 0
    waiting: threading.Event = field(default_factory=threading.Event)  # a wait has begun
    _news: threading.Event = field(default_factory=threading.Event)

    def mark(self) -> None:
        self.marks += 1

    def wait(self, until: float | None = None) -> str:
        self.waits += 1
        self.waiting.set()
        left = None if until is None else max(0.0, until - time.time())
        woke = self._news.wait(left)
        self._news.clear()
        return "event" if woke else "deadline"

    def news(self) -> None:
        self._news.set()


@dataclass
class FakeApi:
    """A task whose round reads return their own count (or raise ``fail`` once)."""

    task_id: int = 1
    reads: int = 0
    fail: Exception | None = None
    delay: float = 0.0
    the_waiter: FakeWaiter = field(default_factory=FakeWaiter)
    reading: threading.Event = field(default_factory=threading.Event)  # a read has begun

    def waiter(self) -> FakeWaiter:
        return self.the_waiter

    def round(self, number: int) -> Any:
        self.reading.set()
        time.sleep(self.delay)
        if self.fail is not None:
            failure, self.fail = self.fail, None
            raise failure
        self.reads += 1
        return ("round", number, self.reads)


def watch_of(api: FakeApi, number: int = 3) -> RoundWatch:
    return RoundWatch(api, number)  # type: ignore[arg-type]


def test_the_first_look_reads_the_round_and_a_later_one_shares_it() -> None:
    api = FakeApi()
    watch = watch_of(api)
    first = watch.next(None, time.time() + 1, 0.05)
    assert first.version == 1 and first.info == ("round", 3, 1)
    # a thread that has not seen any reading gets the newest one, without a read of its own
    assert watch.next(None, time.time() + 1, 0.05) is first
    assert api.reads == 1 and api.the_waiter.waits == 0


def test_a_newer_reading_comes_after_the_task_s_next_event() -> None:
    api = FakeApi()
    watch = watch_of(api)
    first = watch.next(None, time.time() + 5, 0.05)
    started = time.monotonic()
    threading.Timer(0.1, api.the_waiter.news).start()
    second = watch.next(first.version, time.time() + 5, 0.05)
    assert second.version == 2 and second.info == ("round", 3, 2)
    assert 0.09 < time.monotonic() - started < 4  # woken by the event, not the 5-s limit
    assert api.the_waiter.waits == 1 and api.the_waiter.marks == 2  # marked before each read


def test_many_waiting_threads_share_one_read_per_event() -> None:
    api = FakeApi()
    watch = watch_of(api)
    first = watch.next(None, time.time() + 5, 0.05)
    got: list[int] = []
    lock = threading.Lock()

    def wait_once() -> None:
        reading = watch.next(first.version, time.time() + 5, 0.05)
        with lock:
            got.append(reading.version)

    threads = [threading.Thread(target=wait_once) for _ in range(12)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # every thread waits: one on the task's events, the others on its reading
    api.the_waiter.news()
    for t in threads:
        t.join(5)
    assert sorted(got) == [2] * 12
    assert api.reads == 2  # the first reading and one for all twelve threads
    assert watch.reads == 2


def test_a_waiting_thread_returns_at_its_own_limit_with_what_it_had() -> None:
    api = FakeApi()
    watch = watch_of(api)
    first = watch.next(None, time.time() + 5, 0.05)
    reader = threading.Thread(target=watch.next, args=(first.version, time.time() + 1.5, 0.05))
    reader.start()
    assert api.the_waiter.waiting.wait(5)  # the reader waits for news until 1.5 s from now
    started = time.monotonic()
    again = watch.next(first.version, time.time() + 0.2, 0.05)
    assert again is first  # nothing newer within its own limit: the same reading
    assert time.monotonic() - started < 1.0
    reader.join(5)
    assert api.reads == 2  # the reader read once its own limit passed


def test_a_reader_s_failure_is_its_own_and_the_next_caller_reads() -> None:
    api = FakeApi(fail=ChainError("the node is down"))
    watch = watch_of(api)
    with pytest.raises(ChainError, match="the node is down"):
        watch.next(None, time.time() + 1, 0.05)
    reading = watch.next(None, time.time() + 1, 0.05)
    assert reading.version == 1 and api.reads == 1


def test_a_thread_waits_for_the_first_reading_another_thread_is_making() -> None:
    api = FakeApi(delay=0.3)
    watch = watch_of(api)
    reader = threading.Thread(target=watch.next, args=(None, time.time() + 5, 0.05))
    reader.start()
    assert api.reading.wait(5)  # the other thread is reading
    # past its own limit already, but there is nothing to return yet: it waits for the reading
    reading = watch.next(None, time.time() - 1, 0.05)
    reader.join(5)
    assert reading.version == 1 and api.reads == 1


def test_a_process_keeps_one_watch_per_round_and_drops_old_rounds() -> None:
    api, other = FakeApi(task_id=1), FakeApi(task_id=2)
    watches = RoundWatches()
    first = watches.of(api, 1)  # type: ignore[arg-type]
    assert watches.of(api, 1) is first  # type: ignore[arg-type]
    theirs = watches.of(other, 1)  # type: ignore[arg-type]
    assert theirs is not first  # another task, another watch
    watches.of(api, 1 + KEEP_BEHIND)  # type: ignore[arg-type]
    assert watches.of(api, 1) is first  # type: ignore[arg-type]  # still kept
    watches.of(api, 2 + KEEP_BEHIND)  # type: ignore[arg-type]
    assert watches.of(api, 1) is not first  # type: ignore[arg-type]  # dropped, made again
    assert watches.of(other, 1) is theirs  # type: ignore[arg-type]  # other tasks untouched
    # bindings made again (a changed deployment file) get a watch of their own
    renewed = FakeApi(task_id=1)
    assert watches.of(renewed, 2 + KEEP_BEHIND).api is renewed  # type: ignore[arg-type]
