"""The in-process runtime skips waits for the chain's clock: when a whole pass of the daemons sent
no transaction, the simulation's chain jumps to the earliest time a daemon waits for."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from fl_node.federation.protocol import Phase, TaskStatus
from fl_node.simulation.localfed import InProcessRuntime, Progress, jump_seconds


def test_the_jump_goes_to_the_earliest_look_ahead() -> None:
    assert jump_seconds([105.2, None, 103.5], now=100.0, max_jump=600) == 4
    assert jump_seconds([100.5], now=100.0, max_jump=600) == 1


@pytest.mark.parametrize(
    "looks",
    [[], [None, None], [99.0, 130.0], [100.0]],
    ids=["no-daemon", "events-only", "one-due-now", "due-exactly-now"],
)
def test_no_jump_when_nothing_waits_ahead(looks: list[float | None]) -> None:
    assert jump_seconds(looks, now=100.0, max_jump=600) == 0


def test_no_jump_beyond_the_limit() -> None:
    """A claim deadline a week away is not jumped to: claim windows would close."""
    assert jump_seconds([100.0 + 7 * 86400], now=100.0, max_jump=600) == 0


@dataclass
class FakeChain:
    blocks: int = 0
    offset: int = 0
    jumps: list[int] = field(default_factory=list)

    def block(self) -> int:
        return self.blocks

    def advance(self, seconds: int) -> None:
        self.jumps.append(seconds)
        self.offset += seconds
        self.blocks += 1

    def now(self) -> float:
        return time.time() + self.offset


@dataclass
class WaitsForDeadline:
    """Acts (one transaction) once the chain's clock passes ``deadline`` (seconds from start)."""

    chain: FakeChain
    deadline: float
    start: float = field(default_factory=time.time)
    acted: bool = False

    def step(self) -> bool:
        if self.chain.now() >= self.start + self.deadline:
            self.chain.blocks += 1  # its transaction
            self.acted = True
            return True
        return False

    def next_look(self) -> float | None:
        return time.time() + (self.start + self.deadline - self.chain.now())


@dataclass
class WaitsForEvent:
    chain: FakeChain
    steps: int = 0

    def step(self) -> bool:
        self.steps += 1
        return self.chain.blocks >= 2  # the jump, then the deadline-waiter's transaction

    def next_look(self) -> float | None:
        return None


def _progress() -> Progress:
    return Progress(1, Phase.COMMIT, 0, TaskStatus.ACTIVE)


def test_an_idle_federation_jumps_to_its_deadline_instead_of_waiting() -> None:
    chain = FakeChain()
    waiting = WaitsForDeadline(chain, deadline=30.0)
    other = WaitsForEvent(chain)
    runtime = InProcessRuntime([other, waiting], idle_sleep=0.0, clock=chain)
    started = time.monotonic()
    runtime.run(_progress, timeout=10.0)
    assert waiting.acted and time.monotonic() - started < 5.0  # not 30 s of real time
    assert chain.jumps and sum(chain.jumps) in (30, 31)


def test_a_pass_that_sent_a_transaction_does_not_jump() -> None:
    chain = FakeChain()
    runtime = InProcessRuntime([WaitsForDeadline(chain, deadline=0.0)], clock=chain)
    runtime.run(_progress, timeout=10.0)
    assert chain.jumps == []


def test_without_a_clock_time_is_real() -> None:
    chain = FakeChain()
    waiting = WaitsForDeadline(chain, deadline=0.3)
    InProcessRuntime([waiting], idle_sleep=0.01).run(_progress, timeout=10.0)
    assert waiting.acted and chain.jumps == [] and chain.offset == 0


@dataclass
class SendsEveryStep:
    """Sends one transaction per step for ``steps`` steps, then is done."""

    chain: FakeChain
    steps: int
    taken: int = 0

    def step(self) -> bool:
        self.taken += 1
        self.chain.blocks += 1
        return self.taken >= self.steps

    def next_look(self) -> float | None:
        return None


def test_a_pass_that_moved_the_chain_is_followed_without_sleeping(monkeypatch) -> None:
    chain = FakeChain()
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    InProcessRuntime([SendsEveryStep(chain, 5)], idle_sleep=0.05, clock=chain).run(
        _progress, timeout=10.0
    )
    assert sleeps == []


def test_an_idle_pass_sleeps_when_nothing_is_ahead(monkeypatch) -> None:
    chain = FakeChain()
    other = WaitsForEvent(chain)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        chain.blocks += 1  # someone else's transaction while it slept

    monkeypatch.setattr(time, "sleep", sleep)
    InProcessRuntime([other], idle_sleep=0.05, clock=chain).run(_progress, timeout=10.0)
    assert sleeps == [0.05, 0.05]
