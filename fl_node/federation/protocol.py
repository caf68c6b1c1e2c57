"""Typed, read-only views of the Federation contract's state, and the calls that change it.

The node and the aggregator are loops over this state machine; they read it here and act through
:class:`FederationApi`, which is the narrow interface between the daemons and the chain.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_account.signers.local import LocalAccount

from fl_node.chain.client import ChainClient, TxResult
from fl_node.chain.events import EventLog

ZERO32 = b"\x00" * 32
#: Gas limit of calls that are only valid after a deadline. Gas estimation runs against the latest
#: block, whose timestamp can still be before the deadline (a local chain mines only on demand),
#: so these are sent with a fixed limit and mined in a new block carrying the current time.
TIME_GATED_GAS = 600_000


class Phase(IntEnum):
    NONE = 0
    COMMIT = 1
    POSTED = 2
    CHALLENGED = 3
    FINALIZED = 4
    ABORTED = 5


class TaskStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    COMPLETED = 2
    CANCELLED = 3
    CLOSED = 4


@dataclass(frozen=True)
class TaskParams:
    model_spec_hash: bytes
    validation_spec_hash: bytes
    initial_model_hash: bytes
    aggregator: str
    commit_window: int
    challenge_window: int
    post_timeout: int
    max_clients: int
    num_rounds: int
    stake_min: int
    reward_per_round: int
    payout_threshold: int
    payout_cap: int
    mode: int
    metadata_uri: str


@dataclass(frozen=True)
class TaskState:
    status: TaskStatus
    current_round: int
    latest_model_hash: bytes
    participants: int


@dataclass(frozen=True)
class RoundInfo:
    phase: Phase
    parent_model_hash: bytes
    model_hash: bytes
    results_root: bytes
    commit_deadline: int
    challenge_deadline: int
    total_at_risk: int
    commits: int
    reward_left: int
    payout_left: int


@dataclass(frozen=True)
class Commitment:
    update_hash: bytes
    stake: int
    settled: bool
    claimed: bool

    @property
    def exists(self) -> bool:
        return self.update_hash != ZERO32


@dataclass(frozen=True)
class CommitEvent:
    client: str
    update_hash: bytes
    stake: int
    block_number: int


def hex32(value: bytes) -> str:
    return "0x" + bytes(value).hex()


class FederationApi:
    """The Federation, vault, escrow and registry of one deployment, for one task."""

    def __init__(self, client: ChainClient, task_id: int):
        self.client = client
        self.task_id = task_id
        self.federation = client.contract("Federation")
        self.vault = client.contract("StakeVault")
        self.escrow = client.contract("RewardEscrow")
        self.registry = client.contract("ClientRegistry")
        assert client.deployment is not None
        self.base = client.contract(client.deployment.base_token)
        self._events = EventLog(client, ["Federation"])

    # -- reads ----------------------------------------------------------------------------------
    def params(self) -> TaskParams:
        raw = self.client.call(self.federation.functions.taskParams(self.task_id))
        return TaskParams(*[_plain(v) for v in raw])

    def state(self) -> TaskState:
        status, current, latest, participants = self.client.call(
            self.federation.functions.taskState(self.task_id)
        )
        return TaskState(TaskStatus(status), int(current), bytes(latest), int(participants))

    def round(self, number: int) -> RoundInfo:
        raw = self.client.call(self.federation.functions.roundInfo(self.task_id, number))
        return RoundInfo(Phase(raw[0]), *[_plain(v) for v in raw[1:]])

    def commitment(self, number: int, client: str) -> Commitment:
        update, stake, settled, claimed = self.client.call(
            self.federation.functions.commitmentOf(self.task_id, number, client)
        )
        return Commitment(bytes(update), int(stake), bool(settled), bool(claimed))

    def is_participant(self, client: str) -> bool:
        return bool(self.client.call(self.federation.functions.isParticipant(self.task_id, client)))

    def commits(self, number: int, from_block: int = 0) -> list[CommitEvent]:
        """Every commitment of round ``number``, in chain order (from the events)."""
        latest = self.client.block_number()
        events = self._events.fetch(from_block, latest, names=["UpdateCommitted"])
        return [
            CommitEvent(
                client=e.args["client"],
                update_hash=bytes(e.args["updateHash"]),
                stake=int(e.args["stake"]),
                block_number=e.block_number,
            )
            for e in events
            if int(e.args["taskId"]) == self.task_id and int(e.args["round"]) == number
        ]

    def round_opened_block(self, number: int, from_block: int = 0) -> int | None:
        """Block of the round's RoundOpened event (None before it is opened)."""
        blocks = self._round_event_blocks("RoundOpened", number, from_block)
        return blocks[0] if blocks else None

    def round_posted_block(self, number: int, from_block: int = 0) -> int | None:
        """Block of the round's latest RoundPosted event (a voided post can be followed by
        another); None while it is unposted."""
        blocks = self._round_event_blocks("RoundPosted", number, from_block)
        return blocks[-1] if blocks else None

    def _round_event_blocks(self, name: str, number: int, from_block: int) -> list[int]:
        latest = self.client.block_number()
        return [
            e.block_number
            for e in self._events.fetch(from_block, latest, names=[name])
            if int(e.args["taskId"]) == self.task_id and int(e.args["round"]) == number
        ]

    def now(self) -> int:
        """The timestamp the next block will carry, at least: the chain's clock never runs behind
        wall time on a live chain, and a local chain whose clock was moved forward stays ahead."""
        return max(self.client.timestamp(), int(time.time()))

    # -- writes ---------------------------------------------------------------------------------
    def send(self, fn: Any, signer: LocalAccount, gas: int | None = None) -> TxResult:
        return self.client.send(fn, signer, gas=gas)

    def open_round(self, signer: LocalAccount) -> TxResult:
        return self.send(self.federation.functions.openRound(self.task_id), signer)

    def commit(self, signer: LocalAccount, number: int, update_hash: bytes, stake: int) -> TxResult:
        fn = self.federation.functions.commit(self.task_id, number, update_hash, stake)
        return self.send(fn, signer)

    def post(
        self,
        signer: LocalAccount,
        number: int,
        model_hash: bytes,
        root: bytes,
        total_reward: int,
        total_payout: int,
        early: bool = False,
    ) -> TxResult:
        """Post a round; ``early`` when every participant committed (no deadline involved)."""
        fn = self.federation.functions.postRound(
            self.task_id, number, model_hash, root, total_reward, total_payout
        )
        return self.send(fn, signer, gas=None if early else TIME_GATED_GAS)

    def finalize(self, signer: LocalAccount, number: int) -> TxResult:
        fn = self.federation.functions.finalizeRound(self.task_id, number)
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
        fn = self.federation.functions.settleStake(
            self.task_id, number, client, score, reward, list(proof)
        )
        return self.send(fn, signer)

    def claim_reward(
        self,
        signer: LocalAccount,
        number: int,
        score: int,
        reward: int,
        proof: Sequence[bytes],
        min_tokens_out: int = 0,
    ) -> TxResult:
        fn = self.federation.functions.claimReward(
            self.task_id, number, score, reward, list(proof), min_tokens_out
        )
        return self.send(fn, signer)

    def challenge(self, signer: LocalAccount, number: int, reason_hash: bytes) -> TxResult:
        fn = self.federation.functions.challenge(self.task_id, number, reason_hash)
        return self.send(fn, signer)


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return value
