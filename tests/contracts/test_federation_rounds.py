"""Federation rounds after the post: challenges, finalization, aborts, stake settlements,
reward claims in the three modes, and the ends of a task (cancel, close)."""

from brownie import ClientToken, chain
from eth_utils import keccak

from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import (
    CHALLENGE_WINDOW,
    CLIENT_SUPPLY,
    COMMIT_WINDOW,
    POST_TIMEOUT,
    STAKE,
    WAD,
    commit_all,
    finalized_round,
    new_task,
    open_round,
    post_results,
    seed_pool,
)
from tests.contracts.fed_math import Entry, Results
from tests.contracts.helpers import reverts

NONE, COMMIT, POSTED, CHALLENGED, FINALIZED, ABORTED = range(6)
ACTIVE, COMPLETED, CANCELLED, CLOSED = 1, 2, 3, 4
REASON = keccak(text="the posted model does not match the updates")
SCORES = [WAD // 50, WAD // 100, 0, -WAD // 10]  # +2 %, +1 %, 0, -10 % (clipped to -5 %)
REWARDS = [4 * WAD, 3 * WAD, 2 * WAD, WAD]


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def posted_round(federation, task_id, aggregator, clients, scores=SCORES, rewards=REWARDS):
    round_ = open_round(federation, task_id, aggregator)
    commit_all(federation, task_id, round_, clients)
    entries = [(c, s, r, STAKE) for c, s, r in zip(clients, scores, rewards, strict=True)]
    return post_results(federation, task_id, round_, aggregator, entries)


def phase(federation, task_id, round_=1):
    return federation.roundInfo(task_id, round_)[0]


def status(federation, task_id):
    return federation.taskState(task_id)[0]


# -------------------------------------------------------------------------------- challenge


def test_a_participant_challenges_a_posted_round(federation, task, aggregator, clients):
    posted_round(federation, task, aggregator, clients)
    tx = federation.challenge(task, 1, REASON, {"from": clients[2]})
    event = tx.events["RoundChallenged"]
    assert (event["taskId"], event["round"], event["challenger"]) == (task, 1, clients[2])
    assert event["reasonHash"] == hx(REASON)
    assert phase(federation, task) == CHALLENGED
    with reverts("WrongPhase", CHALLENGED, POSTED):
        federation.finalizeRound(task, 1, {"from": clients[0]})


def test_challenge_rejects_outsiders_wrong_phases_and_late_challenges(
    federation, task, aggregator, clients, outsider
):
    open_round(federation, task, aggregator)
    with reverts("WrongPhase", COMMIT, POSTED):
        federation.challenge(task, 1, REASON, {"from": clients[0]})
    commit_all(federation, task, 1, clients)
    tx = federation.postRound(task, 1, hx(REASON), hx(REASON), 0, 0, {"from": aggregator})
    with reverts("NotParticipant", outsider):
        federation.challenge(task, 1, REASON, {"from": outsider})
    chain.sleep(CHALLENGE_WINDOW + 1)
    with reverts("ChallengeWindowClosed", tx.timestamp + CHALLENGE_WINDOW):
        federation.challenge(task, 1, REASON, {"from": clients[0]})


def test_arbiter_upholds_a_post_and_the_round_is_final(
    federation, task, aggregator, arbiter, clients
):
    results = posted_round(federation, task, aggregator, clients)
    federation.challenge(task, 1, REASON, {"from": clients[3]})
    tx = federation.resolveChallenge(task, 1, True, {"from": arbiter})
    assert tx.events["ChallengeResolved"]["upheld"] is True
    assert tx.events["RoundFinalized"]["modelHash"] == hx(keccak(text=f"model-{task}-1"))
    assert phase(federation, task) == FINALIZED
    assert federation.taskState(task)[2] == hx(keccak(text=f"model-{task}-1"))
    federation.claimReward(task, 1, *results.claim_args(clients[0]), 0, {"from": clients[0]})


def test_arbiter_overturns_a_post_and_the_aggregator_posts_again(
    federation, escrow, task, aggregator, arbiter, clients
):
    results = posted_round(federation, task, aggregator, clients)
    federation.challenge(task, 1, REASON, {"from": clients[3]})
    chain.sleep(COMMIT_WINDOW + POST_TIMEOUT)  # the original post deadline passes meanwhile
    tx = federation.resolveChallenge(task, 1, False, {"from": arbiter})
    assert tx.events["ChallengeResolved"]["upheld"] is False
    assert tuple(escrow.budgetOf(task)) == (100 * WAD, 0)
    info = federation.roundInfo(task, 1)
    assert info[0] == COMMIT
    assert info[2] == info[3] == hx(b"\x00" * 32)
    assert (info[5], info[6], info[7], info[8], info[9]) == (0, 4 * STAKE, 4, 0, 0)
    assert federation.postDeadlineOf(task, 1) == tx.timestamp + POST_TIMEOUT
    federation.postRound(
        task, 1, keccak(text="fixed"), results.root, 5 * WAD, 0, {"from": aggregator}
    )
    assert phase(federation, task) == POSTED
    assert escrow.budgetOf(task)[1] == 5 * WAD


def test_an_overturned_round_without_a_new_post_can_be_aborted(
    federation, task, aggregator, arbiter, clients
):
    posted_round(federation, task, aggregator, clients)
    federation.challenge(task, 1, REASON, {"from": clients[3]})
    tx = federation.resolveChallenge(task, 1, False, {"from": arbiter})
    with reverts("PhaseNotOver", tx.timestamp + POST_TIMEOUT):
        federation.abortRound(task, 1, {"from": clients[0]})
    chain.sleep(POST_TIMEOUT + 1)
    federation.abortRound(task, 1, {"from": clients[0]})
    assert phase(federation, task) == ABORTED


def test_only_the_arbiter_resolves_and_only_challenged_rounds(
    federation, task, aggregator, arbiter, clients
):
    posted_round(federation, task, aggregator, clients)
    with reverts("WrongPhase", POSTED, CHALLENGED):
        federation.resolveChallenge(task, 1, True, {"from": arbiter})
    federation.challenge(task, 1, REASON, {"from": clients[3]})
    for caller in (aggregator, clients[3]):
        with reverts("AccessControlUnauthorizedAccount", caller):
            federation.resolveChallenge(task, 1, True, {"from": caller})


# --------------------------------------------------------------------------------- finalize


def test_finalize_after_the_challenge_window(federation, task, aggregator, clients):
    posted_round(federation, task, aggregator, clients)
    deadline = federation.roundInfo(task, 1)[5]
    with reverts("PhaseNotOver", deadline):
        federation.finalizeRound(task, 1, {"from": clients[0]})
    chain.sleep(CHALLENGE_WINDOW + 1)
    tx = federation.finalizeRound(task, 1, {"from": clients[0]})
    event = tx.events["RoundFinalized"]
    assert (event["taskId"], event["round"]) == (task, 1)
    assert phase(federation, task) == FINALIZED
    assert status(federation, task) == ACTIVE
    with reverts("WrongPhase", FINALIZED, POSTED):
        federation.finalizeRound(task, 1, {"from": clients[0]})


def test_finalize_rejects_unposted_rounds(federation, task, aggregator, clients):
    with reverts("WrongPhase", NONE, POSTED):
        federation.finalizeRound(task, 1, {"from": clients[0]})
    open_round(federation, task, aggregator)
    with reverts("WrongPhase", COMMIT, POSTED):
        federation.finalizeRound(task, 1, {"from": clients[0]})


def test_the_last_finalized_round_completes_the_task(
    federation, escrow, aggregator, sponsor, clients
):
    task_id = new_task(federation, aggregator, sponsor, numRounds=2)
    escrow.fund(task_id, 50 * WAD, {"from": sponsor})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    assert status(federation, task_id) == ACTIVE
    round_ = open_round(federation, task_id, aggregator)
    commit_all(federation, task_id, round_, clients)
    federation.postRound(
        task_id, 2, keccak(text="m2"), keccak(text="r2"), 0, 0, {"from": aggregator}
    )
    chain.sleep(CHALLENGE_WINDOW + 1)
    tx = federation.finalizeRound(task_id, 2, {"from": clients[0]})
    assert tx.events["TaskCompleted"]["taskId"] == task_id
    assert tuple(federation.taskState(task_id))[:3] == (COMPLETED, 2, hx(keccak(text="m2")))


# ------------------------------------------------------------------------------------ abort


def test_a_round_without_a_post_is_aborted_and_stakes_reclaimed(
    federation, vault, task, aggregator, clients
):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients[:2])
    deadline = federation.postDeadlineOf(task, 1)
    with reverts("PhaseNotOver", deadline):
        federation.abortRound(task, 1, {"from": clients[3]})
    chain.sleep(COMMIT_WINDOW + POST_TIMEOUT + 1)
    tx = federation.abortRound(task, 1, {"from": clients[3]})
    assert tx.events["RoundAborted"]["round"] == 1
    assert phase(federation, task) == ABORTED
    tx = federation.reclaimStake(task, 1, {"from": clients[0]})
    assert tx.events["StakeReclaimed"]["stake"] == STAKE
    assert tuple(vault.stakeOf(clients[0]))[:2] == (100 * WAD, 0)
    assert federation.commitmentOf(task, 1, clients[0])[2] is True
    with reverts("AlreadySettled", clients[0]):
        federation.reclaimStake(task, 1, {"from": clients[0]})
    with reverts("NoCommitment", clients[2]):
        federation.reclaimStake(task, 1, {"from": clients[2]})
    tx = federation.openRound(task, {"from": aggregator})  # an aborted round lets the next open
    assert tx.events["RoundOpened"]["parentModelHash"] == federation.taskParams(task)[2]


def test_abort_only_in_the_commit_phase(federation, task, aggregator, clients):
    with reverts("WrongPhase", NONE, COMMIT):
        federation.abortRound(task, 1, {"from": clients[0]})
    posted_round(federation, task, aggregator, clients)
    chain.sleep(COMMIT_WINDOW + POST_TIMEOUT + 1)
    with reverts("WrongPhase", POSTED, COMMIT):
        federation.abortRound(task, 1, {"from": clients[0]})


def test_aborting_the_last_round_completes_the_task(federation, aggregator, sponsor, clients):
    task_id = new_task(federation, aggregator, sponsor, numRounds=1)
    open_round(federation, task_id, aggregator)
    chain.sleep(COMMIT_WINDOW + POST_TIMEOUT + 1)
    tx = federation.abortRound(task_id, 1, {"from": clients[0]})
    assert "TaskCompleted" in tx.events
    assert status(federation, task_id) == COMPLETED


def test_reclaim_needs_an_aborted_round(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    with reverts("WrongPhase", COMMIT, ABORTED):
        federation.reclaimStake(task, 1, {"from": clients[0]})


# ---------------------------------------------------------------------------------- settle


def test_positive_results_are_paid_and_negative_ones_burned(
    federation, vault, escrow, base, task, aggregator, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    assert [results.payout(c) for c in clients] == [WAD // 5, WAD // 10, 0, -WAD // 2]
    owed = escrow.budgetOf(task)[1]
    keeper = clients[1]
    for client in clients:
        before = base.balanceOf(client)
        tx = federation.settleStake(task, 1, client, *results.claim_args(client), {"from": keeper})
        payout = results.payout(client)
        event = tx.events["StakeSettled"]
        assert (event["client"], event["score"], event["payout"]) == (
            client,
            results.entry(client).score,
            payout,
        )
        assert base.balanceOf(client) == before + max(payout, 0)
        assert tuple(vault.stakeOf(client))[:2] == (100 * WAD + min(payout, 0), 0)
        assert federation.commitmentOf(task, 1, client)[2:] == (True, False)
    assert vault.totalBurned() == WAD // 2
    assert escrow.budgetOf(task)[1] == owed - 3 * WAD // 10
    assert federation.roundInfo(task, 1)[9] == 0  # payoutLeft


def test_settle_rejects_unfinished_rounds_bad_proofs_and_repeats(
    federation, task, aggregator, clients
):
    results = posted_round(federation, task, aggregator, clients)
    alice = clients[0]
    with reverts("WrongPhase", POSTED, FINALIZED):
        federation.settleStake(task, 1, alice, *results.claim_args(alice), {"from": alice})
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task, 1, {"from": alice})
    score, reward, proof = results.claim_args(alice)
    with reverts("InvalidProof"):
        federation.settleStake(task, 1, alice, score + 1, reward, proof, {"from": alice})
    with reverts("InvalidProof"):
        federation.settleStake(task, 1, alice, score, reward, proof[1:], {"from": alice})
    federation.settleStake(task, 1, alice, score, reward, proof, {"from": alice})
    with reverts("AlreadySettled", alice):
        federation.settleStake(task, 1, alice, score, reward, proof, {"from": alice})


def test_settle_of_a_leaf_without_a_commitment_reverts(
    federation, task, aggregator, clients, outsider
):
    round_ = open_round(federation, task, aggregator)
    commit_all(federation, task, round_, clients[:1])
    chain.sleep(COMMIT_WINDOW + 1)
    entries = [(clients[0], 0, WAD, STAKE), (outsider, WAD // 100, WAD, 0)]
    results = post_results(federation, task, round_, aggregator, entries)
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task, round_, {"from": clients[0]})
    with reverts("NoCommitment", outsider):
        federation.settleStake(task, 1, outsider, *results.claim_args(outsider), {"from": outsider})
    with reverts("NoCommitment", outsider):
        federation.claimReward(task, 1, *results.claim_args(outsider), 0, {"from": outsider})


def test_payouts_above_the_posted_total_revert(federation, task, aggregator, clients):
    round_ = open_round(federation, task, aggregator)
    commit_all(federation, task, round_, clients)
    entries = [(c, WAD // 50, 0, STAKE) for c in clients]  # each earns 0.2, 0.8 in total
    results = Results(task, round_, [Entry(*e) for e in entries], 100 * WAD, WAD // 20)
    under = 5 * WAD // 10  # the aggregator under-reports the payout total
    federation.postRound(task, 1, keccak(text="m"), results.root, 0, under, {"from": aggregator})
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task, 1, {"from": clients[0]})
    for client in clients[:2]:
        federation.settleStake(task, 1, client, *results.claim_args(client), {"from": client})
    with reverts("RoundOverclaimed", under, 6 * WAD // 10):
        federation.settleStake(
            task, 1, clients[2], *results.claim_args(clients[2]), {"from": clients[2]}
        )


# ----------------------------------------------------------------------------------- claims


def test_claim_settles_the_stake_and_pays_the_reward(
    federation, vault, escrow, base, task, aggregator, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    before = base.balanceOf(alice)
    tx = federation.claimReward(task, 1, *results.claim_args(alice), 0, {"from": alice})
    assert base.balanceOf(alice) == before + 4 * WAD + WAD // 5
    assert tx.events["StakeSettled"]["payout"] == WAD // 5
    claimed = tx.events["RewardClaimed"]
    assert (claimed["taskId"], claimed["round"], claimed["client"], claimed["reward"]) == (
        task,
        1,
        alice,
        4 * WAD,
    )
    assert tx.events["RewardPaid"]["mode"] == 0
    assert tuple(federation.commitmentOf(task, 1, alice))[2:] == (True, True)
    assert vault.stakeOf(alice)[1] == 0
    info = federation.roundInfo(task, 1)
    assert (info[8], info[9]) == (6 * WAD, WAD // 10)
    with reverts("AlreadyClaimed", alice):
        federation.claimReward(task, 1, *results.claim_args(alice), 0, {"from": alice})


def test_claim_after_a_separate_settlement_pays_only_the_reward(
    federation, vault, base, task, aggregator, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    dave = clients[3]
    federation.settleStake(task, 1, dave, *results.claim_args(dave), {"from": clients[0]})
    before = base.balanceOf(dave)
    tx = federation.claimReward(task, 1, *results.claim_args(dave), 0, {"from": dave})
    assert "StakeSettled" not in tx.events
    assert base.balanceOf(dave) == before + WAD
    assert vault.stakeOf(dave)[0] == 100 * WAD - WAD // 2


def test_claim_rejects_bad_proofs_unfinished_rounds_and_other_claimers(
    federation, task, aggregator, clients
):
    results = posted_round(federation, task, aggregator, clients)
    alice, bob = clients[:2]
    with reverts("WrongPhase", POSTED, FINALIZED):
        federation.claimReward(task, 1, *results.claim_args(alice), 0, {"from": alice})
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task, 1, {"from": alice})
    score, reward, proof = results.claim_args(alice)
    with reverts("InvalidProof"):
        federation.claimReward(task, 1, score, reward + 1, proof, 0, {"from": alice})
    with reverts("InvalidProof"):  # alice's leaf proves nothing for bob
        federation.claimReward(task, 1, score, reward, proof, 0, {"from": bob})


def test_rewards_above_the_posted_total_revert(federation, task, aggregator, clients):
    round_ = open_round(federation, task, aggregator)
    commit_all(federation, task, round_, clients[:2])
    chain.sleep(COMMIT_WINDOW + 1)
    entries = [Entry(clients[0], 0, 3 * WAD, STAKE), Entry(clients[1], 0, 3 * WAD, STAKE)]
    results = Results(task, round_, entries, 100 * WAD, WAD // 20)
    federation.postRound(task, 1, keccak(text="m"), results.root, 4 * WAD, 0, {"from": aggregator})
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task, 1, {"from": clients[0]})
    federation.claimReward(task, 1, *results.claim_args(clients[0]), 0, {"from": clients[0]})
    with reverts("RoundOverclaimed", 4 * WAD, 6 * WAD):
        federation.claimReward(task, 1, *results.claim_args(clients[1]), 0, {"from": clients[1]})


def test_buyback_task_burns_the_client_token(
    federation, escrow, registry, base, aggregator, sponsor, clients
):
    task_id = new_task(federation, aggregator, sponsor, mode=1)
    escrow.fund(task_id, 100 * WAD, {"from": sponsor})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    results = finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    pool, token = seed_pool(registry, base, alice, 1_000 * WAD, 100 * WAD)
    quote = pool.quoteBaseForTokens(4 * WAD)
    with reverts("InsufficientOutput", quote, quote + 1):
        federation.claimReward(task_id, 1, *results.claim_args(alice), quote + 1, {"from": alice})
    tx = federation.claimReward(task_id, 1, *results.claim_args(alice), quote, {"from": alice})
    assert tx.events["RewardPaid"]["mode"] == 1
    assert tx.events["RewardPaid"]["tokensBurned"] == quote
    assert token.totalSupply() == CLIENT_SUPPLY - quote
    bob = clients[1]  # no liquidity in bob's pool: paid directly
    before = base.balanceOf(bob)
    tx = federation.claimReward(task_id, 1, *results.claim_args(bob), 0, {"from": bob})
    assert "DirectFallback" in tx.events
    assert base.balanceOf(bob) == before + 3 * WAD + WAD // 10


def test_dividend_task_pays_the_token_holders(
    federation, escrow, registry, aggregator, sponsor, clients, outsider
):
    task_id = new_task(federation, aggregator, sponsor, mode=2)
    escrow.fund(task_id, 100 * WAD, {"from": sponsor})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    results = finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    token = ClientToken.at(registry.tokenOf(alice))
    token.transfer(outsider, CLIENT_SUPPLY // 2, {"from": alice})  # an investor holds half
    tx = federation.claimReward(task_id, 1, *results.claim_args(alice), 0, {"from": alice})
    assert tx.events["RewardPaid"]["mode"] == 2
    assert token.dividendOf(alice) == token.dividendOf(outsider) == 2 * WAD


# ----------------------------------------------------------------------------- task endings


def test_cancel_refunds_the_budget(federation, escrow, base, task, sponsor):
    before = base.balanceOf(sponsor)
    tx = federation.cancelTask(task, {"from": sponsor})
    assert tx.events["TaskCancelled"]["refunded"] == 100 * WAD
    assert base.balanceOf(sponsor) == before + 100 * WAD
    assert status(federation, task) == CANCELLED
    assert tuple(escrow.budgetOf(task)) == (0, 0)
    with reverts("BudgetClosed", task):
        escrow.fund(task, WAD, {"from": sponsor})


def test_cancel_aborts_a_posted_round_and_frees_its_stakes(
    federation, escrow, vault, base, task, aggregator, sponsor, clients
):
    posted_round(federation, task, aggregator, clients)
    before = base.balanceOf(sponsor)
    tx = federation.cancelTask(task, {"from": sponsor})
    assert tx.events["RoundAborted"]["round"] == 1
    assert tx.events["TaskCancelled"]["refunded"] == 100 * WAD
    assert base.balanceOf(sponsor) == before + 100 * WAD
    info = federation.roundInfo(task, 1)
    assert (info[0], info[8], info[9]) == (ABORTED, 0, 0)
    for client in clients:
        federation.reclaimStake(task, 1, {"from": client})
        assert vault.stakeOf(client)[1] == 0


def test_cancel_keeps_finalized_rounds_claimable(
    federation, escrow, base, task, aggregator, sponsor, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    open_round(federation, task, aggregator)
    commit_all(federation, task, 2, clients[:1])
    owed = escrow.budgetOf(task)[1]
    tx = federation.cancelTask(task, {"from": sponsor})
    assert tx.events["TaskCancelled"]["refunded"] == 100 * WAD - owed
    federation.reclaimStake(task, 2, {"from": clients[0]})
    for client in clients:
        federation.claimReward(task, 1, *results.claim_args(client), 0, {"from": client})
    assert tuple(escrow.budgetOf(task)) == (0, 0)
    assert base.balanceOf(escrow) == 0


def test_only_the_sponsor_cancels_an_active_task(federation, task, sponsor, clients):
    with reverts("NotSponsor", clients[0]):
        federation.cancelTask(task, {"from": clients[0]})
    federation.cancelTask(task, {"from": sponsor})
    with reverts("WrongStatus", CANCELLED, ACTIVE):
        federation.cancelTask(task, {"from": sponsor})


def test_close_refunds_what_a_completed_task_left(
    federation, escrow, base, aggregator, sponsor, clients
):
    task_id = new_task(federation, aggregator, sponsor, numRounds=1)
    escrow.fund(task_id, 30 * WAD, {"from": sponsor})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    with reverts("WrongStatus", ACTIVE, COMPLETED):
        federation.closeTask(task_id, {"from": sponsor})
    results = finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    with reverts("NotSponsor", clients[0]):
        federation.closeTask(task_id, {"from": clients[0]})
    before = base.balanceOf(sponsor)
    owed = 10 * WAD + results.total_payout
    tx = federation.closeTask(task_id, {"from": sponsor})
    assert tx.events["TaskClosed"]["refunded"] == 30 * WAD - owed
    assert base.balanceOf(sponsor) == before + 30 * WAD - owed
    assert status(federation, task_id) == CLOSED
    federation.claimReward(task_id, 1, *results.claim_args(clients[1]), 0, {"from": clients[1]})
    with reverts("WrongStatus", CLOSED, COMPLETED):
        federation.closeTask(task_id, {"from": sponsor})


def test_views_of_unknown_tasks_and_rounds_are_empty(federation, outsider):
    assert tuple(federation.taskState(9)) == (0, 0, hx(b"\x00" * 32), 0)
    info = tuple(federation.roundInfo(9, 1))
    assert info[0] == 0 and info[4:] == (0, 0, 0, 0, 0, 0)
    assert tuple(federation.commitmentOf(9, 1, outsider)) == (hx(b"\x00" * 32), 0, False, False)
    assert not federation.isParticipant(9, outsider)
    assert federation.sponsorOf(9) == "0x0000000000000000000000000000000000000000"
