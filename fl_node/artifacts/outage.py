"""How a daemon waits out a store it cannot use, without flooding its log or waiting forever.

The store may lag the chain (another machine, an eventually consistent bucket), so a failed
read or write is retried on the next step. But a store that stays unusable (read-only, down,
wrong credentials) must not be retried silently forever: the daemon says so once, then again at
a growing interval, and stops with one clear error once the window it needed the store for has
closed, or after ``patience`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fl_node.errors import ArtifactError


@dataclass
class StoreOutage:
    """Retries of one daemon's store actions.

    Call :meth:`attempt` on every step with the action the daemon would take now (or none): it
    runs the action, and on an ArtifactError notes the failure (logging at a back-off) instead of
    raising, until the window of a failing action closes (the next step asks for another action,
    or none) or ``patience`` runs out; then it raises one ArtifactError that says so.
    """

    log: Callable[[str], None]
    patience: float = 600.0
    first_notice: float = 10.0
    max_notice: float = 120.0
    clock: Callable[[], float] = time.monotonic
    _key: str | None = field(default=None, init=False)
    _since: float = field(default=0.0, init=False)
    _next_notice: float = field(default=0.0, init=False)
    _interval: float = field(default=0.0, init=False)
    _failures: int = field(default=0, init=False)
    _last: str = field(default="", init=False)

    @property
    def failing(self) -> bool:
        return self._key is not None

    def attempt(self, what: str | None, action: Callable[[], object] | None = None) -> None:
        """Run ``action`` (which needs the store), described by ``what`` ("round 3: global model
        not available yet"), which also names its window: a failure is noted, not raised, while
        the next step retries the same ``what``. ``None``: the state machine asks for nothing."""
        if self._key is not None and what != self._key:
            self._give_up("the round moved on without it")
        if what is None or action is None:
            return
        try:
            action()
        except ArtifactError as exc:
            self._failed(what, exc)
            return
        if self._key is not None:
            self.log(f"{self._key}: resolved after {self._failures} failed attempt(s)")
            self._key = None

    def _failed(self, what: str, exc: ArtifactError) -> None:
        now = self.clock()
        if self._key is None:
            self._key, self._since = what, now
            self._next_notice, self._interval, self._failures = now, self.first_notice, 0
        self._failures += 1
        self._last = str(exc)
        if now - self._since > self.patience:
            self._give_up(f"{self.patience:.0f} s passed")
        if now >= self._next_notice:
            self.log(f"{what} ({exc}); retrying, next notice in {self._interval:.0f} s")
            self._next_notice = now + self._interval
            self._interval = min(self._interval * 2, self.max_notice)

    def _give_up(self, why: str) -> None:
        waited = self.clock() - self._since
        what, failures, last = self._key, self._failures, self._last
        self._key = None
        raise ArtifactError(
            f"{what}: the store failed {failures} time(s) over {waited:.0f} s and {why}; "
            f"last error: {last}"
        )
