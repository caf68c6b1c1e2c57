"""The aggregator daemon (Flower's server app, on a chain): opens rounds, waits for commits,
verifies and aggregates the updates, scores contributions, posts the new global model hash with
the Merkle root of the results, finalizes rounds after the challenge window, and (as a keeper)
forces the settlement of stakes that must be burned.

Idempotent on restart: every step is decided by reading the chain's state machine, and every
computation is a pure function of on-chain data and stored blobs, so a killed aggregator started
again produces the same bytes and simply carries on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import TxReverted
from fl_node.chain.events import Checkpoint
from fl_node.errors import ChainError, ConfigError
from fl_node.federation.context import TaskContext
from fl_node.federation.engine import RoundOutput, compute_round
from fl_node.federation.inputs import round_inputs
from fl_node.federation.protocol import FederationApi, Phase, TaskStatus, hex32
from fl_node.federation.stats import RoundStats
from fl_node.federation.storage import fetch_results, publish_results

#: Reverts that only mean "a deadline has not passed on the chain's clock yet": try again later.
NOT_YET = ("PhaseNotOver", "CommitWindowOpen")


@dataclass
class AggregatorDaemon:
    api: FederationApi
    signer: LocalAccount
    ctx: TaskContext
    store: ArtifactStore
    workdir: Path
    poll: float = 0.2
    enforce_burns: bool = True
    log: Callable[[str], None] = print
    on_round: Callable[[RoundOutput], None] | None = None
    _checkpoint: Checkpoint = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._checkpoint = Checkpoint(self.workdir / "aggregator.json")
        self.stats = RoundStats(self.workdir / "stats-aggregator.json")
        params = self.api.params()
        if params.aggregator.lower() != self.signer.address.lower():
            raise ConfigError(
                f"this key ({self.signer.address}) is not the aggregator of task "
                f"{self.api.task_id} ({params.aggregator})"
            )
        if params.model_spec_hash != self.ctx.model_spec_hash:
            raise ConfigError(
                "the task's on-chain model spec hash differs from this config's: wrong --config "
                "for this task"
            )
        self.params = params

    # -- the loop -------------------------------------------------------------------------------
    def run(self, max_seconds: float | None = None) -> None:
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        while deadline is None or time.monotonic() < deadline:
            if self.step():
                return
            time.sleep(self.poll)
        raise ChainError(f"the aggregator did not finish within {max_seconds:.0f} s")

    def step(self) -> bool:
        """Do the next thing the state machine asks for; True once the task is over."""
        state = self.api.state()
        if state.status != TaskStatus.ACTIVE:
            self._enforce_pending_burns(state.current_round)
            return True
        number = state.current_round
        info = self.api.round(number) if number else None
        if info is None or info.phase in (Phase.FINALIZED, Phase.ABORTED):
            if number < self.params.num_rounds:
                self._open(number + 1)
            return False
        if info.phase == Phase.COMMIT:
            all_in = state.participants > 0 and info.commits >= state.participants
            if all_in or self.api.now() > info.commit_deadline:
                self._post(number, early=all_in)
            return False
        if info.phase == Phase.POSTED and self.api.now() > info.challenge_deadline:
            try:
                with self._tx(number):
                    self.api.finalize(self.signer, number)
            except TxReverted as exc:
                if exc.error in NOT_YET:  # the block's clock was a little behind ours
                    return False
                raise
            self.stats.stamp(number, "finalized_at")
            self.log(f"round {number} finalized")
            self._enforce_burns(number)
        return False

    @contextmanager
    def _tx(self, number: int) -> Iterator[None]:
        before = self.api.client.tx_seconds
        try:
            yield
        finally:
            self.stats.add(number, "tx", self.api.client.tx_seconds - before)

    # -- steps ----------------------------------------------------------------------------------
    def _open(self, number: int) -> None:
        self.stats.stamp(number, "opened_at")
        with self._tx(number):
            result = self.api.open_round(self.signer)
        self._checkpoint.set(f"opened.{number}", result.block_number)
        self.log(f"round {number} opened")

    def _opened_block(self, number: int) -> int:
        block = self._checkpoint.get(f"opened.{number}")
        if block is None:
            block = self.api.round_opened_block(number, self._checkpoint.get("scan_from", 0))
            if block is None:
                raise ChainError(f"no RoundOpened event for round {number}")
            self._checkpoint.set(f"opened.{number}", block)
        return int(block)

    def _post(self, number: int, early: bool) -> None:
        inputs = round_inputs(self.api, self.store, number, self._opened_block(number))
        with self.stats.timed(number, "compute"):
            output = compute_round(inputs, self.ctx)
        stored = self.store.put(output.model_blob)
        if stored != "0x" + output.model_hash.hex():
            raise ChainError("the store returned a different hash for the new global model")
        root = publish_results(self.store, output.results)
        results = output.results
        try:
            with self._tx(number):
                self.api.post(
                    self.signer,
                    number,
                    output.model_hash,
                    root,
                    results.total_reward,
                    results.total_payout,
                    early=early,
                )
        except TxReverted as exc:
            if exc.error in NOT_YET:
                return  # posted again on the next step, with the same bytes
            raise
        self.log(
            f"round {number} posted: {sum(r.included for r in results.rows)}/{len(results.rows)} "
            f"updates used, val acc {results.metrics['val_accuracy']:.3f}, model "
            f"{hex32(output.model_hash)[:10]}"
        )
        if self.on_round is not None:
            self.on_round(output)

    def _enforce_burns(self, number: int) -> None:
        if not self.enforce_burns or self._checkpoint.get(f"burns.{number}"):
            return
        info = self.api.round(number)
        if info.phase != Phase.FINALIZED:
            return
        table = fetch_results(self.store, info.results_root)
        for row in table.rows:
            if row.payout >= 0 or self.api.commitment(number, row.client).settled:
                continue
            try:
                self.api.settle_stake(
                    self.signer, number, row.client, row.score, row.reward, table.proof(row.client)
                )
                self.log(f"round {number}: burned {row.payout / 1e18:+.4f} of {row.client[:10]}")
            except TxReverted as exc:  # settled by the client in the meantime
                if exc.error != "AlreadySettled":
                    raise
        self._checkpoint.set(f"burns.{number}", True)

    def _enforce_pending_burns(self, last_round: int) -> None:
        for number in range(1, last_round + 1):
            self._enforce_burns(number)
