"""Steps of many daemons with their transactions mined together, deterministically.

On a chain that mines every transaction in a block of its own, a round of N clients costs about
2N blocks, and Anvil mines each block more slowly the more blocks it holds. :class:`Lockstep` runs
one pass of the daemons' steps with the chain's automining off: each daemon steps in a thread of
its own, but only one thread runs at a time, in the daemons' order, and a thread gives up its turn
only where it waits for its transaction to be mined (``ChainClient.block_producer``). Once every
step is finished or waiting, one block mines every waiting transaction and the waiting threads go
on, again in order. The same daemons in the same state therefore send the same transactions in
the same order into the same blocks: a run stays deterministic, with a few blocks a round.

A step may also hand work out of the turn-taking (:meth:`Lockstep.wait_for`: training in a
worker process, :mod:`fl_node.simulation.offload`): it gives up its turn, the next steps take
theirs, and it takes its turn back once :data:`AHEAD` later steps have sent work out too (or at
the end of the line), in the daemons' order, whenever the work itself ends: the order of the
transactions depends on the steps, never on timing (and where every step of a pass sends work
out, as when every client trains, it is the order of a run that does the work in the step).

Each daemon keeps its thread from pass to pass (its kept-alive RPC connection and its training
model are per thread). A block's receipts are read once, by the pass, and handed to the threads
whose transactions it holds; while no block is mined, every thread of a pass sees the same latest
block (:meth:`Lockstep.block_epoch`), so a chain client prices their transactions once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fl_node.errors import FlNodeError

#: Seconds a pass waits for one thread's turn to end before it gives up on the run.
TURN_TIMEOUT = 600.0

#: Steps whose work (see :meth:`Lockstep.wait_for`) may be out at once before the first of them
#: takes its turn back: enough to keep a worker busy while this process runs other steps.
AHEAD = 4

READY, RUNNING, WAITING, WORKING, DONE = "ready", "running", "waiting", "working", "done"


class Miner(Protocol):
    """The mining controls of a chain this process runs."""

    def automine(self, on: bool) -> None: ...

    def mine(self) -> Sequence[Mapping[str, Any]]:
        """Mine one block; the receipts of its transactions (JSON-RPC's form)."""
        ...


class Work(Protocol):
    """Work done outside the turn-taking (a fit in a worker process)."""

    def wait(self, timeout: float | None = None) -> bool:
        """Until the work is done (True) or ``timeout`` seconds have passed (False)."""
        ...

    def result(self) -> Any: ...


class Requester(Protocol):
    def request(self, method: str, params: list[Any] | None = None) -> Any: ...


@dataclass(frozen=True)
class AnvilMiner:
    """An Anvil's mining, switched with ``evm_setAutomine`` and driven with ``evm_mine``, over a
    chain client's kept-alive connection."""

    client: Requester

    def automine(self, on: bool) -> None:
        self.client.request("evm_setAutomine", [on])

    def mine(self) -> Sequence[Mapping[str, Any]]:
        self.client.request("evm_mine")
        return list(self.client.request("eth_getBlockReceipts", ["latest"]) or [])


class Lockstep:
    """Runs passes of steps, one thread per position, one thread at a time (see the module).

    The turn is handed over with one semaphore per thread and one for the pass: whoever holds
    the turn is the only thread running, so the shared state needs no other lock."""

    def __init__(self, miner: Miner, turn_timeout: float = TURN_TIMEOUT, ahead: int = AHEAD):
        self.miner = miner
        self.turn_timeout = turn_timeout
        self.ahead = ahead
        self.blocks = 0  # blocks this lockstep mined
        self._local = threading.local()
        self._threads: list[threading.Thread] = []
        self._go: list[threading.Semaphore] = []  # a thread's turn
        self._back = threading.Semaphore(0)  # the pass's turn
        self._jobs: list[Callable[[], bool] | None] = []
        self._state: list[str] = []
        self._results: list[bool | BaseException] = []
        self._work_of: list[Work | None] = []  # what a WORKING thread waits for
        self._closed = False
        self._holding = False  # automining is off for this pass
        self._passes = 0
        self._receipts: dict[str, Mapping[str, Any]] = {}  # the last block's, by transaction hash

    # -- the seam of ChainClient (BlockProducer) -------------------------------------------------
    def takes_next_send(self) -> bool:
        """A thread of a pass: yes, and the chain stops automining (until the pass ends) if
        this is the pass's first transaction. Any other thread's goes as usual."""
        if getattr(self._local, "index", None) is None:
            return False
        if not self._holding:
            self.miner.automine(False)
            self._holding = True
        return True

    def wait_mined(self, tx_hash: str) -> Mapping[str, Any] | None:
        """Give up the turn until the pass mines a block; the receipt of ``tx_hash`` (hex) when
        that block holds it."""
        me: int = self._local.index
        self._state[me] = WAITING
        self._back.release()
        self._go[me].acquire()
        return self._receipts.get(tx_hash.lower())

    def wait_for(self, work: Work) -> Any:
        """``work``'s result (work done outside this process's turn-taking, say training in a
        worker process). A thread of a pass gives up its turn meanwhile, and takes it back in
        the daemons' order once every ready thread has had its turn and ``work`` is done; any
        other thread just waits."""
        me: int | None = getattr(self._local, "index", None)
        if me is None:
            return work.result()
        self._work_of[me] = work
        self._state[me] = WORKING
        self._back.release()
        self._go[me].acquire()
        self._work_of[me] = None
        return work.result()

    def block_epoch(self) -> tuple[int, int] | None:
        """For a thread of a pass, a value that stays the same while the latest block does (the
        pass and the blocks it mined); None for any other thread."""
        if getattr(self._local, "index", None) is None:
            return None
        return self._passes, self.blocks

    # -- passes --------------------------------------------------------------------------------
    def run_pass(self, steps: Sequence[Callable[[], bool]]) -> list[bool]:
        """Run ``steps`` (each one daemon's step, by position) to their ends, automining off
        from the pass's first transaction on; their results in order. The first exception a
        step raised is raised once every step has ended."""
        self._ensure_threads(len(steps))
        self._passes += 1
        try:
            results = self._schedule(steps)
        finally:
            self._receipts = {}
            if self._holding:
                self.miner.automine(True)
                self._holding = False
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [bool(r) for r in results]

    def close(self) -> None:
        """End the threads (between passes)."""
        self._closed = True
        for go in self._go:
            go.release()
        for thread in self._threads:
            thread.join(timeout=5.0)
        self._threads.clear()
        self._go.clear()

    def __enter__(self) -> Lockstep:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _schedule(self, steps: Sequence[Callable[[], bool]]) -> list[bool | BaseException]:
        n = len(steps)
        self._jobs[:n] = list(steps)
        self._state[:n] = [READY] * n
        self._results[:n] = [False] * n
        while True:
            working: deque[int] = deque()
            for i in range(n):
                if self._state[i] == READY:
                    self._give_turn(i)
                    if self._state[i] == WORKING:
                        working.append(i)
                    if len(working) > self.ahead:
                        self._resume_first(working)
            while working:
                self._resume_first(working)
            waiting = [i for i in range(n) if self._state[i] == WAITING]
            if not waiting:
                return list(self._results[:n])
            receipts = self.miner.mine()
            self._receipts = {str(r["transactionHash"]).lower(): r for r in receipts}
            self.blocks += 1
            for i in waiting:
                self._state[i] = READY

    def _give_turn(self, index: int) -> None:
        """Let thread ``index`` run until it waits for a block or ends its step."""
        self._state[index] = RUNNING
        self._go[index].release()
        if not self._back.acquire(timeout=self.turn_timeout):
            raise FlNodeError(
                f"a daemon's step held its turn for over {self.turn_timeout:g} s in the "
                "in-process runtime"
            )

    def _resume_first(self, working: deque[int]) -> None:
        """Give the first of the ``working`` threads its turn back once its work is done (back
        at the end of the line if it sends more work out)."""
        index = working.popleft()
        work = self._work_of[index]
        if work is not None and not work.wait(self.turn_timeout):
            raise FlNodeError(
                f"a daemon's work outside its turn took over {self.turn_timeout:g} s in the "
                "in-process runtime"
            )
        self._give_turn(index)
        if self._state[index] == WORKING:
            working.append(index)

    def _ensure_threads(self, n: int) -> None:
        while len(self._threads) < n:
            index = len(self._threads)
            self._jobs.append(None)
            self._state.append(DONE)
            self._results.append(False)
            self._work_of.append(None)
            self._go.append(threading.Semaphore(0))
            thread = threading.Thread(
                target=self._work, args=(index,), name=f"lockstep-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _work(self, index: int) -> None:
        self._local.index = index
        while True:
            self._go[index].acquire()
            if self._closed:
                return
            job = self._jobs[index]
            result: bool | BaseException
            try:
                result = bool(job()) if job is not None else True
            except BaseException as exc:  # handed to the pass, which raises it in order
                result = exc
            self._results[index] = result
            self._state[index] = DONE
            self._back.release()
