"""When a daemon looks at the chain again: gathered during a step, used by its wait.

A step notes the deadlines of the state it read (chain timestamps: a call gated by a deadline is
valid once a block's timestamp is past it) and whether something failed that is worth retrying
soon (a lagging store, a competing transaction still pending). The daemon then sleeps until the
earliest of these, or until an event of its task is mined (:class:`~fl_node.chain.events.Waiter`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

#: Seconds to the next look when a step left something to retry rather than to wait for.
RETRY_SOON = 1.0


@dataclass
class Wake:
    """The earliest wall-clock time (``time.time()``) a daemon has a reason to look again."""

    at: float | None = None
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def deadlines(self, deadlines: Iterable[int], now: float) -> None:
        """Deadlines of the chain, read when its time was ``now`` (fractional when known: see
        :meth:`~fl_node.federation.protocol.FederationApi.exact_now`): look again when the first
        one still ahead has passed, i.e. when a block can carry the timestamp ``deadline + 1``
        (those already past were acted on by the step)."""
        wall = self.clock()
        for deadline in deadlines:
            ahead = deadline + 1 - now
            if ahead > 0:
                self._earliest(wall + ahead)

    def soon(self, seconds: float = RETRY_SOON) -> None:
        """Something is to be retried: look again in ``seconds``."""
        self._earliest(self.clock() + seconds)

    def until(self, stop: float | None = None) -> float | None:
        """The time to wait until, also bounded by ``stop`` (a ``time.monotonic()`` value)."""
        at = self.at
        if stop is not None:
            limit = self.clock() + (stop - time.monotonic())
            at = limit if at is None else min(at, limit)
        return at

    def _earliest(self, at: float) -> None:
        if self.at is None or at < self.at:
            self.at = at
