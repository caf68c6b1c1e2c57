"""Typed views of the Federation contract's state, and the calls that change it.

The node and the aggregator are loops over this state machine; they read it here and act through
:class:`FederationApi`, the narrow interface between the daemons and the chain: the Federation's
binding, holding those of the vault, the escrow, the registry and the base token
(:mod:`fl_node.chain.contracts`). Views are decoded by the names of the contract's outputs (never
by tuple position), amounts stay integers in the base token's smallest unit, and every approval
goes through one helper (:meth:`~fl_node.chain.contracts.Erc20.ensure_allowance`).

Round events are read from the deployment's block on, and from the block each round opened in
once it is known: :class:`FederationApi` keeps the blocks it found as a scan checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import IntEnum
from functools import cached_property
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.types import BlockIdentifier

from fl_node.addresses import checksummed
from fl_node.chain.calls import Bound, bind
from fl_node.chain.client import ChainClient, TxResult
from fl_node.chain.contracts import (
    BaseToken,
    Budget,
    ClientRegistry,
    RewardEscrow,
    StakeVault,
    named_outputs,
    view_of,
)
from fl_node.chain.events import Checkpoint, Event, EventLog, Waiter
from fl_node.errors import ChainError

ZERO32 = b"\x00" * 32
#: Gas limit of calls that are only valid after a deadline. Gas estimation runs against the latest
#: block, whose timestamp can still be before the deadline (a local chain mines only on demand),
#: so these are sent with a fixed limit and mined in a new block carrying the current time.
TIME_GATED_GAS = 900_000
#: How long a buyback claim's swap may wait in the mempool before the pool refuses it.
CLAIM_DEADLINE_SECONDS = 600
#: Views (name and arguments) a task's bindings keep made before starting over.
VIEW_FN_CACHE = 4096


class Phase(IntEnum):
    NONE = 0
    COMMIT = 1
    REVEAL = 2
    POSTED = 3
    CHALLENGED = 4
    FINALIZED = 5
    ABORTED = 6

    @property
    def ended(self) -> bool:
        return self in (Phase.FINALIZED, Phase.ABORTED)


class TaskStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    COMPLETED = 2
    CANCELLED = 3
    CLOSED = 4


class AbortReason(IntEnum):
    EMPTY = 0
    NO_POST = 1
    CHALLENGE_UPHELD = 2
    ARBITER_TIMEOUT = 3
    CANCELLED = 4


V = TypeVar("V")


def _view(cls: type[V], values: dict[str, Any]) -> V:
    """A view dataclass from the contract's named outputs (camelCase names to snake_case)."""
    return view_of(cls, values)


def _round_view(values: dict[str, Any]) -> RoundState:
    """``roundState``'s named outputs as a :class:`RoundState` (its phase an enum)."""
    return _view(RoundState, {**values, "phase": Phase(values["phase"])})


def _task_view(values: dict[str, Any]) -> TaskState:
    """``taskState``'s named outputs as a :class:`TaskState` (its status an enum)."""
    return _view(TaskState, {**values, "status": TaskStatus(values["status"])})


def _exact(chain_time: int) -> float:
    """The chain's time read as ``chain_time``, with the wall clock's fraction of a second while
    the chain's clock follows it (see :meth:`FederationApi.exact_now`)."""
    return max(float(chain_time), time.time())


@dataclass(frozen=True)
class TaskParams:
    model_spec_hash: bytes
    validation_spec_hash: bytes
    config_hash: bytes
    initial_model_hash: bytes
    aggregator: str
    commit_window: int
    reveal_window: int
    post_timeout: int
    challenge_window: int
    arbiter_timeout: int
    claim_window: int
    min_clients: int
    max_clients: int
    num_rounds: int
    allowlist: bool
    mode: int
    stake_min: int
    join_bond: int
    aggregator_bond: int
    challenge_bond: int
    reward_per_round: int
    payout_threshold: int
    payout_cap: int
    grief_ratio: int
    grief_cap: int

    def as_tuple(self) -> tuple[Any, ...]:
        """The ``TaskParams`` struct for ``createTask``, in the contract's field order."""
        return tuple(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True)
class TaskState:
    sponsor: str
    status: TaskStatus
    current_round: int
    participants: int
    bond_locked_until: int
    latest_model_hash: bytes
    bond: int


@dataclass(frozen=True)
class RoundState:
    phase: Phase
    commits: int
    reveals: int
    commit_deadline: int
    reveal_deadline: int
    challenge_deadline: int
    challenged_at: int
    ended_at: int
    swept: bool
    challenger: str
    parent_model_hash: bytes
    model_hash: bytes
    results_root: bytes
    total_at_risk: int
    total_reward: int
    total_payout: int
    reward_paid: int
    payout_paid: int
    challenge_bond: int
    slash_pool: int
    slash_paid: int

    @property
    def reward_left(self) -> int:
        return self.total_reward - self.reward_paid

    @property
    def payout_left(self) -> int:
        return self.total_payout - self.payout_paid

    def reveal_end(self, p: TaskParams) -> int:
        """Last second of reveals (before the reveal phase opens: the latest it can end)."""
        if self.phase == Phase.COMMIT:
            return self.commit_deadline + p.reveal_window
        return self.reveal_deadline

    def post_deadline(self, p: TaskParams) -> int:
        return self.reveal_end(p) + p.post_timeout

    def arbiter_deadline(self, p: TaskParams) -> int:
        return self.challenged_at + p.arbiter_timeout if self.challenged_at else 0

    def claim_deadline(self, p: TaskParams) -> int:
        """Last second of settlements and claims (0 while the round has not ended)."""
        return self.ended_at + p.claim_window if self.ended_at else 0

    def deadlines(self, p: TaskParams) -> list[int]:
        """Every deadline of the round in its current phase (chain timestamps): the moments a
        daemon waiting on it may have something new to do."""
        if self.phase in (Phase.COMMIT, Phase.REVEAL):
            found = [self.commit_deadline, self.reveal_end(p), self.post_deadline(p)]
        elif self.phase == Phase.POSTED:
            found = [self.challenge_deadline]
        elif self.phase == Phase.CHALLENGED:
            found = [self.arbiter_deadline(p)]
        else:
            found = [self.claim_deadline(p)]
        return [d for d in found if d > 0]

    def reveals_open(self, p: TaskParams, now: int, participants: int) -> bool:
        """Whether a reveal sent now is accepted: during the reveal phase, or in the commit phase
        once its window has ended or every participant has committed."""
        if self.phase == Phase.REVEAL:
            return now <= self.reveal_deadline
        if self.phase != Phase.COMMIT:
            return False
        if now > self.commit_deadline:
            return now <= self.commit_deadline + p.reveal_window
        return self.commits >= participants > 0


@dataclass(frozen=True)
class Commitment:
    commit_hash: bytes
    stake: int
    griefed: int
    revealed: bool
    settled: bool
    claimed: bool

    @property
    def exists(self) -> bool:
        return self.commit_hash != ZERO32


@dataclass(frozen=True)
class Seat:
    active: bool
    joined_after_round: int
    bond: int


@dataclass(frozen=True)
class Post:
    """What the aggregator posts: ``Federation.Post``."""

    model_hash: bytes
    results_root: bytes
    commits: int
    reveals: int
    total_reward: int
    total_payout: int

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.model_hash,
            self.results_root,
            self.commits,
            self.reveals,
            self.total_reward,
            self.total_payout,
        )


@dataclass(frozen=True)
class ClientView:
    """What a client's daemon decides a step on, read in one round trip on one block: the task,
    some rounds with the client's commitment in each, the chain's exact time, and the client's
    credit with the federation and free stake in the vault."""

    state: TaskState
    rounds: dict[int, tuple[RoundState, Commitment]]
    exact: float
    credit: int
    free_stake: int


@dataclass(frozen=True)
class CommitEvent:
    client: str
    commit_hash: bytes
    stake: int
    block_number: int


@dataclass(frozen=True)
class RevealEvent:
    client: str
    update_hash: bytes
    block_number: int


def hex32(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def commitment_hash(
    task_id: int, round_number: int, client: str, update_hash: bytes, salt: bytes
) -> bytes:
    """``Federation.commitmentHash``: what a client commits to hide its update until the reveal."""
    return keccak(
        _uint(task_id)
        + _uint(round_number)
        + _address(client)
        + _bytes32(update_hash)
        + _bytes32(salt)
    )


def commit_salt(
    signer: LocalAccount, chain_id: int, federation: str, task_id: int, round_number: int
) -> bytes:
    """The secret salt of a client's commitment: derived from its private key, so a restarted node
    finds it again, and nobody without the key can guess it."""
    material = (
        b"fl-node/commit-salt/v1"
        + bytes(signer.key)
        + _uint(chain_id)
        + _address(federation)
        + _uint(task_id)
        + _uint(round_number)
    )
    return keccak(material)


# ABI words of static values (``abi.encode`` of them is their words one after the other), with
# the checks eth_abi makes: every daemon seals and salts a commitment each round.
def _uint(value: int) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"not an integer: {value!r}")
    return value.to_bytes(32, "big")  # OverflowError: negative, or 2**256 or more


def _address(value: str) -> bytes:
    return bytes(12) + bytes.fromhex(checksummed(value)[2:])


def _bytes32(value: bytes) -> bytes:
    data = bytes(value)
    if len(data) != 32:
        raise ValueError(f"expected 32 bytes, got {len(data)}")
    return data


class FederationApi:
    """The Federation, vault, escrow, registry and base token of one deployment, for one task.

    ``task_id`` 0 (no task yet) serves the calls that name no task: :meth:`create_task`,
    :meth:`task_count`, :meth:`credit` and :meth:`withdraw_credit`.
    """

    def __init__(self, client: ChainClient, task_id: int = 0):
        self.client = client
        self.task_id = task_id
        assert client.deployment is not None
        self.federation = client.contract("Federation")
        self.base = BaseToken(client)
        self.vault = StakeVault(client, base=self.base)
        self.escrow = RewardEscrow(client, base=self.base)
        self.registry = ClientRegistry(client, base=self.base)
        #: No event of the suite is older than the deployment.
        self.start_block = int(client.deployment.block_number)
        self._events = EventLog(client, ["Federation"])
        self._opened: dict[int, int] = {}  # round -> block of its RoundOpened: the scan checkpoint
        self._params: TaskParams | None = None
        self._view_fns: dict[tuple[str, str, tuple[Any, ...]], Any] = {}

    # -- reads ----------------------------------------------------------------------------------
    def _view_fn(self, name: str, *args: Any, on: Any = None) -> Any:
        """The view ``name(*args)`` of the federation (or of the contract ``on``), made once:
        web3 takes about 50 us to make one, and a daemon reads the same few views on every step
        of a round."""
        contract = self.federation if on is None else on
        key = (contract.address, name, args)
        fn = self._view_fns.get(key)
        if fn is None:
            if len(self._view_fns) >= VIEW_FN_CACHE:
                self._view_fns.clear()
            fn = self._view_fns[key] = getattr(contract.functions, name)(*args)
        return fn

    def _call(self, name: str, *args: Any) -> Bound:
        """The federation's function ``name`` bound to ``args``, without web3's contract layer
        (see :mod:`fl_node.chain.calls`): the calls a daemon makes anew every round."""
        return bind(self.federation, name, *args)

    def _named(self, fn: Any, block: BlockIdentifier = "latest") -> dict[str, Any]:
        """A view's result by output name (a struct's fields, or the named outputs)."""
        return named_outputs(fn, self.client.call(fn, block))

    def params(self) -> TaskParams:
        """The task's parameters: fixed when the task is created, so read once."""
        if self._params is None:
            params = _view(
                TaskParams, self._named(self.federation.functions.taskParams(self.task_id))
            )
            if int(params.aggregator, 16) == 0:
                return params  # no such task (yet): nothing to keep
            self._params = params
        return self._params

    def state(self, block: BlockIdentifier = "latest") -> TaskState:
        return _task_view(self._named(self._view_fn("taskState", self.task_id), block))

    def round(self, number: int, block: BlockIdentifier = "latest") -> RoundState:
        return _round_view(self._named(self._view_fn("roundState", self.task_id, number), block))

    def round_of(self, number: int, client: str) -> tuple[RoundState, Commitment, float]:
        """In one round trip: round ``number``'s state, ``client``'s commitment in it, and
        :meth:`exact_now`."""
        _, read, exact = self._rounds_with(client, [number], [])
        info, commitment = read[number]
        return info, commitment, exact

    def client_view(self, client: str, rounds: Sequence[int]) -> ClientView:
        """In one round trip, on one block: the task's state, the state of each of ``rounds``
        with ``client``'s commitment in it, :meth:`exact_now`, ``client``'s credit and free
        stake."""
        task = self._view_fn("taskState", self.task_id)
        head, read, exact = self._rounds_with(
            client,
            rounds,
            [
                task,
                self._view_fn("credit", client),
                self._view_fn("freeStake", client, on=self.vault.contract),
            ],
        )
        state, credit, free = head
        return ClientView(
            _task_view(named_outputs(task, state)), read, exact, int(credit), int(free)
        )

    def _rounds_with(
        self, client: str, rounds: Sequence[int], head: list[Any]
    ) -> tuple[list[Any], dict[int, tuple[RoundState, Commitment]], float]:
        """The views ``head`` (decoded, not named), then each of ``rounds`` with ``client``'s
        commitment, and the chain's exact time: one batch."""
        fns = list(head)
        for number in rounds:
            fns.append(self._view_fn("roundState", self.task_id, number))
            fns.append(self._view_fn("commitmentOf", self.task_id, number, client))
        values, stamp = self.client.call_many_timed(fns)
        pairs = zip(fns[len(head) :], values[len(head) :], strict=True)
        tail = [named_outputs(fn, value) for fn, value in pairs]
        read = {
            number: (_round_view(tail[2 * i]), _view(Commitment, tail[2 * i + 1]))
            for i, number in enumerate(rounds)
        }
        return values[: len(head)], read, _exact(stamp)

    def commitment(self, number: int, client: str, block: BlockIdentifier = "latest") -> Commitment:
        fn = self._view_fn("commitmentOf", self.task_id, number, client)
        return _view(Commitment, self._named(fn, block))

    def commitments(self, number: int, clients: Sequence[str]) -> list[Commitment]:
        """Each of ``clients``' commitment in round ``number``, in one round trip."""
        fns = [self._view_fn("commitmentOf", self.task_id, number, c) for c in clients]
        return [
            _view(Commitment, named_outputs(fn, value))
            for fn, value in zip(fns, self.client.call_many(fns), strict=True)
        ]

    def seat(self, client: str, block: BlockIdentifier = "latest") -> Seat:
        fn = self.federation.functions.seatOf(self.task_id, client)
        return _view(Seat, self._named(fn, block))

    def is_participant(self, client: str) -> bool:
        return self.seat(client).active

    def task_count(self) -> int:
        return int(self.client.call(self.federation.functions.taskCount()))

    def credit(self, account: str, block: BlockIdentifier = "latest") -> int:
        return int(self.client.call(self.federation.functions.credit(account), block))

    def free_stake(self, account: str) -> int:
        return self.vault.free_stake(account)

    def base_balance(self, account: str) -> int:
        return self.base.balance_of(account)

    def budget(self, block: BlockIdentifier = "latest") -> Budget:
        """The task's escrowed budget (``RewardEscrow.budgetOf``) at ``block``."""
        return self.escrow.budget_of(self.task_id, block)

    @cached_property
    def decimals(self) -> int:
        """The base token's decimals (amounts in configs are in whole tokens)."""
        return self.base.decimals

    def commits(self, number: int, from_block: int = 0) -> list[CommitEvent]:
        """Every commitment of round ``number``, in chain order (from the events)."""
        return [
            CommitEvent(
                client=e.args["client"],
                commit_hash=bytes(e.args["commitHash"]),
                stake=int(e.args["stake"]),
                block_number=e.block_number,
            )
            for e in self._round_events("UpdateCommitted", number, from_block)
        ]

    def reveals(self, number: int, from_block: int = 0) -> dict[str, RevealEvent]:
        """Every reveal of round ``number``, by client (lower-case address)."""
        return {
            str(e.args["client"]).lower(): RevealEvent(
                client=e.args["client"],
                update_hash=bytes(e.args["updateHash"]),
                block_number=e.block_number,
            )
            for e in self._round_events("UpdateRevealed", number, from_block)
        }

    def round_opened_block(self, number: int, from_block: int = 0) -> int | None:
        """Block of the round's RoundOpened event (None before it is opened)."""
        if number in self._opened:
            return self._opened[number]
        events = self._round_events("RoundOpened", number, from_block)
        if not events:
            return None
        self.remember_opened(number, events[0].block_number)
        return events[0].block_number

    def round_posted_block(self, number: int, from_block: int = 0) -> int | None:
        """Block of the round's RoundPosted event; None while it is unposted."""
        events = self._round_events("RoundPosted", number, from_block)
        return events[-1].block_number if events else None

    def remember_opened(self, number: int, block: int) -> None:
        """Record where round ``number`` opened (a daemon's checkpoint, or a scan's finding):
        events of that round and of later rounds are searched from there on."""
        self._opened[number] = int(block)

    def scan_from(self, number: int, from_block: int = 0) -> int:
        """The first block that can hold an event of round ``number``: the deployment's block, or
        the block of the latest round known to have opened at or before it, or ``from_block``."""
        known = [block for n, block in self._opened.items() if n <= number]
        return max(from_block, self.start_block, *known)

    def round_events(self, name: str, number: int, from_block: int = 0) -> list[Event]:
        """The task's events ``name`` of round ``number`` (its second indexed argument)."""
        return self._round_events(name, number, from_block)

    def _round_events(self, name: str, number: int, from_block: int) -> list[Event]:
        latest = self.client.block_number()
        topics = [None, self.task_topic, "0x" + number.to_bytes(32, "big").hex()]
        start = self.scan_from(number, from_block)
        return [
            e
            for e in self._events.fetch(start, latest, names=[name], topics=topics)
            if e.name == name
        ]

    @property
    def task_topic(self) -> str:
        """The task id as an event topic: the first indexed argument of the task's events."""
        return "0x" + self.task_id.to_bytes(32, "big").hex()

    def waiter(self, longest: float = 2.0) -> Waiter:
        """A :class:`~fl_node.chain.events.Waiter` woken by any event of this task."""
        return Waiter(
            self.client,
            str(self.federation.address),
            topics=[None, self.task_topic],
            longest=longest,
        )

    def chain_time(self) -> int:
        """The latest block's timestamp: what a transaction mined now was checked against, at
        most (a time-gated call that reverted is only "not yet" while this is before its
        deadline)."""
        return self.client.timestamp()

    def now(self) -> int:
        """The timestamp the next block will carry, at least: the chain's clock never runs behind
        wall time on a live chain, and a local chain whose clock was moved forward stays ahead."""
        return int(self.exact_now())

    def exact_now(self) -> float:
        """:meth:`now` with the wall clock's fraction of a second while the chain's clock follows
        it: a deadline passes for the chain when this reaches ``deadline + 1``, not up to a second
        later (a daemon that waited until its whole-second reading moved would)."""
        return _exact(self.client.timestamp())

    # -- writes ---------------------------------------------------------------------------------
    def send(self, fn: Any, signer: LocalAccount, gas: int | None = None) -> TxResult:
        return self.client.send(fn, signer, gas=gas)

    def ensure_allowance(self, signer: LocalAccount, spender: str, amount: int) -> None:
        """Let ``spender`` pull ``amount`` base tokens of ``signer``'s: approves exactly what a
        call needs, and only when the current allowance is short (the base token's helper)."""
        self.base.ensure_allowance(signer, spender, amount)

    @classmethod
    def create_task(
        cls, client: ChainClient, sponsor: LocalAccount, params: TaskParams, metadata_uri: str
    ) -> FederationApi:
        """Create a task (``Federation.createTask``); returns the binding of the new task."""
        api = cls(client)
        fn = api.federation.functions.createTask(params.as_tuple(), metadata_uri)
        result = api.send(fn, sponsor)
        events = [
            e for log in result.receipt["logs"] if (e := api._events.decode(log, {"TaskCreated"}))
        ]
        if not events:
            raise ChainError("createTask succeeded but emitted no TaskCreated event")
        return cls(client, int(events[0].args["taskId"]))

    def fund(self, signer: LocalAccount, amount: int) -> TxResult:
        """Escrow ``amount`` more base tokens for this task (anyone may top a task up)."""
        return self.escrow.fund(signer, self.task_id, amount)

    def set_allowed(self, signer: LocalAccount, clients: Sequence[str], allowed: bool) -> TxResult:
        """The sponsor lets ``clients`` join an allowlisted task (or no longer)."""
        fn = self.federation.functions.setAllowed(self.task_id, list(clients), allowed)
        return self.send(fn, signer)

    def cancel_task(self, signer: LocalAccount) -> TxResult:
        """The sponsor ends an active task; the unreleased budget is refunded."""
        return self.send(self.federation.functions.cancelTask(self.task_id), signer)

    def close_task(self, signer: LocalAccount) -> TxResult:
        """The sponsor closes a completed task; what no round used is refunded."""
        return self.send(self.federation.functions.closeTask(self.task_id), signer)

    def join(self, signer: LocalAccount) -> TxResult:
        return self.send(self.federation.functions.joinTask(self.task_id), signer)

    def leave(self, signer: LocalAccount) -> TxResult:
        return self.send(self.federation.functions.leaveTask(self.task_id), signer)

    def bond_aggregator(self, signer: LocalAccount, amount: int) -> TxResult:
        self.ensure_allowance(signer, self.federation.address, amount)
        return self.send(self.federation.functions.bondAggregator(self.task_id, amount), signer)

    def withdraw_aggregator_bond(self, signer: LocalAccount) -> TxResult:
        return self.send(self.federation.functions.withdrawAggregatorBond(self.task_id), signer)

    def withdraw_credit(self, signer: LocalAccount) -> TxResult:
        return self.send(self.federation.functions.withdrawCredit(), signer)

    def open_round(self, signer: LocalAccount) -> TxResult:
        return self.send(self.federation.functions.openRound(self.task_id), signer)

    def commit(self, signer: LocalAccount, number: int, commit_hash: bytes, stake: int) -> TxResult:
        return self.send(self.commit_call(number, commit_hash, stake), signer)

    def commit_call(self, number: int, commit_hash: bytes, stake: int) -> Bound:
        """The ``commit`` call (to send, or to put in a :meth:`multicall`)."""
        return self._call("commit", self.task_id, number, commit_hash, stake)

    def multicall(self, signer: LocalAccount, calls: Sequence[Any]) -> TxResult:
        """Several federation calls of ``signer``'s in one transaction (``Multicall``): each is
        checked as if sent alone, and one revert undoes them all."""
        data = [self.client.call_data(fn) for fn in calls]
        return self.send(self._call("multicall", data), signer)

    def reveal(
        self, signer: LocalAccount, number: int, update_hash: bytes, salt: bytes
    ) -> TxResult:
        fn = self._call("reveal", self.task_id, number, update_hash, salt)
        return self.send(fn, signer, gas=TIME_GATED_GAS)

    def post(self, signer: LocalAccount, number: int, post: Post, early: bool = False) -> TxResult:
        """Post a round; ``early`` when every committer revealed (no deadline involved)."""
        fn = self._call("postRound", self.task_id, number, post.as_tuple())
        return self.send(fn, signer, gas=None if early else TIME_GATED_GAS)

    def finalize(self, signer: LocalAccount, number: int) -> TxResult:
        fn = self.federation.functions.finalizeRound(self.task_id, number)
        return self.send(fn, signer, gas=TIME_GATED_GAS)

    def abort(self, signer: LocalAccount, number: int) -> TxResult:
        fn = self.federation.functions.abortRound(self.task_id, number)
        return self.send(fn, signer, gas=TIME_GATED_GAS)

    def reclaim(self, signer: LocalAccount, number: int) -> TxResult:
        fn = self.federation.functions.reclaimStake(self.task_id, number)
        return self.send(fn, signer, gas=TIME_GATED_GAS)

    def sweep(self, signer: LocalAccount, number: int) -> TxResult:
        fn = self.federation.functions.sweepRound(self.task_id, number)
        return self.send(fn, signer, gas=TIME_GATED_GAS)

    def settle_stake(
        self,
        signer: LocalAccount,
        number: int,
        client: str,
        score: int,
        reward: int,
        proof: Sequence[bytes],
    ) -> TxResult:
        return self.send(self.settle_call(number, client, score, reward, proof), signer)

    def settle_call(
        self, number: int, client: str, score: int, reward: int, proof: Sequence[bytes]
    ) -> Bound:
        """The ``settleStake`` call of ``client``'s row (to send, or to put in a
        :meth:`multicall`)."""
        return self._call("settleStake", self.task_id, number, client, score, reward, list(proof))

    def claim_call(
        self,
        number: int,
        score: int,
        reward: int,
        proof: Sequence[bytes],
        min_tokens_out: int = 0,
        now: int | None = None,
    ) -> Bound:
        """The ``claimReward`` call (to send, or to put in a :meth:`multicall`); its swap's
        deadline counts from ``now`` (the chain's time as just read), or from :meth:`now`."""
        deadline = (self.now() if now is None else now) + CLAIM_DEADLINE_SECONDS
        return self._call(
            "claimReward",
            self.task_id,
            number,
            score,
            reward,
            list(proof),
            min_tokens_out,
            deadline,
        )

    def challenge(self, signer: LocalAccount, number: int, reason_hash: bytes) -> TxResult:
        bond = self.params().challenge_bond
        self.ensure_allowance(signer, self.federation.address, bond)
        fn = self.federation.functions.challenge(self.task_id, number, reason_hash)
        return self.send(fn, signer)

    def resolve(self, signer: LocalAccount, number: int, keep_post: bool) -> TxResult:
        """The arbiter's decision: keep the post (dismiss the challenge) or void it (uphold)."""
        name = "dismissChallenge" if keep_post else "upholdChallenge"
        fn = getattr(self.federation.functions, name)(self.task_id, number)
        return self.send(fn, signer)


class RoundOpenings:
    """Blocks where a task's rounds opened, kept in a daemon's checkpoint: ``opened.<n>`` per
    round and ``scan_from``, the latest of them. Rounds open in order, so a round whose opening
    was not recorded (a crash between the transaction and the checkpoint) is searched from
    ``scan_from`` on after a restart, not from the deployment's block."""

    def __init__(self, api: FederationApi, checkpoint: Checkpoint):
        self.api = api
        self.checkpoint = checkpoint

    def record(self, number: int, block: int) -> None:
        """Round ``number`` opened in ``block`` (written at once, and told to the api)."""
        self.api.remember_opened(number, block)
        values = {
            f"opened.{number}": int(block),
            "scan_from": max(int(self.checkpoint.get("scan_from", 0)), int(block)),
        }
        if any(self.checkpoint.get(k) != v for k, v in values.items()):
            self.checkpoint.update(values)

    def block(self, number: int) -> int:
        """Where round ``number`` opened: from the checkpoint, else from its RoundOpened event
        (searched from ``scan_from``, then from the deployment's block), then recorded."""
        found = self.checkpoint.get(f"opened.{number}")
        if found is None:
            scan_from = int(self.checkpoint.get("scan_from", 0))
            found = self.api.round_opened_block(number, scan_from)
            if found is None and scan_from:  # a checkpoint ahead of this round: scan it all
                found = self.api.round_opened_block(number)
            if found is None:
                raise ChainError(f"no RoundOpened event for round {number}")
        self.record(number, int(found))
        return int(found)
