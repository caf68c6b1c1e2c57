"""A daemon waits out an unusable store with few log lines and a bounded wait, and a client keeps
its own upload in place until the round is posted."""

from __future__ import annotations

from pathlib import Path

import pytest

from fl_node.artifacts.outage import StoreOutage
from fl_node.artifacts.store import ArtifactStore
from fl_node.errors import ArtifactError
from fl_node.federation.storage import UploadKeeper, keep_uploaded

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
WHAT = "round 1: global model not available yet"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def failing() -> None:
    raise ArtifactError("no blob 0xab of 0xcd in store s3://bucket")


def test_an_outage_is_logged_once_then_at_a_growing_interval() -> None:
    clock, lines = Clock(), []
    outage = StoreOutage(lines.append, patience=3600, clock=clock)
    for _ in range(450):  # 90 s of steps every 0.2 s: the node logged 162 lines here before
        outage.attempt(WHAT, failing)
        clock.now += 0.2
    assert outage.failing
    assert len(lines) == 4  # at 0, 10, 30 and 70 s (the next at 150 s)
    assert lines[0].startswith(WHAT) and "no blob 0xab" in lines[0]
    assert "next notice in 10 s" in lines[0] and "next notice in 80 s" in lines[-1]


def test_the_interval_is_capped() -> None:
    clock, lines = Clock(), []
    outage = StoreOutage(lines.append, patience=10**6, max_notice=60, clock=clock)
    for _ in range(1000):
        outage.attempt(WHAT, failing)
        clock.now += 1
    assert "next notice in 60 s" in lines[-1]
    assert len(lines) <= 4 + 1000 // 60 + 1


def test_recovery_is_logged_and_resets() -> None:
    clock, lines = Clock(), []
    outage = StoreOutage(lines.append, clock=clock)
    outage.attempt(WHAT, failing)
    done = []
    outage.attempt(WHAT, lambda: done.append(1))
    assert done == [1] and not outage.failing
    assert lines[-1] == f"{WHAT}: resolved after 1 failed attempt(s)"
    outage.attempt(None)  # nothing pending: no error
    outage.attempt(WHAT, failing)
    assert len(lines) == 3  # a new outage is announced again


def test_it_gives_up_when_the_round_moved_on() -> None:
    clock = Clock()
    outage = StoreOutage(lambda _m: None, clock=clock)
    outage.attempt(WHAT, failing)
    clock.now = 61
    with pytest.raises(ArtifactError) as err:
        outage.attempt(None)  # the commit window closed: the node asks for nothing now
    message = str(err.value)
    assert message.startswith(WHAT) and "the round moved on without it" in message
    assert "1 time(s) over 61 s" in message and "last error: no blob 0xab" in message
    assert "\n" not in message
    assert not outage.failing


def test_it_gives_up_when_another_action_is_asked_for() -> None:
    outage = StoreOutage(lambda _m: None, clock=Clock())
    outage.attempt(WHAT, failing)
    with pytest.raises(ArtifactError, match="moved on"):
        outage.attempt("round 2: global model not available yet", lambda: None)


def test_it_gives_up_after_its_patience() -> None:
    clock = Clock()
    outage = StoreOutage(lambda _m: None, patience=30, clock=clock)
    while clock.now <= 30:
        outage.attempt(WHAT, failing)
        clock.now += 1
    with pytest.raises(ArtifactError, match="30 s passed"):
        outage.attempt(WHAT, failing)


def test_other_errors_are_not_swallowed() -> None:
    outage = StoreOutage(lambda _m: None, clock=Clock())
    with pytest.raises(ZeroDivisionError):
        outage.attempt(WHAT, lambda: 1 / 0)


# -- a client's own upload -----------------------------------------------------------------------
def test_keep_uploaded_restores_a_missing_or_altered_upload(tmp_path: Path) -> None:
    store, said = ArtifactStore(str(tmp_path)), []
    digest = store.put(b"my update", owner=ALICE)
    path = tmp_path / "participants" / ALICE / "blobs" / digest[2:]
    assert keep_uploaded(store, b"my update", ALICE, said.append) is False
    assert said == []
    path.write_bytes(b"overwritten")
    assert keep_uploaded(store, b"my update", ALICE, said.append) is True
    assert path.read_bytes() == b"my update"
    path.unlink()
    assert keep_uploaded(store, b"my update", ALICE, said.append) is True
    assert path.read_bytes() == b"my update"
    assert len(said) == 2 and f"{digest[:10]} was missing or altered" in said[0]


def test_the_keeper_checks_each_round_at_most_every_few_seconds(tmp_path: Path) -> None:
    store, clock, made = ArtifactStore(str(tmp_path)), Clock(), []

    def blob() -> bytes:
        made.append(1)
        return b"round 1 update"

    keeper = UploadKeeper(store, ALICE, lambda _m: None, every=5.0, clock=clock)
    assert keeper.keep(1, blob) is True  # not there yet: uploaded
    clock.now = 4.9
    store_path = next((tmp_path / "participants" / ALICE / "blobs").iterdir())
    store_path.unlink()
    assert keeper.keep(1, blob) is False and len(made) == 1  # not due yet
    clock.now = 5.0
    assert keeper.keep(1, blob) is True and store_path.exists()
    assert keeper.keep(2, blob) is False  # another round is checked on its own schedule
