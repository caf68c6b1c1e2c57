"""The aggregator daemon (Flower's server app, on a chain): keeps its bond in place, opens rounds
once enough clients have joined, waits for commits and reveals, verifies and aggregates the
revealed updates, scores contributions, posts the new global model hash with the Merkle root of
the results (tied to the exact set of commits and reveals), finalizes rounds after the challenge
window, ends rounds that cannot finish (nobody committed, or an arbiter that never decided), and
(as a keeper) forces the settlement of stakes that must be burned.

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
from fl_node.chain.events import Checkpoint
from fl_node.config import format_units
from fl_node.errors import ArtifactError, ChainError, ConfigError
from fl_node.federation.engine import RoundOutput, RoundSetup, compute_round
from fl_node.federation.goals import Outcome, reach
from fl_node.federation.inputs import History, round_inputs
from fl_node.federation.protocol import (
    FederationApi,
    Phase,
    Post,
    RoundOpenings,
    RoundState,
    TaskState,
    TaskStatus,
    hex32,
)
from fl_node.federation.stats import RoundStats, flushes_stats
from fl_node.federation.storage import fetch_results, publish_results
from fl_node.federation.wake import Wake
from fl_node.federation.workstate import hold_lock, state_key


@dataclass
class AggregatorDaemon:
    api: FederationApi
    signer: LocalAccount
    setup: RoundSetup  # the task's config, model layout and this aggregator's evaluator
    store: ArtifactStore
    workdir: Path
    #: Longest pause between two looks at the chain while waiting (see :meth:`run`).
    poll: float = 2.0
    enforce_burns: bool = True
    log: Callable[[str], None] = print
    on_round: Callable[[RoundOutput], None] | None = None
    _checkpoint: Checkpoint = field(init=False)
    _wake: Wake = field(init=False, default_factory=Wake)
    #: Results tables of the ended rounds, read once (reputations need every earlier round's).
    _history: History = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        params = self.api.params()
        if params.aggregator.lower() != self.signer.address.lower():
            raise ConfigError(
                f"this key ({self.signer.address}) is not the aggregator of task "
                f"{self.api.task_id} ({params.aggregator})"
            )
        if params.config_hash != self.setup.config.config_hash:
            raise ConfigError(
                f"task {self.api.task_id}'s on-chain config hash differs from this config's: use "
                "the task's exact config"
            )
        self.params = params
        self.decimals = self.api.decimals
        # State of this chain, deployment, task and aggregator only; one aggregator at a time.
        key = state_key(self.api, self.signer.address)
        self._lock = hold_lock(self.workdir / f"aggregator-{key}.lock", self.signer.address)
        self._checkpoint = Checkpoint(self.workdir / f"aggregator-{key}.json")
        self.stats = RoundStats(self.workdir / "stats-aggregator.json")

    # -- the loop -------------------------------------------------------------------------------
    def run(self, max_seconds: float | None = None) -> None:
        """Step until the task is over. Between steps the aggregator sleeps until an event of
        the task is mined, the next deadline of the round passes, or something is to be
        retried; it looks at the chain at most every ``poll`` seconds while waiting."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        waiter = self.api.waiter(longest=self.poll)
        while deadline is None or time.monotonic() < deadline:
            waiter.mark()
            if self.step():
                return
            waiter.wait(self.look_until(deadline))
        raise ChainError(f"the aggregator did not finish within {max_seconds:.0f} s")

    def look_until(self, stop: float | None = None) -> float | None:
        """:meth:`next_look` bounded by ``stop`` (a ``time.monotonic()`` value): until when a
        driver of this daemon waits for an event of the task before stepping it again."""
        return self._wake.until(stop)

    def next_look(self) -> float | None:
        """When (``time.time()``) the last step found a reason to look at the chain again: the
        next deadline of the state it read, or a retry; None if only an event can move it."""
        return self._wake.at

    @flushes_stats
    def step(self) -> bool:
        """Do the next thing the state machine asks for; True once the task is over."""
        self._wake = Wake()
        state = self.api.state()
        number = state.current_round
        info = self.api.round(number) if number else None
        if state.status != TaskStatus.ACTIVE:
            if info is not None and not info.phase.ended:
                # A cancelled task lets a posted round run to its end.
                self._advance(number, info, state)
                return False
            self._enforce_pending_burns(number)
            return True
        if info is None or info.phase.ended:
            if number < self.params.num_rounds:
                self._maybe_open(number + 1, state)
            # Burns come after the next round is open: the clients can train meanwhile.
            self._enforce_burns(number)
            return False
        self._advance(number, info, state)
        if number > 1:
            self._enforce_burns(number - 1)  # left over from the step that opened this round
        return False

    def _advance(self, number: int, info: RoundState, state: TaskState) -> None:
        exact = self.api.exact_now()
        now = int(exact)
        p = self.params
        self._wake.deadlines(info.deadlines(p), exact)
        if info.phase in (Phase.COMMIT, Phase.REVEAL):
            if info.phase == Phase.COMMIT and info.commits == 0:
                if now > info.commit_deadline:
                    self._abort(number, info, "nobody committed", info.commit_deadline)
                return
            if now > info.post_deadline(p):
                self._abort(number, info, "the post deadline passed", info.post_deadline(p))
                return
            all_revealed = info.phase == Phase.REVEAL and info.reveals == info.commits
            ready = all_revealed or now > info.reveal_end(p)
            if ready and self._post(number, early=all_revealed) and number < p.num_rounds:
                # final at the post: the next round opens now, so the clients' next step sees
                # it with their claims (one transaction with their next commit)
                self._maybe_open(number + 1, self.api.state())
            return
        if info.phase == Phase.POSTED and now > info.challenge_deadline:
            with self._tx(number):
                outcome = reach(
                    lambda: self.api.finalize(self.signer, number),
                    lambda b: self.api.round(number, b).phase != Phase.POSTED,
                    lambda _exc: self._before(info.challenge_deadline),
                )
            if outcome is Outcome.LATER:
                return
            if outcome is Outcome.SENT:
                self.stats.stamp(number, "finalized_at")
                self.log(f"round {number} finalized")
            # Its burns (whoever finalized it) are enforced on the next step, once the next
            # round is open: they are not on the critical path of the federation.
            self._wake.soon()
        elif info.phase == Phase.CHALLENGED and now > info.arbiter_deadline(p):
            self._abort(
                number, info, "the arbiter did not decide in time", info.arbiter_deadline(p)
            )

    def _before(self, deadline: int) -> bool:
        """Whether the chain's latest block is not past ``deadline`` yet (a call gated by it
        reverts until a later block): if so, look again soon."""
        if self.api.chain_time() <= deadline:
            self._wake.soon()
            return True
        return False

    @contextmanager
    def _tx(self, number: int) -> Iterator[None]:
        before = self.api.client.tx_seconds
        try:
            yield
        finally:
            self.stats.add(number, "tx", self.api.client.tx_seconds - before)

    # -- steps ----------------------------------------------------------------------------------
    def _maybe_open(self, number: int, state: TaskState) -> None:
        if number == 1 and state.participants < self.params.min_clients:
            self._say_once(
                f"waiting for clients: {state.participants} of {self.params.min_clients} joined"
            )
            return
        self._ensure_bond(state)
        self.stats.stamp(number, "opened_at")
        opened: list[int] = []
        with self._tx(number):
            outcome = reach(
                lambda: opened.append(self.api.open_round(self.signer).block_number),
                lambda b: self.api.state(b).current_round >= number,
            )
        if outcome is Outcome.LATER:
            self._wake.soon()
        if opened:  # else opened before (a lost receipt, a restart): its block is found later
            RoundOpenings(self.api, self._checkpoint).record(number, opened[0])
            self.log(f"round {number} opened")

    def _ensure_bond(self, state: TaskState) -> None:
        """Top the task's aggregator bond up to what the task requires."""
        missing = self.params.aggregator_bond - state.bond
        if missing <= 0:
            return
        wallet = self.api.base_balance(self.signer.address)
        if wallet < missing:
            raise ChainError(
                f"the aggregator {self.signer.address} holds {format_units(wallet, self.decimals)} "
                f"base tokens; the task's bond needs {format_units(missing, self.decimals)} more"
            )
        self.api.bond_aggregator(self.signer, missing)
        self.log(f"bonded {format_units(missing, self.decimals)} as the task's aggregator")

    def _abort(self, number: int, info: RoundState, why: str, deadline: int) -> None:
        """Abort round ``number`` (seen in ``info``'s phase) once ``deadline`` passed; done when
        its phase moved on, whoever moved it (anyone can abort, and a post may come first)."""
        with self._tx(number):
            outcome = reach(
                lambda: self.api.abort(self.signer, number),
                lambda b: self.api.round(number, b).phase != info.phase,
                lambda _exc: self._before(deadline),
            )
        if outcome is Outcome.SENT:
            self.log(f"round {number} aborted: {why}")

    def _opened_block(self, number: int) -> int:
        return RoundOpenings(self.api, self._checkpoint).block(number)

    def _post(self, number: int, early: bool) -> bool:
        """Compute and post round ``number``; True when this call posted it and the post was
        final (a task without a challenge window)."""
        inputs = round_inputs(
            self.api, self.store, number, self._opened_block(number), history=self._history
        )
        with self.stats.timed(number, "compute"):
            output = compute_round(inputs, self.setup)
        me = self.signer.address  # the model and the table go under the aggregator's own prefix
        stored = self.store.put(output.model_blob, owner=me)
        if stored != "0x" + output.model_hash.hex():
            raise ChainError("the store returned a different hash for the new global model")
        root = publish_results(self.store, output.results, owner=me)
        results = output.results
        post = Post(
            model_hash=output.model_hash,
            results_root=root,
            commits=len(inputs.submissions),
            reveals=sum(s.update_hash is not None for s in inputs.submissions),
            total_reward=results.total_reward,
            total_payout=results.total_payout,
        )
        with self._tx(number):
            outcome = reach(
                lambda: self.api.post(self.signer, number, post, early=early),
                lambda b: self.api.round(number, b).phase not in (Phase.COMMIT, Phase.REVEAL),
                lambda _exc: self._post_not_now(number, post, early),
            )
        if outcome is not Outcome.SENT:
            return False
        final = self.params.challenge_window == 0  # no challenge: the post finalized the round
        if final:
            self.stats.stamp(number, "finalized_at")
        self.log(
            f"round {number} posted{' and final' if final else ''}: "
            f"{sum(r.included for r in results.rows)}/{len(results.rows)} "
            f"updates used, val acc {results.metrics['val_accuracy']:.3f}, model "
            f"{hex32(output.model_hash)[:10]}"
        )
        if self.on_round is not None:
            self.on_round(output)
        return final

    def _post_not_now(self, number: int, post: Post, early: bool) -> bool:
        """After a reverted post the state does not explain as posted: whether to post again on
        the next step (from the chain's current commit set and clock)."""
        info = self.api.round(number)
        if (info.commits, info.reveals) != (post.commits, post.reveals):
            return True  # a late commit or reveal: compute again from the current set
        if not early and self._before(info.reveal_end(self.params)):
            return True
        state = self.api.state()
        if state.bond < self.params.aggregator_bond:
            # Claims of an under-reserved earlier round drew on the free bond: a post needs the
            # task's whole bond at stake, so top it up and post on the next step.
            self._ensure_bond(state)
            return True
        return False

    def _enforce_burns(self, number: int) -> None:
        if not self.enforce_burns or self._checkpoint.get(f"burns.{number}"):
            return
        info = self.api.round(number)
        if info.phase != Phase.FINALIZED:
            if info.phase.ended:  # aborted: nothing to burn, ever
                self._checkpoint.set(f"burns.{number}", True)
            return
        try:
            table = fetch_results(self.store, info.results_root, owner=self.signer.address)
        except ArtifactError as exc:
            self.log(f"round {number}: results table unavailable, no burns to enforce ({exc})")
            self._checkpoint.set(f"burns.{number}", True)
            return
        pending = False
        negative = [row for row in table.rows if row.payout < 0]
        seen = self.api.commitments(number, [row.client for row in negative])
        for row, commitment in zip(negative, seen, strict=True):
            if commitment.settled:
                continue
            outcome = self._burn(number, row.client, row.score, row.reward, table.proof(row.client))
            if outcome is Outcome.SENT:
                self.log(
                    f"round {number}: burned {format_units(-row.payout, self.decimals)} of "
                    f"{row.client[:10]}"
                )
            pending = pending or outcome is Outcome.LATER
        if pending:
            self._wake.soon()
        else:
            self._checkpoint.set(f"burns.{number}", True)

    def _burn(
        self, number: int, client: str, score: int, reward: int, proof: list[bytes]
    ) -> Outcome:
        """Settle ``client``'s negative result; the client may settle (or claim) in the same
        block: settled is settled, whoever did it."""
        return reach(
            lambda: self.api.settle_stake(self.signer, number, client, score, reward, proof),
            lambda b: self.api.commitment(number, client, b).settled,
        )

    def _enforce_pending_burns(self, last_round: int) -> None:
        for number in range(1, last_round + 1):
            self._enforce_burns(number)

    def _say_once(self, message: str) -> None:
        if message != getattr(self, "_last_said", None):
            self.log(message)
            self._last_said = message
