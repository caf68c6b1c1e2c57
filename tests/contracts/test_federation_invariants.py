"""Stateful invariants of the stake vault, reward escrow and federation together.

Random sequences of deposits, withdrawal requests, cancellations and withdrawals, funding, rounds
opened, commits, posts, challenges (upheld or overturned), finalizations, aborts, settlements,
reclaims and claims, over three tasks (direct, buyback and dividend rewards), are checked against
a Python model of every stake and budget. After every step: each vault account and each task
budget equals the model; the escrow holds exactly the budgets and the vault exactly the stakes;
the current rounds' phases and stakes at risk equal the model; base tokens are conserved (supply
plus burned equals minted, and at the end of each example the holders hold the whole supply).
Every settlement and claim pays exactly what the posted results promise, a second attempt fails,
and no round pays more rewards than it posted. Run length: brownie-config's hypothesis settings
(x8 with --run-slow).

Brownie 1.22.2's ``state_machine`` helper is compiled with mypyc and rejects the subclass it
builds (``TypeError: _BrownieStateMachine object expected``). Hypothesis' own
``RuleBasedStateMachine``, derandomized over 25 examples, ran a few steps per example and a handful
of rules almost exclusively here. So hypothesis draws one seed per example, and the machine walks
``stateful_step_count`` steps from it (most advance a task's round by a stage, the others are
weighted side actions), with the invariants checked after every step; each example starts from
the campaign's chain snapshot. Invariant reads go out as one JSON-RPC batch per step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from brownie import accounts, chain, web3
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.core import given  # unwrapped: the test reverts the chain itself

from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import (
    DEAD,
    WAD,
    WITHDRAW_DELAY,
    new_task,
    seed_pool,
)
from tests.contracts.fed_math import Entry, Results
from tests.contracts.helpers import reverts

COMMIT, POSTED, CHALLENGED, FINALIZED, ABORTED = 1, 2, 3, 4, 5
MARGIN = 5  # seconds kept away from every deadline, so block timestamps never straddle one
ROUNDS = 40
REWARD_PER_ROUND = 10 * WAD
STAKE_MIN = WAD
# Windows much longer than the withdrawal countdown and most sleeps, so rounds see commits from
# several steps; posts, finalizations and aborts move the clock past them when they need to.
COMMIT_WINDOW = 5_000
CHALLENGE_WINDOW = 1_000
POST_TIMEOUT = 2_000

# Hypothesis draws one seed per example; the example's actions and their arguments come from a
# Random seeded with it, so every action gets its share of the steps and every example runs the
# configured number of steps.
SEED = st.integers(0, 2**64 - 1)
# Most steps advance one task's round by a stage (open, commits, post, finalize, claims); the
# others are side actions that disturb the rounds or move stakes and budgets.
ADVANCE = 0.7
SIDE_ACTIONS = {
    "challenge": 3,
    "abort": 2,
    "settle": 2,
    "claim": 2,
    "reclaim": 1,
    "open_round": 1,
    "commit": 1,
    "deposit": 1,
    "request_withdrawal": 1,
    "withdraw": 1,
    "fund": 1,
    "sleep": 1,
}


def _w3(contract):
    return web3.eth.contract(address=contract.address, abi=contract.abi)


class Campaign:
    """The deployments and tasks every example starts from (built once, before the snapshot)."""

    def __init__(
        self, federation, vault, escrow, registry, base, aggregator, arbiter, sponsor, clients
    ):
        self.federation, self.vault, self.escrow, self.base = federation, vault, escrow, base
        self.aggregator, self.arbiter, self.sponsor = aggregator, arbiter, sponsor
        self.clients = list(clients)
        self.tasks = []
        for mode in (0, 1, 2):
            task_id = new_task(
                federation,
                aggregator,
                sponsor,
                mode=mode,
                numRounds=ROUNDS,
                commitWindow=COMMIT_WINDOW,
                challengeWindow=CHALLENGE_WINDOW,
                postTimeout=POST_TIMEOUT,
                stakeMin=STAKE_MIN,
                rewardPerRound=REWARD_PER_ROUND,
                payoutThreshold=60 * WAD,
            )
            escrow.fund(task_id, 40 * WAD, {"from": sponsor})
            for client in self.clients:
                federation.joinTask(task_id, {"from": client})
            self.tasks.append(task_id)
        self.params = {t: federation.taskParams(t) for t in self.tasks}
        holders = [*accounts[:12], vault, escrow, federation, DEAD]
        for client in self.clients:
            holders += seed_pool(registry, base, client, 1_000 * WAD, 20 * WAD)
        self.holders = [str(h) for h in holders]
        self.minted = base.totalSupply() + vault.totalBurned()
        self.stakes = {str(c): tuple(vault.stakeOf(c))[:3] for c in self.clients}
        # plain web3 views of the contracts, for batched reads
        self.w3_base, self.w3_vault = _w3(base), _w3(vault)
        self.w3_escrow, self.w3_federation = _w3(escrow), _w3(federation)


@dataclass
class RoundModel:
    commit_deadline: int
    post_deadline: int
    phase: int = COMMIT
    challenge_deadline: int = 0
    stakes: dict[str, int] = field(default_factory=dict)
    results: Results | None = None
    rewards_claimed: int = 0


class FederationMachine:
    """A Python model of every stake, budget and round, and the actions that move them."""

    def __init__(self, campaign: Campaign, seed: int):
        c = self.c = campaign
        self.rng = random.Random(seed)
        self.federation, self.vault, self.escrow, self.base = (
            c.federation,
            c.vault,
            c.escrow,
            c.base,
        )
        self.clients, self.tasks = c.clients, c.tasks
        # the model
        self.stake = {a: list(s) for a, s in c.stakes.items()}  # balance, locked, pending
        self.budget = {t: [40 * WAD, 0] for t in self.tasks}  # unreleased, owed
        self.rounds: dict[tuple[int, int], RoundModel] = {}
        self.current = dict.fromkeys(self.tasks, 0)
        self.settled: set[tuple[int, int, str]] = set()
        self.claimed: set[tuple[int, int, str]] = set()

    # -- model helpers ----------------------------------------------------------------------

    def _open(self, task_id):
        number = self.current[task_id]
        return self.rounds.get((task_id, number)), number

    def _eligible(self, wanted_phase, done):
        return [
            (task_id, number, client)
            for (task_id, number), r in sorted(self.rounds.items())
            if r.phase == wanted_phase
            for client in r.stakes
            if (task_id, number, client) not in done
        ]

    def _pick_task(self, rng, phases):
        """Mostly a task whose current round is in one of ``phases`` (None: no round yet), so
        rounds progress; sometimes any task, so the out-of-phase reverts are exercised too."""
        ready = [t for t in self.tasks if self._phase(t) in phases]
        return rng.choice(ready if ready and rng.random() < 0.9 else self.tasks)

    def _phase(self, task_id):
        r, _ = self._open(task_id)
        return None if r is None else r.phase

    def _account(self, address):
        return next(c for c in self.clients if str(c) == address)

    def _release(self, task_id, number, client, payout=0):
        """The model of a settled (payout) or reclaimed stake."""
        self.settled.add((task_id, number, client))
        self.stake[client][1] -= self.rounds[(task_id, number)].stakes[client]
        if payout < 0:
            self.stake[client][0] += payout
        elif payout > 0:
            self.budget[task_id][1] -= payout

    # -- the step: one action, drawn with weights from the example's seed ------------------

    def step(self):
        rng = self.rng
        if rng.random() < ADVANCE:
            self.advance(rng, rng.choice(self.tasks))
        else:
            action = rng.choices(list(SIDE_ACTIONS), weights=list(SIDE_ACTIONS.values()))[0]
            getattr(self, action)(rng)

    def advance(self, rng, task_id):
        """Move ``task_id``'s round to its next stage."""
        phase = self._phase(task_id)
        if phase in (None, FINALIZED, ABORTED):
            if phase == FINALIZED:
                getattr(self, rng.choice(["claim", "settle"]))(rng)
            elif phase == ABORTED:
                self.reclaim(rng)
            self.open_round(rng, task_id)
            self.commit(rng, task_id)
        elif phase == COMMIT:
            r, _ = self._open(task_id)
            if len(r.stakes) < len(self.clients) and rng.random() < 0.5:
                self.commit(rng, task_id)
            else:
                self.post(rng, task_id)
        elif phase == POSTED:
            self.finalize(rng, task_id)

    def _amount(self, rng, natural):
        """An amount near the edges sometimes (1, natural, natural + 1), else random."""
        roll = rng.random()
        if roll < 0.1:
            return 1
        if roll < 0.3:
            return max(1, natural)
        if roll < 0.4:
            return natural + 1
        return rng.randint(1, 60 * WAD)

    # -- vault ------------------------------------------------------------------------------

    def deposit(self, rng):
        account = rng.choice(self.clients)
        amount = self._amount(rng, 10 * WAD)
        if self.base.balanceOf(account) >= amount:
            self.vault.deposit(amount, {"from": account})
            self.stake[str(account)][0] += amount

    def request_withdrawal(self, rng):
        account = rng.choice(self.clients)
        balance, locked, pending = self.stake[str(account)]
        free = balance - locked - pending
        amount = self._amount(rng, free)
        if amount > free:
            with reverts("InsufficientFreeStake", free, amount):
                self.vault.requestWithdrawal(amount, {"from": account})
        else:
            self.vault.requestWithdrawal(amount, {"from": account})
            self.stake[str(account)][2] += amount

    def withdraw(self, rng):
        account = rng.choice(self.clients)
        balance, locked, pending = self.stake[str(account)]
        if pending == 0:
            with reverts("NoPendingWithdrawal"):
                self.vault.withdraw({"from": account})
            return
        if rng.random() < 0.3:
            self.vault.cancelWithdrawal({"from": account})
            self.stake[str(account)][2] = 0
            return
        chain.sleep(WITHDRAW_DELAY + 1)
        paid = min(pending, balance - locked)
        before = self.base.balanceOf(account)
        assert self.vault.withdraw({"from": account}).return_value == paid
        assert self.base.balanceOf(account) == before + paid
        self.stake[str(account)][0] -= paid
        self.stake[str(account)][2] = 0

    # -- budgets ----------------------------------------------------------------------------

    def fund(self, rng):
        task_id = rng.choice(self.tasks)
        amount = rng.randint(1, 30 * WAD)
        self.escrow.fund(task_id, amount, {"from": self.c.sponsor})
        self.budget[task_id][0] += amount

    # -- rounds -----------------------------------------------------------------------------

    def sleep(self, rng):
        chain.sleep(rng.choice([1, 60, 300, 1_000]))

    def open_round(self, rng, task_id=None):
        task_id = task_id or self._pick_task(rng, (None, FINALIZED, ABORTED))
        r, number = self._open(task_id)
        if r is not None and r.phase not in (FINALIZED, ABORTED):
            with reverts("WrongPhase", r.phase, FINALIZED):
                self.federation.openRound(task_id, {"from": self.c.aggregator})
        elif number < ROUNDS:
            tx = self.federation.openRound(task_id, {"from": self.c.aggregator})
            deadline = tx.timestamp + COMMIT_WINDOW
            self.current[task_id] = number + 1
            self.rounds[(task_id, number + 1)] = RoundModel(deadline, deadline + POST_TIMEOUT)

    def commit(self, rng, task_id=None):
        """Some clients (each with probability 0.6) commit to one task's open round."""
        task_id = task_id or self._pick_task(rng, (COMMIT,))
        r, number = self._open(task_id)
        if r is None or r.phase != COMMIT:
            return
        for index, account in enumerate(self.clients):
            if rng.random() < 0.6:
                self._commit_one(rng, task_id, number, r, index, account)

    def _commit_one(self, rng, task_id, number, r, index, account):
        key = str(account)
        balance, locked, pending = self.stake[key]
        free = balance - locked - pending
        stake = rng.choice([0, STAKE_MIN - 1, STAKE_MIN, free, free + 1, rng.randint(1, 30) * WAD])
        update = keccak(text=f"{task_id}-{number}-{index}")
        now = chain.time()
        if now > r.commit_deadline + MARGIN:
            with reverts("CommitClosed", r.commit_deadline):
                self.federation.commit(task_id, number, update, stake, {"from": account})
        elif now > r.commit_deadline - MARGIN:
            return
        elif key in r.stakes:
            with reverts("AlreadyCommitted", account):
                self.federation.commit(task_id, number, update, stake, {"from": account})
        elif stake < STAKE_MIN:
            with reverts("StakeTooLow", stake, STAKE_MIN):
                self.federation.commit(task_id, number, update, stake, {"from": account})
        elif stake > free:
            with reverts("InsufficientFreeStake", free, stake):
                self.federation.commit(task_id, number, update, stake, {"from": account})
        else:
            self.federation.commit(task_id, number, update, stake, {"from": account})
            r.stakes[key] = stake
            self.stake[key][1] += stake

    def post(self, rng, task_id=None):
        task_id = task_id or self._pick_task(rng, (COMMIT,))
        r, number = self._open(task_id)
        if r is None or r.phase != COMMIT:
            return
        if len(r.stakes) < len(self.clients) and chain.time() <= r.commit_deadline + MARGIN:
            chain.sleep(r.commit_deadline - chain.time() + MARGIN + 1)  # wait out the window
        if chain.time() > r.post_deadline - MARGIN:
            return
        params = self.c.params[task_id]
        model = keccak(text=f"model-{task_id}-{number}-{rng.random()}")
        if not r.stakes:
            tx = self.federation.postRound(
                task_id, number, model, model, 0, 0, {"from": self.c.aggregator}
            )
            r.phase, r.challenge_deadline = POSTED, tx.timestamp + CHALLENGE_WINDOW
            return
        entries = [
            Entry(c, rng.randint(-WAD // 5, WAD // 5), 0, s) for c, s in sorted(r.stakes.items())
        ]
        results = Results(task_id, number, entries, params[11], params[12])
        unreleased = self.budget[task_id][0]
        budget = min(REWARD_PER_ROUND, max(0, unreleased - results.total_payout))
        weights = [rng.randint(0, 5) for _ in entries]
        for entry, weight in zip(entries, weights, strict=True):
            entry.reward = budget * weight // max(1, sum(weights))
        results = Results(task_id, number, entries, params[11], params[12])
        needed = results.total_reward + results.total_payout
        args = (task_id, number, model, results.root, results.total_reward, results.total_payout)
        if needed > unreleased:
            with reverts("InsufficientBudget", unreleased, needed):
                self.federation.postRound(*args, {"from": self.c.aggregator})
            return
        tx = self.federation.postRound(*args, {"from": self.c.aggregator})
        r.phase, r.challenge_deadline, r.results = POSTED, tx.timestamp + CHALLENGE_WINDOW, results
        self.budget[task_id][0] -= needed
        self.budget[task_id][1] += needed

    def challenge(self, rng, task_id=None):
        task_id = task_id or self._pick_task(rng, (POSTED,))
        r, number = self._open(task_id)
        if r is None or r.phase != POSTED or chain.time() > r.challenge_deadline - MARGIN:
            return
        upheld = rng.random() < 0.5
        self.federation.challenge(task_id, number, keccak(text="why"), {"from": self.clients[0]})
        tx = self.federation.resolveChallenge(task_id, number, upheld, {"from": self.c.arbiter})
        if upheld:
            r.phase = FINALIZED
            return
        if r.results is not None:
            reserved = r.results.total_reward + r.results.total_payout
            self.budget[task_id][0] += reserved
            self.budget[task_id][1] -= reserved
        r.phase, r.results, r.post_deadline = COMMIT, None, tx.timestamp + POST_TIMEOUT

    def finalize(self, rng, task_id=None):
        task_id = task_id or self._pick_task(rng, (POSTED,))
        r, number = self._open(task_id)
        if r is None or r.phase != POSTED:
            return
        if chain.time() <= r.challenge_deadline + MARGIN:
            chain.sleep(CHALLENGE_WINDOW + MARGIN + 1)
        self.federation.finalizeRound(task_id, number, {"from": self.c.sponsor})
        r.phase = FINALIZED

    def abort(self, rng, task_id=None):
        task_id = task_id or self._pick_task(rng, (COMMIT,))
        r, number = self._open(task_id)
        if r is None or r.phase != COMMIT:
            return
        chain.sleep(max(0, r.post_deadline - chain.time()) + MARGIN + 1)
        self.federation.abortRound(task_id, number, {"from": self.c.sponsor})
        r.phase = ABORTED

    # -- stakes and rewards -----------------------------------------------------------------

    def reclaim(self, rng):
        eligible = self._eligible(ABORTED, self.settled)
        if not eligible:
            return
        task_id, number, client = rng.choice(eligible)
        self.federation.reclaimStake(task_id, number, {"from": client})
        self._release(task_id, number, client)
        with reverts("AlreadySettled", client):
            self.federation.reclaimStake(task_id, number, {"from": client})

    def settle(self, rng):
        eligible = self._eligible(FINALIZED, self.settled)
        if not eligible:
            return
        task_id, number, client = rng.choice(eligible)
        results = self.rounds[(task_id, number)].results
        payout = results.payout(client)
        args = (task_id, number, client, *results.claim_args(client))
        wallet = self.base.balanceOf(client)
        tx = self.federation.settleStake(*args, {"from": self.c.sponsor})
        assert tx.events["StakeSettled"]["payout"] == payout
        assert self.base.balanceOf(client) == wallet + max(payout, 0)
        self._release(task_id, number, client, payout)
        with reverts("AlreadySettled", client):
            self.federation.settleStake(*args, {"from": self.c.sponsor})

    def claim(self, rng):
        """Up to three claims of finalized results, each followed by a failing second claim."""
        for _ in range(3):
            eligible = self._eligible(FINALIZED, self.claimed)
            if not eligible:
                return
            self._claim_one(*rng.choice(eligible))

    def _claim_one(self, task_id, number, client):
        r = self.rounds[(task_id, number)]
        score, reward, proof = r.results.claim_args(client)
        unsettled = (task_id, number, client) not in self.settled
        payout = r.results.payout(client) if unsettled else 0
        account = self._account(client)
        held, wallet = self.base.balanceOf(self.escrow), self.base.balanceOf(client)
        args = (task_id, number, score, reward, proof, 0)
        self.federation.claimReward(*args, {"from": account})
        assert self.base.balanceOf(self.escrow) == held - reward - max(payout, 0)
        if self.c.params[task_id][13] == 0:  # direct mode: everything reaches the client
            assert self.base.balanceOf(client) == wallet + reward + max(payout, 0)
        if unsettled:
            self._release(task_id, number, client, payout)
        self.budget[task_id][1] -= reward
        self.claimed.add((task_id, number, client))
        r.rewards_claimed += reward
        assert r.rewards_claimed <= r.results.total_reward
        assert self.federation.roundInfo(task_id, number)[8] == (
            r.results.total_reward - r.rewards_claimed
        )
        with reverts("AlreadyClaimed", client):
            self.federation.claimReward(*args, {"from": account})

    # -- invariants -------------------------------------------------------------------------

    def check(self):
        """The invariants, after every step (one JSON-RPC batch of reads)."""
        c = self.c
        with web3.batch_requests() as batch:
            batch.add(c.w3_base.functions.balanceOf(self.escrow.address))
            batch.add(c.w3_escrow.functions.totalHeld())
            batch.add(c.w3_base.functions.balanceOf(self.vault.address))
            batch.add(c.w3_vault.functions.totalStaked())
            batch.add(c.w3_base.functions.totalSupply())
            batch.add(c.w3_vault.functions.totalBurned())
            for task_id in self.tasks:
                batch.add(c.w3_escrow.functions.budgetOf(task_id))
                batch.add(c.w3_federation.functions.roundInfo(task_id, self.current[task_id]))
            for client in self.clients:
                batch.add(c.w3_vault.functions.stakeOf(client.address))
            out = batch.execute()
        escrow_balance, held, vault_balance, staked, supply, burned = out[:6]
        budgets = [list(b) for b in out[6 : 6 + 2 * len(self.tasks) : 2]]
        infos = out[7 : 7 + 2 * len(self.tasks) : 2]
        stakes = [list(s)[:3] for s in out[6 + 2 * len(self.tasks) :]]

        assert budgets == [self.budget[t] for t in self.tasks]
        assert escrow_balance == held == sum(sum(b) for b in budgets)
        assert stakes == [self.stake[str(c)] for c in self.clients]
        assert vault_balance == staked == sum(s[0] for s in stakes)
        assert all(b >= locked + pending for b, locked, pending in stakes)
        assert supply + burned == c.minted
        for task_id, info in zip(self.tasks, infos, strict=True):
            r, _ = self._open(task_id)
            expected = (0, 0, 0) if r is None else (r.phase, sum(r.stakes.values()), len(r.stakes))
            assert (info[0], info[6], info[7]) == expected

    def check_holders(self):
        """At the end of an example: the known holders hold the whole base supply."""
        with web3.batch_requests() as batch:
            for holder in self.c.holders:
                batch.add(self.c.w3_base.functions.balanceOf(holder))
            balances = batch.execute()
        assert sum(balances) == self.base.totalSupply()


@pytest.fixture(scope="module")
def campaign(federation, vault, escrow, registry, base, aggregator, arbiter, sponsor, clients):
    return Campaign(
        federation, vault, escrow, registry, base, aggregator, arbiter, sponsor, clients
    )


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=SEED)
def test_federation_invariants(campaign, seed):
    chain.snapshot()
    try:
        machine = FederationMachine(campaign, seed)
        machine.check()
        for _ in range(settings.default.stateful_step_count):
            machine.step()
            machine.check()
        machine.check_holders()
    finally:
        chain.revert()
