"""One reader of a round's state for every reveal of a process that waits on it.

A settled client's train message replies once its update is committed; a thread of the ClientApp's
process then waits until reveals open (every participant committed, or the commit window ended)
and reveals (:mod:`fl_node.flower.client`). On Flower's simulation engine an actor process runs the
train messages of many nodes, so many such threads wait on the same round at once. Each used to
poll the chain for new blocks, read their logs and read the round again on every commit: with N
threads waiting, N times the requests, and N threads taking the interpreter's lock from the
message the actor is running.

A :class:`RoundWatch` is shared by the threads of a process that wait on one round of one task. At
any moment one of them (the reader) waits for the task's next event and reads the round; the others
sleep until it publishes what it read, or their own time is up. A reader's failure is its own
(the others take the reading over at their next call), and every wait has the caller's limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fl_node.federation.protocol import FederationApi, RoundState

#: Rounds of a task kept watched behind its newest: a reveal of the round before may still wait.
KEEP_BEHIND = 2


@dataclass(frozen=True)
class Reading:
    """Round state as read, with the count of readings before it (a newer one has a higher
    ``version``)."""

    version: int
    info: RoundState


class RoundWatch:
    """Round ``number`` of ``api``'s task, read by one waiting thread at a time for all of them."""

    def __init__(
        self, api: FederationApi, number: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.api = api
        self.number = number
        self.clock = clock
        self.reads = 0  # the round's reads from the chain (the number of readings published)
        self._cond = threading.Condition()
        self._latest: Reading | None = None
        self._reading = False
        self._waiter = api.waiter()

    def next(self, after: int | None, until: float, poll: float) -> Reading:
        """A reading newer than version ``after`` (``None``: any reading, read now if there is
        none). Waits for the task's next event at most until ``until`` (a ``time.time()``
        value), polling ``poll`` seconds apart at most; then returns the newest reading, which
        may be version ``after`` again when nothing new came."""
        with self._cond:
            while True:
                latest = self._latest
                if latest is not None and (after is None or latest.version > after):
                    return latest
                if not self._reading:
                    self._reading = True
                    break
                left = until - self.clock()
                if left <= 0:
                    if latest is not None:
                        return latest
                    left = poll  # nothing read yet: wait for the reader's first reading
                self._cond.wait(left)
        info: RoundState | None = None
        try:
            if latest is not None:  # this thread read before: wait for news first
                self._waiter.longest = poll
                self._waiter.wait(until)
            self._waiter.mark()  # before the read: an event mined after it wakes the next wait
            info = self.api.round(self.number)
        finally:
            with self._cond:
                self._reading = False
                if info is not None:
                    self.reads += 1
                    version = latest.version + 1 if latest is not None else 1
                    self._latest = Reading(version, info)
                self._cond.notify_all()
        assert self._latest is not None
        return self._latest


@dataclass
class RoundWatches:
    """A process's round watches, by task and round (each made once; old rounds dropped)."""

    _watches: dict[tuple[int, int], RoundWatch] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, api: FederationApi, number: int) -> RoundWatch:
        """The watch of round ``number`` of ``api``'s task (a watch of a newer round drops those
        more than :data:`KEEP_BEHIND` rounds behind it)."""
        key = (api.task_id, number)
        with self._lock:
            watch = self._watches.get(key)
            if watch is None or watch.api is not api:
                watch = self._watches[key] = RoundWatch(api, number)
                for task, old in list(self._watches):
                    if task == api.task_id and old < number - KEEP_BEHIND:
                        del self._watches[(task, old)]
            return watch

    def __len__(self) -> int:
        return len(self._watches)
