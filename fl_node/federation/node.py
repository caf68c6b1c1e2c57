"""The participant daemon: the runtime around a participant's own client app.

The app (Flower's ``NumPyClient`` shape, see :mod:`fl_node.app.client`) holds the model and the
private data; the node does everything else. Before anything is staked it checks that the task's
on-chain config hash is its config's and that its app builds the task's model (the on-chain model
spec hash is the layout hash of the app's parameters). It registers the client (its token and pool
are created then), joins the task (locking the join bond), keeps enough stake deposited, and for
every round: fetches the global model, checks it against its on-chain hash, has the app train on
it (``fit``), and commits a sealed hash of the update with a stake. Once commits close it uploads
the update to the artifact store and reveals the hash, so no other client can copy it in time.
Once rounds end it settles its stake and claims its reward by Merkle proof, reclaims stakes of
aborted rounds (and of rounds whose results leave it out, once their claim window ends), collects
any credit owed to it, and leaves the task when it is over.

Idempotent on restart: the app's training is deterministic (the bundled apps are; a participant's
own app should be, or its update is kept in the work folder until revealed), the commit's
salt is derived from the client's key, uploads are content-addressed, and every chain action is
preceded by a read of the state it would change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.types import BlockIdentifier

from fl_node.app.client import ClientApp, Context, call_fit
from fl_node.app.layout import ModelLayout, layout_of_weights
from fl_node.artifacts.codec import decode_weights, encode_weights, keccak
from fl_node.artifacts.outage import StoreOutage
from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import TxReverted
from fl_node.chain.events import Checkpoint
from fl_node.config import TaskConfig, format_units
from fl_node.errors import ArtifactError, ChainError, ConfigError
from fl_node.federation.funds import check_join_funds
from fl_node.federation.goals import Outcome, reach
from fl_node.federation.protocol import (
    ClientView,
    Commitment,
    FederationApi,
    Phase,
    RoundState,
    TaskParams,
    TaskStatus,
    commit_salt,
    commitment_hash,
    hex32,
)
from fl_node.federation.results import ResultRow
from fl_node.federation.stats import RoundStats, flushes_stats
from fl_node.federation.storage import UploadKeeper, fetch_model, fetch_results
from fl_node.federation.wake import Wake
from fl_node.federation.workstate import hold_lock, state_key

SLIPPAGE_BPS = 100  # 1 % below the quote when a buyback claim swaps on the pool
#: Earlier rounds still to settle that a step reads with the task's state (the rest a round trip
#: each).
READ_AHEAD = 8


@dataclass(frozen=True)
class Offering:
    """The market a client opens at registration: ``tokens`` of its own token (whole tokens)
    against ``base`` base tokens, which sets the opening price."""

    tokens: float = 0.0
    base: float = 0.0


def update_blob(
    app: ClientApp,
    context: Context,
    layout: ModelLayout,
    number: int,
    parent_blob: bytes,
    client: str,
) -> bytes:
    """The update blob the app makes from the parent model in round ``number``: its ``fit``
    result in the wire format, with its sample count (what FedAvg weights it by)."""
    weights, _ = decode_weights(parent_blob, expected=layout.param_spec)
    fit = call_fit(
        app.client(context),
        layout.from_named(weights),
        {"server_round": number, "task-id": context.run_id},
        app.name,
    )
    layout.check(fit.parameters, f"the parameters {app.name}'s fit returned")
    return encode_update(layout, fit.parameters, number, client, fit.num_examples)


def encode_update(
    layout: ModelLayout,
    parameters: Sequence[Any],
    number: int,
    client: str,
    num_samples: int,
) -> bytes:
    """The wire bytes of a client's update in round ``number``: the arrays in the app's order
    under the layout's names, with the metadata the engine reads (``num_samples`` is what FedAvg
    weights it by). Every runtime that carries an update (the node's own ``fit``, a Flower reply)
    encodes it here, so one update has one hash."""
    meta = {"kind": "update", "round": number, "client": client.lower(), "num_samples": num_samples}
    return encode_weights(layout.to_named(parameters), meta)


#: Seconds of claim window a claim sent with a commit must have left (else it goes alone).
CLAIM_MARGIN = 60


@dataclass(frozen=True)
class DueClaim:
    """What settles a finalized round of this client, sent in one transaction with the next
    commit: its reward claim (which settles the stake too), or with no reward its stake's
    settlement."""

    number: int
    call: Any  # the claimReward or settleStake call
    reward: int


@dataclass
class NodeDaemon:
    api: FederationApi
    signer: LocalAccount
    config: TaskConfig
    app: ClientApp
    context: Context
    store: ArtifactStore
    workdir: Path
    label: str = "node"
    offering: Offering = field(default_factory=Offering)
    #: Longest pause between two looks at the chain while waiting (see :meth:`run`).
    poll: float = 2.0
    token_name: str | None = None
    log: Callable[[str], None] = print
    _checkpoint: Checkpoint = field(init=False)
    _wake: Wake = field(init=False, default_factory=Wake)
    #: The task's current round at the last step: read with the task's state in one round trip.
    _current: int = field(init=False, default=0)
    #: This client's row and proof under each recent results root (see :meth:`_my_result`).
    _results: dict[bytes, tuple[ResultRow, list[bytes]]] = field(init=False, default_factory=dict)
    #: What the last step read, before it acted (see :meth:`committed`).
    view: ClientView | None = field(init=False, default=None)
    #: Rounds whose commit, or reveal, of this client was mined since the last step's read.
    _committed: set[int] = field(init=False, default_factory=set)
    _revealed: set[int] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.address = self.signer.address
        self.params = self.api.params()
        check_config(self.params, self.config, self.api.task_id)
        self.layout = app_layout(self.app, self.context)
        check_model(self.params, self.layout, self.app.name, self.api.task_id, self._task_layout)
        self.workdir.mkdir(parents=True, exist_ok=True)
        key = state_key(self.api, self.address)
        self._lock = hold_lock(self.workdir / f"node-{key}.lock", self.address)
        self._checkpoint = Checkpoint(self.workdir / f"node-{key}.json")
        self.stats = RoundStats(self.workdir / f"stats-{self.label}.json")
        self.decimals = self.api.decimals
        self.stake = self.config.units(self.config.federation.stake, self.decimals)
        self.store_outage = StoreOutage(self.log)
        self.keeper = UploadKeeper(self.store, self.address, self.log)

    def _fmt(self, amount: int) -> str:
        return format_units(amount, self.decimals)

    def _task_layout(self) -> ModelLayout | None:
        """The task's model layout, from its initial model in the store (None if unavailable)."""
        try:
            weights, _ = decode_weights(
                fetch_model(self.store, self.api, self.params.initial_model_hash)
            )
            return layout_of_weights(weights)
        except ArtifactError:
            return None

    # -- set-up ---------------------------------------------------------------------------------
    def ensure_setup(self) -> None:
        api, me = self.api, self.address
        registered = api.registry.is_registered(me)
        if not api.seat(me).active:
            if api.state().status != TaskStatus.ACTIVE:
                raise ConfigError(f"task {api.task_id} is no longer active: it takes no clients")
            # Before the first transaction: a client that cannot pay its stake and join bond
            # would hold a seat that every round waits for.
            offering = 0 if registered else self._offering_base()
            check_join_funds(api, me, self.stake, offering, registering=not registered)
            if not registered:
                self._ensure(self._register, lambda b: api.registry.is_registered(me, b))
            self.ensure_stake(extra=self.params.join_bond)
            if (
                self._ensure(lambda: api.join(self.signer), lambda b: api.seat(me, b).active)
                is Outcome.SENT
            ):
                bond = self._fmt(self.params.join_bond)
                self.log(f"joined task {api.task_id} (join bond {bond})")
        self.ensure_stake()

    def _ensure(
        self, action: Callable[[], object], reached: Callable[[BlockIdentifier], bool]
    ) -> Outcome:
        """A set-up action by the state it must reach: done when reached, whoever did it."""
        outcome = reach(action, reached)
        if outcome is Outcome.LATER:  # our own transaction from elsewhere, still pending
            raise ChainError(
                f"another transaction of {self.address} for the same set-up step is pending: "
                "is another node running with this key? Start again once it is mined"
            )
        return outcome

    def _offering_base(self) -> int:
        """Base tokens the registration puts in the client's market (0: no market)."""
        if self.offering.tokens > 0 and self.offering.base > 0:
            return self.config.units(self.offering.base, self.decimals)
        return 0

    def _register(self) -> None:
        api, me = self.api, self.address
        name = self.token_name or f"Client {me[2:8]}"
        symbol = f"C{me[2:7].upper()}"
        tokens = self.config.wei(self.offering.tokens)  # client tokens have 18 decimals
        base = self.config.units(self.offering.base, self.decimals)
        if tokens > 0 and base > 0:
            # Open the client's market at registration: it sells part of its tokens against
            # base tokens, which sets the opening price and lets investors (and buybacks) trade.
            api.registry.register_with_offering(self.signer, name, symbol, tokens, base)
            price = self.offering.base / self.offering.tokens  # base tokens per client token
            self.log(f"registered {me} with token {symbol} and a market at {price:.6g}")
        else:
            api.registry.register(self.signer, name, symbol)
            self.log(f"registered {me} with token {symbol}")

    def ensure_stake(self, extra: int = 0, free: int | None = None) -> None:
        """Keep at least one round's stake (plus ``extra``) free in the vault, topping up from
        the wallet with enough for the rounds left. ``free``: the free stake just read, if it
        was."""
        api, me = self.api, self.address
        need = self.stake + extra
        free = api.free_stake(me) if free is None else free
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
        api.vault.deposit(self.signer, amount)  # approves the vault for what is short first
        self.log(f"deposited {self._fmt(amount)} stake")

    # -- the loop -------------------------------------------------------------------------------
    def run(self, max_seconds: float | None = None) -> None:
        """Step until the task is over. Between steps the node sleeps until an event of the
        task is mined, the next deadline of the round passes, or something is to be retried;
        it looks at the chain at most every ``poll`` seconds while waiting."""
        self.ensure_setup()
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        waiter = self.api.waiter(longest=self.poll)
        while deadline is None or time.monotonic() < deadline:
            waiter.mark()
            if self.step():
                return
            waiter.wait(self._wake.until(deadline))
        raise ChainError(f"{self.label} did not finish within {max_seconds:.0f} s")

    def next_look(self) -> float | None:
        """When (``time.time()``) the last step found a reason to look at the chain again: the
        next deadline of the state it read, or a retry; None if only an event can move it."""
        return self._wake.at

    @flushes_stats
    def step(self) -> bool:
        """Act on the current state; True once the task is over and everything is settled."""
        self._wake = Wake()
        # One round trip reads the task, the round current at the last step and the next one,
        # the rounds still to settle, this client's credit and free stake; only a step that
        # finds a round further on costs a second one.
        view = self.view = self.api.client_view(self.address, self._rounds_to_read())
        self._committed.clear()
        self._revealed.clear()
        state, read, exact = view.state, view.rounds, view.exact
        number = self._current = state.current_round
        if number and state.status == TaskStatus.ACTIVE:
            if number not in read:
                info, commitment, exact = self.api.round_of(number, self.address)
                read[number] = (info, commitment)
            info, commitment = read[number]
            now = int(exact)
            self._wake.deadlines(info.deadlines(self.params), exact)
            # The store may lag the chain (another machine, an eventually consistent bucket):
            # a failed store action is retried on the next step, and given up on (one error)
            # once its window closed or after a bounded time.
            what = f"round {number}: "
            action: Callable[[], None] | None = None
            if not commitment.exists:
                if info.phase == Phase.COMMIT and now <= info.commit_deadline:
                    what += "global model not available yet"
                    claim = self._due_claim(number - 1, read, exact)
                    action = partial(self._commit, number, info, claim, view.free_stake)
            elif not commitment.revealed:
                if info.reveals_open(self.params, now, state.participants):
                    what += "cannot upload the update"
                    action = partial(self._reveal, number, info)
            elif info.phase == Phase.REVEAL:  # keep the evidence in place until the post
                what += "cannot check the uploaded update"
                action = partial(self._keep_uploaded, number, info)
            self.store_outage.attempt(what if action else None, action)
            if self.store_outage.failing:
                self._wake.soon()
        # What this step sent changed only the current round, and the round whose claim went
        # with the commit (marked done then): the rest of the read still holds.
        pending = self._settle_ended(number, read, exact, view.credit)
        if state.status == TaskStatus.ACTIVE or pending:
            return False
        self._leave()
        return True

    def expect(self, number: int) -> None:
        """Tell a node the task's current round is ``number`` (a runtime that makes a node for
        each message knows it from the message): its next step reads that round with the rest,
        in one request."""
        self._current = max(self._current, number)

    def committed(self, number: int) -> bool:
        """Whether this client's commitment of round ``number`` is on the chain, as far as this
        node knows: its last step read it there, or its own commit was mined since."""
        seen = self.view.rounds.get(number) if self.view is not None else None
        return number in self._committed or (seen is not None and seen[1].exists)

    def revealed(self, number: int) -> bool:
        """:meth:`committed` for the reveal."""
        seen = self.view.rounds.get(number) if self.view is not None else None
        return number in self._revealed or (seen is not None and seen[1].revealed)

    def _done(self) -> set[int]:
        """The rounds that need nothing more of this client (stake settled, reward claimed)."""
        return set(self._checkpoint.get("claimed", []))

    def _set_done(self, done: set[int]) -> None:
        self._checkpoint.set("claimed", sorted(done))

    def _mark_done(self, number: int) -> None:
        """Round ``number`` needs nothing more of this client."""
        self._set_done(self._done() | {number})

    def _rounds_to_read(self) -> list[int]:
        """The rounds a step reads up front: the next one (which opens while a client waits
        for it), the current one of the last step, and up to :data:`READ_AHEAD` earlier ones
        not settled yet."""
        nxt = [self._current + 1] if self._current < self.params.num_rounds else []
        if not self._current:
            return nxt
        done = self._done()
        earlier = [n for n in range(self._current - 1, 0, -1) if n not in done][:READ_AHEAD]
        return [*nxt, self._current, *earlier]

    # -- commit and reveal ---------------------------------------------------------------------
    def make_update(self, number: int, parent_blob: bytes) -> bytes:
        """The update blob of this client for ``number`` (its app's ``fit``)."""
        return update_blob(self.app, self.context, self.layout, number, parent_blob, self.address)

    def release(self) -> None:
        """Give up the work folder's lock on this client and task (another process of the same
        participant may then take it: a runtime that starts one process per message)."""
        self.stats.flush(force=True)
        self._lock.close()

    def update_path(self, number: int) -> Path:
        """Where this node keeps round ``number``'s update until it is revealed."""
        key = state_key(self.api, self.address)
        return self.workdir / f"node-{key}-updates" / f"round-{number}.flw"

    def _update_blob(self, number: int, parent_hash: bytes) -> bytes:
        """This round's update: from the workdir if this node made it already, else trained now
        (deterministic: a restarted node makes the same bytes)."""
        path = self.update_path(number)
        if path.is_file():
            return path.read_bytes()
        parent_blob = fetch_model(self.store, self.api, parent_hash)
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

    def _commit(
        self,
        number: int,
        info: RoundState,
        claim: DueClaim | None = None,
        free: int | None = None,
    ) -> None:
        sealed = self._commitment_of(number, info)
        if sealed is not None:
            self._send_commit(number, sealed, claim, free)

    def _commitment_of(self, number: int, info: RoundState) -> bytes | None:
        """What this client commits in round ``number``: its update's sealed hash (None:
        nothing to commit yet)."""
        blob = self._update_blob(number, info.parent_model_hash)
        return self.sealed(number, keccak(blob))

    def _send_commit(
        self, number: int, sealed: bytes, claim: DueClaim | None = None, free: int | None = None
    ) -> None:
        """Commit ``sealed`` with the round's stake; with ``claim``, in one transaction with it
        (if that reverts, the commit goes alone and the claim takes its own path). ``free``:
        the free stake this step read, if it did."""
        before = self.api.client.tx_seconds
        call = self.api.commit_call(number, sealed, self.stake)

        def send() -> None:
            if claim is not None:
                try:
                    self.api.multicall(self.signer, [claim.call, call])
                    self._mark_done(claim.number)
                    if claim.reward > 0:
                        self.log(f"round {claim.number}: claimed reward {self._fmt(claim.reward)}")
                    return
                except TxReverted:
                    pass
            self.api.send(call, self.signer)

        try:
            self.ensure_stake(free=free)
            outcome = reach(
                send,
                lambda b: self.api.commitment(number, self.address, b).exists,
                lambda _exc: not self._commits_open(number),
            )
        finally:
            self.stats.add(number, "tx", self.api.client.tx_seconds - before)
        if outcome.done:
            self._committed.add(number)
        if outcome is Outcome.SENT:
            self.log(f"round {number}: committed {hex32(sealed)[:10]}")

    def _due_claim(
        self, number: int, read: dict[int, tuple[RoundState, Commitment]], exact: float
    ) -> DueClaim | None:
        """Round ``number``'s reward claim, or with no reward its stake's settlement, when this
        step's read shows it certain to go through (finalized, not claimed or settled, the claim
        window open a while yet, this client's result in the stored table): it then goes in the
        commit's transaction. Anything less certain is left to the settlement's own path, with
        its checks and warnings."""
        seen = read.get(number)
        if seen is None:
            return None
        info, commitment = seen
        if info.phase != Phase.FINALIZED or not commitment.exists or commitment.claimed:
            return None
        if int(exact) + CLAIM_MARGIN > info.claim_deadline(self.params):
            return None
        try:
            row, proof = self._my_result(info)
        except (ArtifactError, KeyError):
            return None
        if row.reward > 0:
            return DueClaim(number, self._claim_call(number, row, proof, int(exact)), row.reward)
        if commitment.settled:
            return None
        settle = self.api.settle_call(number, self.address, row.score, row.reward, proof)
        return DueClaim(number, settle, 0)

    def _my_result(self, info: RoundState) -> tuple[ResultRow, list[bytes]]:
        """This client's row in the round's posted results table, and its Merkle proof
        (``ArtifactError``: the table is not in the store; ``KeyError``: no row for it)."""
        root = bytes(info.results_root)
        mine = self._results.get(root)
        if mine is None:  # a root names one table: checked once, kept for the round's steps
            table = fetch_results(self.store, root, owner=self.params.aggregator)
            mine = self._results[root] = (table.row(self.address), table.proof(self.address))
            while len(self._results) > READ_AHEAD + 1:
                del self._results[next(iter(self._results))]
        return mine

    def _claim_call(
        self, number: int, row: ResultRow, proof: list[bytes], now: int | None = None
    ) -> Any:
        """The claim of ``row``'s reward in round ``number`` (``now``: the chain's time as just
        read, if it was)."""
        return self.api.claim_call(
            number, row.score, row.reward, proof, self._min_tokens_out(row.reward), now=now
        )

    def _commits_open(self, number: int) -> bool:
        """Whether round ``number`` still takes commits on the chain's clock."""
        info = self.api.round(number)
        return (
            self.api.state().current_round == number
            and info.phase == Phase.COMMIT
            and self.api.chain_time() <= info.commit_deadline
        )

    def _reveal(self, number: int, info: RoundState) -> None:
        blob = self._update_blob(number, info.parent_model_hash)
        # uploaded only now (nobody could copy it earlier), under this client's own prefix
        update_hash = self.store.put(blob, owner=self.address)
        self._send_reveal(number, bytes.fromhex(update_hash[2:]), self.salt(number))

    def _keep_uploaded(self, number: int, info: RoundState) -> None:
        self.keeper.keep(number, lambda: self._update_blob(number, info.parent_model_hash))
        self._wake.soon(self.keeper.every)  # check again while the round is not posted

    def _send_reveal(self, number: int, update_hash: bytes, salt: bytes) -> bool:
        """Reveal ``update_hash``; True when this call revealed it."""
        before = self.api.client.tx_seconds
        try:
            outcome = reach(
                lambda: self.api.reveal(self.signer, number, update_hash, salt),
                lambda b: self.api.commitment(number, self.address, b).revealed,
                lambda _exc: self._reveal_refused(number, update_hash, salt),
            )
        finally:
            self.stats.add(number, "tx", self.api.client.tx_seconds - before)
        if outcome.done:
            self._revealed.add(number)
        if outcome is not Outcome.SENT:
            return False
        self.log(f"round {number}: revealed {hex32(update_hash)[:10]}")
        return True

    def _reveal_refused(self, number: int, update_hash: bytes, salt: bytes) -> bool:
        """After a reverted reveal: whether the chain's state explains it (logged once)."""
        api = self.api
        commitment = api.commitment(number, self.address)
        opened = commitment_hash(api.task_id, number, self.address, update_hash, salt)
        if opened != commitment.commit_hash:
            self._warn_once(
                f"round {number}: reveal refused (the update does not open the commitment)"
            )
            return True
        info = api.round(number)
        chain_now = api.chain_time()
        if info.reveals_open(self.params, chain_now, api.state().participants):
            return False  # it should have gone through: a real error
        if info.phase == Phase.COMMIT and chain_now <= info.commit_deadline:
            self._wake.soon()  # reveals open on a later block (the chain's clock is behind)
            return True
        self._warn_once(f"round {number}: reveal refused (the reveal window is over)")
        return True

    # -- settlement -----------------------------------------------------------------------------
    def _settle_ended(
        self,
        current: int,
        read: dict[int, tuple[RoundState, Commitment]] | None = None,
        exact: float | None = None,
        credit: int | None = None,
    ) -> bool:
        """Settle, claim or reclaim every ended round, and withdraw the client's credit; True
        while something is still pending. ``read``: rounds whose state and this client's
        commitment were just read, with the chain's time ``exact`` and the client's ``credit``
        at that read."""
        pending = False
        done = self._done()
        for number in range(1, current + 1):
            if number in done:
                continue
            if self._settle_round(number, current, (read or {}).get(number), exact):
                done.add(number)
            else:
                pending = True
        self._set_done(done)
        # Credits arise as rounds end (a challenge's bond and share, a shortfall the
        # aggregator's bond covered at a claim): the step's read shows them; one that arose in
        # this step (a claim) shows on the next.
        self._withdraw_credit(credit)
        return pending

    def _settle_round(
        self,
        number: int,
        current: int,
        read: tuple[RoundState, Commitment] | None = None,
        exact: float | None = None,
    ) -> bool:
        """Act on one round; True once nothing is left to do in it. ``read``: its state and this
        client's commitment, read at the chain's time ``exact``."""
        api = self.api
        if read is None:  # beyond the read-ahead: this round alone, in one round trip
            info, commitment, exact = api.round_of(number, self.address)
        else:
            info, commitment = read
        if not commitment.exists:
            return info.phase.ended or number < current
        if commitment.settled and (commitment.claimed or info.phase == Phase.ABORTED):
            return True
        if info.phase == Phase.ABORTED:
            return self._reclaim(number, f"round {number} was aborted: stake reclaimed")
        if info.phase != Phase.FINALIZED:
            return False
        exact = exact if exact is not None else api.exact_now()
        now = int(exact)
        self._wake.deadlines([info.claim_deadline(self.params)], exact)
        if now > info.claim_deadline(self.params):
            if commitment.settled:
                return True
            return self._reclaim(number, f"round {number}: claim window over, stake reclaimed")
        try:
            row, proof = self._my_result(info)
        except (ArtifactError, KeyError) as exc:
            # No provable result for this client: its stake comes back after the claim window.
            self._warn_once(
                f"round {number}: no result for this client under the posted root ({exc}); "
                "reclaiming the stake after the claim window"
            )
            if isinstance(exc, ArtifactError):  # the store may only lag: look again soon
                self._wake.soon()
            return False
        me = self.address
        if row.reward > 0 and not commitment.claimed:
            # One transaction: claimReward settles the stake first when it is not settled yet.
            outcome = reach(
                lambda: api.send(self._claim_call(number, row, proof, now), self.signer),
                lambda b: api.commitment(number, me, b).claimed,
                lambda exc: self._claim_moved(number, exc),
            )
            if outcome is Outcome.SENT:
                self.log(f"round {number}: claimed reward {self._fmt(row.reward)}")
        elif not commitment.settled:
            # A keeper (the aggregator) may burn the same stake in the same block: settled is
            # settled, whoever did it.
            outcome = reach(
                lambda: api.settle_stake(self.signer, number, me, row.score, row.reward, proof),
                lambda b: api.commitment(number, me, b).settled,
            )
        else:
            return True
        if not outcome.done:
            self._wake.soon()
        return outcome.done

    def _claim_moved(self, number: int, exc: TxReverted) -> bool:
        """After a reverted claim that the state does not explain: retry on the next step when
        the market moved between the quote and the buyback (a fresh quote then)."""
        if exc.error == "InsufficientOutput":
            self.log(f"round {number}: price moved past the slippage bound; retrying")
            return True
        return False

    def _reclaim(self, number: int, done: str) -> bool:
        """Take the stake of round ``number`` back; True once it is settled (by anyone)."""
        outcome = reach(
            lambda: self.api.reclaim(self.signer, number),
            lambda b: self.api.commitment(number, self.address, b).settled,
        )
        if outcome is Outcome.SENT:
            self.log(done)
        if not outcome.done:
            self._wake.soon()
        return outcome.done

    def _withdraw_credit(self, owed: int | None = None) -> None:
        """Collect what the federation owes this client (``owed``: as just read, if it was)."""
        owed = self.api.credit(self.address) if owed is None else owed
        if owed > 0:
            outcome = reach(
                lambda: self.api.withdraw_credit(self.signer),
                lambda b: self.api.credit(self.address, b) == 0,
            )
            if outcome is Outcome.SENT:
                self.log(f"withdrew a credit of {self._fmt(owed)}")

    def _leave(self) -> None:
        """Once the task is over, give up the seat and get the join bond back."""
        if self.api.seat(self.address).active:
            outcome = reach(
                lambda: self.api.leave(self.signer),
                lambda b: not self.api.seat(self.address, b).active,
            )
            if outcome is Outcome.SENT:
                self.log(f"left task {self.api.task_id}: join bond released")

    def _min_tokens_out(self, reward: int) -> int:
        if self.params.mode != 1:  # only buyback swaps
            return 0
        pool = self.api.registry.pool(self.address)
        if pool is None:  # not registered: the escrow pays the reward directly
            return 0
        try:
            quote = pool.quote_base_for_tokens(reward)
        except TxReverted:  # no market yet: the escrow pays the reward directly instead
            return 0
        return quote * (10_000 - SLIPPAGE_BPS) // 10_000

    def _warn_once(self, message: str) -> None:
        if message != getattr(self, "_last_warning", None):
            self.log(message)
            self._last_warning = message


def check_config(params: TaskParams, config: TaskConfig, task_id: int) -> None:
    """Refuse a task whose on-chain config hash is not this machine's config's."""
    if params.config_hash != config.config_hash:
        raise ConfigError(
            f"task {task_id}'s on-chain config hash {hex32(params.config_hash)} differs from this "
            f"config's {hex32(config.config_hash)}: get the task's exact config from its sponsor"
        )


def app_layout(app: ClientApp, context: Context) -> ModelLayout:
    """The layout of the model the app builds (its ``get_parameters``)."""
    try:
        parameters = app.client(context).get_parameters({})
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{app.name}: get_parameters failed: {exc!r}") from exc
    return ModelLayout.of(parameters, f"{app.name}'s get_parameters")


def check_model(
    params: TaskParams,
    layout: ModelLayout,
    name: str,
    task_id: int,
    task_layout: Callable[[], ModelLayout | None] = lambda: None,
) -> None:
    """Refuse a task whose on-chain model spec is not the layout of this app's model."""
    if params.model_spec_hash == layout.spec_hash():
        return
    expected = task_layout()
    theirs = ""
    if expected is not None:
        theirs = (
            f" (the task's has {expected.describe()}: shapes {list(map(list, expected.shapes))})"
        )
    raise ConfigError(
        f"{name} builds a model ({layout.describe()}: shapes {list(map(list, layout.shapes))}) "
        f"whose spec hash {hex32(layout.spec_hash())} is not task {task_id}'s model spec hash "
        f"{hex32(params.model_spec_hash)}{theirs}: this app does not train the task's model"
    )
