"""Per-round timings of a daemon, in a small JSON file of its workdir.

They answer "what share of a round's wall time does the chain add?": each daemon adds the seconds
it spent training, computing and in transactions, per round, and the aggregator stamps when each
round opened and was finalized. The report joins the files of every process.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar


class RoundStats:
    """A daemon's figures per round. Stamps are written at once; added seconds by :meth:`flush`,
    which the daemon calls after each step and which writes at most once every
    :attr:`every` seconds unless told to (a crash loses at most that much of the figures)."""

    #: Least seconds between two writes of added seconds alone.
    every: float = 1.0

    def __init__(self, path: Path):
        self.path = path
        self._dirty = False
        self._written = 0.0
        try:
            self.data: dict[str, dict[str, float]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def add(self, number: int, key: str, seconds: float) -> None:
        entry = self.data.setdefault(str(number), {})
        entry[key] = entry.get(key, 0.0) + seconds
        self._dirty = True

    def flush(self, force: bool = False) -> None:
        """Write the seconds added since the last write, if any, and if the last write is
        :attr:`every` seconds old or ``force``."""
        if self._dirty and (force or time.monotonic() - self._written >= self.every):
            self._save()

    def stamp(self, number: int, key: str) -> None:
        self.data.setdefault(str(number), {})[key] = time.time()
        self._save()

    @contextmanager
    def timed(self, number: int, key: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(number, key, time.perf_counter() - started)

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, sort_keys=True))
        os.replace(tmp, self.path)
        self._dirty = False
        self._written = time.monotonic()


class _Daemon(Protocol):
    stats: RoundStats


D = TypeVar("D", bound=_Daemon)


def flushes_stats(step: Callable[[D], bool]) -> Callable[[D], bool]:
    """A daemon's ``step`` that has its stats written after it (:meth:`RoundStats.flush`), at
    once after the last step (the one that returns True)."""

    @functools.wraps(step)
    def stepped(daemon: D) -> bool:
        done = False
        try:
            done = step(daemon)
            return done
        finally:
            daemon.stats.flush(force=done)

    return stepped


def load_all(workdir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Every ``stats-*.json`` of a workdir, by process name."""
    out = {}
    for path in sorted(workdir.glob("stats-*.json")):
        try:
            out[path.stem[len("stats-") :]] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return out


def chain_share(stats: dict[str, dict[str, dict[str, Any]]]) -> dict[int, dict[str, float]]:
    """Per round, the share of its wall time the chain adds.

    A round's wall time runs from its opening to its finalization (the aggregator's stamps). The
    work a federation without a chain would do in that time is the slowest client's training
    followed by the aggregator's verification, aggregation and scoring (``offchain_seconds``);
    everything else is what settling on a chain adds: transactions and their receipts, the
    commit, reveal and challenge windows, waiting for the chain's clock, and looking at the
    chain (``chain_seconds``, ``chain_share`` = its part of the wall time). The transactions on
    the critical path alone (the aggregator's, plus the slowest client's) are ``tx_seconds``.
    """
    agg = stats.get("aggregator", {})
    out: dict[int, dict[str, float]] = {}
    for key, entry in agg.items():
        if "opened_at" not in entry or "finalized_at" not in entry:
            continue
        wall = entry["finalized_at"] - entry["opened_at"]
        nodes = [s.get(key, {}) for name, s in stats.items() if name != "aggregator"]
        tx = entry.get("tx", 0.0) + max((n.get("tx", 0.0) for n in nodes), default=0.0)
        train = max((n.get("train", 0.0) for n in nodes), default=0.0)
        compute = entry.get("compute", 0.0)
        offchain = min(wall, train + compute) if wall > 0 else 0.0
        out[int(key)] = {
            "wall_seconds": wall,
            "tx_seconds": tx,
            "train_seconds": train,
            "compute_seconds": compute,
            "offchain_seconds": offchain,
            "chain_seconds": wall - offchain,
            "chain_share": (wall - offchain) / wall if wall > 0 else 0.0,
            "tx_share": tx / wall if wall > 0 else 0.0,
        }
    return out
