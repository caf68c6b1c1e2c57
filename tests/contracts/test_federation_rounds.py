"""Federation rounds: commit-reveal, posts, challenges and the arbiter, finalization, aborts,
stake settlements, reward claims in the three modes, reclaims, sweeps and credits.

Tasks, seats and the aggregator bond: test_federation.py. Shortfalls, griefing and the ends of a
task: test_federation_lifecycle.py.
"""

from brownie import ClientToken, chain
from eth_utils import keccak

from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import (
    AGGREGATOR_BOND,
    ARBITER_TIMEOUT,
    CAP,
    CHALLENGE_BOND,
    CHALLENGE_WINDOW,
    CLAIM_WINDOW,
    CLIENT_SUPPLY,
    COMMIT_WINDOW,
    DIVIDEND_DURATION,
    FAR,
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
    reveal_all,
    salt_of,
    seed_pool,
    update_of,
)
from tests.contracts.fed_math import Entry, Results, commitment_hash, stake_payout
from tests.contracts.helpers import reverts

ZERO_HASH = b"\x00" * 32
NONE, COMMIT, REVEAL, POSTED, CHALLENGED, FINALIZED, ABORTED = range(7)
NO_TASK, ACTIVE, COMPLETED, CANCELLED, CLOSED = range(5)
EMPTY, NO_POST, UPHELD, ARBITER_TIMED_OUT, ABORT_CANCELLED = range(5)
MAX_AT_RISK = 2**128 - 1  # type(uint128).max
REASON = keccak(text="the posted model does not match the updates")
MODEL = keccak(text="model-1")
ROOT = keccak(text="root")
SCORES = [WAD // 50, WAD // 100, 0, -WAD // 10]  # +2 %, +1 %, 0, -10 % (clipped to -5 %)
REWARDS = [4 * WAD, 3 * WAD, 2 * WAD, WAD]


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def phase(federation, task_id, round_=1):
    return federation.roundState(task_id, round_)["phase"]


def locked(vault, account) -> int:
    return vault.stakeOf(account)[1]


def results_of(task_id, round_, clients, scores=SCORES, rewards=REWARDS, stakes=None):
    stakes = stakes or [STAKE] * len(clients)
    entries = [Entry(*e) for e in zip(clients, scores, rewards, stakes, strict=True)]
    return Results(task_id, round_, entries, THRESHOLD, CAP)


def posted_round(federation, task_id, aggregator, clients, scores=SCORES, rewards=REWARDS):
    """Open a round; every client commits STAKE and reveals; the aggregator posts."""
    round_ = open_round(federation, task_id, aggregator)
    commit_reveal_all(federation, task_id, round_, clients)
    entries = [(c, s, r, STAKE) for c, s, r in zip(clients, scores, rewards, strict=True)]
    return post_results(federation, task_id, round_, aggregator, entries)


def challenged_round(federation, task_id, aggregator, clients, challenger):
    results = posted_round(federation, task_id, aggregator, clients)
    tx = federation.challenge(task_id, 1, REASON, {"from": challenger})
    return results, tx


def held(federation, base) -> int:
    """The federation's base balance, after checking totalHeld accounts for all of it."""
    assert federation.totalHeld() == base.balanceOf(federation)
    return federation.totalHeld()


# ----------------------------------------------------------------------------------- commit


def test_commit_records_the_sealed_hash_and_locks_the_stake(
    federation, vault, task, aggregator, clients
):
    alice, bob = clients[:2]
    open_round(federation, task, aggregator)
    sealed = commitment_hash(
        task, 1, str(alice), update_of(task, 1, alice), salt_of(task, 1, alice)
    )
    tx = federation.commit(task, 1, sealed, 3 * WAD, {"from": alice})
    event = tx.events["UpdateCommitted"]
    assert (event["taskId"], event["round"], event["client"], event["stake"]) == (
        task,
        1,
        alice,
        3 * WAD,
    )
    assert event["commitHash"] == hx(sealed)
    assert tuple(federation.commitmentOf(task, 1, alice)) == (
        hx(sealed),
        3 * WAD,
        0,
        False,
        False,
        False,
    )
    state = federation.roundState(task, 1)
    assert (state["commits"], state["totalAtRisk"], state["phase"]) == (1, 3 * WAD, COMMIT)
    assert locked(vault, alice) == JOIN_BOND + 3 * WAD
    commit(federation, task, 1, bob, stake=2 * WAD)
    state = federation.roundState(task, 1)
    assert (state["commits"], state["totalAtRisk"]) == (2, 5 * WAD)


def test_commit_by_non_participants_reverts(federation, task, aggregator, clients, outsider):
    open_round(federation, task, aggregator)
    with reverts("NotParticipant", outsider):
        commit(federation, task, 1, outsider)
    federation.leaveTask(task, {"from": clients[0]})
    with reverts("NotParticipant", clients[0]):
        commit(federation, task, 1, clients[0])


def test_commit_outside_the_commit_phase_reverts(federation, task, aggregator, clients):
    alice = clients[0]
    with reverts("WrongPhase", NONE, COMMIT):
        commit(federation, task, 1, alice)
    open_round(federation, task, aggregator)
    with reverts("WrongPhase", NONE, COMMIT):
        commit(federation, task, 2, alice)
    chain.sleep(COMMIT_WINDOW + 1)
    federation.abortRound(task, 1, {"from": alice})
    open_round(federation, task, aggregator)
    with reverts("WrongPhase", ABORTED, COMMIT):
        commit(federation, task, 1, alice)
    commit(federation, task, 2, alice)
    assert federation.roundState(task, 2)["commits"] == 1


def test_no_commit_after_the_first_reveal(federation, aggregator, sponsor, clients):
    task_id = new_task(federation, aggregator, sponsor)
    federation.bondAggregator(task_id, AGGREGATOR_BOND, {"from": aggregator})
    for account in clients[:3]:
        federation.joinTask(task_id, {"from": account})
    open_round(federation, task_id, aggregator)
    deadline = federation.roundState(task_id, 1)["commitDeadline"]
    commit_all(federation, task_id, 1, clients[:3])
    reveal(federation, task_id, 1, clients[0])  # every participant committed: reveals open
    federation.joinTask(task_id, {"from": clients[3]})
    with reverts("WrongPhase", REVEAL, COMMIT):
        commit(federation, task_id, 1, clients[3])
    assert chain[-1].timestamp < deadline  # closed by the reveal, not by the clock


def test_late_commit_reverts(federation, task, aggregator, clients):
    tx = federation.openRound(task, {"from": aggregator})
    chain.sleep(COMMIT_WINDOW + 1)
    with reverts("CommitClosed", tx.timestamp + COMMIT_WINDOW):
        commit(federation, task, 1, clients[0])


def test_double_commit_reverts(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit(federation, task, 1, clients[0])
    with reverts("AlreadyCommitted", clients[0]):
        commit(federation, task, 1, clients[0], update=keccak(text="other"))


def test_commit_rejects_an_empty_hash_and_a_low_or_unbacked_stake(
    federation, vault, task, aggregator, clients
):
    alice = clients[0]
    open_round(federation, task, aggregator)
    with reverts("EmptyHash"):
        federation.commit(task, 1, ZERO_HASH, WAD, {"from": alice})
    with reverts("StakeTooLow", WAD - 1, WAD):
        commit(federation, task, 1, alice, stake=WAD - 1)
    free = 100 * WAD - JOIN_BOND
    with reverts("InsufficientFreeStake", free, free + 1):
        commit(federation, task, 1, alice, stake=free + 1)
    vault.requestWithdrawal(free - 5 * WAD, {"from": alice})  # pending stake backs nothing
    with reverts("InsufficientFreeStake", 5 * WAD, 6 * WAD):
        commit(federation, task, 1, alice, stake=6 * WAD)
    commit(federation, task, 1, alice, stake=5 * WAD)
    assert vault.freeStake(alice) == 0


def test_commit_caps_the_round_at_max_at_risk(federation, base, vault, task, aggregator, clients):
    whale, bob = clients[:2]
    assert federation.MAX_AT_RISK() == MAX_AT_RISK
    base.mint(whale, MAX_AT_RISK, {"from": whale})
    vault.deposit(MAX_AT_RISK, {"from": whale})
    open_round(federation, task, aggregator)
    with reverts("StakeTooHigh", MAX_AT_RISK + 1):
        commit(federation, task, 1, bob, stake=MAX_AT_RISK + 1)
    with reverts("StakeTooHigh", 2**128 + WAD):  # would not fit the commitment's 128 bits
        commit(federation, task, 1, bob, stake=2**128 + WAD)
    commit(federation, task, 1, whale, stake=MAX_AT_RISK - WAD)
    commit(federation, task, 1, bob, stake=WAD)  # exactly the most a round may hold
    assert federation.roundState(task, 1)["totalAtRisk"] == MAX_AT_RISK
    with reverts("StakeTooHigh", MAX_AT_RISK + WAD):
        commit(federation, task, 1, clients[2], stake=WAD)


def test_the_largest_stake_keeps_its_exit(federation, base, vault, task, aggregator, clients):
    """A stake at MAX_AT_RISK is recorded in full and comes back in full (a cap above the
    commitment's 128 bits once truncated such stakes and left them locked for good)."""
    whale = clients[0]
    base.mint(whale, MAX_AT_RISK, {"from": whale})
    vault.deposit(MAX_AT_RISK, {"from": whale})
    open_round(federation, task, aggregator)
    commit(federation, task, 1, whale, stake=MAX_AT_RISK)
    assert federation.commitmentOf(task, 1, whale)["stake"] == MAX_AT_RISK
    assert locked(vault, whale) == JOIN_BOND + MAX_AT_RISK
    chain.sleep(COMMIT_WINDOW + REVEAL_WINDOW + POST_TIMEOUT + 1)
    federation.abortRound(task, 1, {"from": whale})
    tx = federation.reclaimStake(task, 1, {"from": whale})
    assert tx.events["StakeReclaimed"]["stake"] == MAX_AT_RISK
    assert locked(vault, whale) == JOIN_BOND


# ----------------------------------------------------------------------------------- reveal


def test_reveal_opens_early_once_every_participant_committed(federation, task, aggregator, clients):
    alice, bob = clients[:2]
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    tx = reveal(federation, task, 1, alice)
    opened = tx.events["RevealOpened"]
    assert (opened["taskId"], opened["round"]) == (task, 1)
    assert opened["revealDeadline"] == tx.timestamp + REVEAL_WINDOW  # from now, not the deadline
    revealed = tx.events["UpdateRevealed"]
    assert (revealed["taskId"], revealed["round"], revealed["client"]) == (task, 1, alice)
    assert revealed["updateHash"] == hx(update_of(task, 1, alice))
    state = federation.roundState(task, 1)
    assert (state["phase"], state["reveals"], state["revealDeadline"]) == (
        REVEAL,
        1,
        tx.timestamp + REVEAL_WINDOW,
    )
    assert federation.commitmentOf(task, 1, alice)["revealed"] is True
    tx = reveal(federation, task, 1, bob)
    assert "RevealOpened" not in tx.events
    assert federation.roundState(task, 1)["reveals"] == 2


def test_reveal_waits_for_the_commit_deadline_while_a_seat_has_not_committed(
    federation, task, aggregator, clients
):
    tx = federation.openRound(task, {"from": aggregator})
    deadline = tx.timestamp + COMMIT_WINDOW
    commit_all(federation, task, 1, clients[:3])
    with reverts("CommitWindowOpen", deadline):
        reveal(federation, task, 1, clients[0])
    chain.sleep(COMMIT_WINDOW + 5)
    tx = reveal(federation, task, 1, clients[0])
    assert tx.events["RevealOpened"]["revealDeadline"] == deadline + REVEAL_WINDOW
    assert federation.roundState(task, 1)["revealDeadline"] == deadline + REVEAL_WINDOW
    with reverts("WrongPhase", REVEAL, COMMIT):
        commit(federation, task, 1, clients[3])


def test_reveal_errors(federation, task, aggregator, clients, outsider):
    alice, bob, carol, _ = clients
    open_round(federation, task, aggregator)
    commit(federation, task, 1, carol, update=ZERO_HASH)  # seals an empty update hash
    for account in (alice, bob, clients[3]):
        commit(federation, task, 1, account)
    with reverts("NoCommitment", outsider):
        reveal(federation, task, 1, outsider)
    with reverts("RevealMismatch"):
        reveal(federation, task, 1, alice, salt=keccak(text="wrong salt"))
    with reverts("RevealMismatch"):
        reveal(federation, task, 1, alice, update=keccak(text="another update"))
    with reverts("EmptyHash"):
        reveal(federation, task, 1, carol, update=ZERO_HASH)
    assert phase(federation, task) == COMMIT  # failed reveals opened nothing
    reveal(federation, task, 1, alice)
    with reverts("AlreadyRevealed", alice):
        reveal(federation, task, 1, alice)
    deadline = federation.roundState(task, 1)["revealDeadline"]
    chain.sleep(REVEAL_WINDOW + 1)
    with reverts("RevealClosed", deadline):
        reveal(federation, task, 1, bob)
    assert federation.roundState(task, 1)["reveals"] == 1


def test_reveal_closes_with_the_reveal_window_even_if_nobody_opened_it(
    federation, task, aggregator, clients
):
    tx = federation.openRound(task, {"from": aggregator})
    commit(federation, task, 1, clients[0])
    chain.sleep(COMMIT_WINDOW + REVEAL_WINDOW + 5)
    with reverts("RevealClosed", tx.timestamp + COMMIT_WINDOW + REVEAL_WINDOW):
        reveal(federation, task, 1, clients[0])


def test_a_copied_commitment_cannot_be_revealed_by_the_copier(
    federation, task, aggregator, clients
):
    alice, copier = clients[:2]
    open_round(federation, task, aggregator)
    sealed = commit(federation, task, 1, alice).events["UpdateCommitted"]["commitHash"]
    federation.commit(task, 1, sealed, STAKE, {"from": copier})  # the copier commits the same
    commit_all(federation, task, 1, clients[2:])
    update, salt = update_of(task, 1, alice), salt_of(task, 1, alice)
    with reverts("RevealMismatch"):  # the commitment binds alice's address
        federation.reveal(task, 1, update, salt, {"from": copier})
    reveal(federation, task, 1, alice)  # now alice's update and salt are public
    with reverts("RevealMismatch"):
        federation.reveal(task, 1, update, salt, {"from": copier})
    assert federation.commitmentOf(task, 1, copier)["revealed"] is False


def test_reveal_after_the_post_reverts(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    reveal_all(federation, task, 1, clients[:3])
    chain.sleep(REVEAL_WINDOW + 1)
    post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)
    with reverts("WrongPhase", POSTED, REVEAL):
        reveal(federation, task, 1, clients[3])


def test_a_committer_leaving_does_not_close_commits_on_the_others(
    federation, task, aggregator, clients
):
    """A committer keeps its seat while commits are open (else 3 commits would match 3 seats and
    open reveals before dave committed); it may leave once reveals are open."""
    alice, bob, carol, dave = clients
    open_round(federation, task, aggregator)
    deadline = federation.roundState(task, 1)["commitDeadline"]
    commit_all(federation, task, 1, [alice, bob, carol])
    with reverts("StillActive", carol):
        federation.leaveTask(task, {"from": carol})
    with reverts("StillActive", carol):
        federation.removeIdle(task, carol, {"from": dave})
    with reverts("CommitWindowOpen", deadline):
        reveal(federation, task, 1, alice)
    commit(federation, task, 1, dave)
    reveal(federation, task, 1, alice)  # everyone seated committed: reveals open
    federation.leaveTask(task, {"from": carol})  # now carol may go; her commitment stays
    assert federation.commitmentOf(task, 1, carol)["stake"] == STAKE


# ------------------------------------------------------------------------------------- post


def test_post_records_the_results_and_reserves_the_budget(
    federation, escrow, task, aggregator, clients
):
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    results = results_of(task, 1, clients)
    assert results.total_payout == 3 * WAD // 10  # 0.2 + 0.1, the -0.5 is burned
    tx = post(federation, task, 1, aggregator, MODEL, results.root, 10 * WAD, results.total_payout)
    event = tx.events["RoundPosted"]
    assert (event["taskId"], event["round"], event["totalReward"], event["totalPayout"]) == (
        task,
        1,
        10 * WAD,
        3 * WAD // 10,
    )
    assert (event["modelHash"], event["resultsRoot"]) == (hx(MODEL), hx(results.root))
    state = federation.roundState(task, 1)
    assert (state["phase"], state["modelHash"], state["resultsRoot"]) == (
        POSTED,
        hx(MODEL),
        hx(results.root),
    )
    assert (state["totalReward"], state["totalPayout"]) == (10 * WAD, 3 * WAD // 10)
    assert state["challengeDeadline"] == tx.timestamp + CHALLENGE_WINDOW
    reserved = 10 * WAD + 3 * WAD // 10
    assert tx.events["Reserved"]["amount"] == reserved
    assert tuple(escrow.budgetOf(task)) == (100 * WAD - reserved, reserved)
    assert federation.taskState(task)["latestModelHash"] != hx(MODEL)  # only once final


def test_only_the_aggregator_posts(federation, task, aggregator, sponsor, clients):
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    for intruder in (clients[0], sponsor):
        with reverts("NotAggregator", intruder):
            post(federation, task, 1, intruder, MODEL, ROOT, 0, 0)


def test_post_needs_an_open_round(federation, task, aggregator, clients):
    with reverts("WrongPhase", NONE, REVEAL):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)
    with reverts("WrongPhase", POSTED, REVEAL):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)


def test_post_rejects_empty_hashes_and_empty_rounds(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    with reverts("NothingToPost"):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)
    commit_reveal_all(federation, task, 1, clients)
    with reverts("EmptyHash"):
        post(federation, task, 1, aggregator, ZERO_HASH, ROOT, 0, 0)
    with reverts("EmptyHash"):
        post(federation, task, 1, aggregator, MODEL, ZERO_HASH, 0, 0)
    post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)
    assert phase(federation, task) == POSTED


def test_an_empty_round_cannot_be_posted_even_after_its_windows(federation, task, aggregator):
    open_round(federation, task, aggregator)
    chain.sleep(COMMIT_WINDOW + REVEAL_WINDOW + 1)
    with reverts("NothingToPost"):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)


def test_post_must_name_the_round_commit_set(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    with reverts("CommitSetChanged", 3, 4, 4, 4):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0, commits=3)
    with reverts("CommitSetChanged", 4, 3, 4, 4):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0, reveals=3)
    with reverts("CommitSetChanged", 5, 5, 4, 4):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0, commits=5, reveals=5)
    post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0, commits=4, reveals=4)


def test_post_waits_for_the_reveal_end_while_nobody_revealed(federation, task, aggregator, clients):
    tx = federation.openRound(task, {"from": aggregator})
    commit_all(federation, task, 1, clients[:3])
    reveal_end = tx.timestamp + COMMIT_WINDOW + REVEAL_WINDOW
    with reverts("RevealWindowOpen", reveal_end):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)
    chain.sleep(COMMIT_WINDOW + 1)
    with reverts("RevealWindowOpen", reveal_end):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)
    chain.sleep(REVEAL_WINDOW)
    post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)  # the round never left Commit
    state = federation.roundState(task, 1)
    assert (state["phase"], state["commits"], state["reveals"]) == (POSTED, 3, 0)


def test_post_waits_for_the_reveal_deadline_while_a_reveal_is_missing(
    federation, task, aggregator, clients
):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    reveal_all(federation, task, 1, clients[:3])
    deadline = federation.roundState(task, 1)["revealDeadline"]
    with reverts("RevealWindowOpen", deadline):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)
    chain.sleep(REVEAL_WINDOW + 1)
    post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)
    assert federation.roundState(task, 1)["reveals"] == 3


def test_post_after_the_timeout_reverts(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    deadline = federation.roundState(task, 1)["revealDeadline"] + POST_TIMEOUT
    chain.sleep(REVEAL_WINDOW + POST_TIMEOUT + 1)
    with reverts("PostTimedOut", deadline):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)


def test_post_timeout_counts_from_the_commit_deadline_when_nobody_revealed(
    federation, task, aggregator, clients
):
    tx = federation.openRound(task, {"from": aggregator})
    commit(federation, task, 1, clients[0])
    chain.sleep(COMMIT_WINDOW + REVEAL_WINDOW + POST_TIMEOUT + 1)
    with reverts("PostTimedOut", tx.timestamp + COMMIT_WINDOW + REVEAL_WINDOW + POST_TIMEOUT):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)


def test_post_rejects_totals_above_the_limits(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)  # 4 x 10 at risk, cap 5 %: at most 2 paid
    with reverts("RewardTooHigh", 10 * WAD + 1, 10 * WAD):
        post(federation, task, 1, aggregator, MODEL, ROOT, 10 * WAD + 1, 0)
    with reverts("PayoutTooHigh", 2 * WAD + 1, 2 * WAD):
        post(federation, task, 1, aggregator, MODEL, ROOT, 0, 2 * WAD + 1)
    post(federation, task, 1, aggregator, MODEL, ROOT, 10 * WAD, 2 * WAD)  # the limits pass
    assert federation.roundState(task, 1)["totalPayout"] == 2 * WAD


def test_post_needs_the_budget(federation, escrow, aggregator, sponsor, clients):
    task_id = new_task(federation, aggregator, sponsor)
    escrow.fund(task_id, 3 * WAD, {"from": sponsor})
    federation.bondAggregator(task_id, AGGREGATOR_BOND, {"from": aggregator})
    federation.joinTask(task_id, {"from": clients[0]})
    open_round(federation, task_id, aggregator)
    commit_reveal_all(federation, task_id, 1, clients[:1])
    with reverts("InsufficientBudget", 3 * WAD, 4 * WAD):
        post(federation, task_id, 1, aggregator, MODEL, ROOT, 4 * WAD, 0)


# -------------------------------------------------------------------------------- challenge


def test_anyone_challenges_a_post_with_the_bond(
    federation, base, task, aggregator, clients, outsider
):
    posted_round(federation, task, aggregator, clients)
    before = base.balanceOf(outsider)
    tx = federation.challenge(task, 1, REASON, {"from": outsider})
    event = tx.events["RoundChallenged"]
    assert (event["taskId"], event["round"], event["challenger"], event["bond"]) == (
        task,
        1,
        outsider,
        CHALLENGE_BOND,
    )
    assert event["reasonHash"] == hx(REASON)
    state = federation.roundState(task, 1)
    assert (state["phase"], state["challenger"], state["challengeBond"], state["challengedAt"]) == (
        CHALLENGED,
        outsider,
        CHALLENGE_BOND,
        tx.timestamp,
    )
    assert base.balanceOf(outsider) == before - CHALLENGE_BOND
    assert held(federation, base) == AGGREGATOR_BOND + CHALLENGE_BOND
    with reverts("WrongPhase", CHALLENGED, POSTED):
        federation.finalizeRound(task, 1, {"from": clients[0]})
    with reverts("WrongPhase", CHALLENGED, POSTED):
        federation.challenge(task, 1, REASON, {"from": clients[0]})


def test_challenge_only_a_post_in_its_window(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    with reverts("WrongPhase", COMMIT, POSTED):
        federation.challenge(task, 1, REASON, {"from": clients[0]})
    commit_reveal_all(federation, task, 1, clients)
    with reverts("WrongPhase", REVEAL, POSTED):
        federation.challenge(task, 1, REASON, {"from": clients[0]})
    tx = post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)
    chain.sleep(CHALLENGE_WINDOW + 1)
    with reverts("ChallengeWindowClosed", tx.timestamp + CHALLENGE_WINDOW):
        federation.challenge(task, 1, REASON, {"from": clients[0]})


def test_without_a_challenge_bond_only_committers_challenge(
    federation, base, escrow, aggregator, sponsor, clients, outsider
):
    task_id = new_task(federation, aggregator, sponsor, challengeBond=0)
    federation.bondAggregator(task_id, AGGREGATOR_BOND, {"from": aggregator})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    open_round(federation, task_id, aggregator)
    commit_all(federation, task_id, 1, clients[:3])  # dave holds a seat, commits nothing
    chain.sleep(COMMIT_WINDOW + REVEAL_WINDOW + 1)
    post(federation, task_id, 1, aggregator, MODEL, ROOT, 0, 0)
    for account in (outsider, clients[3]):
        with reverts("NoStanding", account):
            federation.challenge(task_id, 1, REASON, {"from": account})
    before = base.balanceOf(clients[1])
    tx = federation.challenge(task_id, 1, REASON, {"from": clients[1]})
    assert tx.events["RoundChallenged"]["bond"] == 0
    assert base.balanceOf(clients[1]) == before
    assert federation.roundState(task_id, 1)["challenger"] == clients[1]
    assert held(federation, base) == AGGREGATOR_BOND


def test_a_challenge_bond_is_what_arrives(federation, base, task, aggregator, clients, outsider):
    """A fee-on-transfer base token takes its cut of the challenge bond: the challenge stands
    with what arrived (refusing it would make such a task's posts unchallengeable)."""
    posted_round(federation, task, aggregator, clients)
    base.setTransferFee(100, {"from": outsider})  # 1 % of every transfer is lost
    tx = federation.challenge(task, 1, REASON, {"from": outsider})
    base.setTransferFee(0, {"from": outsider})
    assert phase(federation, task) == CHALLENGED
    assert tx.events["RoundChallenged"]["bond"] == CHALLENGE_BOND * 99 // 100
    assert federation.roundState(task, 1)["challengeBond"] == CHALLENGE_BOND * 99 // 100


# ---------------------------------------------------------------------------------- arbiter


def test_dismissal_finalizes_the_post_and_pays_the_bond_to_the_aggregator(
    federation, base, task, aggregator, arbiter, clients, outsider
):
    results, _ = challenged_round(federation, task, aggregator, clients, outsider)
    tx = federation.dismissChallenge(task, 1, {"from": arbiter})
    event = tx.events["ChallengeDismissed"]
    assert (event["taskId"], event["round"], event["challenger"], event["bond"]) == (
        task,
        1,
        outsider,
        CHALLENGE_BOND,
    )
    assert (tx.events["Credited"]["account"], tx.events["Credited"]["amount"]) == (
        aggregator,
        CHALLENGE_BOND,
    )
    assert tx.events["RoundFinalized"]["modelHash"] == hx(keccak(text=f"model-{task}-1"))
    state = federation.roundState(task, 1)
    assert (state["phase"], state["endedAt"], state["challengeBond"]) == (
        FINALIZED,
        tx.timestamp,
        0,
    )
    assert federation.taskState(task)["latestModelHash"] == hx(keccak(text=f"model-{task}-1"))
    assert federation.credit(aggregator) == CHALLENGE_BOND
    before = base.balanceOf(aggregator)
    tx = federation.withdrawCredit({"from": aggregator})
    assert tx.return_value == CHALLENGE_BOND
    assert (tx.events["CreditWithdrawn"]["account"], tx.events["CreditWithdrawn"]["amount"]) == (
        aggregator,
        CHALLENGE_BOND,
    )
    assert base.balanceOf(aggregator) == before + CHALLENGE_BOND
    assert federation.credit(aggregator) == 0
    assert held(federation, base) == AGGREGATOR_BOND
    with reverts("ZeroAmount"):
        federation.withdrawCredit({"from": aggregator})
    alice = clients[0]
    before = base.balanceOf(alice)
    federation.claimReward(task, 1, *results.claim_args(alice), 0, 0, {"from": alice})
    assert base.balanceOf(alice) == before + 4 * WAD + results.payout(alice)


def test_an_upheld_challenge_voids_the_post_and_slashes_the_aggregator(
    federation, base, vault, escrow, task, aggregator, arbiter, clients, outsider
):
    federation.bondAggregator(task, 30 * WAD, {"from": aggregator})  # 80 bonded, 50 required
    stakes = [10 * WAD, 10 * WAD, 10 * WAD, 3 * WAD]  # 33 at risk: shares do not divide evenly
    total = sum(stakes)
    open_round(federation, task, aggregator)
    for account, stake in zip(clients, stakes, strict=True):
        commit(federation, task, 1, account, stake=stake)
    reveal_all(federation, task, 1, clients)
    results = results_of(task, 1, clients, stakes=stakes)
    post(federation, task, 1, aggregator, MODEL, results.root, 10 * WAD, results.total_payout)
    federation.challenge(task, 1, REASON, {"from": outsider})
    assert held(federation, base) == 80 * WAD + CHALLENGE_BOND

    tx = federation.upholdChallenge(task, 1, {"from": arbiter})
    slashed, to_challenger = AGGREGATOR_BOND, AGGREGATOR_BOND // 2  # min(80, 50), half of it
    pool = slashed - to_challenger
    event = tx.events["ChallengeUpheld"]
    assert (event["taskId"], event["round"], event["challenger"]) == (task, 1, outsider)
    assert (event["slashed"], event["toChallenger"]) == (slashed, to_challenger)
    assert tx.events["RoundAborted"]["reason"] == UPHELD
    assert tx.events["Credited"]["amount"] == CHALLENGE_BOND + to_challenger
    assert federation.credit(outsider) == CHALLENGE_BOND + to_challenger
    assert federation.taskState(task)["bond"] == 80 * WAD - slashed
    state = federation.roundState(task, 1)
    assert (state["phase"], state["slashPool"], state["challengeBond"]) == (ABORTED, pool, 0)
    assert (state["totalReward"], state["totalPayout"], state["endedAt"]) == (0, 0, tx.timestamp)
    assert tuple(escrow.budgetOf(task)) == (100 * WAD, 0)  # the reservation is back
    assert federation.taskState(task)["latestModelHash"] != hx(MODEL)
    assert held(federation, base) == 80 * WAD + CHALLENGE_BOND  # moved, nothing left

    shares = []
    for account, stake in zip(clients[:3], stakes[:3], strict=True):
        before = base.balanceOf(account)
        tx = federation.reclaimStake(task, 1, {"from": account})
        share = pool * stake // total
        event = tx.events["StakeReclaimed"]
        assert (event["client"], event["stake"], event["slashShare"]) == (account, stake, share)
        assert base.balanceOf(account) == before + share
        assert locked(vault, account) == JOIN_BOND
        shares.append(share)
    assert federation.roundState(task, 1)["slashPaid"] == sum(shares)
    held(federation, base)

    closes = federation.roundState(task, 1)["endedAt"] + CLAIM_WINDOW
    with reverts("ClaimWindowOpen", closes):
        federation.sweepRound(task, 1, {"from": outsider})
    chain.sleep(CLAIM_WINDOW + 1)
    tx = federation.sweepRound(task, 1, {"from": outsider})  # dave never claimed his share
    left = pool - sum(shares)
    assert left == pool * stakes[3] // total + 2  # dave's share and two wei of rounding
    swept = tx.events["RoundSwept"]
    assert (swept["unclaimed"], swept["slashLeft"]) == (0, left)
    assert federation.credit(outsider) == CHALLENGE_BOND + to_challenger + left
    tx = federation.reclaimStake(task, 1, {"from": clients[3]})  # the stake still comes back
    assert (tx.events["StakeReclaimed"]["stake"], tx.events["StakeReclaimed"]["slashShare"]) == (
        stakes[3],
        0,
    )
    assert locked(vault, clients[3]) == JOIN_BOND

    before = base.balanceOf(outsider)
    federation.withdrawCredit({"from": outsider})
    received = base.balanceOf(outsider) - before
    assert received == CHALLENGE_BOND + to_challenger + left
    assert received - CHALLENGE_BOND + sum(shares) == slashed  # the whole slash is paid out
    assert held(federation, base) == 80 * WAD - slashed


def test_only_the_arbiter_decides_and_only_challenged_rounds(
    federation, task, aggregator, arbiter, sponsor, governor, clients, outsider
):
    posted_round(federation, task, aggregator, clients)
    with reverts("WrongPhase", POSTED, CHALLENGED):
        federation.dismissChallenge(task, 1, {"from": arbiter})
    with reverts("WrongPhase", POSTED, CHALLENGED):
        federation.upholdChallenge(task, 1, {"from": arbiter})
    federation.challenge(task, 1, REASON, {"from": outsider})
    for intruder in (aggregator, sponsor, governor, clients[0], outsider):
        with reverts("NotArbiter", intruder):
            federation.dismissChallenge(task, 1, {"from": intruder})
        with reverts("NotArbiter", intruder):
            federation.upholdChallenge(task, 1, {"from": intruder})
    assert phase(federation, task) == CHALLENGED


def test_a_new_arbiter_takes_over(
    federation, task, aggregator, arbiter, governor, admin, clients, outsider
):
    challenged_round(federation, task, aggregator, clients, outsider)
    federation.setArbiter(admin, {"from": governor})
    with reverts("NotArbiter", arbiter):
        federation.dismissChallenge(task, 1, {"from": arbiter})
    federation.dismissChallenge(task, 1, {"from": admin})
    assert phase(federation, task) == FINALIZED


def test_an_undecided_challenge_is_aborted_after_the_arbiter_timeout(
    federation, base, escrow, task, aggregator, arbiter, clients, outsider
):
    _, tx = challenged_round(federation, task, aggregator, clients, outsider)
    deadline = tx.timestamp + ARBITER_TIMEOUT
    with reverts("PhaseNotOver", deadline):
        federation.abortRound(task, 1, {"from": clients[0]})
    chain.sleep(ARBITER_TIMEOUT + 1)
    with reverts("ArbiterTimedOut", deadline):
        federation.dismissChallenge(task, 1, {"from": arbiter})
    with reverts("ArbiterTimedOut", deadline):
        federation.upholdChallenge(task, 1, {"from": arbiter})
    tx = federation.abortRound(task, 1, {"from": clients[0]})
    assert tx.events["RoundAborted"]["reason"] == ARBITER_TIMED_OUT
    assert (tx.events["Credited"]["account"], tx.events["Credited"]["amount"]) == (
        outsider,
        CHALLENGE_BOND,
    )
    assert federation.credit(outsider) == CHALLENGE_BOND  # the challenger's bond comes back
    assert federation.taskState(task)["bond"] == AGGREGATOR_BOND  # nobody is slashed
    state = federation.roundState(task, 1)
    assert (state["phase"], state["slashPool"], state["challengeBond"]) == (ABORTED, 0, 0)
    assert tuple(escrow.budgetOf(task)) == (100 * WAD, 0)
    tx = federation.reclaimStake(task, 1, {"from": clients[0]})
    assert tx.events["StakeReclaimed"]["slashShare"] == 0
    assert held(federation, base) == AGGREGATOR_BOND + CHALLENGE_BOND


# --------------------------------------------------------------------------------- finalize


def test_finalize_after_the_challenge_window(federation, task, aggregator, clients):
    posted_round(federation, task, aggregator, clients)
    deadline = federation.roundState(task, 1)["challengeDeadline"]
    with reverts("PhaseNotOver", deadline):
        federation.finalizeRound(task, 1, {"from": clients[0]})
    chain.sleep(CHALLENGE_WINDOW + 1)
    tx = federation.finalizeRound(task, 1, {"from": clients[0]})
    model = hx(keccak(text=f"model-{task}-1"))
    event = tx.events["RoundFinalized"]
    assert (event["taskId"], event["round"], event["modelHash"]) == (task, 1, model)
    assert (phase(federation, task), federation.roundState(task, 1)["endedAt"]) == (
        FINALIZED,
        tx.timestamp,
    )
    state = federation.taskState(task)
    assert (state["status"], state["latestModelHash"], state["bondLockedUntil"]) == (
        ACTIVE,
        model,
        tx.timestamp + CLAIM_WINDOW,
    )
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
    federation.bondAggregator(task_id, AGGREGATOR_BOND, {"from": aggregator})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    assert federation.taskState(task_id)["status"] == ACTIVE
    round_ = open_round(federation, task_id, aggregator)
    commit_reveal_all(federation, task_id, round_, clients)
    post(federation, task_id, 2, aggregator, keccak(text="m2"), ROOT, 0, 0)
    chain.sleep(CHALLENGE_WINDOW + 1)
    tx = federation.finalizeRound(task_id, 2, {"from": clients[0]})
    assert tx.events["TaskCompleted"]["taskId"] == task_id
    state = federation.taskState(task_id)
    assert (state["status"], state["currentRound"], state["latestModelHash"]) == (
        COMPLETED,
        2,
        hx(keccak(text="m2")),
    )


def test_a_task_without_a_challenge_window_is_final_at_the_post(
    federation, escrow, base, vault, aggregator, sponsor, clients, outsider
):
    task_id = new_task(federation, aggregator, sponsor, numRounds=2, challengeWindow=0)
    escrow.fund(task_id, 50 * WAD, {"from": sponsor})
    federation.bondAggregator(task_id, AGGREGATOR_BOND, {"from": aggregator})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    results = posted_round(federation, task_id, aggregator, clients)
    state = federation.roundState(task_id, 1)
    model = hx(keccak(text=f"model-{task_id}-1"))
    assert (state["phase"], state["modelHash"]) == (FINALIZED, model)
    task_state = federation.taskState(task_id)
    # the round ended with the post: the model is the task's, the bond it set aside is free again
    assert (task_state["latestModelHash"], task_state["bond"]) == (model, AGGREGATOR_BOND)
    assert task_state["bondLockedUntil"] == state["endedAt"] + CLAIM_WINDOW
    assert state["challengeDeadline"] == state["endedAt"]
    with reverts("WrongPhase", FINALIZED, POSTED):
        federation.challenge(task_id, 1, REASON, {"from": outsider})
    with reverts("WrongPhase", FINALIZED, POSTED):
        federation.finalizeRound(task_id, 1, {"from": clients[0]})
    alice = clients[0]
    before = base.balanceOf(alice)
    federation.claimReward(task_id, 1, *results.claim_args(alice), 0, 0, {"from": alice})
    assert base.balanceOf(alice) == before + 4 * WAD + WAD // 5
    assert locked(vault, alice) == JOIN_BOND
    # the next round opens at once, and the last post completes the task
    round_ = open_round(federation, task_id, aggregator)
    commit_reveal_all(federation, task_id, round_, clients)
    tx = post(federation, task_id, round_, aggregator, keccak(text="m2"), ROOT, 0, 0)
    names = [event.name for event in tx.events]
    assert names.index("RoundPosted") < names.index("RoundFinalized") < names.index("TaskCompleted")
    assert (tx.events["RoundFinalized"]["round"], tx.events["TaskCompleted"]["taskId"]) == (
        2,
        task_id,
    )
    assert federation.taskState(task_id)["status"] == COMPLETED


# ------------------------------------------------------------------------------------ abort


def test_an_empty_round_is_aborted_after_the_commit_deadline(federation, task, aggregator, clients):
    tx = federation.openRound(task, {"from": aggregator})
    deadline = tx.timestamp + COMMIT_WINDOW
    with reverts("PhaseNotOver", deadline):
        federation.abortRound(task, 1, {"from": clients[3]})
    chain.sleep(COMMIT_WINDOW + 1)
    tx = federation.abortRound(task, 1, {"from": clients[3]})
    event = tx.events["RoundAborted"]
    assert (event["taskId"], event["round"], event["reason"]) == (task, 1, EMPTY)
    state = federation.roundState(task, 1)
    assert (state["phase"], state["endedAt"]) == (ABORTED, tx.timestamp)
    assert "TaskCompleted" not in tx.events
    with reverts("NoCommitment", clients[0]):
        federation.reclaimStake(task, 1, {"from": clients[0]})
    tx = federation.openRound(task, {"from": aggregator})  # an aborted round lets the next open
    assert tx.events["RoundOpened"]["parentModelHash"] == federation.taskParams(task)[3]


def test_a_round_without_a_post_is_aborted_and_stakes_reclaimed(
    federation, vault, task, aggregator, clients
):
    tx = federation.openRound(task, {"from": aggregator})
    commit_all(federation, task, 1, clients[:2])  # nobody reveals
    deadline = tx.timestamp + COMMIT_WINDOW + REVEAL_WINDOW + POST_TIMEOUT
    chain.sleep(COMMIT_WINDOW + 1)
    with reverts("PhaseNotOver", deadline):
        federation.abortRound(task, 1, {"from": clients[3]})
    chain.sleep(REVEAL_WINDOW + POST_TIMEOUT)
    tx = federation.abortRound(task, 1, {"from": clients[3]})
    assert tx.events["RoundAborted"]["reason"] == NO_POST
    assert phase(federation, task) == ABORTED
    tx = federation.reclaimStake(task, 1, {"from": clients[0]})
    event = tx.events["StakeReclaimed"]
    assert (event["taskId"], event["round"], event["client"]) == (task, 1, clients[0])
    assert (event["stake"], event["slashShare"]) == (STAKE, 0)
    assert tuple(vault.stakeOf(clients[0]))[:2] == (100 * WAD, JOIN_BOND)
    assert federation.commitmentOf(task, 1, clients[0])["settled"] is True
    with reverts("AlreadySettled", clients[0]):
        federation.reclaimStake(task, 1, {"from": clients[0]})
    with reverts("NoCommitment", clients[2]):
        federation.reclaimStake(task, 1, {"from": clients[2]})


def test_a_reveal_phase_round_is_aborted_after_its_reveal_deadline_and_the_timeout(
    federation, task, aggregator, clients
):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    reveal(federation, task, 1, clients[0])  # opens reveals early
    deadline = federation.roundState(task, 1)["revealDeadline"] + POST_TIMEOUT
    with reverts("PhaseNotOver", deadline):
        federation.abortRound(task, 1, {"from": clients[0]})
    chain.sleep(REVEAL_WINDOW + POST_TIMEOUT + 1)
    tx = federation.abortRound(task, 1, {"from": clients[0]})
    assert tx.events["RoundAborted"]["reason"] == NO_POST


def test_abort_rejects_posted_and_ended_rounds(federation, task, aggregator, clients):
    with reverts("WrongPhase", NONE, COMMIT):
        federation.abortRound(task, 1, {"from": clients[0]})
    posted_round(federation, task, aggregator, clients)
    chain.sleep(COMMIT_WINDOW + REVEAL_WINDOW + POST_TIMEOUT + 1)
    with reverts("WrongPhase", POSTED, COMMIT):
        federation.abortRound(task, 1, {"from": clients[0]})
    federation.finalizeRound(task, 1, {"from": clients[0]})
    with reverts("WrongPhase", FINALIZED, COMMIT):
        federation.abortRound(task, 1, {"from": clients[0]})
    open_round(federation, task, aggregator)
    chain.sleep(COMMIT_WINDOW + 1)
    federation.abortRound(task, 2, {"from": clients[0]})
    with reverts("WrongPhase", ABORTED, COMMIT):
        federation.abortRound(task, 2, {"from": clients[0]})


def test_aborting_the_last_round_completes_the_task(federation, aggregator, sponsor, clients):
    task_id = new_task(federation, aggregator, sponsor, numRounds=1, minClients=0)
    federation.bondAggregator(task_id, AGGREGATOR_BOND, {"from": aggregator})
    open_round(federation, task_id, aggregator)
    chain.sleep(COMMIT_WINDOW + 1)
    tx = federation.abortRound(task_id, 1, {"from": clients[0]})
    assert tx.events["TaskCompleted"]["taskId"] == task_id
    assert federation.taskState(task_id)["status"] == COMPLETED


# ---------------------------------------------------------------------------------- reclaim


def test_reclaim_needs_an_ended_round(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    with reverts("WrongPhase", REVEAL, ABORTED):
        federation.reclaimStake(task, 1, {"from": clients[0]})
    post(federation, task, 1, aggregator, MODEL, ROOT, 0, 0)
    with reverts("WrongPhase", POSTED, ABORTED):
        federation.reclaimStake(task, 1, {"from": clients[0]})


def test_a_committer_the_results_left_out_reclaims_after_the_claim_window(
    federation, vault, task, aggregator, clients
):
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    left_out = clients[3]
    results = post_results(
        federation, task, 1, aggregator, [(c, WAD // 100, WAD, STAKE) for c in clients[:3]]
    )
    chain.sleep(CHALLENGE_WINDOW + 1)
    tx = federation.finalizeRound(task, 1, {"from": left_out})
    closes = tx.timestamp + CLAIM_WINDOW
    with reverts("ClaimWindowOpen", closes):
        federation.reclaimStake(task, 1, {"from": left_out})
    federation.claimReward(task, 1, *results.claim_args(clients[0]), 0, 0, {"from": clients[0]})
    chain.sleep(CLAIM_WINDOW + 1)
    tx = federation.reclaimStake(task, 1, {"from": left_out})
    assert (tx.events["StakeReclaimed"]["stake"], tx.events["StakeReclaimed"]["slashShare"]) == (
        STAKE,
        0,
    )
    assert locked(vault, left_out) == JOIN_BOND
    with reverts("AlreadySettled", clients[0]):  # settled by its claim
        federation.reclaimStake(task, 1, {"from": clients[0]})
    tx = federation.reclaimStake(task, 1, {"from": clients[1]})  # an unclaimed leaf, too late
    assert tx.events["StakeReclaimed"]["stake"] == STAKE
    with reverts("ClaimWindowClosed", closes):
        federation.settleStake(
            task, 1, clients[2], *results.claim_args(clients[2]), {"from": clients[2]}
        )


# ---------------------------------------------------------------------------------- settle


def test_positive_results_are_paid_and_negative_ones_burned(
    federation, vault, escrow, base, task, aggregator, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    expected = [stake_payout(STAKE, s, 4 * STAKE, THRESHOLD, CAP) for s in SCORES]
    assert expected == [WAD // 5, WAD // 10, 0, -WAD // 2]
    assert [results.payout(c) for c in clients] == expected
    owed = escrow.budgetOf(task)[1]
    keeper = clients[1]
    for client, payout in zip(clients, expected, strict=True):
        before = base.balanceOf(client)
        tx = federation.settleStake(task, 1, client, *results.claim_args(client), {"from": keeper})
        event = tx.events["StakeSettled"]
        assert (event["taskId"], event["round"], event["client"]) == (task, 1, client)
        assert (event["score"], event["payout"]) == (results.entry(client).score, payout)
        assert base.balanceOf(client) == before + max(payout, 0)
        assert tuple(vault.stakeOf(client))[:2] == (100 * WAD + min(payout, 0), JOIN_BOND)
        c = federation.commitmentOf(task, 1, client)
        assert (c["settled"], c["claimed"]) == (True, False)
        if payout < 0:
            assert tx.events["StakeBurned"]["amount"] == -payout
            assert tx.events["StakeBurned"]["route"] == 0
    assert vault.totalBurned() == WAD // 2
    assert escrow.budgetOf(task)[1] == owed - 3 * WAD // 10
    assert federation.roundState(task, 1)["payoutPaid"] == 3 * WAD // 10


def test_payouts_shrink_when_the_stake_at_risk_passes_the_threshold(
    federation, base, vault, task, aggregator, clients
):
    stakes = [40 * WAD, 33 * WAD, 25 * WAD, 17 * WAD + 3]  # 115 at risk > threshold 100
    scores = [WAD // 30, 7 * WAD // 1000, -WAD // 70, -WAD]
    total = sum(stakes)
    open_round(federation, task, aggregator)
    for account, stake in zip(clients, stakes, strict=True):
        commit(federation, task, 1, account, stake=stake)
    reveal_all(federation, task, 1, clients)
    results = results_of(task, 1, clients, scores, [0] * 4, stakes)
    post(federation, task, 1, aggregator, MODEL, results.root, 0, results.total_payout)
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task, 1, {"from": clients[0]})
    for account, stake, score in zip(clients, stakes, scores, strict=True):
        payout = stake_payout(stake, score, total, THRESHOLD, CAP)
        assert payout == federation.stakePayout(stake, score, total, THRESHOLD, CAP)
        before = vault.stakeOf(account)[0], base.balanceOf(account)
        tx = federation.settleStake(
            task, 1, account, *results.claim_args(account), {"from": account}
        )
        assert tx.events["StakeSettled"]["payout"] == payout
        assert vault.stakeOf(account)[0] == before[0] + min(payout, 0)
        assert base.balanceOf(account) == before[1] + max(payout, 0)
    assert stake_payout(stakes[0], scores[0], total, THRESHOLD, CAP) == (
        stakes[0] * scores[0] * THRESHOLD // (total * WAD)  # scaled by 100/115, not clipped
    )
    assert stake_payout(stakes[3], -WAD, total, THRESHOLD, CAP) == -(stakes[3] * CAP // WAD)


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
    with reverts("InvalidProof"):  # alice's leaf proves nothing for bob
        federation.settleStake(task, 1, clients[1], score, reward, proof, {"from": alice})
    federation.settleStake(task, 1, alice, score, reward, proof, {"from": alice})
    with reverts("AlreadySettled", alice):
        federation.settleStake(task, 1, alice, score, reward, proof, {"from": alice})


def test_a_leaf_without_a_commitment_pays_nothing(federation, task, aggregator, clients, outsider):
    open_round(federation, task, aggregator)
    commit_reveal_all(federation, task, 1, clients)
    entries = [(c, 0, WAD, STAKE) for c in clients] + [(outsider, WAD // 100, WAD, 0)]
    results = post_results(federation, task, 1, aggregator, entries)
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task, 1, {"from": clients[0]})
    with reverts("NoCommitment", outsider):
        federation.settleStake(task, 1, outsider, *results.claim_args(outsider), {"from": outsider})
    with reverts("NoCommitment", outsider):
        federation.claimReward(task, 1, *results.claim_args(outsider), 0, 0, {"from": outsider})


def test_settlements_and_claims_close_with_the_claim_window(
    federation, base, escrow, task, aggregator, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    closes = federation.roundState(task, 1)["endedAt"] + CLAIM_WINDOW
    chain.sleep(CLAIM_WINDOW + 1)
    alice = clients[0]
    with reverts("ClaimWindowClosed", closes):
        federation.settleStake(task, 1, alice, *results.claim_args(alice), {"from": alice})
    with reverts("ClaimWindowClosed", closes):
        federation.claimReward(task, 1, *results.claim_args(alice), 0, 0, {"from": alice})


# ----------------------------------------------------------------------------------- claims


def test_claim_settles_the_stake_and_pays_the_reward(
    federation, vault, base, task, aggregator, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    before = base.balanceOf(alice)
    tx = federation.claimReward(task, 1, *results.claim_args(alice), 0, 0, {"from": alice})
    assert base.balanceOf(alice) == before + 4 * WAD + WAD // 5
    assert tx.events["StakeSettled"]["payout"] == WAD // 5
    paid = [(e["to"], e["value"]) for e in tx.events if e.name == "Transfer"]
    assert paid == [(alice, 4 * WAD + WAD // 5)]  # the stake result and the reward in one transfer
    assert tx.events["StakePayoutPaid"]["amount"] == WAD // 5
    claimed = tx.events["RewardClaimed"]
    assert (claimed["taskId"], claimed["round"], claimed["client"], claimed["reward"]) == (
        task,
        1,
        alice,
        4 * WAD,
    )
    assert (tx.events["RewardPaid"]["mode"], tx.events["RewardPaid"]["amount"]) == (0, 4 * WAD)
    c = federation.commitmentOf(task, 1, alice)
    assert (c["settled"], c["claimed"]) == (True, True)
    assert locked(vault, alice) == JOIN_BOND
    state = federation.roundState(task, 1)
    assert (state["rewardPaid"], state["payoutPaid"]) == (4 * WAD, WAD // 5)
    with reverts("AlreadyClaimed", alice):
        federation.claimReward(task, 1, *results.claim_args(alice), 0, 0, {"from": alice})


def test_claim_after_a_separate_settlement_pays_only_the_reward(
    federation, vault, base, task, aggregator, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    dave = clients[3]
    federation.settleStake(task, 1, dave, *results.claim_args(dave), {"from": clients[0]})
    before = base.balanceOf(dave)
    tx = federation.claimReward(task, 1, *results.claim_args(dave), 0, 0, {"from": dave})
    assert "StakeSettled" not in tx.events
    assert base.balanceOf(dave) == before + WAD
    assert vault.stakeOf(dave)[0] == 100 * WAD - WAD // 2


def test_a_client_claims_and_commits_to_the_next_round_in_one_transaction(
    federation, vault, base, task, aggregator, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    round_ = open_round(federation, task, aggregator)
    alice = clients[0]
    sealed = commitment_hash(
        task, round_, str(alice), update_of(task, round_, alice), salt_of(task, round_, alice)
    )
    claim = federation.claimReward.encode_input(task, 1, *results.claim_args(alice), 0, 0)
    bad_commit = federation.commit.encode_input(task, round_, ZERO_HASH, STAKE)
    before = base.balanceOf(alice)
    # one failing call undoes the whole transaction, with that call's error
    with reverts("EmptyHash"):
        federation.multicall([claim, bad_commit], {"from": alice})
    assert federation.commitmentOf(task, 1, alice)["claimed"] is False
    good_commit = federation.commit.encode_input(task, round_, sealed, STAKE)
    tx = federation.multicall([claim, good_commit], {"from": alice})
    # each call ran as the sender itself (reentrancy guards and all)
    assert tx.events["RewardClaimed"]["client"] == alice
    assert tx.events["UpdateCommitted"]["client"] == alice
    assert base.balanceOf(alice) == before + 4 * WAD + WAD // 5
    assert federation.commitmentOf(task, 1, alice)["claimed"] is True
    assert federation.commitmentOf(task, round_, alice)["commitHash"] == hx(sealed)
    assert locked(vault, alice) == JOIN_BOND + STAKE


def test_claim_rejects_bad_proofs_unfinished_rounds_and_other_claimers(
    federation, task, aggregator, clients
):
    results = posted_round(federation, task, aggregator, clients)
    alice, bob = clients[:2]
    with reverts("WrongPhase", POSTED, FINALIZED):
        federation.claimReward(task, 1, *results.claim_args(alice), 0, 0, {"from": alice})
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task, 1, {"from": alice})
    score, reward, proof = results.claim_args(alice)
    with reverts("InvalidProof"):
        federation.claimReward(task, 1, score, reward + 1, proof, 0, 0, {"from": alice})
    with reverts("InvalidProof"):  # alice's leaf proves nothing for bob
        federation.claimReward(task, 1, score, reward, proof, 0, 0, {"from": bob})
    with reverts("WrongPhase", NONE, FINALIZED):
        federation.claimReward(task, 2, score, reward, proof, 0, 0, {"from": alice})


def _mode_task(federation, escrow, aggregator, sponsor, clients, mode):
    task_id = new_task(federation, aggregator, sponsor, mode=mode)
    escrow.fund(task_id, 100 * WAD, {"from": sponsor})
    federation.bondAggregator(task_id, AGGREGATOR_BOND, {"from": aggregator})
    for account in clients:
        federation.joinTask(task_id, {"from": account})
    return task_id


def test_buyback_claims_burn_the_client_token(
    federation, escrow, registry, base, aggregator, sponsor, clients
):
    task_id = _mode_task(federation, escrow, aggregator, sponsor, clients, 1)
    results = finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    pool, token = seed_pool(registry, base, alice, 1_000 * WAD, 100 * WAD)
    quote = pool.quoteBaseForTokens(4 * WAD)
    args = results.claim_args(alice)
    with reverts("InsufficientOutput", quote, quote + 1):
        federation.claimReward(task_id, 1, *args, quote + 1, FAR, {"from": alice})
    stale = chain[-1].timestamp - 1
    with reverts("Expired", stale):
        federation.claimReward(task_id, 1, *args, quote, stale, {"from": alice})
    before = base.balanceOf(alice)
    tx = federation.claimReward(task_id, 1, *args, quote, FAR, {"from": alice})
    paid = tx.events["RewardPaid"]
    assert (paid["mode"], paid["amount"], paid["tokensBurned"]) == (1, 4 * WAD, quote)
    assert token.totalSupply() == CLIENT_SUPPLY - quote
    assert base.balanceOf(alice) == before + WAD // 5  # only the stake payout, in base
    bob = clients[1]  # no liquidity in bob's pool: paid directly
    before = base.balanceOf(bob)
    tx = federation.claimReward(task_id, 1, *results.claim_args(bob), 0, FAR, {"from": bob})
    assert tx.events["DirectFallback"]["requestedMode"] == 1
    assert tx.events["RewardPaid"]["mode"] == 0
    assert base.balanceOf(bob) == before + 3 * WAD + WAD // 10


def test_dividend_claims_stream_to_the_token_holders(
    federation, escrow, registry, base, aggregator, sponsor, clients, outsider
):
    task_id = _mode_task(federation, escrow, aggregator, sponsor, clients, 2)
    results = finalized_round(federation, task_id, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    token = ClientToken.at(registry.tokenOf(alice))
    token.transfer(outsider, CLIENT_SUPPLY // 2, {"from": alice})  # an investor holds half
    before = base.balanceOf(alice)
    tx = federation.claimReward(task_id, 1, *results.claim_args(alice), 0, 0, {"from": alice})
    assert tx.events["RewardPaid"]["mode"] == 2
    assert tx.events["DividendDistributed"]["amount"] == 4 * WAD
    assert base.balanceOf(alice) == before + WAD // 5  # the reward went to the holders
    chain.sleep(DIVIDEND_DURATION + 1)
    chain.mine()
    for holder in (alice, outsider):
        assert 2 * WAD - 10 <= token.dividendOf(holder) <= 2 * WAD
    assert token.dividendOf(alice) + token.dividendOf(outsider) <= 4 * WAD


# ------------------------------------------------------------------------- sweep and credits


def test_sweep_returns_what_claims_left_to_the_budget(
    federation, escrow, base, task, aggregator, sponsor, clients
):
    results = finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    alice = clients[0]
    federation.claimReward(task, 1, *results.claim_args(alice), 0, 0, {"from": alice})
    closes = federation.roundState(task, 1)["endedAt"] + CLAIM_WINDOW
    with reverts("ClaimWindowOpen", closes):
        federation.sweepRound(task, 1, {"from": clients[1]})
    chain.sleep(CLAIM_WINDOW + 1)
    sponsor_before = base.balanceOf(sponsor)
    tx = federation.sweepRound(task, 1, {"from": clients[1]})
    unclaimed = (10 * WAD - 4 * WAD) + (results.total_payout - WAD // 5)
    swept = tx.events["RoundSwept"]
    assert (swept["taskId"], swept["round"], swept["unclaimed"], swept["slashLeft"]) == (
        task,
        1,
        unclaimed,
        0,
    )
    assert tx.events["Unreserved"]["amount"] == unclaimed
    assert tuple(escrow.budgetOf(task)) == (100 * WAD - 4 * WAD - WAD // 5, 0)
    assert "Refunded" not in tx.events and base.balanceOf(sponsor) == sponsor_before  # active
    state = federation.roundState(task, 1)
    assert (state["swept"], state["rewardPaid"], state["payoutPaid"]) == (
        True,
        10 * WAD,
        results.total_payout,
    )
    with reverts("AlreadySwept"):
        federation.sweepRound(task, 1, {"from": clients[1]})


def test_sweep_needs_an_ended_round(federation, task, aggregator, clients):
    with reverts("WrongPhase", NONE, FINALIZED):
        federation.sweepRound(task, 1, {"from": clients[0]})
    posted_round(federation, task, aggregator, clients)
    with reverts("WrongPhase", POSTED, FINALIZED):
        federation.sweepRound(task, 1, {"from": clients[0]})


def test_sweeping_an_aborted_round_returns_nothing_but_marks_it(
    federation, escrow, task, aggregator, clients
):
    open_round(federation, task, aggregator)
    chain.sleep(COMMIT_WINDOW + 1)
    federation.abortRound(task, 1, {"from": clients[0]})
    chain.sleep(CLAIM_WINDOW + 1)
    tx = federation.sweepRound(task, 1, {"from": clients[0]})
    assert (tx.events["RoundSwept"]["unclaimed"], tx.events["RoundSwept"]["slashLeft"]) == (0, 0)
    assert federation.roundState(task, 1)["swept"] is True
    assert tuple(escrow.budgetOf(task)) == (100 * WAD, 0)


def test_withdraw_credit_needs_a_credit(federation, outsider, aggregator):
    for account in (outsider, aggregator):
        with reverts("ZeroAmount"):
            federation.withdrawCredit({"from": account})
