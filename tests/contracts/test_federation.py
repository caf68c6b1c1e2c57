"""Federation: construction and the governor, tasks and their parameters, seats (join bonds,
allowlists, leaving, idle removal), the aggregator bond, opening rounds, views and the pure math.

Commit-reveal, posts, challenges, aborts, settlements and claims: test_federation_rounds.py.
Shortfalls, griefing and the ends of a task: test_federation_lifecycle.py.
"""

import pytest
from brownie import Federation, StakeVault, TestBaseToken, accounts, chain
from brownie.exceptions import VirtualMachineError
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.core import given  # the unwrapped `given`: these examples need no isolation

from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import (
    AGGREGATOR_BOND,
    CAP,
    CHALLENGE_BOND,
    CHALLENGE_WINDOW,
    CLAIM_WINDOW,
    COMMIT_WINDOW,
    JOIN_BOND,
    MAX,
    POST_TIMEOUT,
    REVEAL_WINDOW,
    STAKE,
    THRESHOLD,
    WAD,
    commit,
    commit_all,
    commit_reveal_all,
    finalized_round,
    make_params,
    new_task,
    open_round,
    post_results,
    reveal,
)
from tests.contracts.fed_math import commitment_hash, leaf_hash, stake_payout
from tests.contracts.helpers import reverts

ZERO = "0x0000000000000000000000000000000000000000"
ZERO_HASH = "0x" + "00" * 32
NONE, COMMIT, REVEAL, POSTED, CHALLENGED, FINALIZED, ABORTED = range(7)
NO_TASK, ACTIVE, COMPLETED, CANCELLED, CLOSED = range(5)
MAX_AT_RISK = 2**128 - 1  # type(uint128).max: every commitment's stake fits its field
METADATA = "file:///tasks/digits.yaml"
# Federation.Param, in enum order: InvalidParams carries the index.
PARAM = {
    name: index
    for index, name in enumerate(
        [
            "aggregator",
            "numRounds",
            "maxClients",
            "minClients",
            "commitWindow",
            "revealWindow",
            "postTimeout",
            "arbiterTimeout",
            "claimWindow",
            "payoutCap",
            "griefCap",
            "mode",
            "payoutThreshold",
            "stakeMin",
        ]
    )
}
SCORES = [WAD // 50, WAD // 100, 0, -WAD // 10]
REWARDS = [4 * WAD, 3 * WAD, 2 * WAD, WAD]


def hx(value: bytes) -> str:
    return "0x" + value.hex()


def locked(vault, account) -> int:
    return vault.stakeOf(account)[1]


def unfunded_task(federation, aggregator, sponsor, **overrides) -> int:
    """A task nobody joined, with the aggregator bonded."""
    task_id = new_task(federation, aggregator, sponsor, **overrides)
    federation.bondAggregator(task_id, AGGREGATOR_BOND, {"from": aggregator})
    return task_id


def aborted_round(federation, task_id, aggregator, committers):
    """Open a round; ``committers`` commit (nobody reveals); abort it once nothing was posted."""
    round_ = open_round(federation, task_id, aggregator)
    for account in committers:
        commit(federation, task_id, round_, account)
    chain.sleep(COMMIT_WINDOW + REVEAL_WINDOW + POST_TIMEOUT + 1)
    federation.abortRound(task_id, round_, {"from": aggregator})
    return round_


# ------------------------------------------------------------------------------ construction


def test_constructor_wires_the_suite(federation, registry, vault, escrow, base, governor, arbiter):
    assert federation.registry() == registry
    assert federation.vault() == vault
    assert federation.escrow() == escrow
    assert federation.base() == base
    assert federation.governor() == governor
    assert federation.arbiter() == arbiter
    assert federation.taskCount() == 0
    assert federation.totalHeld() == 0
    assert federation.WAD() == WAD
    assert federation.MAX_AT_RISK() == MAX_AT_RISK
    assert federation.MAX_AT_RISK() < 2**128  # Commitment.stake is a uint128
    assert federation.CHALLENGER_SHARE() == WAD // 2


def test_constructor_names_the_first_arbiter(registry, vault, escrow, admin, governor, arbiter):
    contract = Federation.deploy(registry, vault, escrow, governor, arbiter, {"from": admin})
    event = contract.tx.events["ArbiterChanged"]
    assert (event["previous"], event["arbiter"]) == (ZERO, arbiter)


@pytest.mark.parametrize("zero_at", range(5))
def test_constructor_rejects_zero_addresses(
    registry, vault, escrow, admin, governor, arbiter, zero_at
):
    args = [registry, vault, escrow, governor, arbiter]
    args[zero_at] = ZERO
    with reverts("ZeroAddress"):
        Federation.deploy(*args, {"from": admin})


def test_constructor_rejects_a_vault_of_another_token(registry, escrow, admin, governor, arbiter):
    other = TestBaseToken.deploy({"from": admin})
    foreign_vault = StakeVault.deploy(other, 100, {"from": admin})
    with reverts("BaseMismatch"):
        Federation.deploy(registry, foreign_vault, escrow, governor, arbiter, {"from": admin})


def test_only_the_governor_names_the_arbiter(federation, governor, arbiter, admin, outsider):
    for intruder in (arbiter, admin, outsider):
        with reverts("NotGovernor", intruder):
            federation.setArbiter(outsider, {"from": intruder})
    with reverts("ZeroAddress"):
        federation.setArbiter(ZERO, {"from": governor})
    tx = federation.setArbiter(outsider, {"from": governor})
    event = tx.events["ArbiterChanged"]
    assert (event["previous"], event["arbiter"]) == (arbiter, outsider)
    assert federation.arbiter() == outsider


# ------------------------------------------------------------------------------------ tasks


def test_create_task_stores_params_and_numbers_tasks_from_one(federation, aggregator, sponsor):
    params = make_params(aggregator, configHash=keccak(text="the config"))
    tx = federation.createTask(params, METADATA, {"from": sponsor})
    assert tx.return_value == 1
    event = tx.events["TaskCreated"]
    assert (event["taskId"], event["sponsor"], event["aggregator"]) == (1, sponsor, aggregator)
    assert event["configHash"] == hx(keccak(text="the config"))
    assert event["metadataURI"] == METADATA
    stored = federation.taskParams(1)
    assert [str(v) for v in stored] == [hx(v) if isinstance(v, bytes) else str(v) for v in params]
    assert stored["aggregator"] == aggregator
    assert tuple(federation.taskState(1)) == (sponsor, ACTIVE, 0, 0, 0, hx(params[3]), 0)
    assert federation.taskCount() == 1
    assert federation.createTask(params, "", {"from": sponsor}).return_value == 2
    assert federation.taskCount() == 2


@pytest.mark.parametrize(
    "field, overrides",
    [
        ("aggregator", {"aggregator": ZERO}),
        ("numRounds", {"numRounds": 0}),
        ("maxClients", {"maxClients": 0, "minClients": 0}),
        ("minClients", {"minClients": 5, "maxClients": 4}),
        ("commitWindow", {"commitWindow": 0}),
        ("revealWindow", {"revealWindow": 0}),
        ("postTimeout", {"postTimeout": 0}),
        ("arbiterTimeout", {"arbiterTimeout": 0}),
        ("claimWindow", {"claimWindow": 0}),
        ("payoutCap", {"payoutCap": WAD + 1}),
        ("griefCap", {"griefCap": WAD + 1}),
        ("mode", {"mode": 3}),
        ("payoutThreshold", {"payoutThreshold": 0}),
        ("stakeMin", {"stakeMin": MAX_AT_RISK + 1}),
    ],
)
def test_create_task_rejects_each_invalid_param(federation, aggregator, sponsor, field, overrides):
    with reverts("InvalidParams", PARAM[field]):
        federation.createTask(make_params(aggregator, **overrides), METADATA, {"from": sponsor})
    assert federation.taskCount() == 0


def test_create_task_reports_the_first_invalid_field(federation, aggregator, sponsor):
    params = make_params(aggregator, numRounds=0, mode=7, payoutThreshold=0)
    with reverts("InvalidParams", PARAM["numRounds"]):
        federation.createTask(params, METADATA, {"from": sponsor})


def test_create_task_accepts_the_edges(federation, aggregator, sponsor):
    params = make_params(
        aggregator,
        payoutCap=WAD,
        griefCap=WAD,
        mode=2,
        challengeWindow=0,
        commitWindow=1,
        revealWindow=1,
        postTimeout=1,
        arbiterTimeout=1,
        claimWindow=1,
        minClients=4,
        maxClients=4,
        payoutThreshold=1,
        stakeMin=MAX_AT_RISK,
        joinBond=0,
        aggregatorBond=0,
        challengeBond=0,
    )
    assert federation.createTask(params, METADATA, {"from": sponsor}).return_value == 1
    stored = federation.taskParams(1)
    assert (stored["stakeMin"], stored["payoutCap"], stored["minClients"]) == (MAX_AT_RISK, WAD, 4)
    zero_min = make_params(aggregator, minClients=0)
    assert federation.createTask(zero_min, METADATA, {"from": sponsor}).return_value == 2


# ------------------------------------------------------------------------------------- seats


def test_join_locks_the_join_bond(federation, vault, aggregator, sponsor, clients):
    task_id = new_task(federation, aggregator, sponsor)
    alice = clients[0]
    assert tuple(vault.stakeOf(alice)) == (100 * WAD, 0, 0, 0)
    tx = federation.joinTask(task_id, {"from": alice})
    event = tx.events["ClientJoined"]
    assert (event["taskId"], event["client"], event["participants"], event["bond"]) == (
        task_id,
        alice,
        1,
        JOIN_BOND,
    )
    assert tx.events["StakeLocked"]["amount"] == JOIN_BOND
    assert tuple(vault.stakeOf(alice)) == (100 * WAD, JOIN_BOND, 0, 0)
    assert vault.freeStake(alice) == 100 * WAD - JOIN_BOND
    assert tuple(federation.seatOf(task_id, alice)) == (True, 0, JOIN_BOND)
    assert federation.taskState(task_id)["participants"] == 1
    federation.joinTask(task_id, {"from": clients[1]})
    assert federation.taskState(task_id)["participants"] == 2


def test_join_needs_free_stake_for_the_bond(federation, vault, aggregator, sponsor, clients):
    task_id = new_task(federation, aggregator, sponsor)
    alice = clients[0]
    vault.requestWithdrawal(97 * WAD, {"from": alice})  # pending stake cannot back a seat
    with reverts("InsufficientFreeStake", 3 * WAD, JOIN_BOND):
        federation.joinTask(task_id, {"from": alice})
    assert not federation.seatOf(task_id, alice)["active"]
    assert federation.taskState(task_id)["participants"] == 0
    free_seat = new_task(federation, aggregator, sponsor, joinBond=0)
    federation.joinTask(free_seat, {"from": alice})  # a task without a bond locks nothing
    assert tuple(federation.seatOf(free_seat, alice)) == (True, 0, 0)
    assert locked(vault, alice) == 0


def test_join_rejects_unregistered_callers(federation, aggregator, sponsor, outsider, arbiter):
    task_id = new_task(federation, aggregator, sponsor)
    for account in (outsider, arbiter):
        with reverts("NotRegistered", account):
            federation.joinTask(task_id, {"from": account})


def test_join_rejects_unknown_and_ended_tasks(federation, aggregator, sponsor, clients):
    with reverts("WrongStatus", NO_TASK, ACTIVE):
        federation.joinTask(5, {"from": clients[0]})
    task_id = new_task(federation, aggregator, sponsor)
    federation.cancelTask(task_id, {"from": sponsor})
    with reverts("WrongStatus", CANCELLED, ACTIVE):
        federation.joinTask(task_id, {"from": clients[0]})
    done = unfunded_task(federation, aggregator, sponsor, numRounds=1, minClients=0)
    open_round(federation, done, aggregator)
    chain.sleep(COMMIT_WINDOW + 1)
    federation.abortRound(done, 1, {"from": clients[0]})
    with reverts("WrongStatus", COMPLETED, ACTIVE):
        federation.joinTask(done, {"from": clients[0]})


def test_join_rejects_a_second_join_and_a_full_task(federation, aggregator, sponsor, clients):
    task_id = new_task(federation, aggregator, sponsor, maxClients=1, minClients=1)
    federation.joinTask(task_id, {"from": clients[0]})
    with reverts("AlreadyJoined", clients[0]):
        federation.joinTask(task_id, {"from": clients[0]})
    with reverts("TaskFull", 1):
        federation.joinTask(task_id, {"from": clients[1]})
    federation.leaveTask(task_id, {"from": clients[0]})  # a freed seat can be taken
    federation.joinTask(task_id, {"from": clients[1]})
    assert federation.seatOf(task_id, clients[1])["active"]


def test_allowlist_tasks_admit_only_allowed_clients(federation, aggregator, sponsor, clients):
    task_id = new_task(federation, aggregator, sponsor, allowlist=True)
    alice, bob, carol = clients[:3]
    with reverts("NotAllowed", alice):
        federation.joinTask(task_id, {"from": alice})
    for intruder in (alice, aggregator):
        with reverts("NotSponsor", intruder):
            federation.setAllowed(task_id, [alice], True, {"from": intruder})
    tx = federation.setAllowed(task_id, [alice, bob], True, {"from": sponsor})
    events = tx.events["AllowlistUpdated"]
    assert [(e["taskId"], e["client"], e["allowed"]) for e in events] == [
        (task_id, alice, True),
        (task_id, bob, True),
    ]
    assert federation.isAllowed(task_id, alice) and federation.isAllowed(task_id, bob)
    assert not federation.isAllowed(task_id, carol)
    federation.joinTask(task_id, {"from": alice})
    with reverts("NotAllowed", carol):
        federation.joinTask(task_id, {"from": carol})
    tx = federation.setAllowed(task_id, [alice], False, {"from": sponsor})
    assert tx.events["AllowlistUpdated"]["allowed"] is False
    assert not federation.isAllowed(task_id, alice)
    assert federation.seatOf(task_id, alice)["active"]  # a seated client keeps its seat
    federation.joinTask(task_id, {"from": bob})
    federation.leaveTask(task_id, {"from": alice})
    with reverts("NotAllowed", alice):  # but cannot come back
        federation.joinTask(task_id, {"from": alice})


def test_the_allowlist_is_per_task(federation, aggregator, sponsor, clients):
    listed = new_task(federation, aggregator, sponsor, allowlist=True)
    other = new_task(federation, aggregator, sponsor, allowlist=True)
    federation.setAllowed(listed, [clients[0]], True, {"from": sponsor})
    assert federation.isAllowed(listed, clients[0])
    assert not federation.isAllowed(other, clients[0])
    with reverts("NotAllowed", clients[0]):
        federation.joinTask(other, {"from": clients[0]})


def test_leave_returns_the_bond(federation, vault, task, clients, outsider):
    alice = clients[0]
    assert locked(vault, alice) == JOIN_BOND
    tx = federation.leaveTask(task, {"from": alice})
    event = tx.events["ClientLeft"]
    assert (event["taskId"], event["client"], event["participants"], event["removed"]) == (
        task,
        alice,
        3,
        False,
    )
    assert tx.events["StakeUnlocked"]["amount"] == JOIN_BOND
    assert tuple(vault.stakeOf(alice)) == (100 * WAD, 0, 0, 0)
    assert tuple(federation.seatOf(task, alice)) == (False, 0, 0)
    assert federation.taskState(task)["participants"] == 3
    with reverts("NotParticipant", alice):
        federation.leaveTask(task, {"from": alice})
    with reverts("NotParticipant", outsider):
        federation.leaveTask(task, {"from": outsider})
    federation.joinTask(task, {"from": alice})  # and may come back
    assert tuple(federation.seatOf(task, alice)) == (True, 0, JOIN_BOND)


def test_leave_works_after_the_task_ended(federation, vault, task, aggregator, sponsor, clients):
    open_round(federation, task, aggregator)
    federation.cancelTask(task, {"from": sponsor})
    federation.leaveTask(task, {"from": clients[0]})
    assert locked(vault, clients[0]) == 0


def test_leaving_mid_round_keeps_the_commitment_settleable(
    federation, vault, base, task, aggregator, clients
):
    alice = clients[0]
    round_ = open_round(federation, task, aggregator)
    commit_all(federation, task, round_, clients)
    with reverts("StillActive", alice):  # a committer keeps its seat while commits are open
        federation.leaveTask(task, {"from": alice})
    for account in clients:
        reveal(federation, task, round_, account)
    federation.leaveTask(task, {"from": alice})  # the seat's bond comes back, the stake stays
    assert locked(vault, alice) == STAKE
    entries = [(c, s, r, STAKE) for c, s, r in zip(clients, SCORES, REWARDS, strict=True)]
    results = post_results(federation, task, round_, aggregator, entries)
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task, round_, {"from": alice})
    before = base.balanceOf(alice)
    federation.claimReward(task, round_, *results.claim_args(alice), 0, 0, {"from": alice})
    assert base.balanceOf(alice) == before + 4 * WAD + results.payout(alice)
    assert locked(vault, alice) == 0


def test_remove_idle_needs_an_ended_round(federation, task, aggregator, clients, outsider):
    with reverts("StillActive", clients[3]):  # no round yet
        federation.removeIdle(task, clients[3], {"from": outsider})
    round_ = open_round(federation, task, aggregator)
    with reverts("StillActive", clients[3]):  # round 1 in flight: no round has ended
        federation.removeIdle(task, clients[3], {"from": outsider})
    commit(federation, task, round_, clients[0])
    with reverts("StillActive", clients[3]):
        federation.removeIdle(task, clients[3], {"from": outsider})
    assert federation.seatOf(task, clients[3])["active"]


def test_remove_idle_frees_the_seat_of_a_client_that_missed_a_round(
    federation, vault, task, aggregator, clients, outsider
):
    alice, bob = clients[:2]
    aborted_round(federation, task, aggregator, [alice])
    with reverts("StillActive", alice):  # committed to the round
        federation.removeIdle(task, alice, {"from": outsider})
    with reverts("NotParticipant", outsider):
        federation.removeIdle(task, outsider, {"from": outsider})
    tx = federation.removeIdle(task, bob, {"from": outsider})  # anyone may remove
    event = tx.events["ClientLeft"]
    assert (event["taskId"], event["client"], event["participants"], event["removed"]) == (
        task,
        bob,
        3,
        True,
    )
    assert tuple(federation.seatOf(task, bob)) == (False, 0, 0)
    assert tuple(vault.stakeOf(bob)) == (100 * WAD, 0, 0, 0)  # the bond came back
    with reverts("NotParticipant", bob):
        federation.removeIdle(task, bob, {"from": outsider})


def test_remove_idle_spares_late_joiners_until_a_round_they_were_seated_for(
    federation, aggregator, sponsor, clients, outsider
):
    task_id = unfunded_task(federation, aggregator, sponsor)
    for account in clients[:3]:
        federation.joinTask(task_id, {"from": account})
    late = clients[3]
    round_ = open_round(federation, task_id, aggregator)
    federation.joinTask(task_id, {"from": late})  # joined after round 1 opened
    assert federation.seatOf(task_id, late)["joinedAfterRound"] == 1
    commit(federation, task_id, round_, clients[0])
    chain.sleep(COMMIT_WINDOW + REVEAL_WINDOW + POST_TIMEOUT + 1)
    federation.abortRound(task_id, round_, {"from": outsider})
    with reverts("StillActive", late):
        federation.removeIdle(task_id, late, {"from": outsider})
    federation.removeIdle(task_id, clients[1], {"from": outsider})  # seated for round 1
    open_round(federation, task_id, aggregator)  # round 2 in flight: round 1 is the last ended
    with reverts("StillActive", late):
        federation.removeIdle(task_id, late, {"from": outsider})
    chain.sleep(COMMIT_WINDOW + 1)
    federation.abortRound(task_id, 2, {"from": outsider})  # empty round 2: late missed it
    tx = federation.removeIdle(task_id, late, {"from": outsider})
    assert tx.events["ClientLeft"]["removed"] is True


def test_remove_idle_uses_the_last_ended_round_while_one_is_in_flight(
    federation, task, aggregator, clients, outsider
):
    alice, bob, carol, dave = clients
    aborted_round(federation, task, aggregator, [alice, bob])
    round_ = open_round(federation, task, aggregator)
    commit(federation, task, round_, alice)
    commit(federation, task, round_, dave)  # dave missed round 1 but commits to the open round
    with reverts("StillActive", alice):  # committed to round 1
        federation.removeIdle(task, alice, {"from": outsider})
    with reverts("StillActive", dave):  # its commitment to the open round keeps its seat
        federation.removeIdle(task, dave, {"from": outsider})
    federation.removeIdle(task, carol, {"from": outsider})  # missed round 1, nothing since
    assert not federation.seatOf(task, carol)["active"]
    assert federation.seatOf(task, dave)["active"]


def test_removing_idle_seats_lets_reveals_open_early(
    federation, task, aggregator, clients, outsider
):
    alice, bob, carol, dave = clients
    aborted_round(federation, task, aggregator, [alice, bob])
    round_ = open_round(federation, task, aggregator)
    deadline = federation.roundState(task, round_)["commitDeadline"]
    commit(federation, task, round_, alice)
    commit(federation, task, round_, bob)
    with reverts("CommitWindowOpen", deadline):  # carol and dave hold their seats
        reveal(federation, task, round_, alice)
    federation.removeIdle(task, carol, {"from": outsider})
    with reverts("CommitWindowOpen", deadline):
        reveal(federation, task, round_, alice)
    federation.removeIdle(task, dave, {"from": outsider})
    tx = reveal(federation, task, round_, alice)
    assert tx.events["RevealOpened"]["revealDeadline"] == tx.timestamp + REVEAL_WINDOW
    assert federation.roundState(task, round_)["phase"] == REVEAL


# --------------------------------------------------------------------------- aggregator bond


def test_anyone_bonds_the_aggregator(federation, base, aggregator, sponsor, outsider):
    task_id = new_task(federation, aggregator, sponsor)
    before = base.balanceOf(outsider)
    tx = federation.bondAggregator(task_id, 10 * WAD, {"from": outsider})
    event = tx.events["AggregatorBonded"]
    assert (event["taskId"], event["payer"], event["amount"], event["bond"]) == (
        task_id,
        outsider,
        10 * WAD,
        10 * WAD,
    )
    assert base.balanceOf(outsider) == before - 10 * WAD
    tx = federation.bondAggregator(task_id, 40 * WAD, {"from": aggregator})
    assert tx.events["AggregatorBonded"]["bond"] == 50 * WAD
    assert federation.taskState(task_id)["bond"] == 50 * WAD
    assert federation.totalHeld() == base.balanceOf(federation) == 50 * WAD


def test_bond_credits_what_arrived(federation, base, aggregator, sponsor):
    task_id = new_task(federation, aggregator, sponsor)
    base.setTransferFee(100, {"from": aggregator})  # 1 % lost on every transfer
    tx = federation.bondAggregator(task_id, 10 * WAD, {"from": aggregator})
    base.setTransferFee(0, {"from": aggregator})
    assert tx.events["AggregatorBonded"]["amount"] == 99 * WAD // 10
    assert federation.taskState(task_id)["bond"] == 99 * WAD // 10
    assert federation.totalHeld() == base.balanceOf(federation) == 99 * WAD // 10


def test_bond_rejects_zero_and_inactive_tasks(federation, aggregator, sponsor):
    task_id = new_task(federation, aggregator, sponsor)
    with reverts("ZeroAmount"):
        federation.bondAggregator(task_id, 0, {"from": aggregator})
    with reverts("WrongStatus", NO_TASK, ACTIVE):
        federation.bondAggregator(task_id + 1, WAD, {"from": aggregator})
    federation.cancelTask(task_id, {"from": sponsor})
    with reverts("WrongStatus", CANCELLED, ACTIVE):
        federation.bondAggregator(task_id, WAD, {"from": aggregator})


def test_open_round_needs_the_full_bond(federation, aggregator, sponsor, clients):
    task_id = new_task(federation, aggregator, sponsor)
    federation.joinTask(task_id, {"from": clients[0]})
    with reverts("BondTooLow", 0, AGGREGATOR_BOND):
        federation.openRound(task_id, {"from": aggregator})
    federation.bondAggregator(task_id, AGGREGATOR_BOND - 1, {"from": aggregator})
    with reverts("BondTooLow", AGGREGATOR_BOND - 1, AGGREGATOR_BOND):
        federation.openRound(task_id, {"from": aggregator})
    federation.bondAggregator(task_id, 1, {"from": aggregator})
    assert open_round(federation, task_id, aggregator) == 1


def test_only_the_aggregator_withdraws_its_bond(
    federation, base, task, aggregator, sponsor, outsider
):
    for intruder in (outsider, sponsor):
        with reverts("NotAggregator", intruder):
            federation.withdrawAggregatorBond(task, {"from": intruder})
    before = base.balanceOf(aggregator)
    tx = federation.withdrawAggregatorBond(task, {"from": aggregator})  # no round yet
    assert tx.return_value == AGGREGATOR_BOND
    event = tx.events["AggregatorBondWithdrawn"]
    assert (event["taskId"], event["to"], event["amount"]) == (task, aggregator, AGGREGATOR_BOND)
    assert base.balanceOf(aggregator) == before + AGGREGATOR_BOND
    assert federation.taskState(task)["bond"] == 0
    assert federation.totalHeld() == 0
    with reverts("ZeroAmount"):
        federation.withdrawAggregatorBond(task, {"from": aggregator})
    with reverts("BondTooLow", 0, AGGREGATOR_BOND):  # no bond, no round
        federation.openRound(task, {"from": aggregator})


def test_the_bond_stays_while_a_round_is_in_flight(
    federation, task, aggregator, arbiter, clients, outsider
):
    round_ = open_round(federation, task, aggregator)
    with reverts("WrongPhase", COMMIT, FINALIZED):
        federation.withdrawAggregatorBond(task, {"from": aggregator})
    commit_all(federation, task, round_, clients)
    reveal(federation, task, round_, clients[0])
    with reverts("WrongPhase", REVEAL, FINALIZED):
        federation.withdrawAggregatorBond(task, {"from": aggregator})
    for account in clients[1:]:
        reveal(federation, task, round_, account)
    post_results(federation, task, round_, aggregator, [(c, 0, 0, STAKE) for c in clients])
    with reverts("WrongPhase", POSTED, FINALIZED):
        federation.withdrawAggregatorBond(task, {"from": aggregator})
    federation.challenge(task, round_, keccak(text="why"), {"from": outsider})
    with reverts("WrongPhase", CHALLENGED, FINALIZED):
        federation.withdrawAggregatorBond(task, {"from": aggregator})
    federation.dismissChallenge(task, round_, {"from": arbiter})
    assert federation.taskState(task)["bond"] == AGGREGATOR_BOND


def test_the_bond_stays_until_the_claim_window_of_the_last_finalized_round(
    federation, base, task, aggregator, clients
):
    finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    ended = federation.roundState(task, 1)["endedAt"]
    assert federation.taskState(task)["bondLockedUntil"] == ended + CLAIM_WINDOW
    with reverts("BondLocked", ended + CLAIM_WINDOW):
        federation.withdrawAggregatorBond(task, {"from": aggregator})
    aborted_round(federation, task, aggregator, [])  # an aborted round does not extend it
    assert federation.taskState(task)["bondLockedUntil"] == ended + CLAIM_WINDOW
    with reverts("BondLocked", ended + CLAIM_WINDOW):
        federation.withdrawAggregatorBond(task, {"from": aggregator})
    chain.sleep(CLAIM_WINDOW + 1)
    before = base.balanceOf(aggregator)
    federation.withdrawAggregatorBond(task, {"from": aggregator})
    assert base.balanceOf(aggregator) == before + AGGREGATOR_BOND
    assert federation.taskState(task)["bond"] == 0


def test_the_bond_is_free_after_an_aborted_round(federation, task, aggregator, clients):
    aborted_round(federation, task, aggregator, clients[:1])
    tx = federation.withdrawAggregatorBond(task, {"from": aggregator})
    assert tx.events["AggregatorBondWithdrawn"]["amount"] == AGGREGATOR_BOND


# ------------------------------------------------------------------------------- open round


def test_open_round_starts_the_commit_phase_on_the_initial_model(federation, task, aggregator):
    tx = federation.openRound(task, {"from": aggregator})
    initial = federation.taskParams(task)["initialModelHash"]
    deadline = tx.timestamp + COMMIT_WINDOW
    assert tx.return_value == 1
    event = tx.events["RoundOpened"]
    assert (event["taskId"], event["round"], event["commitDeadline"]) == (task, 1, deadline)
    assert event["parentModelHash"] == initial
    state = federation.roundState(task, 1)
    assert (state["phase"], state["commitDeadline"], state["parentModelHash"]) == (
        COMMIT,
        deadline,
        initial,
    )
    assert (state["commits"], state["reveals"], state["revealDeadline"], state["totalAtRisk"]) == (
        0,
        0,
        0,
        0,
    )
    assert state["modelHash"] == state["resultsRoot"] == ZERO_HASH
    assert federation.taskState(task)["currentRound"] == 1


def _extra_clients(registry, base, vault, count):
    """Register ``count`` more clients (accounts 11 on), each with 10 base staked."""
    extra = list(accounts[11 : 11 + count])
    for index, account in enumerate(extra):
        registry.register(f"Extra {index}", f"X{index}", {"from": account})
        base.mint(account, 10 * WAD, {"from": account})
        base.approve(vault, MAX, {"from": account})
        vault.deposit(10 * WAD, {"from": account})
    return extra


def test_the_first_round_waits_for_min_clients(
    federation, registry, base, vault, aggregator, sponsor, clients, outsider
):
    """The bug this guards: an 8-client task ran every round with one client, because the first
    round opened before the other seven joined."""
    everyone = clients + _extra_clients(registry, base, vault, 4)
    task_id = unfunded_task(federation, aggregator, sponsor, minClients=8, maxClients=8)
    with reverts("NotEnoughClients", 0, 8):
        federation.openRound(task_id, {"from": aggregator})
    for account in everyone[:7]:
        federation.joinTask(task_id, {"from": account})
    with reverts("NotEnoughClients", 7, 8):
        federation.openRound(task_id, {"from": aggregator})
    federation.joinTask(task_id, {"from": everyone[7]})
    assert open_round(federation, task_id, aggregator) == 1
    chain.sleep(COMMIT_WINDOW + 1)
    federation.abortRound(task_id, 1, {"from": outsider})
    for account in everyone[:5]:  # later rounds do not need minClients
        federation.leaveTask(task_id, {"from": account})
    assert federation.taskState(task_id)["participants"] == 3
    assert open_round(federation, task_id, aggregator) == 2


def test_only_the_aggregator_opens_rounds(federation, task, sponsor, arbiter, clients):
    for intruder in (clients[0], sponsor, arbiter):
        with reverts("NotAggregator", intruder):
            federation.openRound(task, {"from": intruder})


def test_open_round_waits_for_the_previous_round(federation, task, aggregator, clients):
    open_round(federation, task, aggregator)
    with reverts("WrongPhase", COMMIT, FINALIZED):
        federation.openRound(task, {"from": aggregator})
    commit_reveal_all(federation, task, 1, clients)
    with reverts("WrongPhase", REVEAL, FINALIZED):
        federation.openRound(task, {"from": aggregator})
    post_results(federation, task, 1, aggregator, [(c, 0, 0, STAKE) for c in clients])
    with reverts("WrongPhase", POSTED, FINALIZED):
        federation.openRound(task, {"from": aggregator})
    chain.sleep(CHALLENGE_WINDOW + 1)
    federation.finalizeRound(task, 1, {"from": clients[0]})
    assert open_round(federation, task, aggregator) == 2


def test_open_round_builds_on_the_last_finalized_model(federation, task, aggregator, clients):
    finalized_round(federation, task, aggregator, clients, SCORES, REWARDS)
    model_1 = hx(keccak(text=f"model-{task}-1"))
    assert federation.taskState(task)["latestModelHash"] == model_1
    aborted_round(federation, task, aggregator, clients[:1])  # round 2 changes nothing
    tx = federation.openRound(task, {"from": aggregator})
    assert tx.return_value == 3
    assert tx.events["RoundOpened"]["parentModelHash"] == model_1
    assert federation.roundState(task, 3)["parentModelHash"] == model_1


def test_open_round_stops_after_the_last_round(federation, aggregator, sponsor, clients):
    task_id = unfunded_task(federation, aggregator, sponsor, numRounds=1)
    federation.joinTask(task_id, {"from": clients[0]})
    open_round(federation, task_id, aggregator)
    with reverts("NoRoundsLeft", 1):
        federation.openRound(task_id, {"from": aggregator})
    chain.sleep(COMMIT_WINDOW + 1)
    federation.abortRound(task_id, 1, {"from": clients[0]})
    with reverts("WrongStatus", COMPLETED, ACTIVE):  # the last round ended: task completed
        federation.openRound(task_id, {"from": aggregator})


def test_open_round_rejects_a_cancelled_task(federation, task, aggregator, sponsor):
    federation.cancelTask(task, {"from": sponsor})
    with reverts("WrongStatus", CANCELLED, ACTIVE):
        federation.openRound(task, {"from": aggregator})


# ------------------------------------------------------------------------------------- views


def test_views_of_unknown_tasks_and_rounds_are_empty(federation, outsider):
    assert tuple(federation.taskState(9)) == (ZERO, 0, 0, 0, 0, ZERO_HASH, 0)
    state = federation.roundState(9, 1)
    assert state["phase"] == NONE and state["challenger"] == ZERO
    assert state["totalAtRisk"] == state["commitDeadline"] == state["endedAt"] == 0
    assert tuple(federation.commitmentOf(9, 1, outsider)) == (ZERO_HASH, 0, 0, False, False, False)
    assert tuple(federation.seatOf(9, outsider)) == (False, 0, 0)
    assert not federation.isAllowed(9, outsider)
    params = federation.taskParams(9)
    assert params["aggregator"] == ZERO and params["numRounds"] == 0
    assert federation.credit(outsider) == 0


def test_views_name_their_fields(federation, task, aggregator, clients):
    tx = federation.openRound(task, {"from": aggregator})
    commit(federation, task, 1, clients[0], stake=3 * WAD)
    c = federation.commitmentOf(task, 1, clients[0])
    assert (c["stake"], c["griefed"], c["revealed"], c["settled"], c["claimed"]) == (
        3 * WAD,
        0,
        False,
        False,
        False,
    )
    state = federation.taskState(task)
    assert (state["currentRound"], state["participants"], state["bond"]) == (1, 4, AGGREGATOR_BOND)
    assert federation.roundState(task, 1)["commitDeadline"] == tx.timestamp + COMMIT_WINDOW
    seat = federation.seatOf(task, clients[0])
    assert (seat["active"], seat["joinedAfterRound"], seat["bond"]) == (True, 0, JOIN_BOND)
    assert federation.taskParams(task)["challengeBond"] == CHALLENGE_BOND


# -------------------------------------------------------------------------------- pure math


@pytest.mark.parametrize(
    "stake, score, total, threshold, cap, expected",
    [
        (100 * WAD, WAD // 100, 50 * WAD, THRESHOLD, CAP, WAD),  # 1 % of the stake
        (100 * WAD, -WAD // 100, 50 * WAD, THRESHOLD, CAP, -WAD),
        (100 * WAD, WAD, 50 * WAD, THRESHOLD, CAP, 5 * WAD),  # clipped up
        (100 * WAD, -WAD, 50 * WAD, THRESHOLD, CAP, -5 * WAD),  # clipped down
        (100 * WAD, WAD // 100, 400 * WAD, THRESHOLD, CAP, WAD // 4),  # factor 1/4
        (100 * WAD, WAD, 400 * WAD, THRESHOLD, CAP, 5 * WAD),  # factor 1/4, still clipped
        (7, -WAD // 2, 0, 1, WAD, -3),  # -3.5 truncates toward zero
        (7, WAD // 2, 0, 1, WAD, 3),
        (WAD, -1, 3 * WAD, 2 * WAD, WAD, 0),  # raw -2/3 wei truncates to 0
        (3, WAD, 3 * WAD, WAD, WAD, 1),  # 3 * 1/3 = 1 exactly: one rounding, not two
        (WAD, 0, 0, 1, CAP, 0),
        (MAX_AT_RISK, -(2**255), MAX_AT_RISK, 1, WAD, -MAX_AT_RISK),  # extremes: clipped, exact
    ],
)
def test_stake_payout_cases(federation, stake, score, total, threshold, cap, expected):
    assert stake_payout(stake, score, total, threshold, cap) == expected
    assert federation.stakePayout(stake, score, total, threshold, cap) == expected


# stakePayout is pure: the examples need no chain snapshots, so plain hypothesis drives them
# (Brownie's `given` would snapshot and revert the chain around every example).
PURE = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
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
    stake=st.integers(0, MAX_AT_RISK),
    score=st.integers(-(2**255), 2**255 - 1),
    total=st.integers(0, MAX_AT_RISK),
    threshold=st.integers(1, 2**256 - 1),
    cap=st.integers(0, WAD),
)
def test_stake_payout_is_exact_up_to_max_at_risk(federation, stake, score, total, threshold, cap):
    payout = federation.stakePayout(stake, score, total, threshold, cap)
    assert payout == stake_payout(stake, score, total, threshold, cap)


def test_stake_payout_reverts_where_a_product_overflows(federation):
    """Documented: beyond MAX_AT_RISK, `cap * totalAtRisk` may not fit 256 bits."""
    with pytest.raises(VirtualMachineError):
        federation.stakePayout(WAD, WAD, 2**255, 1, WAD)


def test_result_leaf_is_the_standard_merkle_tree_leaf(federation, clients):
    expected = leaf_hash(3, 2, str(clients[0]), -5, 7)
    assert federation.resultLeaf(3, 2, clients[0], -5, 7) == hx(expected)


@pytest.mark.parametrize("task_id, round_", [(1, 1), (7, 3), (2**64, 2**32)])
def test_commitment_hash_matches_the_mirror(federation, clients, task_id, round_):
    update, salt = keccak(text="update"), keccak(text="salt")
    expected = commitment_hash(task_id, round_, str(clients[1]), update, salt)
    assert federation.commitmentHash(task_id, round_, clients[1], update, salt) == hx(expected)
    other_client = federation.commitmentHash(task_id, round_, clients[2], update, salt)
    assert other_client != hx(expected)  # binds the committer
