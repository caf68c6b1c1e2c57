"""Federation, the money at the edges: shortfalls of an under-reserved post covered from the
aggregator's bond, erasure griefing by the sponsor, and the ends of a task (cancel, close, the
sweep that refunds an ended task).

Tasks and seats: test_federation.py. Round lifecycle, settlements and claims:
test_federation_rounds.py.
"""

import pytest
from brownie import chain
from eth_utils import keccak

from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import (
    AGGREGATOR_BOND,
    ARBITER_TIMEOUT,
    CAP,
    CHALLENGE_BOND,
    CHALLENGE_WINDOW,
    CLAIM_WINDOW,
    COMMIT_WINDOW,
    DEAD,
    JOIN_BOND,
    POST_TIMEOUT,
    REVEAL_WINDOW,
    STAKE,
    THRESHOLD,
    WAD,
    commit,
    commit_all,
    commit_reveal_all,
    finalized_round,
    new_task,
    open_round,
    post,
    post_results,
    reveal,
)
from tests.contracts.fed_math import Entry, Results, stake_payout
from tests.contracts.helpers import reverts

NONE, COMMIT, REVEAL, POSTED, CHALLENGED, FINALIZED, ABORTED = range(7)
NO_TASK, ACTIVE, COMPLETED, CANCELLED, CLOSED = range(5)
EMPTY, NO_POST, UPHELD, ARBITER_TIMED_OUT, ABORT_CANCELLED = range(5)
BURNED, TO_DEAD, KEPT = range(3)
REASON = keccak(text="the posted model does not match the updates")
MODEL = keccak(text="model")
SCORES = [WAD // 50, WAD // 100, 0, -WAD // 10]  # payouts 0.2, 0.1, 0, -0.5 on 10 staked
REWARDS = [4 * WAD, 3 * WAD, 2 * WAD, WAD]


def held(federation, base) -> int:
    """totalHeld, after checking it accounts for every base token the federation holds."""
    assert federation.totalHeld() == base.balanceOf(federation)
    return federation.totalHeld()


def joined_task(federation, escrow, aggregator, sponsor, clients, budget=100 * WAD, **overrides):
    """A funded task, the aggregator bonded as required, every client joined."""
    task_id = new_task(federation, aggregator, sponsor, **overrides)
    escrow.fund(task_id, budget, {"from": sponsor})
    bond = overrides.get("aggregatorBond", AGGREGATOR_BOND)
    if bond:
        federation.bondAggregator(task_id, bond, {"from": aggregator})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    return task_id


def under_reserved_round(
    federation, task_id, aggregator, clients, scores, rewards, total_reward, total_payout
):
    """A finalized round whose post reserved ``total_reward`` and ``total_payout`` whatever its
    leaves say; returns the results."""
    round_ = open_round(federation, task_id, aggregator)
    commit_reveal_all(federation, task_id, round_, clients)
    entries = [Entry(c, s, r, STAKE) for c, s, r in zip(clients, scores, rewards, strict=True)]
    results = Results(task_id, round_, entries, THRESHOLD, CAP)
    post(federation, task_id, round_, aggregator, MODEL, results.root, total_reward, total_payout)
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task_id, round_, {"from": clients[0]})
    return results


def posted_round(federation, task_id, aggregator, clients):
    round_ = open_round(federation, task_id, aggregator)
    commit_reveal_all(federation, task_id, round_, clients)
    entries = [(c, s, r, STAKE) for c, s, r in zip(clients, SCORES, REWARDS, strict=True)]
    return post_results(federation, task_id, round_, aggregator, entries)


def shortfalls(tx) -> list[tuple]:
    if "ShortfallCovered" not in tx.events:
        return []
    return [(e["client"], e["shortfall"], e["covered"]) for e in tx.events["ShortfallCovered"]]


# ---------------------------------------------------------------------------------- shortfall


def test_an_under_reserved_payout_is_covered_from_the_bond(
    federation, base, escrow, vault, task, aggregator, clients
):
    up = WAD // 50  # +2 % of 10: each is owed 0.2, the post reserves 0.5 of the 0.8
    results = under_reserved_round(
        federation, task, aggregator, clients, [up] * 4, [0] * 4, 0, WAD // 2
    )
    assert results.total_payout == 8 * WAD // 10
    owed = [WAD // 5] * 4
    paid_by_escrow = [WAD // 5, WAD // 5, WAD // 10, 0]
    for client, due, direct in zip(clients, owed, paid_by_escrow, strict=True):
        before = base.balanceOf(client)
        tx = federation.settleStake(task, 1, client, *results.claim_args(client), {"from": client})
        assert tx.events["StakeSettled"]["payout"] == due
        assert base.balanceOf(client) == before + direct
        assert federation.credit(client) == due - direct
        assert shortfalls(tx) == ([(client, due - direct, due - direct)] if due > direct else [])
        assert vault.stakeOf(client)[1] == JOIN_BOND  # the stake is free again
    assert federation.taskState(task)["bond"] == AGGREGATOR_BOND - 3 * WAD // 10
    assert federation.roundState(task, 1)["payoutPaid"] == WAD // 2
    assert escrow.budgetOf(task)[1] == 0
    assert held(federation, base) == AGGREGATOR_BOND  # moved from the bond to credits
    before = base.balanceOf(clients[3])
    federation.withdrawCredit({"from": clients[3]})
    assert base.balanceOf(clients[3]) == before + WAD // 5
    assert held(federation, base) == AGGREGATOR_BOND - WAD // 5


def test_an_under_reserved_reward_is_covered_from_the_bond(
    federation, base, task, aggregator, clients
):
    rewards = [3 * WAD, 3 * WAD, 2 * WAD, 2 * WAD]  # 10 owed, the post reserves 4
    results = under_reserved_round(
        federation, task, aggregator, clients, [0] * 4, rewards, 4 * WAD, 0
    )
    alice, bob, carol = clients[:3]
    before = base.balanceOf(alice)
    tx = federation.claimReward(task, 1, *results.claim_args(alice), 0, 0, {"from": alice})
    assert base.balanceOf(alice) == before + 3 * WAD and shortfalls(tx) == []
    before = base.balanceOf(bob)
    tx = federation.claimReward(task, 1, *results.claim_args(bob), 0, 0, {"from": bob})
    assert base.balanceOf(bob) == before + WAD  # what the reservation had left
    assert shortfalls(tx) == [(bob, 2 * WAD, 2 * WAD)]
    assert tx.events["RewardClaimed"]["reward"] == 3 * WAD
    before = base.balanceOf(carol)
    tx = federation.claimReward(task, 1, *results.claim_args(carol), 0, 0, {"from": carol})
    assert "RewardPaid" not in tx.events  # nothing left to pay from the escrow
    assert shortfalls(tx) == [(carol, 2 * WAD, 2 * WAD)]
    assert base.balanceOf(carol) == before
    assert (federation.credit(bob), federation.credit(carol)) == (2 * WAD, 2 * WAD)
    assert federation.taskState(task)["bond"] == AGGREGATOR_BOND - 4 * WAD
    assert federation.roundState(task, 1)["rewardPaid"] == 4 * WAD
    held(federation, base)


def test_when_the_bond_runs_out_the_client_still_gets_its_principal(
    federation, base, vault, escrow, aggregator, sponsor, clients
):
    bond = WAD // 4
    task_id = joined_task(federation, escrow, aggregator, sponsor, clients, aggregatorBond=bond)
    up = WAD // 50
    results = under_reserved_round(
        federation, task_id, aggregator, clients, [up] * 4, [WAD] * 4, 0, 0
    )
    alice, bob = clients[:2]
    tx = federation.claimReward(task_id, 1, *results.claim_args(alice), 0, 0, {"from": alice})
    # the reward's shortfall is covered first, then the stake result's: the same client's credit
    assert shortfalls(tx) == [(alice, WAD, bond), (alice, WAD // 5, 0)]
    assert federation.credit(alice) == bond
    assert federation.taskState(task_id)["bond"] == 0
    before = base.balanceOf(bob)
    tx = federation.claimReward(task_id, 1, *results.claim_args(bob), 0, 0, {"from": bob})
    assert shortfalls(tx) == [(bob, WAD, 0), (bob, WAD // 5, 0)]
    assert federation.credit(bob) == 0 and base.balanceOf(bob) == before
    assert tuple(vault.stakeOf(bob))[:2] == (100 * WAD, JOIN_BOND)  # the principal is back
    assert federation.commitmentOf(task_id, 1, bob)["claimed"] is True


def test_an_upheld_challenge_slashes_the_whole_bond_its_post_set_aside(
    federation, base, task, aggregator, arbiter, clients, outsider
):
    """A post sets the task's aggregator bond aside until its round ends: claims of an earlier,
    under-reserved round draw only on the free bond (here none), so a voided post is slashed in
    full, and the earlier round's shortfalls are covered once the bond is free again."""
    results = under_reserved_round(federation, task, aggregator, clients, [0] * 4, REWARDS, 0, 0)
    posted_round(federation, task, aggregator, clients)  # round 2's post sets the bond aside
    assert federation.taskState(task)["bond"] == 0
    assert federation.roundState(task, 2)["bondAtStake"] == AGGREGATOR_BOND
    federation.challenge(task, 2, REASON, {"from": outsider})
    alice = clients[0]
    tx = federation.claimReward(task, 1, *results.claim_args(alice), 0, 0, {"from": alice})
    assert shortfalls(tx) == [(alice, 4 * WAD, 0)]  # the bond is at stake in round 2
    tx = federation.upholdChallenge(task, 2, {"from": arbiter})
    slashed = AGGREGATOR_BOND
    assert (
        tx.events["ChallengeUpheld"]["slashed"],
        tx.events["ChallengeUpheld"]["toChallenger"],
    ) == (
        slashed,
        slashed // 2,
    )
    assert federation.roundState(task, 2)["slashPool"] == slashed - slashed // 2
    assert federation.roundState(task, 2)["bondAtStake"] == 0
    assert federation.credit(outsider) == CHALLENGE_BOND + slashed // 2
    assert federation.taskState(task)["bond"] == 0
    federation.bondAggregator(task, AGGREGATOR_BOND, {"from": aggregator})  # free bond again
    bob = clients[1]
    tx = federation.claimReward(task, 1, *results.claim_args(bob), 0, 0, {"from": bob})
    assert shortfalls(tx) == [(bob, 3 * WAD, 3 * WAD)]
    held(federation, base)


# ------------------------------------------------------------------------------ task endings


def test_cancel_refunds_the_unreleased_budget(federation, escrow, base, task, sponsor):
    before = base.balanceOf(sponsor)
    tx = federation.cancelTask(task, {"from": sponsor})
    assert (tx.events["TaskCancelled"]["taskId"], tx.events["TaskCancelled"]["refunded"]) == (
        task,
        100 * WAD,
    )
    assert tx.events["Refunded"]["to"] == sponsor
    assert "RoundAborted" not in tx.events
    assert base.balanceOf(sponsor) == before + 100 * WAD
    assert federation.taskState(task)["status"] == CANCELLED
    assert tuple(escrow.budgetOf(task)) == (0, 0)
    with reverts("BudgetClosed", task):
        escrow.fund(task, WAD, {"from": sponsor})


@pytest.mark.parametrize("reveals", [0, 1])
def test_cancel_aborts_a_round_taking_commits_or_reveals(
    federation, vault, task, aggregator, sponsor, clients, reveals
):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    for account in clients[:reveals]:
        reveal(federation, task, 1, account)
    assert federation.roundState(task, 1)["phase"] == (REVEAL if reveals else COMMIT)
    tx = federation.cancelTask(task, {"from": sponsor})
    event = tx.events["RoundAborted"]
    assert (event["taskId"], event["round"], event["reason"]) == (task, 1, ABORT_CANCELLED)
    assert "TaskCompleted" not in tx.events
    assert federation.roundState(task, 1)["phase"] == ABORTED
    assert federation.taskState(task)["status"] == CANCELLED
    for account in clients:
        federation.reclaimStake(task, 1, {"from": account})
        assert vault.stakeOf(account)[1] == JOIN_BOND


def test_cancel_lets_a_posted_round_run_to_its_end(
    federation, escrow, base, task, aggregator, sponsor, clients
):
    results = posted_round(federation, task, aggregator, clients)
    reserved = 10 * WAD + results.total_payout
    before = base.balanceOf(sponsor)
    tx = federation.cancelTask(task, {"from": sponsor})
    assert "RoundAborted" not in tx.events
    assert tx.events["TaskCancelled"]["refunded"] == 100 * WAD - reserved
    assert base.balanceOf(sponsor) == before + 100 * WAD - reserved
    assert federation.roundState(task, 1)["phase"] == POSTED
    chain.sleep(CHALLENGE_WINDOW + 1)
    tx = federation.finalizeRound(task, 1, {"from": clients[0]})
    assert "TaskCompleted" not in tx.events
    assert federation.taskState(task)["status"] == CANCELLED
    alice = clients[0]
    paid = base.balanceOf(alice)
    federation.claimReward(task, 1, *results.claim_args(alice), 0, 0, {"from": alice})
    assert base.balanceOf(alice) == paid + 4 * WAD + results.payout(alice)
    chain.sleep(CLAIM_WINDOW + 1)
    unclaimed = reserved - 4 * WAD - results.payout(alice)
    before = base.balanceOf(sponsor)
    tx = federation.sweepRound(task, 1, {"from": clients[1]})
    assert tx.events["RoundSwept"]["unclaimed"] == unclaimed
    assert tx.events["Refunded"]["amount"] == unclaimed  # straight back to the sponsor
    assert base.balanceOf(sponsor) == before + unclaimed
    assert tuple(escrow.budgetOf(task)) == (0, 0)
    assert base.balanceOf(escrow) == 0


def test_cancel_lets_a_challenged_round_wait_for_the_arbiter(
    federation, task, aggregator, arbiter, sponsor, clients, outsider
):
    posted_round(federation, task, aggregator, clients)
    federation.challenge(task, 1, REASON, {"from": outsider})
    tx = federation.cancelTask(task, {"from": sponsor})
    assert "RoundAborted" not in tx.events
    assert federation.roundState(task, 1)["phase"] == CHALLENGED
    federation.dismissChallenge(task, 1, {"from": arbiter})
    assert federation.roundState(task, 1)["phase"] == FINALIZED


@pytest.mark.parametrize("voided_by", ["uphold", "arbiter timeout"])
def test_a_round_voided_after_the_cancel_returns_its_reservation_to_the_sponsor(
    federation, escrow, base, task, aggregator, arbiter, sponsor, clients, outsider, voided_by
):
    results = posted_round(federation, task, aggregator, clients)
    reserved = 10 * WAD + results.total_payout
    before = base.balanceOf(sponsor)
    federation.cancelTask(task, {"from": sponsor})
    federation.challenge(task, 1, REASON, {"from": outsider})
    if voided_by == "uphold":
        federation.upholdChallenge(task, 1, {"from": arbiter})
    else:
        chain.sleep(ARBITER_TIMEOUT + 1)
        federation.abortRound(task, 1, {"from": outsider})
    assert federation.roundState(task, 1)["phase"] == ABORTED
    chain.sleep(CLAIM_WINDOW + 1)
    federation.sweepRound(task, 1, {"from": outsider})
    unreleased, owed = escrow.budgetOf(task)
    assert owed == 0
    assert unreleased == 0, f"{unreleased} of the {reserved} reserved is stuck in the escrow"
    assert base.balanceOf(sponsor) == before + 100 * WAD


def test_cancel_keeps_finalized_rounds_claimable(
    federation, escrow, base, task, aggregator, sponsor, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    open_round(federation, task, aggregator)
    commit(federation, task, 2, clients[0])
    owed = escrow.budgetOf(task)[1]
    tx = federation.cancelTask(task, {"from": sponsor})
    assert tx.events["RoundAborted"]["round"] == 2
    assert tx.events["TaskCancelled"]["refunded"] == 100 * WAD - owed
    federation.reclaimStake(task, 2, {"from": clients[0]})
    for client in clients:
        federation.claimReward(task, 1, *results.claim_args(client), 0, 0, {"from": client})
    assert tuple(escrow.budgetOf(task)) == (0, 0)
    assert base.balanceOf(escrow) == 0


def test_only_the_sponsor_cancels_an_active_task(federation, task, aggregator, sponsor, clients):
    for intruder in (clients[0], aggregator):
        with reverts("NotSponsor", intruder):
            federation.cancelTask(task, {"from": intruder})
    with reverts("NotSponsor", sponsor):  # an unknown task has no sponsor
        federation.cancelTask(task + 1, {"from": sponsor})
    federation.cancelTask(task, {"from": sponsor})
    with reverts("WrongStatus", CANCELLED, ACTIVE):
        federation.cancelTask(task, {"from": sponsor})


def test_close_refunds_what_a_completed_task_left(
    federation, escrow, base, aggregator, sponsor, clients
):
    task_id = joined_task(federation, escrow, aggregator, sponsor, clients, 30 * WAD, numRounds=1)
    with reverts("WrongStatus", ACTIVE, COMPLETED):
        federation.closeTask(task_id, {"from": sponsor})
    results = finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    assert federation.taskState(task_id)["status"] == COMPLETED
    with reverts("NotSponsor", clients[0]):
        federation.closeTask(task_id, {"from": clients[0]})
    before = base.balanceOf(sponsor)
    owed = 10 * WAD + results.total_payout
    tx = federation.closeTask(task_id, {"from": sponsor})
    assert (tx.events["TaskClosed"]["taskId"], tx.events["TaskClosed"]["refunded"]) == (
        task_id,
        30 * WAD - owed,
    )
    assert base.balanceOf(sponsor) == before + 30 * WAD - owed
    assert federation.taskState(task_id)["status"] == CLOSED
    bob = clients[1]
    paid = base.balanceOf(bob)
    federation.claimReward(task_id, 1, *results.claim_args(bob), 0, 0, {"from": bob})
    assert base.balanceOf(bob) == paid + 3 * WAD + results.payout(bob)
    with reverts("WrongStatus", CLOSED, COMPLETED):
        federation.closeTask(task_id, {"from": sponsor})


def test_the_sweep_of_an_ended_task_refunds_the_sponsor(
    federation, escrow, base, aggregator, sponsor, clients
):
    task_id = joined_task(federation, escrow, aggregator, sponsor, clients, 30 * WAD, numRounds=1)
    results = finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    federation.claimReward(task_id, 1, *results.claim_args(alice), 0, 0, {"from": alice})
    chain.sleep(CLAIM_WINDOW + 1)
    left = 30 * WAD - 4 * WAD - results.payout(alice)  # unreleased + what claims left
    before = base.balanceOf(sponsor)
    tx = federation.sweepRound(task_id, 1, {"from": clients[2]})
    assert (tx.events["Refunded"]["to"], tx.events["Refunded"]["amount"]) == (sponsor, left)
    assert base.balanceOf(sponsor) == before + left
    assert escrow.isClosed(task_id)
    tx = federation.closeTask(task_id, {"from": sponsor})  # nothing left to refund
    assert tx.events["TaskClosed"]["refunded"] == 0


def test_the_aggregator_takes_its_bond_back_after_the_task(
    federation, base, escrow, aggregator, sponsor, clients
):
    task_id = joined_task(federation, escrow, aggregator, sponsor, clients, numRounds=1)
    finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    until = federation.taskState(task_id)["bondLockedUntil"]
    with reverts("BondLocked", until):
        federation.withdrawAggregatorBond(task_id, {"from": aggregator})
    chain.sleep(CLAIM_WINDOW + 1)
    before = base.balanceOf(aggregator)
    federation.withdrawAggregatorBond(task_id, {"from": aggregator})
    assert base.balanceOf(aggregator) == before + AGGREGATOR_BOND
    assert held(federation, base) == 0


# ---------------------------------------------------------------------------------- griefing


def grief_round(federation, escrow, aggregator, sponsor, clients, **overrides):
    """A task allowing griefing, round 1 open and every client committed STAKE."""
    task_id = joined_task(federation, escrow, aggregator, sponsor, clients, **overrides)
    open_round(federation, task_id, aggregator)
    commit_all(federation, task_id, 1, clients)
    return task_id


def test_grief_needs_a_task_that_allows_it(federation, task, aggregator, sponsor, clients):
    open_round(federation, task, aggregator)
    commit(federation, task, 1, clients[0])
    with reverts("GriefNotAllowed", WAD, 0):  # griefCap 0: no punishment at all
        federation.griefStake(task, 1, clients[0], WAD, {"from": sponsor})


def test_grief_is_bounded_by_the_cap(federation, escrow, aggregator, sponsor, clients):
    task_id = grief_round(federation, escrow, aggregator, sponsor, clients, griefCap=WAD // 2)
    alice = clients[0]
    with reverts("GriefNotAllowed", 5 * WAD + 1, 5 * WAD):  # half of 10
        federation.griefStake(task_id, 1, alice, 5 * WAD + 1, {"from": sponsor})
    federation.griefStake(task_id, 1, alice, 3 * WAD, {"from": sponsor})
    with reverts("GriefNotAllowed", 2 * WAD + 1, 2 * WAD):
        federation.griefStake(task_id, 1, alice, 2 * WAD + 1, {"from": sponsor})
    federation.griefStake(task_id, 1, alice, 2 * WAD, {"from": sponsor})
    with reverts("GriefNotAllowed", 1, 0):
        federation.griefStake(task_id, 1, alice, 1, {"from": sponsor})
    assert federation.commitmentOf(task_id, 1, alice)["griefed"] == 5 * WAD
    federation.griefStake(task_id, 1, clients[1], 5 * WAD, {"from": sponsor})  # per commitment


def test_grief_costs_the_sponsor_and_burns_both_sides(
    federation, escrow, base, vault, aggregator, sponsor, clients
):
    ratio = 3 * WAD // 7
    task_id = grief_round(
        federation, escrow, aggregator, sponsor, clients, griefCap=WAD, griefRatio=ratio
    )
    alice = clients[0]
    amount = WAD + 1
    cost = -(-amount * ratio // WAD)  # rounded up
    assert cost == amount * ratio // WAD + 1
    supply, paid, burned = base.totalSupply(), base.balanceOf(sponsor), vault.totalBurned()
    held_before = held(federation, base)
    tx = federation.griefStake(task_id, 1, alice, amount, {"from": sponsor})
    assert tx.return_value == cost
    event = tx.events["StakeGriefed"]
    assert (event["taskId"], event["round"], event["client"]) == (task_id, 1, alice)
    assert (event["amount"], event["cost"]) == (amount, cost)
    stake_burn = tx.events["StakeBurned"]
    assert (stake_burn["account"], stake_burn["amount"], stake_burn["route"]) == (
        alice,
        amount,
        BURNED,
    )
    assert base.balanceOf(sponsor) == paid - cost
    assert base.totalSupply() == supply - cost - amount  # both destroyed
    assert vault.totalBurned() == burned + amount
    assert tuple(vault.stakeOf(alice))[:2] == (100 * WAD - amount, JOIN_BOND + STAKE - amount)
    assert federation.commitmentOf(task_id, 1, alice)["griefed"] == amount
    assert held(federation, base) == held_before


def test_free_griefing_costs_the_sponsor_nothing(
    federation, escrow, base, vault, aggregator, sponsor, clients
):
    task_id = grief_round(federation, escrow, aggregator, sponsor, clients, griefCap=WAD)
    paid = base.balanceOf(sponsor)
    tx = federation.griefStake(task_id, 1, clients[0], 4 * WAD, {"from": sponsor})
    assert tx.return_value == 0 and tx.events["StakeGriefed"]["cost"] == 0
    assert base.balanceOf(sponsor) == paid
    assert vault.stakeOf(clients[0])[0] == 96 * WAD


def test_grief_burns_go_to_the_dead_address_when_the_token_cannot_burn(
    federation, escrow, base, aggregator, sponsor, clients
):
    task_id = grief_round(
        federation, escrow, aggregator, sponsor, clients, griefCap=WAD, griefRatio=WAD
    )
    base.setBurnMode(1, {"from": sponsor})  # burn reverts
    dead = base.balanceOf(DEAD)
    tx = federation.griefStake(task_id, 1, clients[0], 2 * WAD, {"from": sponsor})
    assert tx.events["StakeBurned"]["route"] == TO_DEAD
    assert base.balanceOf(DEAD) == dead + 4 * WAD  # the stake and the sponsor's cost
    held(federation, base)


def test_a_grief_cost_is_what_arrives(federation, escrow, base, aggregator, sponsor, clients):
    """With a fee-on-transfer base token the sponsor's payment arrives short; what arrives is
    burned, and the grief goes through (refusing it would only shield the client)."""
    task_id = grief_round(
        federation, escrow, aggregator, sponsor, clients, griefCap=WAD, griefRatio=WAD
    )
    base.setTransferFee(100, {"from": sponsor})
    supply = base.totalSupply()
    tx = federation.griefStake(task_id, 1, clients[0], 2 * WAD, {"from": sponsor})
    base.setTransferFee(0, {"from": sponsor})
    assert tx.events["StakeGriefed"]["cost"] == 2 * WAD  # what the task's ratio asks
    assert federation.commitmentOf(task_id, 1, clients[0])["griefed"] == 2 * WAD
    fee = 2 * WAD // 100
    assert base.totalSupply() == supply - fee - (2 * WAD - fee) - 2 * WAD  # fee, cost, stake
    held(federation, base)


def test_grief_errors(federation, escrow, aggregator, sponsor, clients, outsider):
    task_id = joined_task(federation, escrow, aggregator, sponsor, clients, griefCap=WAD)
    alice, bob = clients[:2]
    with reverts("WrongPhase", NONE, COMMIT):  # no round yet
        federation.griefStake(task_id, 1, alice, WAD, {"from": sponsor})
    open_round(federation, task_id, aggregator)
    commit(federation, task_id, 1, alice)
    for intruder in (aggregator, alice, outsider):
        with reverts("NotSponsor", intruder):
            federation.griefStake(task_id, 1, alice, WAD, {"from": intruder})
    with reverts("ZeroAmount"):
        federation.griefStake(task_id, 1, alice, 0, {"from": sponsor})
    with reverts("NoCommitment", bob):
        federation.griefStake(task_id, 1, bob, WAD, {"from": sponsor})
    chain.sleep(COMMIT_WINDOW + REVEAL_WINDOW + POST_TIMEOUT + 1)
    federation.abortRound(task_id, 1, {"from": outsider})
    with reverts("WrongPhase", ABORTED, COMMIT):
        federation.griefStake(task_id, 1, alice, WAD, {"from": sponsor})


def test_a_settled_stake_cannot_be_griefed(federation, escrow, aggregator, sponsor, clients):
    task_id = joined_task(federation, escrow, aggregator, sponsor, clients, griefCap=WAD)
    results = finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    alice, bob = clients[:2]
    federation.griefStake(task_id, 1, bob, WAD, {"from": sponsor})  # finalized, unsettled: yes
    federation.settleStake(task_id, 1, alice, *results.claim_args(alice), {"from": alice})
    with reverts("AlreadySettled", alice):
        federation.griefStake(task_id, 1, alice, WAD, {"from": sponsor})


def test_a_griefed_stake_burns_at_most_what_is_left(
    federation, escrow, vault, aggregator, sponsor, clients
):
    task_id = joined_task(federation, escrow, aggregator, sponsor, clients, griefCap=WAD)
    results = posted_round(federation, task_id, aggregator, clients)
    dave = clients[3]  # -10 %: his result burns 0.5
    assert results.payout(dave) == -WAD // 2
    federation.griefStake(task_id, 1, dave, STAKE - WAD // 5, {"from": sponsor})  # 0.2 left
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task_id, 1, {"from": dave})
    burned = vault.totalBurned()
    tx = federation.settleStake(task_id, 1, dave, *results.claim_args(dave), {"from": dave})
    assert tx.events["StakeSettled"]["payout"] == -WAD // 2
    settled = tx.events["LockSettled"]
    assert (settled["unlocked"], settled["burned"]) == (WAD // 5, WAD // 5)
    assert vault.totalBurned() == burned + WAD // 5
    assert tuple(vault.stakeOf(dave))[:2] == (100 * WAD - STAKE, JOIN_BOND)


def test_a_griefed_stake_keeps_its_positive_payout(
    federation, escrow, base, vault, aggregator, sponsor, clients
):
    task_id = joined_task(federation, escrow, aggregator, sponsor, clients, griefCap=WAD)
    results = posted_round(federation, task_id, aggregator, clients)
    alice = clients[0]
    federation.griefStake(task_id, 1, alice, 4 * WAD, {"from": sponsor})
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task_id, 1, {"from": alice})
    before = base.balanceOf(alice)
    tx = federation.settleStake(task_id, 1, alice, *results.claim_args(alice), {"from": alice})
    payout = stake_payout(STAKE, SCORES[0], 4 * STAKE, THRESHOLD, CAP)  # on the whole stake
    assert tx.events["StakeSettled"]["payout"] == payout
    assert tx.events["StakeUnlocked"]["amount"] == STAKE - 4 * WAD
    assert base.balanceOf(alice) == before + payout
    assert tuple(vault.stakeOf(alice))[:2] == (96 * WAD, JOIN_BOND)


def test_reclaim_returns_the_stake_less_what_was_griefed(
    federation, escrow, vault, aggregator, sponsor, clients
):
    task_id = grief_round(federation, escrow, aggregator, sponsor, clients, griefCap=WAD)
    alice = clients[0]
    federation.griefStake(task_id, 1, alice, 3 * WAD, {"from": sponsor})
    federation.cancelTask(task_id, {"from": sponsor})
    tx = federation.reclaimStake(task_id, 1, {"from": alice})
    assert tx.events["StakeReclaimed"]["stake"] == STAKE - 3 * WAD
    assert tuple(vault.stakeOf(alice))[:2] == (97 * WAD, JOIN_BOND)
