"""How daemons wait between steps (Waiter, Wake) and decide a failed action by the state (reach)."""

from __future__ import annotations

from typing import Any

import pytest

from fl_node.chain.client import RetryPolicy, TxReverted
from fl_node.chain.events import MAX_LOG_RANGE, Waiter
from fl_node.federation.goals import Outcome, reach
from fl_node.federation.wake import RETRY_SOON, Wake


class FakeChain:
    """Blocks appear at given times; some carry a log of the task."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.blocks: list[tuple[float, bool]] = []  # (mined at, has a task log)
        self.log_queries: list[dict[str, Any]] = []
        self.calls = 0
        self.sleeps: list[float] = []
        self.retry = RetryPolicy()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def block_number(self) -> int:
        self.calls += 1
        return sum(1 for at, _ in self.blocks if at <= self.now)

    def request(self, method: str, params: list[Any]) -> list[str]:
        """A raw JSON-RPC request: only ``eth_getLogs``, whose blocks are hex quantities."""
        assert method == "eth_getLogs"
        query = {**params[0], "fromBlock": int(params[0]["fromBlock"], 16)}
        query["toBlock"] = int(params[0]["toBlock"], 16)
        self.log_queries.append(query)
        mined = [log for at, log in self.blocks if at <= self.now]
        return ["log" for log in mined[query["fromBlock"] - 1 : query["toBlock"]] if log]


def _waiter(chain: FakeChain, **kw: Any) -> Waiter:
    return Waiter(
        chain,  # type: ignore[arg-type]
        "0xF",
        topics=[None, "0x01"],
        sleep=chain.sleep,
        clock=chain.clock,
        **kw,
    )


def test_an_event_of_the_task_wakes_the_wait_soon_after_its_block() -> None:
    chain = FakeChain()
    waiter = _waiter(chain)
    waiter.mark()
    chain.blocks = [(1_003.0, False), (1_007.0, True)]  # an unrelated block, then the task's
    assert waiter.wait() == "event"
    assert 1_007.0 <= chain.now <= 1_009.0  # at most one longest interval late
    assert [(q["fromBlock"], q["toBlock"]) for q in chain.log_queries] == [(1, 1), (2, 2)]
    assert chain.log_queries[0]["topics"] == [None, "0x01"]


def test_a_deadline_ends_the_wait_and_polls_back_off_to_the_longest_interval() -> None:
    chain = FakeChain()
    waiter = _waiter(chain, longest=2.0)
    waiter.mark()
    assert waiter.wait(until=1_025.0) == "deadline"
    assert chain.now == 1_025.0
    # a few quick looks (a burst of a round's transactions is followed closely), then one
    # cheap look every 2 s: about a request a second on average
    assert chain.sleeps[:3] == pytest.approx([0.01, 0.015, 0.0225])
    assert max(chain.sleeps) == 2.0 and chain.sleeps.count(2.0) == 9
    assert chain.calls == len(chain.sleeps) + 1 <= 25 and not chain.log_queries


def test_a_wait_without_news_ends_after_max_idle() -> None:
    chain = FakeChain()
    waiter = _waiter(chain, max_idle=30.0)
    assert waiter.wait() == "idle"  # marks the current block itself
    assert chain.now == 1_030.0


def test_events_during_the_step_are_not_missed() -> None:
    chain = FakeChain()
    waiter = _waiter(chain)
    waiter.mark()  # before the step reads the state
    chain.blocks = [(999.0, True)]  # mined while the step ran (before the wait)
    chain.now = 1_000.0
    assert waiter.wait() == "event"
    assert chain.now == pytest.approx(1_000.01)


def test_a_long_gap_or_a_chain_that_went_back_wakes_without_reading_logs() -> None:
    chain = FakeChain()
    waiter = _waiter(chain)
    waiter.seen = 5
    assert waiter.wait() == "event"  # block 0 < 5: a reset or a reorganization
    chain.blocks = [(0.0, False)] * (MAX_LOG_RANGE + 2)
    assert waiter.wait() == "event"
    assert not chain.log_queries


def test_wake_is_just_after_the_first_deadline_still_ahead() -> None:
    wake = Wake(clock=lambda: 5_000.0)
    wake.deadlines([90, 130, 0, 160], now=100)  # chain time 100 while the wall says 5000
    assert wake.at == 5_031.0  # deadline 130 passes at chain time 131
    wake.soon()
    assert wake.at == 5_000.0 + RETRY_SOON
    assert Wake(clock=lambda: 5_000.0).until() is None


def test_wake_deadline_at_the_current_second() -> None:
    wake = Wake(clock=lambda: 7.0)
    wake.deadlines([100], now=100)
    assert wake.at == 8.0


def test_wake_uses_the_fraction_of_a_second_it_knows() -> None:
    """At chain time 100.9 a deadline of 100 passes 0.1 s later (a block stamped 101), not a
    whole second later."""
    wake = Wake(clock=lambda: 7.9)
    wake.deadlines([100], now=100.9)
    assert wake.at == pytest.approx(8.0)
    past = Wake(clock=lambda: 8.0)
    past.deadlines([100], now=101.0)  # a block now can carry 101: nothing left to wait for
    assert past.at is None


# -- reach ----------------------------------------------------------------------------------------


def _reverts() -> None:
    raise TxReverted("Federation.settleStake", "reverted in block 56")


def test_an_unnamed_revert_whose_goal_is_reached_counts_as_done() -> None:
    assert reach(_reverts, lambda block: block == "latest") is Outcome.ALREADY
    assert reach(lambda: None, lambda block: False) is Outcome.SENT


def test_a_goal_reached_only_in_the_pending_block_is_looked_at_again() -> None:
    outcome = reach(_reverts, lambda block: block == "pending")
    assert outcome is Outcome.LATER and not outcome.done


def test_a_revert_the_state_says_is_not_yet_due_is_retried_later() -> None:
    seen: list[str] = []

    def later(exc: TxReverted) -> bool:
        seen.append(exc.error)
        return True

    assert reach(_reverts, lambda block: False, later) is Outcome.LATER
    assert seen == ["reverted in block 56"]


def test_a_revert_the_state_does_not_explain_is_raised() -> None:
    with pytest.raises(TxReverted, match="reverted in block 56"):
        reach(_reverts, lambda block: False, lambda exc: False)
