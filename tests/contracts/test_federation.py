"""Federation: construction, tasks, joining, opening rounds, commits, posts, and the payout formula.

Challenges, finalization, aborts, settlements, claims and task endings: test_federation_rounds.py.
"""

import pytest
from brownie import Federation, chain
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.core import given  # the unwrapped `given`: these examples need no isolation

from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import (
    CAP,
    COMMIT_WINDOW,
    POST_TIMEOUT,
    STAKE,
    THRESHOLD,
    WAD,
    commit_all,
    make_params,
    open_round,
    post_results,
)
from tests.contracts.fed_math import leaf_hash, stake_payout
from tests.contracts.helpers import reverts

ZERO = "0x0000000000000000000000000000000000000000"
NONE, COMMIT, POSTED, CHALLENGED, FINALIZED, ABORTED = range(6)
ACTIVE, COMPLETED, CANCELLED, CLOSED = 1, 2, 3, 4
UPDATE = keccak(text="update")
MODEL = keccak(text="model-1")
ROOT = keccak(text="root")


def round_info(federation, task_id, round_):
    return tuple(federation.roundInfo(task_id, round_))


# ------------------------------------------------------------------------------ construction


def test_constructor_wires_the_suite_and_the_admin(federation, registry, vault, escrow, admin):
    assert federation.registry() == registry
    assert federation.vault() == vault
    assert federation.escrow() == escrow
    assert federation.hasRole(federation.DEFAULT_ADMIN_ROLE(), admin)
    assert federation.ARBITER_ROLE() == "0x" + keccak(text="ARBITER_ROLE").hex()
    assert federation.taskCount() == 0


@pytest.mark.parametrize("zero_at", range(4))
def test_constructor_rejects_zero_addresses(registry, vault, escrow, admin, zero_at):
    args = [registry, vault, escrow, admin]
    args[zero_at] = ZERO
    with reverts("ZeroAddress"):
        Federation.deploy(*args, {"from": admin})


# ------------------------------------------------------------------------------------ tasks


def test_create_task_stores_params_and_numbers_tasks_from_one(federation, aggregator, sponsor):
    params = make_params(aggregator)
    tx = federation.createTask(params, {"from": sponsor})
    assert tx.return_value == 1
    event = tx.events["TaskCreated"]
    assert event["taskId"] == 1
    assert event["sponsor"] == sponsor
    assert event["aggregator"] == aggregator
    assert event["modelSpecHash"] == "0x" + params[0].hex()
    assert event["initialModelHash"] == "0x" + params[2].hex()
    assert event["numRounds"] == 3
    stored = federation.taskParams(1)
    assert [str(v) for v in stored] == [
        "0x" + v.hex() if isinstance(v, bytes) else str(v) for v in params
    ]
    assert tuple(federation.taskState(1)) == (ACTIVE, 0, "0x" + params[2].hex(), 0)
    assert federation.sponsorOf(1) == sponsor
    assert federation.taskCount() == 1
    assert federation.createTask(params, {"from": sponsor}).return_value == 2
    assert federation.taskCount() == 2


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("aggregator", ZERO, "aggregator"),
        ("numRounds", 0, "numRounds"),
        ("maxClients", 0, "maxClients"),
        ("commitWindow", 0, "commitWindow"),
        ("postTimeout", 0, "postTimeout"),
        ("payoutCap", WAD + 1, "payoutCap"),
        ("mode", 3, "mode"),
        ("payoutThreshold", 0, "payoutThreshold"),
    ],
)
def test_create_task_rejects_invalid_params(federation, aggregator, sponsor, field, value, reason):
    with reverts("InvalidParams", reason):
        federation.createTask(make_params(aggregator, **{field: value}), {"from": sponsor})


def test_create_task_accepts_the_edges(federation, aggregator, sponsor):
    params = make_params(aggregator, payoutCap=WAD, mode=2, challengeWindow=0, stakeMin=0)
    assert federation.createTask(params, {"from": sponsor}).return_value == 1


# ------------------------------------------------------------------------------------- join


def test_registered_clients_join(federation, aggregator, sponsor, clients):
    federation.createTask(make_params(aggregator), {"from": sponsor})
    tx = federation.joinTask(1, {"from": clients[0]})
    assert tx.events["ClientJoined"]["client"] == clients[0]
    assert tx.events["ClientJoined"]["participants"] == 1
    assert federation.isParticipant(1, clients[0])
    assert not federation.isParticipant(1, clients[1])
    assert federation.taskState(1)[3] == 1


def test_join_rejects_unregistered_callers(federation, aggregator, sponsor, outsider):
    federation.createTask(make_params(aggregator), {"from": sponsor})
    with reverts("NotRegistered", outsider):
        federation.joinTask(1, {"from": outsider})


def test_join_rejects_unknown_and_cancelled_tasks(federation, aggregator, sponsor, clients):
    with reverts("WrongStatus", NONE, ACTIVE):
        federation.joinTask(5, {"from": clients[0]})
    federation.createTask(make_params(aggregator), {"from": sponsor})
    federation.cancelTask(1, {"from": sponsor})
    with reverts("WrongStatus", CANCELLED, ACTIVE):
        federation.joinTask(1, {"from": clients[0]})


def test_join_rejects_a_second_join_and_a_full_task(federation, aggregator, sponsor, clients):
    federation.createTask(make_params(aggregator, maxClients=1), {"from": sponsor})
    federation.joinTask(1, {"from": clients[0]})
    with reverts("AlreadyJoined", clients[0]):
        federation.joinTask(1, {"from": clients[0]})
    with reverts("TaskFull", 1):
        federation.joinTask(1, {"from": clients[1]})


# ------------------------------------------------------------------------------- open round


def test_open_round_starts_the_commit_phase_on_the_initial_model(federation, task, aggregator):
    tx = federation.openRound(task, {"from": aggregator})
    initial = federation.taskParams(task)[2]
    deadline = tx.timestamp + COMMIT_WINDOW
    assert tx.return_value == 1
    event = tx.events["RoundOpened"]
    assert (event["taskId"], event["round"], event["commitDeadline"]) == (task, 1, deadline)
    assert event["parentModelHash"] == initial
    info = round_info(federation, task, 1)
    assert info[0] == COMMIT
    assert info[1] == initial
    assert info[4] == deadline
    assert info[5:] == (0, 0, 0, 0, 0)
    assert federation.postDeadlineOf(task, 1) == deadline + POST_TIMEOUT
    assert federation.taskState(task)[1] == 1


def test_only_the_aggregator_opens_rounds(federation, task, clients):
    with reverts("NotAggregator", clients[0]):
        federation.openRound(task, {"from": clients[0]})


def test_open_round_waits_for_the_previous_round(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    with reverts("WrongPhase", COMMIT, FINALIZED):
        federation.openRound(task, {"from": aggregator})
    commit_all(federation, task, 1, clients)
    post_results(federation, task, 1, aggregator, [(c, 0, 0, STAKE) for c in clients])
    with reverts("WrongPhase", POSTED, FINALIZED):
        federation.openRound(task, {"from": aggregator})


def test_open_round_builds_on_the_last_finalized_model(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    post_results(federation, task, 1, aggregator, [(c, 0, 0, STAKE) for c in clients])
    chain.sleep(100)
    federation.finalizeRound(task, 1, {"from": clients[0]})
    tx = federation.openRound(task, {"from": aggregator})
    assert tx.return_value == 2
    assert (
        tx.events["RoundOpened"]["parentModelHash"] == "0x" + keccak(text=f"model-{task}-1").hex()
    )


def test_open_round_stops_after_the_last_round(federation, escrow, aggregator, sponsor, clients):
    federation.createTask(make_params(aggregator, numRounds=1), {"from": sponsor})
    open_round(federation, 1, aggregator)
    chain.sleep(COMMIT_WINDOW + POST_TIMEOUT + 1)
    federation.abortRound(1, 1, {"from": clients[0]})
    with reverts("NoRoundsLeft", 1):
        federation.openRound(1, {"from": aggregator})


def test_open_round_rejects_a_cancelled_task(federation, task, aggregator, sponsor):
    federation.cancelTask(task, {"from": sponsor})
    with reverts("WrongStatus", CANCELLED, ACTIVE):
        federation.openRound(task, {"from": aggregator})


# ----------------------------------------------------------------------------------- commit


def test_commit_records_the_update_and_locks_the_stake(
    federation, vault, task, aggregator, clients
):
    alice = clients[0]
    open_round(federation, task, aggregator)
    tx = federation.commit(task, 1, UPDATE, 3 * WAD, {"from": alice})
    event = tx.events["UpdateCommitted"]
    assert (event["taskId"], event["round"], event["client"]) == (task, 1, alice)
    assert event["updateHash"] == "0x" + UPDATE.hex()
    assert event["stake"] == 3 * WAD
    assert tuple(federation.commitmentOf(task, 1, alice)) == (
        "0x" + UPDATE.hex(),
        3 * WAD,
        False,
        False,
    )
    info = round_info(federation, task, 1)
    assert (info[6], info[7]) == (3 * WAD, 1)
    assert vault.stakeOf(alice)[1] == 3 * WAD
    federation.commit(task, 1, UPDATE, 2 * WAD, {"from": clients[1]})
    assert round_info(federation, task, 1)[6:8] == (5 * WAD, 2)


def test_commit_by_non_participants_reverts(
    federation, task, aggregator, outsider, sponsor, clients
):
    open_round(federation, task, aggregator)
    with reverts("NotParticipant", outsider):
        federation.commit(task, 1, UPDATE, WAD, {"from": outsider})
    federation.createTask(make_params(aggregator), {"from": sponsor})  # nobody joined task 2
    federation.openRound(2, {"from": aggregator})
    with reverts("NotParticipant", clients[0]):
        federation.commit(2, 1, UPDATE, WAD, {"from": clients[0]})


def test_commit_outside_the_commit_phase_reverts(federation, task, aggregator, clients):
    alice = clients[0]
    with reverts("WrongPhase", NONE, COMMIT):
        federation.commit(task, 1, UPDATE, WAD, {"from": alice})
    open_round(federation, task, aggregator)
    with reverts("WrongPhase", NONE, COMMIT):
        federation.commit(task, 2, UPDATE, WAD, {"from": alice})
    commit_all(federation, task, 1, clients)
    post_results(federation, task, 1, aggregator, [(c, 0, 0, STAKE) for c in clients])
    with reverts("WrongPhase", POSTED, COMMIT):
        federation.commit(task, 1, UPDATE, WAD, {"from": alice})


def test_late_commit_reverts(federation, task, aggregator, clients):
    tx = federation.openRound(task, {"from": aggregator})
    deadline = tx.timestamp + COMMIT_WINDOW
    chain.sleep(COMMIT_WINDOW + 1)
    with reverts("CommitClosed", deadline):
        federation.commit(task, 1, UPDATE, WAD, {"from": clients[0]})


def test_double_commit_reverts(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    federation.commit(task, 1, UPDATE, WAD, {"from": clients[0]})
    with reverts("AlreadyCommitted", clients[0]):
        federation.commit(task, 1, keccak(text="other"), WAD, {"from": clients[0]})


def test_commit_rejects_an_empty_hash_and_a_low_or_unbacked_stake(
    federation, vault, task, aggregator, clients
):
    alice = clients[0]
    open_round(federation, task, aggregator)
    with reverts("EmptyHash"):
        federation.commit(task, 1, b"\x00" * 32, WAD, {"from": alice})
    with reverts("StakeTooLow", WAD - 1, WAD):
        federation.commit(task, 1, UPDATE, WAD - 1, {"from": alice})
    with reverts("InsufficientFreeStake", 100 * WAD, 101 * WAD):
        federation.commit(task, 1, UPDATE, 101 * WAD, {"from": alice})
    vault.requestWithdrawal(95 * WAD, {"from": alice})  # pending stake cannot back a commit
    with reverts("InsufficientFreeStake", 5 * WAD, 6 * WAD):
        federation.commit(task, 1, UPDATE, 6 * WAD, {"from": alice})


# ------------------------------------------------------------------------------------- post


def test_post_after_the_commit_window_reserves_the_budget(
    federation, escrow, task, aggregator, clients
):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients[:2])
    chain.sleep(COMMIT_WINDOW + 1)
    entries = [(clients[0], WAD // 50, 6 * WAD, STAKE), (clients[1], -WAD // 50, 4 * WAD, STAKE)]
    results = post_results(federation, task, 1, aggregator, entries)
    assert results.total_payout == STAKE * (WAD // 50) // WAD > 0
    info = round_info(federation, task, 1)
    assert info[0] == POSTED
    assert info[2] == "0x" + keccak(text=f"model-{task}-1").hex()
    assert info[3] == "0x" + results.root.hex()
    assert info[8:] == (10 * WAD, results.total_payout)
    reserved = 10 * WAD + results.total_payout
    assert tuple(escrow.budgetOf(task)) == (100 * WAD - reserved, reserved)


def test_post_event_and_challenge_deadline(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)  # everyone committed: no need to wait
    tx = federation.postRound(task, 1, MODEL, ROOT, 5 * WAD, 0, {"from": aggregator})
    event = tx.events["RoundPosted"]
    assert (event["taskId"], event["round"], event["totalReward"], event["totalPayout"]) == (
        task,
        1,
        5 * WAD,
        0,
    )
    assert event["modelHash"] == "0x" + MODEL.hex()
    assert event["resultsRoot"] == "0x" + ROOT.hex()
    assert round_info(federation, task, 1)[5] == tx.timestamp + 50


def test_only_the_aggregator_posts(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    with reverts("NotAggregator", clients[0]):
        federation.postRound(task, 1, MODEL, ROOT, 0, 0, {"from": clients[0]})


def test_post_outside_the_commit_phase_reverts(federation, task, aggregator, clients):
    with reverts("WrongPhase", NONE, COMMIT):
        federation.postRound(task, 1, MODEL, ROOT, 0, 0, {"from": aggregator})
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    federation.postRound(task, 1, MODEL, ROOT, 0, 0, {"from": aggregator})
    with reverts("WrongPhase", POSTED, COMMIT):
        federation.postRound(task, 1, MODEL, ROOT, 0, 0, {"from": aggregator})


def test_post_rejects_an_empty_model_hash(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)
    with reverts("EmptyHash"):
        federation.postRound(task, 1, b"\x00" * 32, ROOT, 0, 0, {"from": aggregator})


def test_post_waits_for_the_window_while_commits_are_missing(federation, task, aggregator, clients):
    tx = federation.openRound(task, {"from": aggregator})
    commit_all(federation, task, 1, clients[:3])
    with reverts("CommitWindowOpen", tx.timestamp + COMMIT_WINDOW):
        federation.postRound(task, 1, MODEL, ROOT, 0, 0, {"from": aggregator})


def test_post_after_the_timeout_reverts(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    deadline = federation.postDeadlineOf(task, 1)
    chain.sleep(COMMIT_WINDOW + POST_TIMEOUT + 1)
    with reverts("PostTimedOut", deadline):
        federation.postRound(task, 1, MODEL, ROOT, 0, 0, {"from": aggregator})


def test_post_rejects_totals_above_the_limits(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    commit_all(federation, task, 1, clients)  # 4 x 10 at risk, cap 5 %: at most 2 paid out
    with reverts("RewardTooHigh", 10 * WAD + 1, 10 * WAD):
        federation.postRound(task, 1, MODEL, ROOT, 10 * WAD + 1, 0, {"from": aggregator})
    with reverts("PayoutTooHigh", 2 * WAD + 1, 2 * WAD):
        federation.postRound(task, 1, MODEL, ROOT, 0, 2 * WAD + 1, {"from": aggregator})


def test_post_needs_the_budget(federation, escrow, aggregator, sponsor, clients):
    federation.createTask(make_params(aggregator), {"from": sponsor})
    escrow.fund(1, 3 * WAD, {"from": sponsor})
    federation.joinTask(1, {"from": clients[0]})
    open_round(federation, 1, aggregator)
    commit_all(federation, 1, 1, clients[:1])
    with reverts("InsufficientBudget", 3 * WAD, 4 * WAD):
        federation.postRound(1, 1, MODEL, ROOT, 4 * WAD, 0, {"from": aggregator})


def test_an_empty_round_can_be_posted(federation, aggregator, sponsor):
    federation.createTask(make_params(aggregator), {"from": sponsor})
    open_round(federation, 1, aggregator)  # no participants: everyone (nobody) committed
    federation.postRound(1, 1, MODEL, b"\x00" * 32, 0, 0, {"from": aggregator})
    assert round_info(federation, 1, 1)[0] == POSTED


# --------------------------------------------------------------------------- payout formula


@pytest.mark.parametrize(
    "stake, score, total, threshold, cap, expected",
    [
        (100 * WAD, WAD // 100, 50 * WAD, THRESHOLD, CAP, WAD),  # 1 % of the stake
        (100 * WAD, -WAD // 100, 50 * WAD, THRESHOLD, CAP, -WAD),
        (100 * WAD, WAD, 50 * WAD, THRESHOLD, CAP, 5 * WAD),  # clipped up
        (100 * WAD, -WAD, 50 * WAD, THRESHOLD, CAP, -5 * WAD),  # clipped down
        (100 * WAD, WAD // 100, 400 * WAD, THRESHOLD, CAP, WAD // 4),  # factor 1/4
        (7, -WAD // 2, 0, 1, WAD, -3),  # -3.5 truncates toward zero
        (7, WAD // 2, 0, 1, WAD, 3),
        (WAD, -1, 3 * WAD, 2 * WAD, WAD, 0),  # raw -2/3 wei truncates to 0
        (WAD, 0, 0, 1, CAP, 0),
    ],
)
def test_stake_payout_cases(federation, stake, score, total, threshold, cap, expected):
    assert stake_payout(stake, score, total, threshold, cap) == expected
    assert federation.stakePayout(stake, score, total, threshold, cap) == expected


# stakePayout is pure: the examples need no chain snapshots, so plain hypothesis drives them
# (Brownie's `given` would snapshot and revert the chain around every example).
PURE = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PURE
@given(
    stake=st.integers(0, 10**30),
    score=st.one_of(st.integers(-(10**20), 10**20), st.integers(-(10**16), 10**16)),
    total=st.integers(0, 10**32),
    threshold=st.integers(1, 10**32),
    cap=st.one_of(st.integers(0, WAD), st.just(CAP)),
)
def test_stake_payout_matches_the_python_mirror(federation, stake, score, total, threshold, cap):
    expected = stake_payout(stake, score, total, threshold, cap)
    assert federation.stakePayout(stake, score, total, threshold, cap) == expected
    assert abs(expected) <= stake * cap // WAD


@PURE
@given(
    stake=st.integers(0, 2**200),
    score=st.integers(-(2**255), 2**255 - 1),
    total=st.integers(0, 2**256 - 1),
    threshold=st.integers(1, 2**256 - 1),
)
def test_stake_payout_never_overflows(federation, stake, score, total, threshold):
    payout = federation.stakePayout(stake, score, total, threshold, CAP)
    assert payout == stake_payout(stake, score, total, threshold, CAP)


def test_result_leaf_is_the_standard_merkle_tree_leaf(federation, clients):
    expected = leaf_hash(3, 2, str(clients[0]), -5, 7)
    assert federation.resultLeaf(3, 2, clients[0], -5, 7) == "0x" + expected.hex()
