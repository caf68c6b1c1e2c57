"""Attacks on the federation: calls by the wrong role, forged and replayed Merkle proofs, double
claims, commits that should not count, stake reused or withdrawn to dodge a burn, hostile
results, and reentrancy through a malicious base token."""

from brownie import chain
from eth_utils import keccak

from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import (
    CAP,
    CHALLENGE_WINDOW,
    COMMIT_WINDOW,
    STAKE,
    THRESHOLD,
    WAD,
    commit_all,
    finalized_round,
    new_task,
    open_round,
    post_results,
)
from tests.contracts.fed_math import Entry, Results, leaf_hash
from tests.contracts.helpers import reverts

ZERO = "0x0000000000000000000000000000000000000000"
SCORES = [WAD // 50, WAD // 100, 0, -WAD // 10]
REWARDS = [4 * WAD, 3 * WAD, 2 * WAD, WAD]
MODEL = keccak(text="model")


def joined_task(federation, escrow, aggregator, sponsor, clients, **overrides):
    task_id = new_task(federation, aggregator, sponsor, **overrides)
    escrow.fund(task_id, 100 * WAD, {"from": sponsor})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    return task_id


# ----------------------------------------------------------------------------- wrong roles


def test_only_the_aggregator_opens_and_posts(
    federation, task, aggregator, arbiter, sponsor, clients
):
    for intruder in (sponsor, arbiter, clients[0]):
        with reverts("NotAggregator", intruder):
            federation.openRound(task, {"from": intruder})
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    for intruder in (sponsor, arbiter, clients[0]):
        with reverts("NotAggregator", intruder):
            federation.postRound(task, 1, MODEL, MODEL, 0, 0, {"from": intruder})


def test_the_aggregator_cannot_resolve_a_challenge_of_its_own_post(
    federation, task, aggregator, sponsor, clients
):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    federation.postRound(task, 1, MODEL, MODEL, 0, 0, {"from": aggregator})
    federation.challenge(task, 1, keccak(text="bad"), {"from": clients[1]})
    for intruder in (aggregator, sponsor, clients[1]):
        with reverts("AccessControlUnauthorizedAccount", intruder):
            federation.resolveChallenge(task, 1, True, {"from": intruder})


def test_nobody_but_the_federation_moves_stakes_or_budgets(
    federation, vault, escrow, task, aggregator, clients, outsider
):
    finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    thief = outsider
    attempts = (
        lambda: escrow.payReward(task, thief, WAD, 0, 0, {"from": thief}),
        lambda: escrow.payStakePayout(task, thief, WAD, {"from": thief}),
        lambda: escrow.refund(task, thief, {"from": thief}),
        lambda: escrow.unreserve(task, WAD, {"from": thief}),
        lambda: vault.unlock(clients[3], STAKE, {"from": thief}),
        lambda: vault.settle(clients[0], 0, 0, {"from": thief}),
    )
    for attempt in attempts:
        with reverts("AccessControlUnauthorizedAccount", thief):
            attempt()


def test_only_the_sponsor_ends_a_task(federation, task, aggregator, clients):
    for intruder in (aggregator, clients[0]):
        with reverts("NotSponsor", intruder):
            federation.cancelTask(task, {"from": intruder})
        with reverts("NotSponsor", intruder):
            federation.closeTask(task, {"from": intruder})


# ------------------------------------------------------------------------------------ proofs


def test_a_forged_tree_does_not_prove_anything(federation, task, aggregator, clients):
    finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    mallory = clients[3]
    # mallory builds her own tree in which she earns the whole reward with a top score
    fake = Results(
        task, 1, [Entry(mallory, WAD, 10 * WAD, STAKE), Entry(clients[0], 0, 0, STAKE)], 1, 1
    )
    with reverts("InvalidProof"):
        federation.claimReward(task, 1, *fake.claim_args(mallory), 0, {"from": mallory})
    with reverts("InvalidProof"):
        federation.claimReward(task, 1, WAD, 10 * WAD, [], 0, {"from": mallory})
    with reverts("InvalidProof"):
        federation.settleStake(task, 1, mallory, WAD, 0, [], {"from": mallory})


def test_a_proof_cannot_be_reused_for_another_client_round_or_task(
    federation, escrow, task, aggregator, sponsor, clients
):
    other_task = joined_task(federation, escrow, aggregator, sponsor, clients)
    first = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    finalized_round(federation, other_task, aggregator, clients, SCORES, REWARDS)
    alice, bob = clients[:2]
    score, reward, proof = first.claim_args(alice)
    with reverts("InvalidProof"):  # bob replays alice's result
        federation.claimReward(task, 1, score, reward, proof, 0, {"from": bob})
    with reverts("InvalidProof"):  # alice replays round 1 in round 2
        federation.claimReward(task, 2, score, reward, proof, 0, {"from": alice})
    with reverts("InvalidProof"):  # ... or in the same round of another task
        federation.claimReward(other_task, 1, score, reward, proof, 0, {"from": alice})
    with reverts("InvalidProof"):  # a keeper settles bob's stake with alice's result
        federation.settleStake(task, 1, bob, score, reward, proof, {"from": alice})


def test_an_inner_node_is_not_a_leaf(federation, task, aggregator, clients):
    """Leaves are hashed twice, so an inner node of the tree never passes as a result."""
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    tree = results.tree
    inner = tree.nodes[1]  # the left child of the root: an inner node of 4 leaves
    assert inner not in [results.leaf(e) for e in results.entries]
    assert federation.resultLeaf(task, 1, clients[0], 1, 2) == (
        "0x" + leaf_hash(task, 1, str(clients[0]), 1, 2).hex()
    )
    with reverts("InvalidProof"):
        federation.claimReward(task, 1, 0, 0, [tree.nodes[2]], 0, {"from": clients[0]})


def test_no_double_claim_or_double_settlement(federation, base, task, aggregator, clients):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    federation.claimReward(task, 1, *results.claim_args(alice), 0, {"from": alice})
    balance = base.balanceOf(alice)
    with reverts("AlreadyClaimed", alice):
        federation.claimReward(task, 1, *results.claim_args(alice), 0, {"from": alice})
    with reverts("AlreadySettled", alice):
        federation.settleStake(task, 1, alice, *results.claim_args(alice), {"from": alice})
    assert base.balanceOf(alice) == balance


def test_a_keeper_settling_for_a_client_gains_nothing(federation, base, task, aggregator, clients):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    keeper, alice = clients[3], clients[0]
    keeper_before, alice_before = base.balanceOf(keeper), base.balanceOf(alice)
    federation.settleStake(task, 1, alice, *results.claim_args(alice), {"from": keeper})
    assert base.balanceOf(keeper) == keeper_before
    assert base.balanceOf(alice) == alice_before + results.payout(alice)


# ----------------------------------------------------------------------------------- commits


def test_commits_that_must_not_count(
    federation, registry, task, aggregator, sponsor, clients, outsider
):
    open_round(federation, task, aggregator)
    update = keccak(text="u")
    with reverts("NotParticipant", outsider):  # never registered
        federation.commit(task, 1, update, STAKE, {"from": outsider})
    with reverts("NotRegistered", outsider):
        federation.joinTask(task, {"from": outsider})
    late_task = new_task(federation, aggregator, sponsor)
    open_round(federation, late_task, aggregator)
    with reverts("NotParticipant", clients[0]):  # registered, but never joined this task
        federation.commit(late_task, 1, update, STAKE, {"from": clients[0]})
    federation.commit(task, 1, update, STAKE, {"from": clients[0]})
    with reverts("AlreadyCommitted", clients[0]):  # a second update to replace the first
        federation.commit(task, 1, keccak(text="better"), STAKE, {"from": clients[0]})
    chain.sleep(COMMIT_WINDOW + 1)
    with reverts("CommitClosed"):  # a late update, after seeing the others
        federation.commit(task, 1, update, STAKE, {"from": clients[1]})
    assert federation.roundInfo(task, 1)[7] == 1


def test_one_stake_cannot_back_two_tasks(
    federation, vault, escrow, task, aggregator, sponsor, clients
):
    other_task = joined_task(federation, escrow, aggregator, sponsor, clients)
    alice = clients[0]
    open_round(federation, task, aggregator)
    open_round(federation, other_task, aggregator)
    federation.commit(task, 1, keccak(text="u"), 80 * WAD, {"from": alice})
    with reverts("InsufficientFreeStake", 20 * WAD, 80 * WAD):
        federation.commit(other_task, 1, keccak(text="u"), 80 * WAD, {"from": alice})


def test_a_withdrawal_does_not_dodge_the_burn(federation, vault, base, task, aggregator, clients):
    dave = clients[3]  # will score -10 %: 5 % of his stake burns
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    with reverts("InsufficientFreeStake", 90 * WAD, 100 * WAD):  # the locked part cannot leave
        vault.requestWithdrawal(100 * WAD, {"from": dave})
    vault.requestWithdrawal(90 * WAD, {"from": dave})
    entries = [(c, s, r, STAKE) for c, s, r in zip(clients, SCORES, REWARDS, strict=True)]
    results = post_results(federation, task, 1, aggregator, entries)
    chain.sleep(CHALLENGE_WINDOW + 100)
    federation.finalizeRound(task, 1, {"from": clients[0]})
    vault.withdraw({"from": dave})  # the free part leaves; the stake at risk stays
    federation.settleStake(task, 1, dave, *results.claim_args(dave), {"from": clients[0]})
    assert tuple(vault.stakeOf(dave))[:3] == (10 * WAD - WAD // 2, 0, 0)


# ------------------------------------------------------------------------------------ results


def test_hostile_scores_burn_at_most_the_cap(federation, vault, task, aggregator, clients):
    huge = -(10**40)
    results = finalized_round(
        federation, task, aggregator, clients, [huge, huge, WAD, 0], [0, 0, 0, 0]
    )
    alice = clients[0]
    federation.settleStake(task, 1, alice, *results.claim_args(alice), {"from": alice})
    assert vault.stakeOf(alice)[0] == 100 * WAD - STAKE * CAP // WAD
    assert federation.stakePayout(STAKE, -(2**255), 4 * STAKE, THRESHOLD, WAD) == -STAKE


def test_posted_totals_bound_what_a_round_can_pay(federation, escrow, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    with reverts("RewardTooHigh", 10 * WAD + 1, 10 * WAD):
        federation.postRound(task, 1, MODEL, MODEL, 10 * WAD + 1, 0, {"from": aggregator})
    max_payout = 4 * STAKE * CAP // WAD
    with reverts("PayoutTooHigh", max_payout + 1, max_payout):
        federation.postRound(task, 1, MODEL, MODEL, 0, max_payout + 1, {"from": aggregator})


def test_a_zero_root_proves_nothing(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    federation.postRound(task, 1, MODEL, b"\x00" * 32, 0, 0, {"from": aggregator})
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task, 1, {"from": clients[0]})
    with reverts("InvalidProof"):
        federation.claimReward(task, 1, 0, 0, [], 0, {"from": clients[0]})


# --------------------------------------------------------------------------------- reentrancy


def test_reentry_during_a_payout_transfer_is_refused(
    federation, escrow, base, task, aggregator, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    alice, bob = clients[:2]
    # the base token calls back into the federation while the escrow pays alice
    reenter = federation.settleStake.encode_input(task, 1, bob, *results.claim_args(bob))
    base.arm(escrow, federation, reenter, {"from": alice})
    with reverts("ReentrancyGuardReentrantCall"):
        federation.claimReward(task, 1, *results.claim_args(alice), 0, {"from": alice})
    base.arm(ZERO, ZERO, b"", {"from": alice})
    federation.claimReward(task, 1, *results.claim_args(alice), 0, {"from": alice})
    assert federation.commitmentOf(task, 1, bob)[2] is False


def test_reentry_during_a_burn_is_refused(federation, vault, base, task, aggregator, clients):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    dave, alice = clients[3], clients[0]
    reenter = federation.claimReward.encode_input(task, 1, *results.claim_args(alice), 0)
    base.arm(vault, federation, reenter, {"from": dave})  # fires when the vault burns
    with reverts("ReentrancyGuardReentrantCall"):
        federation.settleStake(task, 1, dave, *results.claim_args(dave), {"from": dave})
    base.arm(ZERO, ZERO, b"", {"from": dave})
    federation.settleStake(task, 1, dave, *results.claim_args(dave), {"from": dave})
    assert vault.totalBurned() == WAD // 2


def test_reentry_into_the_escrow_is_refused(federation, escrow, base, task, aggregator, clients):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    # the token (not a role holder) tries the escrow itself while it pays
    base.arm(escrow, escrow, escrow.fund.encode_input(task, 1), {"from": alice})
    with reverts("ReentrancyGuardReentrantCall"):
        federation.claimReward(task, 1, *results.claim_args(alice), 0, {"from": alice})
