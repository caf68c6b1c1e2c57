"""The participant daemon (Flower's client app, on a chain).

It registers the client (its token and pool are created then), joins the task, keeps enough stake
deposited, and for every round: fetches the global model, checks it against its on-chain hash,
trains on the client's private data, uploads the update to the artifact store, and commits the
update's hash with a stake. Once rounds are finalized it settles its stake and claims its reward by
Merkle proof.

Idempotent on restart: training is deterministic (same seed, same bytes, same hash), uploads are
content-addressed, and every chain action is preceded by a read of the state it would change.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from eth_account.signers.local import LocalAccount

from fl_node.artifacts.codec import decode_weights, encode_weights
from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import TxReverted
from fl_node.chain.events import Checkpoint
from fl_node.errors import ArtifactError, ChainError, ConfigError
from fl_node.federation.context import TaskContext, derive_seed
from fl_node.federation.protocol import FederationApi, Phase, TaskStatus, hex32
from fl_node.federation.stats import RoundStats
from fl_node.federation.storage import fetch_results
from fl_node.training.local import train_local
from fl_node.training.quality import apply_behavior

SLIPPAGE_BPS = 100  # 1 % below the quote when a buyback claim swaps on the pool


def local_update(
    ctx: TaskContext,
    index: int,
    round_number: int,
    parent_blob: bytes,
    client: str,
    other_update: dict[str, np.ndarray] | None = None,
) -> bytes:
    """The update blob client ``index`` submits in ``round_number`` (deterministic)."""
    parent, _ = decode_weights(parent_blob, expected=ctx.param_spec)
    x, y = ctx.client_data(index)
    trained = train_local(
        ctx.model_spec,
        parent,
        x,
        y,
        ctx.train_config,
        seed=derive_seed(ctx.config.seed, "train", index, round_number),
    )
    rng = np.random.default_rng(derive_seed(ctx.config.seed, "behavior", index, round_number))
    submitted = apply_behavior(ctx.profile(index), parent, trained.weights, rng, other_update)
    meta = {
        "kind": "update",
        "round": round_number,
        "client": client.lower(),
        "num_samples": int(trained.num_samples),
    }
    return encode_weights(submitted, meta)


@dataclass
class NodeDaemon:
    api: FederationApi
    signer: LocalAccount
    ctx: TaskContext
    store: ArtifactStore
    index: int
    workdir: Path
    poll: float = 0.2
    token_name: str | None = None
    log: Callable[[str], None] = print
    _checkpoint: Checkpoint = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._checkpoint = Checkpoint(self.workdir / f"node-{self.index}.json")
        self.stats = RoundStats(self.workdir / f"stats-node-{self.index}.json")
        self.params = self.api.params()
        if self.params.model_spec_hash != self.ctx.model_spec_hash:
            raise ConfigError(
                "the task's on-chain model spec hash differs from this config's: wrong --config "
                "for this task"
            )
        if self.params.validation_spec_hash != self.ctx.validation_spec_hash:
            raise ConfigError("the task's validation spec hash differs from this config's")
        self.address = self.signer.address
        self.stake = self.ctx.config.wei(self.ctx.config.federation.stake)

    # -- set-up ---------------------------------------------------------------------------------
    def ensure_setup(self) -> None:
        api, me = self.api, self.address
        if not api.client.call(api.registry.functions.isRegistered(me)):
            name = self.token_name or f"Client {self.index} {me[2:8]}"
            symbol = f"C{self.index}X{me[2:6].upper()}"
            offer = self.ctx.config.client(self.index)
            tokens, base = (
                self.ctx.config.wei(offer.offer_tokens),
                self.ctx.config.wei(offer.offer_base),
            )
            if tokens > 0 and base > 0:
                # Open the client's market at registration: it sells part of its tokens against
                # base tokens, which sets the opening price and lets investors (and buybacks) trade.
                allowance = int(
                    api.client.call(api.base.functions.allowance(me, api.registry.address))
                )
                if allowance < base:
                    api.send(api.base.functions.approve(api.registry.address, base), self.signer)
                fn = api.registry.functions.registerWithOffering(name, symbol, tokens, base)
                api.send(fn, self.signer)
                self.log(f"registered {me} with token {symbol} and a market at {base / tokens:.6f}")
            else:
                api.send(api.registry.functions.register(name, symbol), self.signer)
                self.log(f"registered {me} with token {symbol}")
        if not api.is_participant(me):
            api.send(api.federation.functions.joinTask(api.task_id), self.signer)
            self.log(f"joined task {api.task_id}")
        self.ensure_stake()

    def ensure_stake(self) -> None:
        """Keep at least one round's stake free in the vault, topping up from the wallet."""
        api, me = self.api, self.address
        free = int(api.client.call(api.vault.functions.freeStake(me)))
        if free >= self.stake:
            return
        remaining = max(1, self.params.num_rounds - self.api.state().current_round + 1)
        wallet = int(api.client.call(api.base.functions.balanceOf(me)))
        amount = min(wallet, self.stake * remaining)
        if amount + free < self.stake:
            raise ChainError(
                f"{me} holds {wallet / 1e18:.2f} base tokens: not enough to stake "
                f"{self.stake / 1e18:.2f} per round"
            )
        allowance = int(api.client.call(api.base.functions.allowance(me, api.vault.address)))
        if allowance < amount:
            api.send(api.base.functions.approve(api.vault.address, amount), self.signer)
        api.send(api.vault.functions.deposit(amount), self.signer)
        self.log(f"deposited {amount / 1e18:.2f} stake")

    # -- the loop -------------------------------------------------------------------------------
    def run(self, max_seconds: float | None = None) -> None:
        self.ensure_setup()
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        while deadline is None or time.monotonic() < deadline:
            if self.step():
                return
            time.sleep(self.poll)
        raise ChainError(f"node {self.index} did not finish within {max_seconds:.0f} s")

    def step(self) -> bool:
        """Act on the current state; True once the task is over and everything is claimed."""
        state = self.api.state()
        number = state.current_round
        if number and state.status == TaskStatus.ACTIVE:
            info = self.api.round(number)
            if info.phase == Phase.COMMIT and self.api.now() <= info.commit_deadline:
                commitment = self.api.commitment(number, self.address)
                if not commitment.exists:
                    try:
                        self._commit(number, info.parent_model_hash)
                    except ArtifactError as exc:
                        # The store may lag the chain (another machine, an eventually consistent
                        # bucket): wait and try again rather than train on anything else.
                        self._warn_once(f"round {number}: global model not available yet ({exc})")
        pending = self._claim_finalized(number)
        return state.status != TaskStatus.ACTIVE and not pending

    def _commit(self, number: int, parent_hash: bytes) -> None:
        parent_blob = self.store.get(hex32(parent_hash))
        other = (
            self._copy_target(number)
            if self.ctx.profile(self.index).behavior == "copycat"
            else None
        )
        if self.ctx.profile(self.index).behavior == "copycat" and other is None:
            return  # a copycat waits until someone else has committed something to copy
        with self.stats.timed(number, "train"):
            blob = local_update(self.ctx, self.index, number, parent_blob, self.address, other)
        update_hash = self.store.put(blob)
        before = self.api.client.tx_seconds
        try:
            self.ensure_stake()
            self.api.commit(self.signer, number, bytes.fromhex(update_hash[2:]), self.stake)
        except TxReverted as exc:
            if exc.error in ("AlreadyCommitted", "CommitClosed"):
                return
            raise
        finally:
            self.stats.add(number, "tx", self.api.client.tx_seconds - before)
        self.log(f"round {number}: committed {update_hash[:10]}")

    def _copy_target(self, number: int) -> dict[str, np.ndarray] | None:
        """A copycat's loot: once every other participant has committed, the update of the one
        with the lowest address (deterministic, whatever the timing)."""
        opened = self.api.round_opened_block(number, self._checkpoint.get("scan_from", 0)) or 0
        others = [
            e for e in self.api.commits(number, opened) if e.client.lower() != self.address.lower()
        ]
        if len(others) < self.api.state().participants - 1:
            return None
        for event in sorted(others, key=lambda e: e.client.lower()):
            try:
                weights, _ = decode_weights(self.store.get(hex32(event.update_hash)))
            except ArtifactError:
                continue
            return weights
        return None

    def _claim_finalized(self, current: int) -> bool:
        """Settle and claim every finalized round; True while something is still pending."""
        pending = False
        done = set(self._checkpoint.get("claimed", []))
        for number in range(1, current + 1):
            if number in done:
                continue
            info = self.api.round(number)
            commitment = self.api.commitment(number, self.address)
            if not commitment.exists or info.phase == Phase.ABORTED:
                if info.phase == Phase.ABORTED and commitment.exists and not commitment.settled:
                    self.api.send(
                        self.api.federation.functions.reclaimStake(self.api.task_id, number),
                        self.signer,
                    )
                if info.phase in (Phase.FINALIZED, Phase.ABORTED) or number < current:
                    done.add(number)
                continue
            if info.phase != Phase.FINALIZED:
                pending = True
                continue
            table = fetch_results(self.store, info.results_root)
            row = table.row(self.address)
            proof = table.proof(self.address)
            if row.reward > 0 and not commitment.claimed:
                # One transaction: claimReward settles the stake first when it is not settled yet.
                min_out = self._min_tokens_out(row.reward)
                try:
                    self.api.claim_reward(
                        self.signer, number, row.score, row.reward, proof, min_out
                    )
                    self.log(f"round {number}: claimed reward {row.reward / 1e18:.2f}")
                except TxReverted as exc:
                    if exc.error == "InsufficientOutput":
                        # The market moved between the quote and the buyback: quote again later.
                        self.log(f"round {number}: price moved past the slippage bound; retrying")
                        pending = True
                        continue
                    if exc.error != "AlreadyClaimed":
                        raise
            elif not commitment.settled:
                self._ignore_race(
                    functools.partial(
                        self.api.settle_stake,
                        self.signer,
                        number,
                        self.address,
                        row.score,
                        row.reward,
                        proof,
                    ),
                    "AlreadySettled",
                )
            done.add(number)
        self._checkpoint.set("claimed", sorted(done))
        return pending

    def _min_tokens_out(self, reward: int) -> int:
        if self.params.mode != 1:  # only buyback swaps
            return 0
        pool_address = self.api.client.call(self.api.registry.functions.poolOf(self.address))
        pool = self.api.client.contract("ClientPool", pool_address)
        try:
            quote = int(self.api.client.call(pool.functions.quoteBaseForTokens(reward)))
        except TxReverted:  # no market yet: the escrow pays the reward directly instead
            return 0
        return quote * (10_000 - SLIPPAGE_BPS) // 10_000

    def _warn_once(self, message: str) -> None:
        if message != getattr(self, "_last_warning", None):
            self.log(message)
            self._last_warning = message

    @staticmethod
    def _ignore_race(action: Callable[[], object], benign: str) -> None:
        try:
            action()
        except TxReverted as exc:
            if exc.error != benign:
                raise
