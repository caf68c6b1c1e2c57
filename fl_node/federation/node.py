"""The participant daemon (Flower's client app, on a chain).

It registers the client (its token and pool are created then), joins the task (locking the join
bond), keeps enough stake deposited, and for every round: fetches the global model, checks it
against its on-chain hash, trains on the client's private data, and commits a sealed hash of its
update with a stake. Once commits close it uploads the update to the artifact store and reveals
the hash, so no other client can copy it in time. Once rounds end it settles its stake and claims
its reward by Merkle proof, reclaims stakes of aborted rounds (and of rounds whose results leave
it out, once their claim window ends), collects any credit owed to it, and leaves the task when
it is over.

Idempotent on restart: training is deterministic (same seed, same bytes, same hash), the commit's
salt is derived from the client's key, uploads are content-addressed, and every chain action is
preceded by a read of the state it would change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from eth_account.signers.local import LocalAccount

from fl_node.artifacts.codec import decode_weights, encode_weights, keccak
from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import TxReverted
from fl_node.chain.events import Checkpoint
from fl_node.config import format_units
from fl_node.errors import ArtifactError, ChainError, ConfigError
from fl_node.federation.context import TaskContext, derive_seed
from fl_node.federation.protocol import (
    FederationApi,
    Phase,
    RoundState,
    TaskParams,
    TaskStatus,
    commit_salt,
    commitment_hash,
    hex32,
)
from fl_node.federation.stats import RoundStats
from fl_node.federation.storage import fetch_results
from fl_node.training.local import train_local
from fl_node.training.quality import apply_behavior

SLIPPAGE_BPS = 100  # 1 % below the quote when a buyback claim swaps on the pool
#: Reverts that mean "someone (a keeper, or this node before a restart) did it already".
DONE_ALREADY = ("AlreadySettled", "AlreadyClaimed", "AlreadyCommitted", "AlreadyRevealed")


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
        check_task_matches(self.params, self.ctx, self.api.task_id)
        self.address = self.signer.address
        self.decimals = self.api.decimals
        self.stake = self.ctx.config.units(self.ctx.config.federation.stake, self.decimals)

    def _fmt(self, amount: int) -> str:
        return format_units(amount, self.decimals)

    # -- set-up ---------------------------------------------------------------------------------
    def ensure_setup(self) -> None:
        api, me = self.api, self.address
        if not api.client.call(api.registry.functions.isRegistered(me)):
            self._register()
        if not api.seat(me).active:
            if api.state().status != TaskStatus.ACTIVE:
                raise ConfigError(f"task {api.task_id} is no longer active: it takes no clients")
            self.ensure_stake(extra=self.params.join_bond)
            api.join(self.signer)
            self.log(f"joined task {api.task_id} (join bond {self._fmt(self.params.join_bond)})")
        self.ensure_stake()

    def _register(self) -> None:
        api, me = self.api, self.address
        name = self.token_name or f"Client {self.index} {me[2:8]}"
        symbol = f"C{self.index}X{me[2:6].upper()}"
        offer = self.ctx.config.client(self.index)
        tokens = self.ctx.config.wei(offer.offer_tokens)  # client tokens have 18 decimals
        base = self.ctx.config.units(offer.offer_base, self.decimals)
        if tokens > 0 and base > 0:
            # Open the client's market at registration: it sells part of its tokens against
            # base tokens, which sets the opening price and lets investors (and buybacks) trade.
            api.ensure_allowance(self.signer, api.registry.address, base)
            fn = api.registry.functions.registerWithOffering(name, symbol, tokens, base)
            api.send(fn, self.signer)
            self.log(f"registered {me} with token {symbol} and a market at {base / tokens:.6g}")
        else:
            api.send(api.registry.functions.register(name, symbol), self.signer)
            self.log(f"registered {me} with token {symbol}")

    def ensure_stake(self, extra: int = 0) -> None:
        """Keep at least one round's stake (plus ``extra``) free in the vault, topping up from
        the wallet with enough for the rounds left."""
        api, me = self.api, self.address
        need = self.stake + extra
        free = api.free_stake(me)
        if free >= need:
            return
        remaining = max(1, self.params.num_rounds - api.state().current_round + 1)
        wallet = api.base_balance(me)
        amount = min(wallet, self.stake * remaining + extra - free)
        if amount + free < need:
            raise ChainError(
                f"{me} holds {self._fmt(wallet)} base tokens and {self._fmt(free)} free stake: "
                f"not enough to stake {self._fmt(need)}"
            )
        api.ensure_allowance(self.signer, api.vault.address, amount)
        api.send(api.vault.functions.deposit(amount), self.signer)
        self.log(f"deposited {self._fmt(amount)} stake")

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
        """Act on the current state; True once the task is over and everything is settled."""
        state = self.api.state()
        number = state.current_round
        if number and state.status == TaskStatus.ACTIVE:
            info = self.api.round(number)
            now = self.api.now()
            commitment = self.api.commitment(number, self.address)
            try:
                if not commitment.exists:
                    if info.phase == Phase.COMMIT and now <= info.commit_deadline:
                        self._commit(number, info)
                elif not commitment.revealed and info.reveals_open(
                    self.params, now, state.participants
                ):
                    self._reveal(number)
            except ArtifactError as exc:
                # The store may lag the chain (another machine, an eventually consistent
                # bucket): wait and try again rather than train on anything else.
                self._warn_once(f"round {number}: global model not available yet ({exc})")
        pending = self._settle_ended(number)
        if state.status == TaskStatus.ACTIVE or pending:
            return False
        self._leave()
        return True

    # -- commit and reveal ---------------------------------------------------------------------
    def make_update(self, number: int, parent_blob: bytes) -> bytes:
        """The update blob of this client for ``number`` (overridden by simulated adversaries)."""
        return local_update(self.ctx, self.index, number, parent_blob, self.address)

    def _update_path(self, number: int) -> Path:
        return (
            self.workdir
            / f"node-{self.index}-updates"
            / f"task-{self.api.task_id}-round-{number}.flw"
        )

    def _update_blob(self, number: int, parent_hash: bytes) -> bytes:
        """This round's update: from the workdir if this node made it already, else trained now
        (deterministic: a restarted node makes the same bytes)."""
        path = self._update_path(number)
        if path.is_file():
            return path.read_bytes()
        parent_blob = self.store.get(hex32(parent_hash))
        with self.stats.timed(number, "train"):
            blob = self.make_update(number, parent_blob)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
        return blob

    def salt(self, number: int) -> bytes:
        return commit_salt(
            self.signer,
            self.api.client.chain_id,
            self.api.federation.address,
            self.api.task_id,
            number,
        )

    def sealed(self, number: int, update_hash: bytes) -> bytes:
        """The commitment hash that hides ``update_hash`` until the reveal."""
        return commitment_hash(
            self.api.task_id, number, self.address, update_hash, self.salt(number)
        )

    def _commit(self, number: int, info: RoundState) -> None:
        blob = self._update_blob(number, info.parent_model_hash)
        self._send_commit(number, self.sealed(number, keccak(blob)))

    def _send_commit(self, number: int, sealed: bytes) -> None:
        before = self.api.client.tx_seconds
        try:
            self.ensure_stake()
            self.api.commit(self.signer, number, sealed, self.stake)
        except TxReverted as exc:
            if exc.error in ("AlreadyCommitted", "CommitClosed", "WrongPhase"):
                return
            raise
        finally:
            self.stats.add(number, "tx", self.api.client.tx_seconds - before)
        self.log(f"round {number}: committed {hex32(sealed)[:10]}")

    def _reveal(self, number: int) -> None:
        info = self.api.round(number)
        blob = self._update_blob(number, info.parent_model_hash)
        update_hash = self.store.put(blob)  # uploaded only now: nobody could copy it earlier
        self._send_reveal(number, bytes.fromhex(update_hash[2:]), self.salt(number))

    def _send_reveal(self, number: int, update_hash: bytes, salt: bytes) -> bool:
        before = self.api.client.tx_seconds
        try:
            self.api.reveal(self.signer, number, update_hash, salt)
        except TxReverted as exc:
            if exc.error in ("AlreadyRevealed", "CommitWindowOpen"):
                return False
            if exc.error in ("RevealClosed", "WrongPhase", "RevealMismatch"):
                self._warn_once(f"round {number}: reveal refused ({exc.error})")
                return False
            raise
        finally:
            self.stats.add(number, "tx", self.api.client.tx_seconds - before)
        self.log(f"round {number}: revealed {hex32(update_hash)[:10]}")
        return True

    # -- settlement -----------------------------------------------------------------------------
    def _settle_ended(self, current: int) -> bool:
        """Settle, claim or reclaim every ended round; True while something is still pending."""
        pending = False
        done = set(self._checkpoint.get("claimed", []))
        for number in range(1, current + 1):
            if number in done:
                continue
            if self._settle_round(number, current):
                done.add(number)
            else:
                pending = True
        self._checkpoint.set("claimed", sorted(done))
        self._withdraw_credit()
        return pending

    def _settle_round(self, number: int, current: int) -> bool:
        """Act on one round; True once nothing is left to do in it."""
        api = self.api
        info = api.round(number)
        commitment = api.commitment(number, self.address)
        if not commitment.exists:
            return info.phase.ended or number < current
        if commitment.settled and (commitment.claimed or info.phase == Phase.ABORTED):
            return True
        if info.phase == Phase.ABORTED:
            self._ignore_done(lambda: api.reclaim(self.signer, number))
            self.log(f"round {number} was aborted: stake reclaimed")
            return True
        if info.phase != Phase.FINALIZED:
            return False
        now = api.now()
        if now > info.claim_deadline(self.params):
            if not commitment.settled:
                self._ignore_done(lambda: api.reclaim(self.signer, number))
                self.log(f"round {number}: claim window over, stake reclaimed")
            return True
        try:
            table = fetch_results(self.store, info.results_root)
            row = table.row(self.address)
        except (ArtifactError, KeyError) as exc:
            # No provable result for this client: its stake comes back after the claim window.
            self._warn_once(
                f"round {number}: no result for this client under the posted root ({exc}); "
                "reclaiming the stake after the claim window"
            )
            return False
        proof = table.proof(self.address)
        if row.reward > 0 and not commitment.claimed:
            # One transaction: claimReward settles the stake first when it is not settled yet.
            try:
                api.claim_reward(
                    self.signer,
                    number,
                    row.score,
                    row.reward,
                    proof,
                    self._min_tokens_out(row.reward),
                )
                self.log(f"round {number}: claimed reward {self._fmt(row.reward)}")
            except TxReverted as exc:
                if exc.error == "InsufficientOutput":
                    # The market moved between the quote and the buyback: quote again later.
                    self.log(f"round {number}: price moved past the slippage bound; retrying")
                    return False
                if exc.error not in DONE_ALREADY:
                    raise
        elif not commitment.settled:
            self._ignore_done(
                lambda: api.settle_stake(
                    self.signer, number, self.address, row.score, row.reward, proof
                )
            )
        return True

    def _withdraw_credit(self) -> None:
        """Collect what the federation owes this client (slashes, bond-covered shortfalls)."""
        owed = self.api.credit(self.address)
        if owed > 0:
            self.api.withdraw_credit(self.signer)
            self.log(f"withdrew a credit of {self._fmt(owed)}")

    def _leave(self) -> None:
        """Once the task is over, give up the seat and get the join bond back."""
        if self.api.seat(self.address).active:
            self._ignore_done(lambda: self.api.leave(self.signer), "NotParticipant")
            self.log(f"left task {self.api.task_id}: join bond released")

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
    def _ignore_done(action: Callable[[], object], *benign: str) -> None:
        try:
            action()
        except TxReverted as exc:
            if exc.error not in DONE_ALREADY + benign:
                raise


def check_task_matches(params: TaskParams, ctx: TaskContext, task_id: int) -> None:
    """Refuse to work on a task whose on-chain hashes differ from this machine's config."""
    if params.model_spec_hash != ctx.model_spec_hash:
        raise ConfigError(
            f"task {task_id}'s on-chain model spec hash differs from this config's: wrong "
            "--config for this task"
        )
    if params.validation_spec_hash != ctx.validation_spec_hash:
        raise ConfigError(
            f"task {task_id}'s on-chain validation spec hash differs from this config's: wrong "
            "--config for this task"
        )
    if params.config_hash != ctx.config_hash:
        raise ConfigError(
            f"task {task_id}'s on-chain config hash {hex32(params.config_hash)} differs from this "
            f"config's {hex32(ctx.config_hash)}: get the task's exact config from its sponsor"
        )
