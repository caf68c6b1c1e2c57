"""A daemon's per-round figures: stamps on disk at once, added seconds at a flush (at most once a
second, or when told: the daemon's last step)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fl_node.federation.stats import RoundStats


def on_disk(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def test_added_seconds_reach_the_file_at_the_flush_and_add_up(tmp_path: Path) -> None:
    path = tmp_path / "stats-node.json"
    stats = RoundStats(path)
    stats.add(1, "tx", 0.25)
    stats.add(1, "tx", 0.5)
    assert on_disk(path) == {}  # not yet: not one write per transaction
    stats.flush()
    assert on_disk(path) == {"1": {"tx": 0.75}}
    assert RoundStats(path).data == {"1": {"tx": 0.75}}  # a restarted daemon goes on from it


def test_flushes_within_a_second_of_a_write_wait_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "stats-node.json"
    stats = RoundStats(path)
    stats.add(1, "tx", 1.0)
    stats.flush()
    stats.add(1, "tx", 1.0)
    stats.flush()  # the last write is fresh: this one waits
    assert on_disk(path) == {"1": {"tx": 1.0}}
    stats.flush(force=True)  # the daemon's last step
    assert on_disk(path) == {"1": {"tx": 2.0}}
    stats.add(2, "train", 0.5)
    stats._written -= stats.every  # a second later
    stats.flush()
    assert on_disk(path)["2"] == {"train": 0.5}


def test_a_stamp_is_written_at_once_with_what_was_added_before(tmp_path: Path) -> None:
    path = tmp_path / "stats-aggregator.json"
    stats = RoundStats(path)
    stats.add(2, "compute", 1.0)
    stats.stamp(2, "opened_at")
    written = on_disk(path)
    assert written["2"]["compute"] == 1.0 and written["2"]["opened_at"] > 0


def test_a_flush_with_nothing_added_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "stats-node.json"
    RoundStats(path).flush()
    assert not path.exists()


def test_a_daemons_last_step_writes_its_seconds_at_once(tmp_path: Path) -> None:
    from fl_node.federation.stats import flushes_stats

    class Daemon:
        def __init__(self) -> None:
            self.stats = RoundStats(tmp_path / "stats-node.json")
            self.left = 2

        @flushes_stats
        def step(self) -> bool:
            self.stats.add(1, "tx", 1.0)
            self.left -= 1
            if self.left < 0:
                raise RuntimeError("a failing step")
            return self.left == 0

    daemon = Daemon()
    assert daemon.step() is False
    assert on_disk(daemon.stats.path) == {"1": {"tx": 1.0}}  # the first write
    assert daemon.step() is True  # the last step: written although the last write is fresh
    assert on_disk(daemon.stats.path) == {"1": {"tx": 2.0}}
    with pytest.raises(RuntimeError):
        daemon.step()
    assert daemon.stats.data["1"]["tx"] == 3.0  # kept, written at the next flush
