"""Steps of many daemons with their transactions mined together, deterministically.

On a chain that mines every transaction in a block of its own, a round of N clients costs about
2N blocks, and Anvil mines each block more slowly the more blocks it holds. :class:`Lockstep` runs
one pass of the daemons' steps with the chain's automining off: each daemon steps in a greenlet
of its own (a stack the pass switches to and from, all in the pass's thread), one at a time, in
the daemons' order, and a step gives up its turn only where it waits for its transaction to be
mined (``ChainClient.block_producer``). Once every step is finished or waiting, one block mines
every waiting transaction and the waiting steps go on, again in order. The same daemons in the
same state therefore send the same transactions in the same order into the same blocks: a run
stays deterministic, with a few blocks a round.

A step may also hand work out of the turn-taking (:meth:`Lockstep.wait_for`: training in a
worker process, :mod:`fl_node.simulation.offload`): it gives up its turn, the next steps take
theirs, and it takes its turn back once :data:`AHEAD` later steps have sent work out too (or at
the end of the line), in the daemons' order, whenever the work itself ends: the order of the
transactions depends on the steps, never on timing (and where every step of a pass sends work
out, as when every client trains, it is the order of a run that does the work in the step).

A step's reads of the chain are gathered too (:meth:`Lockstep.gather`, with a ``reader``): it
gives up its turn, and once every step has run as far as it can (or before the pass waits for
work handed out), one JSON-RPC batch asks what all the waiting steps asked, each request once,
and they go on in order. Reads change nothing on the chain, so where they are answered changes
no transaction; a round of N clients costs a few batches of reads instead of N each.

Every step of a pass runs in the pass's thread, so they share its kept-alive RPC connection and
its training model; none is in use across a switch. A block's receipts are read once, by the
pass, and handed to the steps whose transactions it holds; while no block is mined, every step of
a pass sees the same latest block (:meth:`Lockstep.block_epoch`), so a chain client prices their
transactions and reads the views they share once. A step's own code runs until its next wait:
nothing can stop it midway, so what may hang runs as work handed out (whose wait has a limit).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from greenlet import GreenletExit, greenlet

from fl_node.errors import FlNodeError

#: Seconds a pass waits for a step's work handed out (:meth:`Lockstep.wait_for`) before it gives
#: up on the run.
TURN_TIMEOUT = 600.0

#: Steps whose work (see :meth:`Lockstep.wait_for`) may be out at once before the first of them
#: takes its turn back: enough to keep a worker busy while this process runs other steps.
AHEAD = 4

READY, RUNNING, READING, WAITING, WORKING, DONE = (
    "ready", "running", "reading", "waiting", "working", "done"
)  # fmt: skip


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


class Reader(Protocol):
    """Who asks the chain the reads a pass gathered from its steps."""

    def answers(self, requests_: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """The JSON-RPC answers of read requests ``requests_``, in order, in one batch."""
        ...


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
    """Runs passes of steps, one greenlet per step, one at a time (see the module).

    Whoever holds the turn is the only code running: a step runs until it waits (for a block or
    for work handed out) and switches back to the pass, so the shared state needs no lock, and a
    hand-over costs a switch of stacks rather than two wake-ups of operating-system threads (a
    quarter of a millisecond each on a busy machine, two to five of them per client and round)."""

    def __init__(
        self,
        miner: Miner,
        turn_timeout: float = TURN_TIMEOUT,
        ahead: int = AHEAD,
        reader: Reader | None = None,
    ):
        self.miner = miner
        #: Asks the reads the steps gather (:meth:`gather`); None: each step reads on its own.
        self.reader = reader
        self.turn_timeout = turn_timeout
        self.ahead = ahead
        self.blocks = 0  # blocks this lockstep mined
        self.reads = 0  # batches of gathered reads it asked
        self._steps: list[greenlet] = []  # the current pass's, by position
        self._current: int | None = None  # the step holding the turn
        self._state: list[str] = []
        self._results: list[bool | BaseException] = []
        self._work_of: list[Work | None] = []  # what a WORKING step waits for
        self._asks: list[Sequence[tuple[str, list[Any]]]] = []  # what a READING step asks
        self._answers: list[list[Any] | BaseException | None] = []  # and what it was answered
        self._holding = False  # automining is off for this pass
        self._passes = 0
        self._receipts: dict[str, Mapping[str, Any]] = {}  # the last block's, by transaction hash

    def _me(self) -> int | None:
        """The position of the calling step; None for code outside the passes (the aggregator,
        a market, another thread)."""
        index = self._current
        if index is None or self._steps[index] is not greenlet.getcurrent():
            return None
        return index

    def _give_back(self, me: int, state: str) -> None:
        """End step ``me``'s turn in ``state``; returns when the pass gives it the turn again."""
        self._state[me] = state
        parent = self._steps[me].parent
        assert parent is not None
        parent.switch()

    # -- the seam of ChainClient (BlockProducer) -------------------------------------------------
    def takes_next_send(self) -> bool:
        """A step of a pass: yes, and the chain stops automining (until the pass ends) if this
        is the pass's first transaction. Anything else's goes as usual."""
        if self._me() is None:
            return False
        if not self._holding:
            self.miner.automine(False)
            self._holding = True
        return True

    def wait_mined(self, tx_hash: str) -> Mapping[str, Any] | None:
        """Give up the turn until the pass mines a block; the receipt of ``tx_hash`` (hex) when
        that block holds it."""
        me = self._me()
        if me is None:
            raise FlNodeError("wait_mined is for the steps of a lockstep pass")
        self._give_back(me, WAITING)
        return self._receipts.get(tx_hash.lower())

    def wait_for(self, work: Work) -> Any:
        """``work``'s result (work done outside this process's turn-taking, say training in a
        worker process). A step of a pass gives up its turn meanwhile, and takes it back in the
        daemons' order (see the module) once ``work`` is done; anything else just waits."""
        me = self._me()
        if me is None:
            return work.result()
        self._work_of[me] = work
        self._give_back(me, WORKING)
        self._work_of[me] = None
        return work.result()

    def gather(self, asks: Sequence[tuple[str, list[Any]]]) -> list[Any] | None:
        """For a step of a pass (with a :attr:`reader`): give up the turn until every step of
        the pass has run as far as it can, then have the answers of ``asks`` (read requests,
        JSON-RPC's form), asked in one batch with the other steps' reads of that moment (the
        same request once); the batch's error is every asker's. None for anything else."""
        me = self._me()
        if me is None or self.reader is None:
            return None
        self._asks[me] = asks
        self._give_back(me, READING)
        answers, self._answers[me] = self._answers[me], None
        if isinstance(answers, BaseException):
            raise answers
        assert answers is not None
        return answers

    def block_epoch(self) -> tuple[int, int] | None:
        """For a step of a pass, a value that stays the same while the latest block does (the
        pass and the blocks it mined); None for anything else."""
        if self._me() is None:
            return None
        return self._passes, self.blocks

    # -- passes --------------------------------------------------------------------------------
    def run_pass(self, steps: Sequence[Callable[[], bool]]) -> list[bool]:
        """Run ``steps`` (each one daemon's step, by position) to their ends, automining off
        from the pass's first transaction on; their results in order. The first exception a
        step raised is raised once every step has ended."""
        n = len(steps)
        self._passes += 1
        self._steps = [greenlet(partial(self._run_step, i, step)) for i, step in enumerate(steps)]
        self._state = [READY] * n
        self._results = [False] * n
        self._work_of = [None] * n
        self._asks = [()] * n
        self._answers = [None] * n
        try:
            results = self._schedule(n)
        finally:
            self._receipts = {}
            self._abandon()
            if self._holding:
                self.miner.automine(True)
                self._holding = False
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [bool(r) for r in results]

    def close(self) -> None:
        """End what a pass left unfinished (a pass that failed midway)."""
        self._abandon()

    def __enter__(self) -> Lockstep:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run_step(self, index: int, step: Callable[[], bool]) -> None:
        result: bool | BaseException
        try:
            result = bool(step())
        except BaseException as exc:  # handed to the pass, which raises it in order
            result = exc
        self._results[index] = result
        self._state[index] = DONE

    def _abandon(self) -> None:
        """Unwind the steps a failed pass left waiting (their ``finally`` blocks run)."""
        for step in self._steps:
            if step and not step.dead:
                step.throw(GreenletExit)
        self._steps = []

    def _schedule(self, n: int) -> list[bool | BaseException]:
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
            reading = [i for i in range(n) if self._state[i] == READING]
            if reading:
                self._read(reading)
                continue
            waiting = [i for i in range(n) if self._state[i] == WAITING]
            if not waiting:
                return list(self._results)
            receipts = self.miner.mine()
            self._receipts = {str(r["transactionHash"]).lower(): r for r in receipts}
            self.blocks += 1
            for i in waiting:
                self._state[i] = READY

    def _read(self, reading: list[int]) -> None:
        """Ask the reads of the ``reading`` steps in one batch (each distinct request once) and
        make them ready, each with its answers (or the batch's error)."""
        assert self.reader is not None
        keys = {i: [json.dumps(ask, sort_keys=True) for ask in self._asks[i]] for i in reading}
        unique: dict[str, tuple[str, list[Any]]] = {}
        for i in reading:
            unique.update((k, ask) for k, ask in zip(keys[i], self._asks[i], strict=True))
        try:
            answered = dict(zip(unique, self.reader.answers(list(unique.values())), strict=True))
        except Exception as exc:  # every asker's: each handles it as its own read's
            for i in reading:
                self._answers[i] = exc
        else:
            for i in reading:
                self._answers[i] = [answered[k] for k in keys[i]]
        for i in reading:
            self._asks[i] = ()
            self._state[i] = READY
        self.reads += 1

    def _serve_readers(self, working: deque[int]) -> None:
        """Answer the steps waiting to read and give each its turn, in order, while at least
        :attr:`ahead` of them are (those that hand work out join ``working``; fewer wait for
        more to gather, or for the end of the line): decided by the steps' states alone,
        whether or not any work is done, so the order stays the same on every run."""
        least = max(1, self.ahead)
        while True:
            reading = [i for i, state in enumerate(self._state) if state == READING]
            if len(reading) < least:
                return
            self._read(reading)
            for i in reading:
                self._give_turn(i)
                if self._state[i] == WORKING:
                    working.append(i)

    def _give_turn(self, index: int) -> None:
        """Let step ``index`` run until it waits for a block or work, or ends."""
        self._state[index] = RUNNING
        self._current = index
        try:
            self._steps[index].switch()
        finally:
            self._current = None

    def _resume_first(self, working: deque[int]) -> None:
        """Give the first of the ``working`` steps its turn back once its work is done (back at
        the end of the line if it sends more work out); the steps waiting to read are served
        first, while the work goes on."""
        self._serve_readers(working)
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
