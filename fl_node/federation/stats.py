"""Per-round timings of a daemon, in a small JSON file of its workdir.

They answer "what share of a round's wall time is the chain's?": each daemon adds the seconds it
spent in transactions and in computing, per round, and the aggregator stamps when each round
opened and was finalized. The report joins the files of every process.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class RoundStats:
    def __init__(self, path: Path):
        self.path = path
        try:
            self.data: dict[str, dict[str, float]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def add(self, number: int, key: str, seconds: float) -> None:
        entry = self.data.setdefault(str(number), {})
        entry[key] = entry.get(key, 0.0) + seconds
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
    """Per round: wall seconds (opened -> finalized), transaction seconds on the critical path
    (the aggregator's, plus the slowest client's commit), and their ratio."""
    agg = stats.get("aggregator", {})
    out: dict[int, dict[str, float]] = {}
    for key, entry in agg.items():
        if "opened_at" not in entry or "finalized_at" not in entry:
            continue
        wall = entry["finalized_at"] - entry["opened_at"]
        nodes = [s.get(key, {}).get("tx", 0.0) for name, s in stats.items() if name != "aggregator"]
        tx = entry.get("tx", 0.0) + max(nodes, default=0.0)
        out[int(key)] = {
            "wall_seconds": wall,
            "tx_seconds": tx,
            "compute_seconds": entry.get("compute", 0.0),
            "chain_share": tx / wall if wall > 0 else 0.0,
        }
    return out
