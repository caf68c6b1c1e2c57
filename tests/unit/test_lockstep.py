"""The lockstep of the in-process runtime: steps in threads, one at a time in the daemons' order,
switching only where a step waits for its transaction's block; one block mines every waiting
transaction; automining off only while a pass has transactions pending."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from fl_node.errors import FlNodeError
from fl_node.federation.protocol import Phase, TaskStatus
from fl_node.simulation.localfed import InProcessRuntime, Progress
from fl_node.simulation.lockstep import Lockstep


@dataclass
class FakeMiner:
    """A chain whose pending transactions a block mines; it records every call in ``log``."""

    log: list[str]
    automining: bool = True
    pending: list[str] = field(default_factory=list)
    blocks: list[list[str]] = field(default_factory=list)

    def automine(self, on: bool) -> None:
        self.automining = on
        self.log.append(f"automine {on}")

    def mine(self) -> list[dict[str, str]]:
        self.blocks.append(self.pending)
        self.pending = []
        self.log.append("mine")
        return [
            {"transactionHash": f"0x{tx}", "block": str(len(self.blocks))} for tx in self.blocks[-1]
        ]


def sender(lock: Lockstep, miner: FakeMiner, name: str, txs: int, done: bool = True) -> Callable:
    """A step that sends ``txs`` transactions one after the other, as ChainClient does under a
    block producer (broadcast, then wait for the block)."""

    def step() -> bool:
        for i in range(txs):
            assert lock.takes_next_send()
            miner.log.append(f"{name} sends {i}")
            miner.pending.append(f"{name}{i}")
            receipt = lock.wait_mined(f"0x{name}{i}")
            assert receipt is not None and receipt["transactionHash"] == f"0x{name}{i}"
            miner.log.append(f"{name} mined {i} in block {receipt['block']}")
        return done

    return step


def test_steps_take_turns_in_order_and_one_block_mines_every_waiting_transaction() -> None:
    log: list[str] = []
    miner = FakeMiner(log)
    with Lockstep(miner) as lock:
        results = lock.run_pass(
            [
                sender(lock, miner, "a", 2),
                sender(lock, miner, "b", 1, done=False),
                sender(lock, miner, "c", 0),
            ]
        )
    assert results == [True, False, True]
    assert miner.blocks == [["a0", "b0"], ["a1"]]  # two blocks, not three
    assert log == [
        "automine False",  # the pass's first transaction stops automining
        "a sends 0",
        "b sends 0",
        "mine",
        "a mined 0 in block 1",
        "a sends 1",
        "b mined 0 in block 1",
        "mine",
        "a mined 1 in block 2",
        "automine True",
    ]
    assert lock.blocks == 2


def test_the_same_steps_give_the_same_order_every_time() -> None:
    orders = []
    for _ in range(5):
        log: list[str] = []
        miner = FakeMiner(log)
        with Lockstep(miner) as lock:
            for _pass in range(3):
                lock.run_pass([sender(lock, miner, n, 2) for n in "abcdef"])
        orders.append(log)
    assert all(order == orders[0] for order in orders)


def test_a_pass_without_transactions_leaves_automining_on() -> None:
    log: list[str] = []
    with Lockstep(FakeMiner(log)) as lock:
        assert lock.run_pass([lambda: True, lambda: False]) == [True, False]
    assert log == []


def test_a_thread_outside_the_passes_sends_as_usual() -> None:
    with Lockstep(FakeMiner([])) as lock:
        assert not lock.takes_next_send()  # the main thread (an aggregator, a market)
        assert lock.block_epoch() is None  # and cannot know whether a block was mined


def test_the_block_epoch_moves_with_every_block_and_every_pass() -> None:
    miner = FakeMiner([])
    seen: list[tuple[str, object]] = []

    def step(name: str, txs: int) -> Callable[[], bool]:
        def run() -> bool:
            seen.append((name, lock.block_epoch()))
            for i in range(txs):
                assert lock.takes_next_send()
                miner.pending.append(f"{name}{i}")
                lock.wait_mined(f"0x{name}{i}")
                seen.append((name, lock.block_epoch()))
            return True

        return run

    with Lockstep(miner) as lock:
        lock.run_pass([step("a", 1), step("b", 0)])
        lock.run_pass([step("c", 0)])
    (a0, e0), (b0, f0), (a1, e1), (c0, g0) = seen
    assert (a0, b0, a1, c0) == ("a", "b", "a", "c")
    assert e0 == f0  # no block between: the same latest block
    assert e1 != e0  # a block was mined
    assert g0 not in (e0, e1)  # a new pass: blocks may have been mined between passes


def test_a_block_without_the_transaction_hands_back_no_receipt() -> None:
    miner = FakeMiner([])
    got: list[object] = []

    def step() -> bool:
        assert lock.takes_next_send()
        got.append(lock.wait_mined("0xnot-sent"))  # the block holds nothing of this thread's
        return True

    with Lockstep(miner) as lock:
        lock.run_pass([step])
    assert got == [None]


def test_a_failing_step_is_raised_after_every_other_step_ended() -> None:
    log: list[str] = []
    miner = FakeMiner(log)

    def fails() -> bool:
        raise ValueError("broken step")

    with Lockstep(miner) as lock:
        with pytest.raises(ValueError, match="broken step"):
            lock.run_pass([fails, sender(lock, miner, "b", 1)])
        assert log[-2:] == ["b mined 0 in block 1", "automine True"]
        assert lock.run_pass([sender(lock, miner, "a", 1)]) == [True]  # the threads go on


def test_a_pass_that_fails_midway_unwinds_its_waiting_steps_and_the_next_pass_runs() -> None:
    unwound: list[str] = []
    stuck = FakeWork()  # never finishes

    def waits_for_a_block() -> bool:
        assert lock.takes_next_send()
        try:
            lock.wait_mined("0xa")
        finally:
            unwound.append("a")
        return True

    with Lockstep(FakeMiner([]), turn_timeout=0.2) as lock:
        with pytest.raises(FlNodeError, match=r"work outside its turn took over 0\.2 s"):
            lock.run_pass([waits_for_a_block, trainer(lock, FakeMiner([]), "b", stuck)])
        assert unwound == ["a"]  # the step left waiting for its block ran its finally
        miner = FakeMiner([])
        lock.miner = miner
        assert lock.run_pass([sender(lock, miner, "c", 1)]) == [True]
        assert miner.blocks == [["c0"]]


def test_only_the_step_holding_the_turn_is_scheduled_by_the_pass() -> None:
    seen: list[object] = []

    def step() -> bool:
        other = threading.Thread(target=lambda: seen.append(lock.takes_next_send()))
        other.start()
        other.join()  # another thread, while this step holds the turn: sends as usual
        seen.append(lock.block_epoch() is not None)
        return True

    with Lockstep(FakeMiner([])) as lock:
        lock.run_pass([step])
        with pytest.raises(FlNodeError, match="wait_mined is for the steps of a lockstep pass"):
            lock.wait_mined("0xa")
    assert seen == [False, True]


@dataclass
class Daemon:
    """A steppable that is done after ``steps`` steps, recording them in ``log``."""

    name: str
    steps: int
    log: list[str]
    taken: int = 0

    def step(self) -> bool:
        self.taken += 1
        self.log.append(f"{self.name}{self.taken}")
        return self.taken >= self.steps

    def next_look(self) -> float | None:
        return None


def test_the_runtime_steps_the_clients_together_then_the_aggregator() -> None:
    log: list[str] = []
    daemons = [Daemon("a", 2, log), Daemon("b", 1, log), Daemon("agg", 3, log)]
    progress = Progress(round=0, phase=Phase.NONE, finalized=0, status=TaskStatus.ACTIVE)
    with Lockstep(FakeMiner([])) as lock:
        InProcessRuntime(daemons, idle_sleep=0.0, together=lock).run(lambda: progress, 10.0)
    assert log == ["a1", "b1", "agg1", "a2", "agg2", "agg3"]


# -- work handed out of the turn-taking (training in a worker process) ---------------------------
@dataclass
class FakeWork:
    """Work another process does: done when ``finish`` is called (by the test, on any thread)."""

    value: object = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def finish(self) -> None:
        self.done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def result(self) -> object:
        if self.error is not None:
            raise self.error
        return self.value


def trainer(lock: Lockstep, miner: FakeMiner, name: str, work: FakeWork) -> Callable[[], bool]:
    """A step that hands its training out, then sends one transaction with what came back."""

    def step() -> bool:
        miner.log.append(f"{name} trains")
        got = lock.wait_for(work)
        miner.log.append(f"{name} back with {got}")
        assert lock.takes_next_send()
        miner.pending.append(name)
        lock.wait_mined(f"0x{name}")
        return True

    return step


def test_a_step_handing_work_out_lets_the_next_run_and_takes_its_turn_back_in_order() -> None:
    log: list[str] = []
    miner = FakeMiner(log)
    works = {n: FakeWork(value=n.upper()) for n in "abc"}
    for work in works.values():
        work.finish()
    with Lockstep(miner, ahead=1) as lock:
        lock.run_pass([trainer(lock, miner, n, works[n]) for n in "abc"])
    assert log == [
        "a trains",
        "b trains",  # two steps' work out: more than ``ahead``, so a takes its turn back
        "a back with A",
        "automine False",
        "c trains",
        "b back with B",
        "c back with C",
        "mine",
        "automine True",
    ]
    assert miner.blocks == [["a", "b", "c"]]  # one block, in the clients' order


def test_the_order_does_not_depend_on_when_the_work_finishes() -> None:
    orders = []
    for delays in ([0.0, 0.0, 0.0, 0.0], [0.08, 0.0, 0.04, 0.0], [0.0, 0.06, 0.0, 0.09]):
        log: list[str] = []
        miner = FakeMiner(log)
        works = [FakeWork(value=i) for i in range(4)]
        for work, delay in zip(works, delays, strict=True):
            threading.Timer(delay, work.finish).start()
        with Lockstep(miner, ahead=2) as lock:
            lock.run_pass([trainer(lock, miner, n, w) for n, w in zip("abcd", works, strict=True)])
        orders.append((log, miner.blocks))
        time.sleep(0.1)
    assert all(order == orders[0] for order in orders)
    assert orders[0][1] == [["a", "b", "c", "d"]]


def test_work_waited_for_outside_a_pass_is_just_waited_for() -> None:
    work = FakeWork(value=7)
    work.finish()
    with Lockstep(FakeMiner([])) as lock:
        assert lock.wait_for(work) == 7  # the main thread (an aggregator): no turn to give


def test_failed_work_fails_its_step_after_the_other_steps_ended() -> None:
    log: list[str] = []
    miner = FakeMiner(log)
    bad = FakeWork(error=ValueError("training broke"))
    good = FakeWork(value="B")
    bad.finish()
    good.finish()
    with Lockstep(miner) as lock, pytest.raises(ValueError, match="training broke"):
        lock.run_pass([trainer(lock, miner, "a", bad), trainer(lock, miner, "b", good)])
    assert miner.blocks == [["b"]]


def test_work_that_never_finishes_ends_the_pass_with_a_clear_error() -> None:
    work = FakeWork()
    with Lockstep(FakeMiner([]), turn_timeout=0.2) as lock:
        with pytest.raises(FlNodeError, match=r"work outside its turn took over 0\.2 s"):
            lock.run_pass([trainer(lock, FakeMiner([]), "a", work)])
        work.finish()


# -- reads gathered from the steps ---------------------------------------------------------------
@dataclass
class FakeReader:
    """Answers each read ``method(params)`` with that text; records every batch asked (into the
    miner's log too), and raises ``error`` once when set."""

    log: list[str]
    batches: list[list[tuple[str, list[Any]]]] = field(default_factory=list)
    error: Exception | None = None

    def answers(self, requests_: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        self.batches.append(list(requests_))
        self.log.append(f"read {len(requests_)}")
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return [{"result": f"{m}{p}"} for m, p in requests_]


def reader_step(lock: Lockstep, log: list[str], name: str, asks: list[list[str]]) -> Callable:
    """A step that reads each group of ``asks`` in turn (a group is one gather), then ends."""

    def step() -> bool:
        for group in asks:
            got = lock.gather([(a, [name] if a == "own" else []) for a in group])
            assert got is not None
            log.append(f"{name} got {[g['result'] for g in got]}")
        return True

    return step


def test_the_steps_reads_are_asked_in_one_batch_once_each_and_answered_in_order() -> None:
    log: list[str] = []
    reader = FakeReader(log)
    with Lockstep(FakeMiner(log), reader=reader) as lock:
        results = lock.run_pass(
            [
                reader_step(lock, log, "a", [["task", "own"], ["own"]]),
                reader_step(lock, log, "b", [["task", "own"]]),
            ]
        )
    assert results == [True, True]
    # one batch for what both asked first (the shared read once), one for a's second read
    assert reader.batches == [[("task", []), ("own", ["a"]), ("own", ["b"])], [("own", ["a"])]]
    assert log == [
        "read 3",
        "a got ['task[]', \"own['a']\"]",
        "b got ['task[]', \"own['b']\"]",
        "read 1",
        "a got [\"own['a']\"]",
    ]
    assert lock.reads == 2


def test_without_a_reader_or_outside_a_pass_nothing_is_gathered() -> None:
    with Lockstep(FakeMiner([])) as lock:
        assert lock.run_pass([lambda: lock.gather([("task", [])]) is None]) == [True]
    with Lockstep(FakeMiner([]), reader=FakeReader([])) as lock:
        assert lock.gather([("task", [])]) is None  # the main thread asks on its own


def test_a_failed_batch_is_every_askers_error_and_the_next_reads_go_on() -> None:
    log: list[str] = []
    reader = FakeReader(log, error=ConnectionError("the node went away"))
    caught: list[str] = []

    def asker(name: str) -> Callable[[], bool]:
        def step() -> bool:
            try:
                lock.gather([("task", [])])
            except ConnectionError as exc:
                caught.append(f"{name}: {exc}")
                got = lock.gather([("task", [])])  # a retry, as the chain client's
                return got == [{"result": "task[]"}]
            return False

        return step

    with Lockstep(FakeMiner(log), reader=reader) as lock:
        assert lock.run_pass([asker("a"), asker("b")]) == [True, True]
    assert caught == ["a: the node went away", "b: the node went away"]
    assert len(reader.batches) == 2


def test_reads_are_answered_before_a_wait_for_work_in_the_same_order_whatever_its_timing() -> None:
    """A step that waits to read while another's work is out is answered (and goes on) before
    the pass waits for that work: the pass does not sit idle while a read could run."""
    orders = []
    for delay in (0.0, 0.05):
        log: list[str] = []
        miner = FakeMiner(log)
        work = FakeWork(value="A")
        threading.Timer(delay, work.finish).start()
        with Lockstep(miner, ahead=1, reader=FakeReader(log)) as lock:
            lock.run_pass(
                [
                    trainer(lock, miner, "a", work),
                    reader_step(lock, log, "b", [["task"], ["own"]]),
                ]
            )
        orders.append(log)
        time.sleep(0.06)
    assert orders[0] == orders[1]
    assert orders[0][:6] == [
        "a trains",
        "read 1",  # b's first read, answered while a's work is out
        "b got ['task[]']",
        "read 1",
        "b got [\"own['b']\"]",
        "a back with A",
    ]


def test_before_a_wait_for_work_reads_are_answered_once_ahead_of_them_are_waiting() -> None:
    """With ``ahead`` 2, one step waiting to read is left to gather more (answered at the end of
    the line with the rest); two waiting are answered before the pass waits for work."""
    log: list[str] = []
    miner = FakeMiner(log)
    works = {n: FakeWork(value=n.upper()) for n in "acdf"}
    for work in works.values():
        work.finish()
    with Lockstep(miner, ahead=2, reader=FakeReader(log)) as lock:
        lock.run_pass(
            [
                trainer(lock, miner, "a", works["a"]),
                reader_step(lock, log, "b", [["task"]]),
                trainer(lock, miner, "c", works["c"]),
                trainer(lock, miner, "d", works["d"]),  # a third out: a takes its turn back
                reader_step(lock, log, "e", [["own"]]),
                trainer(lock, miner, "f", works["f"]),  # c's turn back: b and e read first
            ]
        )
    assert log[:11] == [
        "a trains",
        "c trains",
        "d trains",
        "a back with A",  # b alone was waiting to read: not asked yet
        "automine False",
        "f trains",
        "read 2",  # b and e together, before the pass waits for c's work
        "b got ['task[]']",
        "e got [\"own['e']\"]",
        "c back with C",
        "d back with D",
    ]
