"""Attacks on the federation, each played by the hostile party: calls by the wrong role, forged and
replayed Merkle proofs, double claims, commits that should not count, stake reused or withdrawn to
dodge a burn, wrong posts (garbage roots, omitted leaves, under-reserved totals), commit-set races,
free challenges and absent arbiters, Sybil seats, colluding roles and a griefing sponsor, hostile
base tokens (fees on transfer, burns that do nothing), copied commitments, expired buybacks, and
reentrancy through a malicious base token.

Every attack must fail in the same way: each committer can take its principal back (minus at most
the clipped burn of its own proven result, and the griefing its task allows), and nobody but the
party at fault pays.
"""

import pytest
from brownie import accounts, chain, web3
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
    FAR,
    JOIN_BOND,
    MAX,
    POST_TIMEOUT,
    REVEAL_WINDOW,
    STAKE,
    THRESHOLD,
    WAD,
    WITHDRAW_DELAY,
    commit,
    commit_all,
    commit_reveal_all,
    finalized_round,
    new_task,
    open_round,
    post,
    post_results,
    reveal,
    reveal_all,
    salt_of,
    seed_pool,
    update_of,
)
from tests.contracts.fed_math import Entry, Results, commitment_hash, leaf_hash
from tests.contracts.helpers import reverts

ZERO = "0x0000000000000000000000000000000000000000"
ZERO_HASH = b"\x00" * 32
SCORES = [WAD // 50, WAD // 100, 0, -WAD // 10]
REWARDS = [4 * WAD, 3 * WAD, 2 * WAD, WAD]
MODEL = keccak(text="model")
GARBAGE = keccak(text="garbage root")
DEPOSIT = 100 * WAD  # every staker's vault deposit (fed_fixtures)
BURN = STAKE * CAP // WAD  # the clipped burn of a -10 % score (dave's in SCORES)

# Federation enums
COMMIT_PHASE, REVEAL, POSTED, CHALLENGED, FINALIZED, ABORTED = 1, 2, 3, 4, 5, 6
ACTIVE, COMPLETED, CANCELLED = 1, 2, 3
EMPTY, NO_POST, UPHELD, ARBITER_TIMED_OUT = 0, 1, 2, 3
# SafeBurn routes and TestBaseToken burn modes
ROUTE_BURNED, ROUTE_DEAD, ROUTE_KEPT = 0, 1, 2
BURN_REVERTS, BURN_NOOP, BURN_HALF = 1, 2, 3


def joined_task(federation, escrow, aggregator, sponsor, clients, **overrides):
    """A task funded with 100 base, the aggregator bonded, and ``clients`` joined."""
    task_id = new_task(federation, aggregator, sponsor, **overrides)
    escrow.fund(task_id, 100 * WAD, {"from": sponsor})
    federation.bondAggregator(task_id, AGGREGATOR_BOND, {"from": aggregator})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    return task_id


def honest_results(task_id, round_, clients, scores=SCORES, rewards=REWARDS, stake=STAKE):
    entries = [Entry(c, s, r, stake) for c, s, r in zip(clients, scores, rewards, strict=True)]
    return Results(task_id, round_, entries, THRESHOLD, CAP)


def posted_round(federation, task_id, aggregator, clients, results_for=None, **totals):
    """Open a round, every client commits and reveals, and the aggregator posts the honest
    results of ``results_for`` (default: every client), with ``totals`` (total_reward,
    total_payout, root) overriding what it reserves and publishes. Returns (round, results)."""
    round_ = open_round(federation, task_id, aggregator)
    commit_reveal_all(federation, task_id, round_, clients)
    covered = clients if results_for is None else results_for
    index = [list(clients).index(c) for c in covered]
    results = honest_results(
        task_id, round_, covered, [SCORES[i] for i in index], [REWARDS[i] for i in index]
    )
    post(
        federation,
        task_id,
        round_,
        aggregator,
        MODEL,
        totals.get("root", results.root),
        totals.get("total_reward", results.total_reward),
        totals.get("total_payout", results.total_payout),
    )
    return round_, results


def finalize(federation, task_id, round_):
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task_id, round_, {"from": accounts[0]})


def solvent(base, vault, escrow, federation):
    """Every contract holds at least what it owes."""
    assert base.balanceOf(vault) >= vault.totalStaked()
    assert base.balanceOf(escrow) >= escrow.totalHeld()
    assert base.balanceOf(federation) >= federation.totalHeld()


def block_time():
    """The latest block's timestamp (Brownie's `chain.time()` can lag after a revert)."""
    return web3.eth.get_block("latest").timestamp


def stake_of(vault, account):
    """(balance, locked, pending) of ``account`` in the vault."""
    return tuple(int(x) for x in vault.stakeOf(account))[:3]


def budget(escrow, task_id):
    """(unreleased, owed) of ``task_id``'s budget."""
    return tuple(int(x) for x in escrow.budgetOf(task_id))


# ----------------------------------------------------------------------------- wrong roles


def test_only_the_aggregator_opens_and_posts(
    federation, task, aggregator, arbiter, sponsor, clients
):
    for intruder in (sponsor, arbiter, clients[0]):
        with reverts("NotAggregator", intruder):
            federation.openRound(task, {"from": intruder})
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    for intruder in (sponsor, arbiter, clients[0]):
        with reverts("NotAggregator", intruder):
            post(federation, task, 1, intruder, MODEL, GARBAGE, 0, 0)
    assert federation.roundState(task, 1)["phase"] == REVEAL


def test_only_the_arbiter_decides_a_challenge(
    federation, task, aggregator, sponsor, clients, outsider
):
    posted_round(federation, task, aggregator, clients)
    federation.challenge(task, 1, keccak(text="bad"), {"from": outsider})
    for intruder in (aggregator, sponsor, outsider, clients[1]):
        with reverts("NotArbiter", intruder):
            federation.dismissChallenge(task, 1, {"from": intruder})
        with reverts("NotArbiter", intruder):
            federation.upholdChallenge(task, 1, {"from": intruder})
    assert federation.roundState(task, 1)["phase"] == CHALLENGED


def test_only_the_sponsor_ends_or_griefs(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit(federation, task, 1, clients[0])
    for intruder in (aggregator, clients[0]):
        with reverts("NotSponsor", intruder):
            federation.cancelTask(task, {"from": intruder})
        with reverts("NotSponsor", intruder):
            federation.closeTask(task, {"from": intruder})
        with reverts("NotSponsor", intruder):
            federation.griefStake(task, 1, clients[0], WAD, {"from": intruder})
        with reverts("NotSponsor", intruder):
            federation.setAllowed(task, [intruder], True, {"from": intruder})
    assert federation.taskState(task)["status"] == ACTIVE


def test_the_deployer_keeps_no_power(
    federation, vault, escrow, base, task, admin, aggregator, arbiter, governor, clients
):
    """After binding, the deploying account cannot move a stake or a budget, rebind the vault or
    the escrow, or name the arbiter; only the governor names the arbiter."""
    finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    victim = clients[3]
    stake, owed = stake_of(vault, victim), budget(escrow, task)
    attempts = (
        lambda: vault.lock(victim, WAD, {"from": admin}),
        lambda: vault.unlock(victim, STAKE, {"from": admin}),
        lambda: vault.settle(victim, STAKE, STAKE, {"from": admin}),
        lambda: escrow.reserve(task, WAD, {"from": admin}),
        lambda: escrow.unreserve(task, WAD, {"from": admin}),
        lambda: escrow.payStakePayout(task, admin, WAD, {"from": admin}),
        lambda: escrow.payClaim(task, admin, 0, WAD, 0, 0, FAR, {"from": admin}),
        lambda: escrow.refund(task, admin, {"from": admin}),
    )
    for attempt in attempts:
        with reverts("NotFederation", admin):
            attempt()
    for contract in (vault, escrow):
        with reverts("AlreadyBound", federation):
            contract.bindFederation(admin, {"from": admin})
    for intruder in (admin, arbiter, aggregator):
        with reverts("NotGovernor", intruder):
            federation.setArbiter(intruder, {"from": intruder})
    assert (stake_of(vault, victim), budget(escrow, task)) == (stake, owed)
    federation.setArbiter(admin, {"from": governor})
    assert federation.arbiter() == admin


def test_nobody_but_the_federation_moves_stakes_or_budgets(
    federation, vault, escrow, task, aggregator, clients, outsider
):
    finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    thief = outsider
    owed = budget(escrow, task)
    attempts = (
        lambda: escrow.payClaim(task, thief, 0, WAD, 0, 0, FAR, {"from": thief}),
        lambda: escrow.payStakePayout(task, thief, WAD, {"from": thief}),
        lambda: escrow.refund(task, thief, {"from": thief}),
        lambda: escrow.unreserve(task, WAD, {"from": thief}),
        lambda: vault.unlock(clients[3], STAKE, {"from": thief}),
        lambda: vault.settle(clients[0], 0, 0, {"from": thief}),
    )
    for attempt in attempts:
        with reverts("NotFederation", thief):
            attempt()
    assert budget(escrow, task) == owed


# ------------------------------------------------------------------------------------ proofs


def test_a_forged_tree_does_not_prove_anything(federation, task, aggregator, clients):
    finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    mallory = clients[3]
    # mallory builds her own tree in which she earns the whole reward with a top score
    fake = Results(
        task, 1, [Entry(mallory, WAD, 10 * WAD, STAKE), Entry(clients[0], 0, 0, STAKE)], 1, 1
    )
    with reverts("InvalidProof"):
        federation.claimReward(task, 1, *fake.claim_args(mallory), 0, FAR, {"from": mallory})
    with reverts("InvalidProof"):
        federation.claimReward(task, 1, WAD, 10 * WAD, [], 0, FAR, {"from": mallory})
    with reverts("InvalidProof"):
        federation.settleStake(task, 1, mallory, WAD, 0, [], {"from": mallory})
    assert federation.commitmentOf(task, 1, mallory)["settled"] is False


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
        federation.claimReward(task, 1, score, reward, proof, 0, FAR, {"from": bob})
    with reverts("InvalidProof"):  # alice replays round 1 in round 2
        federation.claimReward(task, 2, score, reward, proof, 0, FAR, {"from": alice})
    with reverts("InvalidProof"):  # ... or in the same round of another task
        federation.claimReward(other_task, 1, score, reward, proof, 0, FAR, {"from": alice})
    with reverts("InvalidProof"):  # a keeper settles bob's stake with alice's result
        federation.settleStake(task, 1, bob, score, reward, proof, {"from": alice})
    assert federation.commitmentOf(task, 1, bob)["settled"] is False


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
        federation.claimReward(task, 1, 0, 0, [tree.nodes[2]], 0, FAR, {"from": clients[0]})


def test_no_double_claim_or_double_settlement(federation, base, task, aggregator, clients):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    federation.claimReward(task, 1, *results.claim_args(alice), 0, FAR, {"from": alice})
    balance = base.balanceOf(alice)
    with reverts("AlreadyClaimed", alice):
        federation.claimReward(task, 1, *results.claim_args(alice), 0, FAR, {"from": alice})
    with reverts("AlreadySettled", alice):
        federation.settleStake(task, 1, alice, *results.claim_args(alice), {"from": alice})
    with reverts("AlreadySettled", alice):  # nor a reclaim after the claim window
        chain.sleep(CLAIM_WINDOW + 1)
        federation.reclaimStake(task, 1, {"from": alice})
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
    federation, escrow, task, aggregator, sponsor, clients, outsider
):
    open_round(federation, task, aggregator)
    sealed = keccak(text="sealed")
    with reverts("NotParticipant", outsider):  # never registered
        federation.commit(task, 1, sealed, STAKE, {"from": outsider})
    with reverts("NotRegistered", outsider):
        federation.joinTask(task, {"from": outsider})
    late_task = joined_task(federation, escrow, aggregator, sponsor, [], minClients=0)
    open_round(federation, late_task, aggregator)
    with reverts("NotParticipant", clients[0]):  # registered, but never joined this task
        federation.commit(late_task, 1, sealed, STAKE, {"from": clients[0]})
    with reverts("EmptyHash"):
        federation.commit(task, 1, ZERO_HASH, STAKE, {"from": clients[0]})
    with reverts("StakeTooLow", WAD - 1, WAD):
        federation.commit(task, 1, sealed, WAD - 1, {"from": clients[0]})
    federation.commit(task, 1, sealed, STAKE, {"from": clients[0]})
    with reverts("AlreadyCommitted", clients[0]):  # a second update to replace the first
        federation.commit(task, 1, keccak(text="better"), STAKE, {"from": clients[0]})
    with reverts("WrongPhase", 0, COMMIT_PHASE):  # a commit to a round not yet opened
        federation.commit(task, 2, sealed, STAKE, {"from": clients[1]})
    chain.sleep(COMMIT_WINDOW + 1)
    deadline = federation.roundState(task, 1)["commitDeadline"]
    with reverts("CommitClosed", deadline):  # a late update, after seeing the others
        federation.commit(task, 1, sealed, STAKE, {"from": clients[1]})
    assert federation.roundState(task, 1)["commits"] == 1


def test_one_stake_cannot_back_two_tasks(
    federation, vault, escrow, task, aggregator, sponsor, clients
):
    other_task = joined_task(federation, escrow, aggregator, sponsor, clients)
    alice = clients[0]
    open_round(federation, task, aggregator)
    open_round(federation, other_task, aggregator)
    commit(federation, task, 1, alice, 80 * WAD)
    free = DEPOSIT - 2 * JOIN_BOND - 80 * WAD
    assert vault.freeStake(alice) == free
    with reverts("InsufficientFreeStake", free, 80 * WAD):
        commit(federation, other_task, 1, alice, 80 * WAD)


def test_a_withdrawal_does_not_dodge_the_burn(federation, vault, base, task, aggregator, clients):
    dave = clients[3]  # will score -10 %: 5 % of his stake burns
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    free = DEPOSIT - JOIN_BOND - STAKE
    with reverts("InsufficientFreeStake", free, DEPOSIT):  # the locked part cannot leave
        vault.requestWithdrawal(DEPOSIT, {"from": dave})
    vault.requestWithdrawal(free, {"from": dave})
    results = post_results(
        federation,
        task,
        1,
        aggregator,
        [(c, s, r, STAKE) for c, s, r in zip(clients, SCORES, REWARDS, strict=True)],
    )
    chain.sleep(max(CHALLENGE_WINDOW, WITHDRAW_DELAY) + 1)
    federation.finalizeRound(task, 1, {"from": clients[0]})
    vault.withdraw({"from": dave})  # the free part leaves; the stake at risk stays
    federation.settleStake(task, 1, dave, *results.claim_args(dave), {"from": clients[0]})
    assert stake_of(vault, dave) == (JOIN_BOND + STAKE - BURN, JOIN_BOND, 0)


# ------------------------------------------------------------------------- wrong posts


def test_a_zero_root_or_model_is_refused_at_post(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    with reverts("EmptyHash"):
        post(federation, task, 1, aggregator, MODEL, ZERO_HASH, 0, 0)
    with reverts("EmptyHash"):
        post(federation, task, 1, aggregator, ZERO_HASH, GARBAGE, 0, 0)
    assert federation.roundState(task, 1)["phase"] == REVEAL


def test_posted_totals_bound_what_a_round_can_pay(federation, escrow, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    with reverts("RewardTooHigh", 10 * WAD + 1, 10 * WAD):
        post(federation, task, 1, aggregator, MODEL, GARBAGE, 10 * WAD + 1, 0)
    max_payout = 4 * STAKE * CAP // WAD
    with reverts("PayoutTooHigh", max_payout + 1, max_payout):
        post(federation, task, 1, aggregator, MODEL, GARBAGE, 0, max_payout + 1)
    assert budget(escrow, task) == (100 * WAD, 0)


def test_a_garbage_root_leaves_every_principal_recoverable(
    federation, vault, escrow, base, task, aggregator, clients, outsider
):
    round_, honest = posted_round(
        federation, task, aggregator, clients, root=GARBAGE, total_reward=10 * WAD, total_payout=0
    )
    finalize(federation, task, round_)
    for client in clients:  # nothing proves against the root: no burn, no payout, no reward
        with reverts("InvalidProof"):
            federation.settleStake(
                task, round_, client, *honest.claim_args(client), {"from": client}
            )
        with reverts("InvalidProof"):
            federation.claimReward(
                task, round_, *honest.claim_args(client), 0, FAR, {"from": client}
            )
        closes = federation.roundState(task, round_)["endedAt"] + CLAIM_WINDOW
        with reverts("ClaimWindowOpen", closes):
            federation.reclaimStake(task, round_, {"from": client})
    chain.sleep(CLAIM_WINDOW + 1)
    for client in clients:
        tx = federation.reclaimStake(task, round_, {"from": client})
        assert tx.events["StakeReclaimed"]["stake"] == STAKE
        assert stake_of(vault, client) == (DEPOSIT, JOIN_BOND, 0)
    tx = federation.sweepRound(task, round_, {"from": outsider})
    assert tx.events["RoundSwept"]["unclaimed"] == 10 * WAD
    assert budget(escrow, task) == (100 * WAD, 0)  # the sponsor's budget is whole again
    assert federation.taskState(task)["bond"] == AGGREGATOR_BOND
    assert vault.totalBurned() == 0
    solvent(base, vault, escrow, federation)


@pytest.mark.parametrize("cancelled", [False, True], ids=["active", "cancelled"])
def test_a_committer_left_out_of_the_results_reclaims_its_stake(
    federation, vault, escrow, base, task, aggregator, sponsor, clients, outsider, cancelled
):
    """The post omits dave's leaf; carol has one but never claims. Both take their stakes back
    after the claim window, whether or not the sponsor cancelled in between."""
    alice, bob, carol, dave = clients
    round_, results = posted_round(federation, task, aggregator, clients, results_for=clients[:3])
    reserved = results.total_reward + results.total_payout
    if cancelled:  # the sponsor pulls out after the post: the round still runs to its end
        sponsor_before = base.balanceOf(sponsor)
        federation.cancelTask(task, {"from": sponsor})
        assert base.balanceOf(sponsor) == sponsor_before + 100 * WAD - reserved
        assert federation.roundState(task, round_)["phase"] == POSTED
    finalize(federation, task, round_)
    for client in (alice, bob):  # paid in full from the reservation
        before = base.balanceOf(client)
        tx = federation.claimReward(
            task, round_, *results.claim_args(client), 0, FAR, {"from": client}
        )
        assert "ShortfallCovered" not in tx.events
        entry = results.entry(client)
        assert base.balanceOf(client) == before + entry.reward + results.payout(client)
    with reverts("InvalidProof"):  # dave has no leaf: nothing to settle
        federation.settleStake(task, round_, dave, SCORES[3], REWARDS[3], [], {"from": dave})
    chain.sleep(CLAIM_WINDOW + 1)
    for client in (carol, dave):
        tx = federation.reclaimStake(task, round_, {"from": client})
        assert tx.events["StakeReclaimed"]["stake"] == STAKE
        assert stake_of(vault, client) == (DEPOSIT, JOIN_BOND, 0)
    sponsor_before = base.balanceOf(sponsor)
    tx = federation.sweepRound(task, round_, {"from": outsider})
    assert tx.events["RoundSwept"]["unclaimed"] == REWARDS[2]  # carol's reward
    assert federation.taskState(task)["bond"] == AGGREGATOR_BOND
    if cancelled:  # a cancelled task's sweep refunds the sponsor at once
        assert budget(escrow, task) == (0, 0)
        assert base.balanceOf(sponsor) == sponsor_before + REWARDS[2]
    else:
        assert budget(escrow, task) == (100 * WAD - reserved + REWARDS[2], 0)


def test_a_payout_reserved_one_wei_short_is_covered_from_the_bond(
    federation, vault, escrow, base, task, aggregator, clients
):
    short = 3 * WAD // 10 - 1  # alice earns 0.2 base, bob 0.1: the post reserves 1 wei less
    round_, results = posted_round(federation, task, aggregator, clients, total_payout=short)
    assert results.total_payout == short + 1
    finalize(federation, task, round_)
    alice, bob, carol, dave = clients
    wallets = {c: base.balanceOf(c) for c in clients}
    federation.settleStake(task, round_, alice, *results.claim_args(alice), {"from": alice})
    tx = federation.settleStake(task, round_, bob, *results.claim_args(bob), {"from": bob})
    shortfall = tx.events["ShortfallCovered"]
    assert (shortfall["client"], shortfall["shortfall"], shortfall["covered"]) == (bob, 1, 1)
    for client in (carol, dave):
        federation.settleStake(task, round_, client, *results.claim_args(client), {"from": client})
    assert base.balanceOf(alice) == wallets[alice] + results.payout(alice)
    assert base.balanceOf(bob) == wallets[bob] + results.payout(bob) - 1
    assert federation.credit(bob) == 1
    federation.withdrawCredit({"from": bob})
    assert base.balanceOf(bob) == wallets[bob] + results.payout(bob)
    assert stake_of(vault, dave)[0] == DEPOSIT - BURN  # only its own clipped burn
    assert stake_of(vault, carol)[0] == DEPOSIT
    assert federation.taskState(task)["bond"] == AGGREGATOR_BOND - 1
    assert budget(escrow, task) == (100 * WAD - 10 * WAD - short, 10 * WAD)
    solvent(base, vault, escrow, federation)


def test_a_reward_reserved_short_is_covered_from_the_bond(
    federation, vault, escrow, base, task, aggregator, clients
):
    round_, results = posted_round(federation, task, aggregator, clients, total_reward=7 * WAD)
    finalize(federation, task, round_)
    paid = {}
    for client in clients:  # alice 4 + bob 3 come from the reservation, carol 2 + dave 1 do not
        before = base.balanceOf(client)
        tx = federation.claimReward(
            task, round_, *results.claim_args(client), 0, FAR, {"from": client}
        )
        paid[client] = base.balanceOf(client) - before + federation.credit(client)
        assert ("ShortfallCovered" in tx.events) == (client in clients[2:])
    for client in clients:
        assert paid[client] == results.entry(client).reward + max(0, results.payout(client))
    assert federation.taskState(task)["bond"] == AGGREGATOR_BOND - 3 * WAD
    assert stake_of(vault, clients[3])[0] == DEPOSIT - BURN
    assert budget(escrow, task) == (100 * WAD - 7 * WAD - results.total_payout, 0)
    solvent(base, vault, escrow, federation)


def test_a_shortfall_beyond_the_bond_never_reaches_other_clients(
    federation, vault, escrow, base, task, aggregator, sponsor, clients
):
    """Leaves promise 160 base of rewards and the post reserves none: the bond (50) covers what it
    can; the budget, the other tasks and every principal are untouched."""
    other = joined_task(federation, escrow, aggregator, sponsor, clients)
    round_ = open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, round_, clients)
    results = honest_results(task, round_, clients, rewards=[40 * WAD] * 4)
    post(federation, task, round_, aggregator, MODEL, results.root, 0, results.total_payout)
    finalize(federation, task, round_)
    covered = []
    for client in clients:
        tx = federation.claimReward(
            task, round_, *results.claim_args(client), 0, FAR, {"from": client}
        )
        covered.append(tx.events["ShortfallCovered"]["covered"])
        assert tx.events["ShortfallCovered"]["shortfall"] == 40 * WAD
    assert covered == [40 * WAD, 10 * WAD, 0, 0]
    assert federation.taskState(task)["bond"] == 0
    assert federation.taskState(other)["bond"] == AGGREGATOR_BOND
    assert budget(escrow, task) == (100 * WAD - results.total_payout, 0)
    assert budget(escrow, other) == (100 * WAD, 0)
    for client in clients[:3]:
        assert stake_of(vault, client) == (DEPOSIT, 2 * JOIN_BOND, 0)
    with reverts("BondTooLow", 0, AGGREGATOR_BOND):  # and the aggregator cannot go on unbonded
        federation.openRound(task, {"from": aggregator})
    solvent(base, vault, escrow, federation)


def test_a_silent_aggregator_cannot_hold_stakes(
    federation, vault, escrow, task, aggregator, clients, outsider
):
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    deadline = federation.roundState(task, 1)["revealDeadline"] + POST_TIMEOUT
    with reverts("PhaseNotOver", deadline):
        federation.abortRound(task, 1, {"from": outsider})
    chain.sleep(REVEAL_WINDOW + POST_TIMEOUT + 1)
    with reverts("PostTimedOut", deadline):  # too late to post now
        post(federation, task, 1, aggregator, MODEL, GARBAGE, 0, 0)
    tx = federation.abortRound(task, 1, {"from": outsider})
    assert tx.events["RoundAborted"]["reason"] == NO_POST
    for client in clients:
        federation.reclaimStake(task, 1, {"from": client})
        assert stake_of(vault, client) == (DEPOSIT, JOIN_BOND, 0)
    assert budget(escrow, task) == (100 * WAD, 0)


# ------------------------------------------------------------------------ commit-set races


def test_a_commit_after_the_results_were_computed_voids_the_stale_post(
    federation, vault, escrow, aggregator, sponsor, clients
):
    early, late = clients[:3], clients[3]
    task_id = joined_task(federation, escrow, aggregator, sponsor, early)
    round_ = open_round(federation, task_id, aggregator)
    commit_all(federation, task_id, round_, early)
    stale = honest_results(task_id, round_, early, SCORES[:3], REWARDS[:3])  # computed now
    federation.joinTask(task_id, {"from": late})  # a client joins and commits after that
    commit(federation, task_id, round_, late)
    reveal_all(federation, task_id, round_, clients)
    with reverts("CommitSetChanged", 3, 3, 4, 4):
        post(
            federation,
            task_id,
            round_,
            aggregator,
            MODEL,
            stale.root,
            stale.total_reward,
            stale.total_payout,
            commits=3,
            reveals=3,
        )
    fresh = honest_results(task_id, round_, clients)
    post(
        federation,
        task_id,
        round_,
        aggregator,
        MODEL,
        fresh.root,
        fresh.total_reward,
        fresh.total_payout,
    )
    finalize(federation, task_id, round_)
    tx = federation.claimReward(task_id, round_, *fresh.claim_args(late), 0, FAR, {"from": late})
    assert tx.events["StakeSettled"]["payout"] == -BURN  # the late client has its own result
    assert stake_of(vault, late)[:2] == (DEPOSIT - BURN, JOIN_BOND)


def test_a_post_cannot_skip_a_committer_that_did_not_reveal(
    federation, escrow, task, aggregator, clients
):
    """Counts bind reveals too: a post that pretends a committer revealed (or did not) fails."""
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    reveal_all(federation, task, 1, clients[:3])
    with reverts("RevealWindowOpen"):  # dave may still reveal
        post(federation, task, 1, aggregator, MODEL, GARBAGE, 0, 0)
    chain.sleep(REVEAL_WINDOW + 1)
    with reverts("CommitSetChanged", 4, 4, 4, 3):
        post(federation, task, 1, aggregator, MODEL, GARBAGE, 0, 0, reveals=4)
    post(federation, task, 1, aggregator, MODEL, GARBAGE, 0, 0)
    assert federation.roundState(task, 1)["reveals"] == 3


# ---------------------------------------------------------------- challenges and the arbiter


def test_a_challenge_needs_a_bond_or_standing(
    federation, base, escrow, task, aggregator, sponsor, clients, outsider
):
    posted_round(federation, task, aggregator, clients)
    pauper = accounts[11]  # no base tokens
    base.approve(federation, MAX, {"from": pauper})
    with reverts("ERC20InsufficientBalance", pauper, 0, CHALLENGE_BOND):
        federation.challenge(task, 1, keccak(text="free"), {"from": pauper})
    held = federation.totalHeld()
    before = base.balanceOf(outsider)
    federation.challenge(task, 1, keccak(text="bonded"), {"from": outsider})
    assert base.balanceOf(outsider) == before - CHALLENGE_BOND
    assert federation.totalHeld() == held + CHALLENGE_BOND
    assert federation.roundState(task, 1)["challengeBond"] == CHALLENGE_BOND
    # without a challenge bond, only a committer of the round has standing
    free = joined_task(federation, escrow, aggregator, sponsor, clients, challengeBond=0)
    posted_round(federation, free, aggregator, clients)
    for intruder in (outsider, pauper, aggregator):
        with reverts("NoStanding", intruder):
            federation.challenge(free, 1, keccak(text="free"), {"from": intruder})
    federation.challenge(free, 1, keccak(text="committer"), {"from": clients[2]})
    assert federation.roundState(free, 1)["challenger"] == clients[2]
    with reverts("WrongPhase", CHALLENGED, POSTED):  # one challenge holds a round, once
        federation.challenge(free, 1, keccak(text="again"), {"from": clients[1]})


def test_an_absent_arbiter_cannot_hold_a_round(
    federation, vault, escrow, base, task, aggregator, arbiter, clients, outsider
):
    posted_round(federation, task, aggregator, clients)
    tx = federation.challenge(task, 1, keccak(text="bad"), {"from": outsider})
    deadline = tx.timestamp + ARBITER_TIMEOUT
    with reverts("PhaseNotOver", deadline):
        federation.abortRound(task, 1, {"from": clients[0]})
    for client in clients:  # stakes stay locked while the arbiter may still rule
        with reverts("WrongPhase", CHALLENGED, ABORTED):
            federation.reclaimStake(task, 1, {"from": client})
    chain.sleep(ARBITER_TIMEOUT + 1)
    with reverts("ArbiterTimedOut", deadline):
        federation.dismissChallenge(task, 1, {"from": arbiter})
    with reverts("ArbiterTimedOut", deadline):
        federation.upholdChallenge(task, 1, {"from": arbiter})
    tx = federation.abortRound(task, 1, {"from": clients[0]})  # anyone
    assert tx.events["RoundAborted"]["reason"] == ARBITER_TIMED_OUT
    assert federation.credit(outsider) == CHALLENGE_BOND
    assert budget(escrow, task) == (100 * WAD, 0)
    for client in clients:
        tx = federation.reclaimStake(task, 1, {"from": client})
        assert tx.events["StakeReclaimed"]["stake"] == STAKE
        assert stake_of(vault, client) == (DEPOSIT, JOIN_BOND, 0)
    before = base.balanceOf(outsider)
    federation.withdrawCredit({"from": outsider})
    assert base.balanceOf(outsider) == before + CHALLENGE_BOND
    assert federation.taskState(task)["bond"] == AGGREGATOR_BOND  # nobody was slashed
    assert open_round(federation, task, aggregator) == 2  # and the task goes on


def test_a_challenger_cannot_hold_rounds_forever(
    federation, vault, escrow, base, aggregator, sponsor, clients
):
    """With no challenge bond, a committer challenges every round and the arbiter never rules:
    each round is held for at most the arbiter timeout, the challenger's own stake is locked all
    that time, and the task ends after its rounds with every principal back."""
    rounds = 2
    task_id = joined_task(
        federation, escrow, aggregator, sponsor, clients, challengeBond=0, numRounds=rounds
    )
    troll = clients[3]
    start = block_time()
    for number in range(1, rounds + 1):
        posted_round(federation, task_id, aggregator, clients)
        tx = federation.challenge(task_id, number, keccak(text="troll"), {"from": troll})
        assert tx.events["RoundChallenged"]["bond"] == 0
        assert stake_of(vault, troll)[1] == JOIN_BOND + STAKE  # its own stake is held too
        chain.sleep(ARBITER_TIMEOUT + 1)
        federation.abortRound(task_id, number, {"from": clients[0]})
        with reverts("WrongPhase", ABORTED, POSTED):  # an aborted round cannot be held again
            federation.challenge(task_id, number, keccak(text="again"), {"from": troll})
        for client in clients:
            federation.reclaimStake(task_id, number, {"from": client})
    bound = rounds * (CHALLENGE_WINDOW + ARBITER_TIMEOUT + 60)
    assert block_time() - start <= bound
    assert federation.taskState(task_id)["status"] == COMPLETED
    for client in clients:
        assert stake_of(vault, client) == (DEPOSIT, JOIN_BOND, 0)
    assert federation.credit(troll) == 0  # it held the rounds but gained nothing
    federation.closeTask(task_id, {"from": sponsor})
    assert budget(escrow, task_id) == (0, 0)


# ------------------------------------------------------------------------------ sybil seats


def sybil(registry, base, vault, index, stake=0):
    """A fresh registered client (accounts[12 + index]) with ``stake`` in the vault."""
    account = accounts[12 + index]
    registry.register(f"Sybil {index}", f"S{index}", {"from": account})
    if stake:
        base.mint(account, stake, {"from": account})
        base.approve(vault, MAX, {"from": account})
        vault.deposit(stake, {"from": account})
    return account


def test_a_sybil_without_stake_cannot_join(
    federation, registry, base, vault, escrow, aggregator, sponsor
):
    task_id = joined_task(federation, escrow, aggregator, sponsor, [])
    ghost = sybil(registry, base, vault, 0)
    assert registry.isRegistered(ghost)
    with reverts("InsufficientFreeStake", 0, JOIN_BOND):
        federation.joinTask(task_id, {"from": ghost})
    assert federation.taskState(task_id)["participants"] == 0


def test_a_sybil_seat_locks_capital_until_it_leaves(
    federation, registry, base, vault, escrow, aggregator, sponsor
):
    ghost = sybil(registry, base, vault, 0, stake=2 * JOIN_BOND)
    tasks = [joined_task(federation, escrow, aggregator, sponsor, []) for _ in range(3)]
    federation.joinTask(tasks[0], {"from": ghost})
    federation.joinTask(tasks[1], {"from": ghost})
    assert stake_of(vault, ghost) == (2 * JOIN_BOND, 2 * JOIN_BOND, 0)
    with reverts("InsufficientFreeStake", 0, JOIN_BOND):  # one deposit cannot back a third seat
        federation.joinTask(tasks[2], {"from": ghost})
    with reverts("InsufficientFreeStake", 0, JOIN_BOND):  # nor leave the vault while seated
        vault.requestWithdrawal(JOIN_BOND, {"from": ghost})
    tx = federation.leaveTask(tasks[0], {"from": ghost})
    assert tx.events["ClientLeft"]["removed"] is False
    assert stake_of(vault, ghost) == (2 * JOIN_BOND, JOIN_BOND, 0)
    with reverts("NotParticipant", ghost):
        federation.leaveTask(tasks[0], {"from": ghost})


def test_an_allowlist_task_refuses_strangers(federation, escrow, aggregator, sponsor, clients):
    task_id = joined_task(federation, escrow, aggregator, sponsor, [], allowlist=True)
    alice, bob = clients[:2]
    with reverts("NotAllowed", alice):
        federation.joinTask(task_id, {"from": alice})
    with reverts("NotSponsor", alice):  # a stranger cannot allow itself
        federation.setAllowed(task_id, [alice], True, {"from": alice})
    federation.setAllowed(task_id, [alice], True, {"from": sponsor})
    federation.joinTask(task_id, {"from": alice})
    with reverts("NotAllowed", bob):
        federation.joinTask(task_id, {"from": bob})
    assert federation.taskState(task_id)["participants"] == 1


def test_a_committer_cannot_leave_to_close_the_commit_window(
    federation, vault, task, aggregator, clients
):
    """Leaving would drop a participant while keeping its commitment, so the others that have
    committed would make up "every participant" and close the window on dave, who has not."""
    alice, bob, carol, dave = clients
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, [alice, bob, carol])
    with reverts("StillActive", alice):
        federation.leaveTask(task, {"from": alice})
    with reverts("CommitWindowOpen"):
        reveal(federation, task, 1, alice)
    commit(federation, task, 1, dave)  # dave still gets in
    reveal(federation, task, 1, alice)  # every participant is in: reveals open
    federation.leaveTask(task, {"from": alice})  # and now alice may go, its commitment stays
    assert stake_of(vault, alice) == (DEPOSIT, STAKE, 0)
    assert federation.commitmentOf(task, 1, alice)["revealed"] is True


def test_sybil_seats_are_removed_once_idle(
    federation, registry, base, vault, escrow, aggregator, sponsor, clients, outsider
):
    """Sybils fill every seat of a task; after a round they skip, anyone frees their seats (their
    bonds come back) and honest clients take them."""
    task_id = joined_task(federation, escrow, aggregator, sponsor, [], maxClients=2)
    ghosts = [sybil(registry, base, vault, i, stake=JOIN_BOND) for i in range(2)]
    for ghost in ghosts:
        federation.joinTask(task_id, {"from": ghost})
    with reverts("TaskFull", 2):
        federation.joinTask(task_id, {"from": clients[0]})
    for ghost in ghosts:  # idle during no ended round yet: the seat stays
        with reverts("StillActive", ghost):
            federation.removeIdle(task_id, ghost, {"from": outsider})
    open_round(federation, task_id, aggregator)
    chain.sleep(COMMIT_WINDOW + 1)
    tx = federation.abortRound(task_id, 1, {"from": outsider})
    assert tx.events["RoundAborted"]["reason"] == EMPTY
    for ghost in ghosts:
        tx = federation.removeIdle(task_id, ghost, {"from": outsider})
        assert tx.events["ClientLeft"]["removed"] is True
        assert stake_of(vault, ghost) == (JOIN_BOND, 0, 0)
    federation.joinTask(task_id, {"from": clients[0]})
    assert federation.seatOf(task_id, clients[0])["active"] is True


def test_an_idle_seat_no_longer_holds_back_early_reveals(
    federation, vault, task, aggregator, clients, outsider
):
    active, idle = clients[:3], clients[3]
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, active)
    chain.sleep(COMMIT_WINDOW + 1)
    reveal_all(federation, task, 1, active)
    results = honest_results(task, 1, active, SCORES[:3], REWARDS[:3])
    post(
        federation,
        task,
        1,
        aggregator,
        MODEL,
        results.root,
        results.total_reward,
        results.total_payout,
    )
    with reverts("StillActive", idle):  # round 1 has not ended yet
        federation.removeIdle(task, idle, {"from": outsider})
    finalize(federation, task, 1)
    open_round(federation, task, aggregator)
    commit_all(federation, task, 2, active)
    with reverts("CommitWindowOpen"):  # the idle seat keeps the commit window open
        reveal(federation, task, 2, active[0])
    with reverts("StillActive", active[0]):  # a client that committed in round 1 stays
        federation.removeIdle(task, active[0], {"from": outsider})
    tx = federation.removeIdle(task, idle, {"from": outsider})
    assert tx.events["ClientLeft"]["removed"] is True
    assert stake_of(vault, idle) == (DEPOSIT, 0, 0)
    reveal_all(federation, task, 2, active)  # every remaining participant is in: reveals open
    assert federation.roundState(task, 2)["phase"] == REVEAL


# ------------------------------------------------------------------------------------- roles


def test_an_upholding_arbiter_cannot_take_principal(
    federation, vault, escrow, base, task, aggregator, arbiter, clients, outsider
):
    """A colluding arbiter and challenger void a correct post: they gain at most the aggregator's
    bond, and every committer gets its stake back plus its share of the slash."""
    round_, _ = posted_round(federation, task, aggregator, clients)
    arbiter_before = base.balanceOf(arbiter)
    federation.challenge(task, round_, keccak(text="collusion"), {"from": outsider})
    tx = federation.upholdChallenge(task, round_, {"from": arbiter})
    upheld = tx.events["ChallengeUpheld"]
    assert tx.events["RoundAborted"]["reason"] == UPHELD
    assert upheld["slashed"] == AGGREGATOR_BOND
    assert upheld["toChallenger"] == AGGREGATOR_BOND // 2
    assert federation.credit(outsider) == CHALLENGE_BOND + AGGREGATOR_BOND // 2
    assert federation.credit(outsider) - CHALLENGE_BOND <= AGGREGATOR_BOND  # the most they gain
    assert federation.taskState(task)["bond"] == 0
    assert budget(escrow, task) == (100 * WAD, 0)  # the reservation is back in the budget
    shares = []
    for client in clients:
        tx = federation.reclaimStake(task, round_, {"from": client})
        shares.append(tx.events["StakeReclaimed"]["slashShare"])
        assert tx.events["StakeReclaimed"]["stake"] == STAKE
        assert stake_of(vault, client) == (DEPOSIT, JOIN_BOND, 0)
    assert shares == [AGGREGATOR_BOND // 2 // 4] * 4
    assert base.balanceOf(arbiter) == arbiter_before
    with reverts("BondTooLow", 0, AGGREGATOR_BOND):
        federation.openRound(task, {"from": aggregator})
    solvent(base, vault, escrow, federation)


def test_a_dismissing_arbiter_costs_a_client_at_most_its_clipped_burn(
    federation, vault, escrow, base, task, aggregator, arbiter, clients
):
    """A colluding aggregator posts the worst scores it can and the arbiter dismisses the
    challenge: each client loses exactly its own clipped burn, never more."""
    round_ = open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, round_, clients)
    worst = honest_results(task, round_, clients, scores=[-(2**255)] * 4, rewards=[0] * 4)
    post(federation, task, round_, aggregator, MODEL, worst.root, 0, 0)
    challenger = clients[0]
    federation.challenge(task, round_, keccak(text="rigged"), {"from": challenger})
    wallet = base.balanceOf(challenger)
    tx = federation.dismissChallenge(task, round_, {"from": arbiter})
    assert tx.events["ChallengeDismissed"]["bond"] == CHALLENGE_BOND
    assert federation.credit(aggregator) == CHALLENGE_BOND  # the challenger's bond, no more
    assert federation.roundState(task, round_)["phase"] == FINALIZED
    for client in clients:
        federation.settleStake(
            task, round_, client, *worst.claim_args(client), {"from": clients[1]}
        )
        assert stake_of(vault, client) == (DEPOSIT - BURN, JOIN_BOND, 0)
    assert base.balanceOf(challenger) == wallet
    assert vault.totalBurned() == 4 * BURN


def test_sponsor_griefing_is_bounded_and_costly(
    federation, vault, escrow, base, task, aggregator, sponsor, clients
):
    ratio, cap = WAD // 2, WAD // 5  # burning 1 costs the sponsor 0.5; at most 20 % of a stake
    task_id = joined_task(
        federation, escrow, aggregator, sponsor, clients, griefRatio=ratio, griefCap=cap
    )
    round_ = open_round(federation, task_id, aggregator)
    commit_reveal_all(federation, task_id, round_, clients)
    dave = clients[3]
    supply, sponsor_before = base.totalSupply(), base.balanceOf(sponsor)
    tx = federation.griefStake(task_id, round_, dave, WAD, {"from": sponsor})
    assert tx.events["StakeGriefed"]["cost"] == WAD // 2
    assert base.balanceOf(sponsor) == sponsor_before - WAD // 2
    assert base.totalSupply() == supply - WAD - WAD // 2  # both the stake and the cost burn
    limit = STAKE * cap // WAD
    with reverts("GriefNotAllowed", limit - WAD + 1, limit - WAD):
        federation.griefStake(task_id, round_, dave, limit - WAD + 1, {"from": sponsor})
    federation.griefStake(task_id, round_, dave, limit - WAD, {"from": sponsor})
    with reverts("GriefNotAllowed", 1, 0):
        federation.griefStake(task_id, round_, dave, 1, {"from": sponsor})
    with reverts("GriefNotAllowed", 1, 0):  # the default task allows no griefing at all
        open_round(federation, task, aggregator)
        commit(federation, task, 1, dave)
        federation.griefStake(task, 1, dave, 1, {"from": sponsor})
    results = honest_results(task_id, round_, clients)
    post(
        federation,
        task_id,
        round_,
        aggregator,
        MODEL,
        results.root,
        results.total_reward,
        results.total_payout,
    )
    finalize(federation, task_id, round_)
    federation.claimReward(task_id, round_, *results.claim_args(dave), 0, FAR, {"from": dave})
    # dave lost the griefing cap plus its own clipped burn, and not a wei more (still locked: two
    # seats and its stake in the default task's open round)
    assert stake_of(vault, dave) == (DEPOSIT - limit - BURN, 2 * JOIN_BOND + STAKE, 0)
    with reverts("AlreadySettled", dave):
        federation.griefStake(task_id, round_, dave, 1, {"from": sponsor})
    solvent(base, vault, escrow, federation)


def test_cancel_cannot_strip_a_posted_rounds_rewards(
    federation, vault, escrow, base, task, aggregator, sponsor, clients
):
    round_, results = posted_round(federation, task, aggregator, clients)
    reserved = results.total_reward + results.total_payout
    tx = federation.cancelTask(task, {"from": sponsor})
    assert tx.events["TaskCancelled"]["refunded"] == 100 * WAD - reserved
    assert budget(escrow, task) == (0, reserved)
    with reverts("WrongStatus", CANCELLED, ACTIVE):
        federation.cancelTask(task, {"from": sponsor})
    finalize(federation, task, round_)
    for client in clients:
        before = base.balanceOf(client)
        federation.claimReward(task, round_, *results.claim_args(client), 0, FAR, {"from": client})
        entry = results.entry(client)
        assert base.balanceOf(client) == before + entry.reward + max(0, results.payout(client))
    assert budget(escrow, task) == (0, 0)
    for client in clients:  # and every seat's bond comes back
        federation.leaveTask(task, {"from": client})
        assert stake_of(vault, client)[1] == 0


def test_cancel_aborts_an_open_round_and_returns_its_stakes(
    federation, vault, escrow, task, aggregator, sponsor, clients
):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    tx = federation.cancelTask(task, {"from": sponsor})
    assert tx.events["RoundAborted"]["reason"] == 4
    for client in clients:
        federation.reclaimStake(task, 1, {"from": client})
        assert stake_of(vault, client) == (DEPOSIT, JOIN_BOND, 0)
    assert budget(escrow, task) == (0, 0)


@pytest.mark.parametrize("ruling", ["uphold", "timeout"])
def test_a_cancelled_tasks_voided_round_refunds_the_sponsor(
    federation, escrow, base, task, aggregator, arbiter, sponsor, clients, outsider, ruling
):
    """The sponsor cancels while a post is in flight, and the post is then voided: its
    reservation goes back to the sponsor at once, not to a closed budget nobody can refund."""
    round_, results = posted_round(federation, task, aggregator, clients)
    reserved = results.total_reward + results.total_payout
    before = base.balanceOf(sponsor)
    federation.cancelTask(task, {"from": sponsor})
    assert base.balanceOf(sponsor) == before + 100 * WAD - reserved
    federation.challenge(task, round_, keccak(text="bad"), {"from": outsider})
    if ruling == "uphold":
        federation.upholdChallenge(task, round_, {"from": arbiter})
    else:
        chain.sleep(ARBITER_TIMEOUT + 1)
        federation.abortRound(task, round_, {"from": outsider})
    assert budget(escrow, task) == (0, 0)
    assert base.balanceOf(sponsor) == before + 100 * WAD  # all of it
    for client in clients:
        federation.reclaimStake(task, round_, {"from": client})
    chain.sleep(CLAIM_WINDOW + 1)
    tx = federation.sweepRound(task, round_, {"from": outsider})
    assert tx.events["RoundSwept"]["unclaimed"] == 0
    assert escrow.totalHeld() == base.balanceOf(escrow) == 0


@pytest.mark.parametrize("claim_first", [True, False], ids=["claim-then-post", "post-then-claim"])
def test_the_aggregator_cannot_unbond_a_round_in_flight(
    federation, base, task, aggregator, arbiter, clients, outsider, claim_first
):
    """The aggregator's Sybil committer (dave) gets a leaf with a huge reward in round 1. Its
    claim is covered from the aggregator's free bond only: every post sets the task's bond aside
    until its round ends, so a post needs a full bond (BondTooLow otherwise) and round 2's garbage
    post, upheld, still costs the aggregator its whole bond."""
    sybil_client = clients[3]
    round_ = open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, round_, clients)
    rigged = honest_results(task, round_, clients, rewards=[WAD, WAD, WAD, 10**30])
    post(federation, task, round_, aggregator, MODEL, rigged.root, 3 * WAD, rigged.total_payout)
    finalize(federation, task, round_)
    nxt = open_round(federation, task, aggregator)  # bonded when it opens
    commit_reveal_all(federation, task, nxt, clients)

    def sybil_claim():
        return federation.claimReward(
            task, round_, *rigged.claim_args(sybil_client), 0, FAR, {"from": sybil_client}
        )

    if claim_first:
        tx = sybil_claim()
        assert tx.events["ShortfallCovered"]["covered"] == AGGREGATOR_BOND  # the free bond
        with reverts("BondTooLow", 0, AGGREGATOR_BOND):
            post(federation, task, nxt, aggregator, MODEL, GARBAGE, 0, 0)
        federation.bondAggregator(task, AGGREGATOR_BOND, {"from": aggregator})
        post(federation, task, nxt, aggregator, MODEL, GARBAGE, 0, 0)
    else:
        post(federation, task, nxt, aggregator, MODEL, GARBAGE, 0, 0)
        tx = sybil_claim()
        assert tx.events["ShortfallCovered"]["covered"] == 0  # the bond is at stake in round 2
    assert federation.roundState(task, nxt)["bondAtStake"] == AGGREGATOR_BOND
    federation.challenge(task, nxt, keccak(text="garbage"), {"from": outsider})
    tx = federation.upholdChallenge(task, nxt, {"from": arbiter})
    assert tx.events["ChallengeUpheld"]["slashed"] == AGGREGATOR_BOND


# ------------------------------------------------------------------- hostile base tokens


def test_a_fee_on_transfer_base_token_stays_solvent(
    federation, vault, escrow, base, aggregator, sponsor, clients, outsider
):
    """With a 1 % fee on every transfer, every contract credits what arrived and pays what it
    owes; at the end every stake, budget, bond and credit leaves, and nothing is short."""
    base.setTransferFee(100, {"from": sponsor})
    alice = clients[0]
    tx = vault.deposit(10 * WAD, {"from": alice})
    assert tx.return_value == tx.events["Deposited"]["amount"] == 10 * WAD * 99 // 100
    task_id = new_task(federation, aggregator, sponsor)
    assert escrow.fund(task_id, 100 * WAD, {"from": sponsor}).return_value == 99 * WAD
    tx = federation.bondAggregator(task_id, 60 * WAD, {"from": aggregator})
    assert tx.events["AggregatorBonded"]["bond"] == 60 * WAD * 99 // 100
    for client in clients:
        federation.joinTask(task_id, {"from": client})
    solvent(base, vault, escrow, federation)
    round_, results = posted_round(federation, task_id, aggregator, clients, total_reward=7 * WAD)
    finalize(federation, task_id, round_)
    for client in clients:
        federation.claimReward(
            task_id, round_, *results.claim_args(client), 0, FAR, {"from": client}
        )
        solvent(base, vault, escrow, federation)
    chain.sleep(CLAIM_WINDOW + 1)
    federation.sweepRound(task_id, round_, {"from": outsider})
    federation.cancelTask(task_id, {"from": sponsor})
    for client in clients:
        if federation.credit(client):
            federation.withdrawCredit({"from": client})
        federation.leaveTask(task_id, {"from": client})
        balance = stake_of(vault, client)[0]
        vault.requestWithdrawal(balance, {"from": client})
    federation.withdrawAggregatorBond(task_id, {"from": aggregator})
    chain.sleep(WITHDRAW_DELAY + 1)
    for client in clients:
        vault.withdraw({"from": client})
        solvent(base, vault, escrow, federation)
    assert vault.totalStaked() == base.balanceOf(vault) == 0
    assert escrow.totalHeld() == base.balanceOf(escrow) == 0
    assert federation.totalHeld() == base.balanceOf(federation) == 0


def test_a_fee_on_transfer_base_token_still_admits_challenges(
    federation, base, task, aggregator, sponsor, clients, outsider
):
    """The challenge bond is what arrives: a 1 % fee takes its cut and the challenge stands."""
    posted_round(federation, task, aggregator, clients)
    base.setTransferFee(100, {"from": sponsor})
    tx = federation.challenge(task, 1, keccak(text="bad"), {"from": outsider})
    assert federation.roundState(task, 1)["phase"] == CHALLENGED
    assert tx.events["RoundChallenged"]["bond"] == CHALLENGE_BOND * 99 // 100


@pytest.mark.parametrize(
    "mode", [BURN_NOOP, BURN_HALF, BURN_REVERTS], ids=["noop", "half", "reverts"]
)
def test_a_base_token_that_does_not_burn_does_not_block_a_negative_settlement(
    federation, vault, escrow, base, task, aggregator, sponsor, clients, mode
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    base.setBurnMode(mode, {"from": sponsor})
    dave = clients[3]
    supply, dead = base.totalSupply(), base.balanceOf(DEAD)
    tx = federation.settleStake(task, 1, dave, *results.claim_args(dave), {"from": dave})
    assert tx.events["StakeBurned"]["amount"] == BURN
    assert tx.events["StakeBurned"]["route"] == ROUTE_DEAD
    burned = BURN // 2 if mode == BURN_HALF else 0
    assert base.totalSupply() == supply - burned
    assert base.balanceOf(DEAD) == dead + BURN - burned
    assert stake_of(vault, dave) == (DEPOSIT - BURN, JOIN_BOND, 0)
    assert base.balanceOf(vault) == vault.totalStaked()  # nothing written off stays behind
    assert vault.totalBurned() == BURN
    solvent(base, vault, escrow, federation)


def test_a_griefing_cost_the_token_cannot_burn_goes_dead(
    federation, vault, escrow, base, aggregator, sponsor, clients
):
    task_id = joined_task(
        federation, escrow, aggregator, sponsor, clients, griefRatio=WAD, griefCap=WAD // 10
    )
    open_round(federation, task_id, aggregator)
    commit(federation, task_id, 1, clients[0])
    base.setBurnMode(BURN_NOOP, {"from": sponsor})
    dead = base.balanceOf(DEAD)
    federation.griefStake(task_id, 1, clients[0], WAD, {"from": sponsor})
    assert base.balanceOf(DEAD) == dead + 2 * WAD  # the stake and the cost
    assert federation.totalHeld() == base.balanceOf(federation)
    solvent(base, vault, escrow, federation)


# ---------------------------------------------------------------------------------- copycats


def test_a_copied_commitment_cannot_be_revealed(federation, vault, task, aggregator, clients):
    alice, bob, carol, mallory = clients
    open_round(federation, task, aggregator)
    tx = commit(federation, task, 1, alice)
    sealed = tx.events["UpdateCommitted"]["commitHash"]
    federation.commit(task, 1, sealed, STAKE, {"from": mallory})  # mallory copies alice's hash
    commit_all(federation, task, 1, [bob, carol])
    reveal(federation, task, 1, alice)  # alice's update and salt are public now
    update, salt = update_of(task, 1, alice), salt_of(task, 1, alice)
    with reverts("RevealMismatch"):  # the hash binds the committer: mallory cannot open it
        federation.reveal(task, 1, update, salt, {"from": mallory})
    assert commitment_hash(task, 1, str(mallory), update, salt) != bytes(sealed)
    assert federation.commitmentOf(task, 1, mallory)["revealed"] is False
    assert federation.roundState(task, 1)["reveals"] == 1


def test_a_client_waiting_for_reveals_can_no_longer_commit(
    federation, escrow, aggregator, sponsor, clients
):
    early, late = clients[:3], clients[3]
    task_id = joined_task(federation, escrow, aggregator, sponsor, early)
    open_round(federation, task_id, aggregator)
    commit_all(federation, task_id, 1, early)
    tx = reveal(federation, task_id, 1, early[0])  # every participant is in: reveals open at once
    assert tx.timestamp < federation.roundState(task_id, 1)["commitDeadline"]
    federation.joinTask(task_id, {"from": late})  # the copier joins and waits for updates
    with reverts("WrongPhase", REVEAL, COMMIT_PHASE):
        commit(federation, task_id, 1, late)
    assert federation.roundState(task_id, 1)["commits"] == 3


# ----------------------------------------------------------------------------------- buyback


def test_a_buyback_claim_honours_its_deadline(
    federation, registry, escrow, base, aggregator, sponsor, clients
):
    task_id = joined_task(federation, escrow, aggregator, sponsor, clients, mode=1)
    alice = clients[0]
    seed_pool(registry, base, alice, 1_000 * WAD, 20 * WAD)
    results = finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    args = (task_id, 1, *results.claim_args(alice), 0)
    past = block_time() - 10
    with reverts("Expired", past):  # a claim held back and mined late does not swap
        federation.claimReward(*args, past, {"from": alice})
    assert federation.commitmentOf(task_id, 1, alice)["claimed"] is False
    tx = federation.claimReward(*args, block_time() + 600, {"from": alice})
    paid = tx.events["RewardPaid"]
    assert paid["mode"] == 1 and paid["tokensBurned"] > 0


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
        federation.claimReward(task, 1, *results.claim_args(alice), 0, FAR, {"from": alice})
    base.arm(ZERO, ZERO, b"", {"from": alice})
    federation.claimReward(task, 1, *results.claim_args(alice), 0, FAR, {"from": alice})
    assert federation.commitmentOf(task, 1, bob)["settled"] is False


def test_reentry_during_a_burn_is_refused(federation, vault, base, task, aggregator, clients):
    """The token calls back while the vault burns: the re-entered settlement is refused, and the
    burn, which never blocks, writes the stake off in place instead (SafeBurn's last route)."""
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    dave, alice = clients[3], clients[0]
    reenter = federation.settleStake.encode_input(task, 1, alice, *results.claim_args(alice))
    base.arm(vault, federation, reenter, {"from": dave})  # fires when the vault burns
    tx = federation.settleStake(task, 1, dave, *results.claim_args(dave), {"from": dave})
    assert tx.events["StakeBurned"]["route"] == ROUTE_KEPT
    assert federation.commitmentOf(task, 1, alice)["settled"] is False
    assert vault.totalBurned() == BURN
    assert stake_of(vault, dave) == (DEPOSIT - BURN, JOIN_BOND, 0)
    assert base.balanceOf(vault) == vault.totalStaked() + BURN  # written off, claimable by none
    base.arm(ZERO, ZERO, b"", {"from": dave})
    federation.settleStake(task, 1, alice, *results.claim_args(alice), {"from": dave})
    assert federation.commitmentOf(task, 1, alice)["settled"] is True


def test_reentry_into_the_escrow_is_refused(federation, escrow, base, task, aggregator, clients):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    # the token (not the federation) tries the escrow itself while it pays
    base.arm(escrow, escrow, escrow.fund.encode_input(task, 1), {"from": alice})
    with reverts("ReentrancyGuardReentrantCall"):
        federation.claimReward(task, 1, *results.claim_args(alice), 0, FAR, {"from": alice})
    assert federation.commitmentOf(task, 1, alice)["claimed"] is False


def test_reentry_during_a_credit_withdrawal_is_refused(
    federation, base, task, aggregator, arbiter, clients, outsider
):
    posted_round(federation, task, aggregator, clients)
    federation.challenge(task, 1, keccak(text="bad"), {"from": outsider})
    federation.upholdChallenge(task, 1, {"from": arbiter})
    credit = federation.credit(outsider)
    reenter = federation.withdrawCredit.encode_input()
    base.arm(federation, federation, reenter, {"from": outsider})
    with reverts("ReentrancyGuardReentrantCall"):
        federation.withdrawCredit({"from": outsider})
    base.arm(ZERO, ZERO, b"", {"from": outsider})
    assert federation.credit(outsider) == credit
    federation.withdrawCredit({"from": outsider})
    assert federation.credit(outsider) == 0
