"""RewardEscrow: binding to the Federation, task budgets (unreleased / owed) with measured funding,
stake payouts, rewards in the three modes (the buyback swap with its deadline), refunds.

``driven_escrow`` is bound to the ``fed`` account, which drives it directly, and ``admin`` funds
it; ``unbound`` is a fresh escrow nobody has bound yet (its deployer is ``admin``).
"""

import pytest
from brownie import ClientToken, MockRegistry, RewardEscrow, ShortPool, TestBaseToken, chain, web3

from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import CLIENT_SUPPLY, DIVIDEND_DURATION, FAR, MAX, WAD, seed_pool
from tests.contracts.helpers import reverts

ZERO = "0x0000000000000000000000000000000000000000"
TASK = 7
DIRECT, BUYBACK, DIVIDEND = 0, 1, 2


@pytest.fixture(scope="module")
def unbound(base, registry, admin):
    """An escrow deployed by ``admin`` and not bound to any Federation; ``admin`` funds it."""
    contract = RewardEscrow.deploy(base, registry, {"from": admin})
    base.approve(contract, MAX, {"from": admin})
    return contract


def budget(escrow, task=TASK):
    return tuple(escrow.budgetOf(task))


def assert_conserved(escrow, base, tasks=(TASK,)):
    held = sum(sum(escrow.budgetOf(t)) for t in tasks)
    assert base.balanceOf(escrow) == escrow.totalHeld() == held


def funded(escrow, admin, fed, unreleased=100 * WAD, owed=0):
    escrow.fund(TASK, unreleased + owed, {"from": admin})
    if owed:
        escrow.reserve(TASK, owed, {"from": fed})


def privileged_calls(escrow, receiver, sender):
    """Every call only the bound Federation may make, sent by ``sender`` for ``receiver``."""
    tx = {"from": sender}
    return (
        lambda: escrow.reserve(TASK, 1, tx),
        lambda: escrow.unreserve(TASK, 0, tx),
        lambda: escrow.payStakePayout(TASK, receiver, 0, tx),
        lambda: escrow.payClaim(TASK, receiver, 0, 0, DIRECT, 0, FAR, tx),
        lambda: escrow.refund(TASK, receiver, tx),
    )


def next_block_at(timestamp: int) -> None:
    """The next block (the next transaction) gets exactly ``timestamp``."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])


# ------------------------------------------------------------------------------ construction


def test_constructor_wires_base_and_registry_and_binds_nothing(unbound, base, registry):
    assert unbound.base() == base
    assert unbound.registry() == registry
    assert unbound.federation() == ZERO
    assert unbound.totalHeld() == 0


def test_constructor_rejects_zero_addresses(base, registry, admin):
    for args in ((ZERO, registry), (base, ZERO), (ZERO, ZERO)):
        with reverts("ZeroAddress"):
            RewardEscrow.deploy(*args, {"from": admin})


def test_constructor_rejects_a_registry_of_another_base(base, admin):
    other = TestBaseToken.deploy({"from": admin})
    foreign = MockRegistry.deploy(other, {"from": admin})
    with reverts("BaseMismatch", other, base):
        RewardEscrow.deploy(base, foreign, {"from": admin})


# ----------------------------------------------------------------------------------- binding


def test_the_deployer_binds_the_federation_once(unbound, admin, fed):
    tx = unbound.bindFederation(fed, {"from": admin})
    assert tx.events["FederationSet"]["federation"] == fed
    assert unbound.federation() == fed
    with reverts("AlreadyBound", fed):
        unbound.bindFederation(admin, {"from": admin})
    assert unbound.federation() == fed


def test_only_the_deployer_binds(unbound, fed, sponsor, outsider):
    for caller in (fed, sponsor, outsider):
        with reverts("NotBinder", caller):
            unbound.bindFederation(caller, {"from": caller})
    assert unbound.federation() == ZERO


def test_binding_to_zero_reverts_and_leaves_the_escrow_bindable(unbound, admin, fed):
    with reverts("ZeroAddress"):
        unbound.bindFederation(ZERO, {"from": admin})
    assert unbound.federation() == ZERO
    unbound.bindFederation(fed, {"from": admin})
    assert unbound.federation() == fed


def test_a_bound_escrow_refuses_every_rebinding(driven_escrow, fed, outsider):
    for caller in (fed, outsider):
        with reverts("AlreadyBound", fed):
            driven_escrow.bindFederation(caller, {"from": caller})


def test_the_suite_escrow_is_bound_to_the_federation_contract(federation, escrow, admin):
    assert escrow.federation() == federation
    with reverts("AlreadyBound", federation):
        escrow.bindFederation(admin, {"from": admin})


def test_before_binding_nobody_moves_budgets(unbound, base, admin, fed, sponsor):
    unbound.fund(TASK, 10 * WAD, {"from": admin})
    for sender in (admin, fed, sponsor):
        for call in privileged_calls(unbound, sender, sender):
            with reverts("NotFederation", sender):
                call()
    assert budget(unbound) == (10 * WAD, 0)
    assert not unbound.isClosed(TASK)
    assert_conserved(unbound, base)


def test_after_binding_only_the_federation_moves_budgets(driven_escrow, admin, fed, stakers):
    funded(driven_escrow, admin, fed, owed=WAD)
    for sender in (stakers[0], admin):
        for call in privileged_calls(driven_escrow, sender, sender):
            with reverts("NotFederation", sender):
                call()
    driven_escrow.reserve(TASK, WAD, {"from": fed})
    assert budget(driven_escrow) == (99 * WAD, 2 * WAD)


def test_the_deployer_keeps_no_power_after_binding(unbound, base, admin, fed):
    unbound.bindFederation(fed, {"from": admin})
    unbound.fund(TASK, 10 * WAD, {"from": admin})
    unbound.reserve(TASK, 4 * WAD, {"from": fed})
    before = (budget(unbound), base.balanceOf(unbound), unbound.totalHeld())
    with reverts("AlreadyBound", fed):
        unbound.bindFederation(admin, {"from": admin})
    calls = (
        *privileged_calls(unbound, admin, admin),
        lambda: unbound.reserve(TASK, 6 * WAD, {"from": admin}),
        lambda: unbound.unreserve(TASK, 4 * WAD, {"from": admin}),
        lambda: unbound.payStakePayout(TASK, admin, 4 * WAD, {"from": admin}),
        lambda: unbound.payClaim(TASK, admin, 0, 4 * WAD, DIRECT, 0, FAR, {"from": admin}),
        lambda: unbound.payClaim(TASK, admin, 0, 4 * WAD, BUYBACK, 0, FAR, {"from": admin}),
        lambda: unbound.payClaim(TASK, admin, 0, 4 * WAD, DIVIDEND, 0, FAR, {"from": admin}),
    )
    for call in calls:
        with reverts("NotFederation", admin):
            call()
    assert (budget(unbound), base.balanceOf(unbound), unbound.totalHeld()) == before
    assert not unbound.isClosed(TASK)
    assert unbound.federation() == fed


# ----------------------------------------------------------------------------------- funding


def test_anyone_funds_a_task(driven_escrow, base, stakers):
    funder = stakers[0]
    base.approve(driven_escrow, 5 * WAD, {"from": funder})
    tx = driven_escrow.fund(TASK, 5 * WAD, {"from": funder})
    assert tx.return_value == 5 * WAD
    assert budget(driven_escrow) == (5 * WAD, 0)
    assert base.balanceOf(driven_escrow) == 5 * WAD
    assert tx.events["Funded"]["taskId"] == TASK
    assert tx.events["Funded"]["funder"] == funder
    assert tx.events["Funded"]["amount"] == 5 * WAD
    assert_conserved(driven_escrow, base)


def test_fund_rejects_zero_and_missing_allowance(driven_escrow, stakers):
    with reverts("ZeroAmount"):
        driven_escrow.fund(TASK, 0, {"from": stakers[0]})
    with reverts("ERC20InsufficientAllowance", driven_escrow, 0, WAD):
        driven_escrow.fund(TASK, WAD, {"from": stakers[0]})


@pytest.mark.parametrize("fee_bps", [1, 100, 5_000, 9_999])
def test_a_fee_on_transfer_fund_credits_what_arrived(driven_escrow, base, admin, fee_bps):
    base.setTransferFee(fee_bps, {"from": admin})
    sent = 10 * WAD + 3
    arrived = sent - sent * fee_bps // 10_000
    before = base.balanceOf(admin)
    tx = driven_escrow.fund(TASK, sent, {"from": admin})
    assert 0 < arrived < sent
    assert tx.return_value == arrived
    assert tx.events["Funded"]["amount"] == arrived
    assert tx.events["Funded"]["funder"] == admin
    assert budget(driven_escrow) == (arrived, 0)
    assert driven_escrow.totalHeld() == arrived
    assert base.balanceOf(admin) == before - sent
    assert_conserved(driven_escrow, base)


def test_a_fund_where_nothing_arrives_reverts(driven_escrow, base, admin):
    base.setTransferFee(10_000, {"from": admin})
    with reverts("ZeroAmount"):
        driven_escrow.fund(TASK, WAD, {"from": admin})
    with reverts("ZeroAmount"):
        driven_escrow.fund(TASK, 1, {"from": admin})
    assert budget(driven_escrow) == (0, 0)
    assert driven_escrow.totalHeld() == 0


def test_a_fund_cannot_be_reentered_to_inflate_the_measured_credit(driven_escrow, base, admin):
    base.arm(admin, driven_escrow, driven_escrow.fund.encode_input(TASK, WAD), {"from": admin})
    with reverts("ReentrancyGuardReentrantCall"):
        driven_escrow.fund(TASK, 5 * WAD, {"from": admin})
    assert budget(driven_escrow) == (0, 0)
    assert base.balanceOf(driven_escrow) == driven_escrow.totalHeld() == 0


def test_a_fee_on_transfer_escrow_stays_solvent_through_payouts_and_refund(
    driven_escrow, base, admin, fed, stakers
):
    alice, sponsor = stakers[:2]
    base.setTransferFee(100, {"from": admin})  # 1%
    credited = driven_escrow.fund(TASK, 100 * WAD, {"from": admin}).return_value
    assert credited == 99 * WAD
    driven_escrow.reserve(TASK, 30 * WAD, {"from": fed})
    assert base.balanceOf(driven_escrow) >= driven_escrow.totalHeld()
    alice_before = base.balanceOf(alice)
    driven_escrow.payStakePayout(TASK, alice, 10 * WAD, {"from": fed})
    assert base.balanceOf(driven_escrow) >= driven_escrow.totalHeld()
    driven_escrow.payClaim(TASK, alice, 0, 5 * WAD, DIRECT, 0, FAR, {"from": fed})
    assert base.balanceOf(alice) == alice_before + 15 * WAD * 99 // 100  # the token's fee
    assert base.balanceOf(driven_escrow) >= driven_escrow.totalHeld()
    assert driven_escrow.refund(TASK, sponsor, {"from": fed}).return_value == 69 * WAD
    assert budget(driven_escrow) == (0, 15 * WAD)
    assert_conserved(driven_escrow, base)
    driven_escrow.payClaim(TASK, alice, 0, 15 * WAD, DIRECT, 0, FAR, {"from": fed})
    assert base.balanceOf(driven_escrow) == driven_escrow.totalHeld() == 0


# ------------------------------------------------------------------------ reserve / unreserve


def test_reserve_and_unreserve_move_budget_between_the_parts(driven_escrow, base, admin, fed):
    funded(driven_escrow, admin, fed)
    tx = driven_escrow.reserve(TASK, 30 * WAD, {"from": fed})
    assert tx.events["Reserved"]["amount"] == 30 * WAD
    assert budget(driven_escrow) == (70 * WAD, 30 * WAD)
    tx = driven_escrow.unreserve(TASK, 10 * WAD, {"from": fed})
    assert tx.events["Unreserved"]["amount"] == 10 * WAD
    assert budget(driven_escrow) == (80 * WAD, 20 * WAD)
    assert_conserved(driven_escrow, base)


def test_reserve_above_the_budget_reverts(driven_escrow, admin, fed):
    funded(driven_escrow, admin, fed, unreleased=10 * WAD)
    with reverts("InsufficientBudget", 10 * WAD, 10 * WAD + 1):
        driven_escrow.reserve(TASK, 10 * WAD + 1, {"from": fed})
    with reverts("InsufficientBudget", 0, 1):
        driven_escrow.reserve(TASK + 1, 1, {"from": fed})


def test_unreserve_above_owed_reverts(driven_escrow, admin, fed):
    funded(driven_escrow, admin, fed, unreleased=10 * WAD, owed=3 * WAD)
    with reverts("InsufficientOwed", 3 * WAD, 4 * WAD):
        driven_escrow.unreserve(TASK, 4 * WAD, {"from": fed})


# ------------------------------------------------------------------------------ stake payouts


def test_stake_payout_is_paid_from_owed(driven_escrow, base, admin, fed, stakers):
    alice = stakers[0]
    funded(driven_escrow, admin, fed, owed=5 * WAD)
    before = base.balanceOf(alice)
    tx = driven_escrow.payStakePayout(TASK, alice, 2 * WAD, {"from": fed})
    assert base.balanceOf(alice) == before + 2 * WAD
    assert budget(driven_escrow) == (100 * WAD, 3 * WAD)
    assert tx.events["StakePayoutPaid"]["to"] == alice
    assert tx.events["StakePayoutPaid"]["amount"] == 2 * WAD
    assert_conserved(driven_escrow, base)


def test_stake_payout_above_owed_or_to_zero_reverts(driven_escrow, admin, fed, stakers):
    funded(driven_escrow, admin, fed, owed=WAD)
    with reverts("InsufficientOwed", WAD, WAD + 1):
        driven_escrow.payStakePayout(TASK, stakers[0], WAD + 1, {"from": fed})
    with reverts("ZeroAddress"):
        driven_escrow.payStakePayout(TASK, ZERO, 1, {"from": fed})


# ----------------------------------------------------------------------------- direct rewards


def test_direct_reward_pays_base_to_the_client(driven_escrow, base, admin, fed, stakers):
    alice = stakers[0]
    funded(driven_escrow, admin, fed, owed=5 * WAD)
    before = base.balanceOf(alice)
    tx = driven_escrow.payClaim(TASK, alice, 0, 4 * WAD, DIRECT, 0, FAR, {"from": fed})
    assert base.balanceOf(alice) == before + 4 * WAD
    assert budget(driven_escrow) == (100 * WAD, WAD)
    event = tx.events["RewardPaid"]
    assert (event["client"], event["amount"], event["mode"], event["tokensBurned"]) == (
        alice,
        4 * WAD,
        0,
        0,
    )
    assert_conserved(driven_escrow, base)


def test_reward_rejects_bad_mode_zero_client_and_overdraw(driven_escrow, admin, fed, stakers):
    funded(driven_escrow, admin, fed, owed=WAD)
    with reverts("InvalidMode", 3):
        driven_escrow.payClaim(TASK, stakers[0], 0, 1, 3, 0, FAR, {"from": fed})
    with reverts("ZeroAddress"):
        driven_escrow.payClaim(TASK, ZERO, 0, 1, DIRECT, 0, FAR, {"from": fed})
    with reverts("InsufficientOwed", WAD, 2 * WAD):
        driven_escrow.payClaim(TASK, stakers[0], 0, 2 * WAD, DIRECT, 0, FAR, {"from": fed})


def base_transfers(tx, base):
    """The base token's transfers in ``tx``: (from, to, value) each."""
    return [
        (event["from"], event["to"], event["value"])
        for event in tx.events
        if event.name == "Transfer" and event.address == base.address
    ]


def test_a_claim_of_nothing_moves_nothing(driven_escrow, base, admin, fed, stakers):
    funded(driven_escrow, admin, fed, owed=WAD)
    tx = driven_escrow.payClaim(TASK, stakers[0], 0, 0, BUYBACK, 0, FAR, {"from": fed})
    assert "RewardPaid" not in tx.events and "StakePayoutPaid" not in tx.events
    assert base_transfers(tx, base) == []
    assert budget(driven_escrow) == (100 * WAD, WAD)
    assert_conserved(driven_escrow, base)


def test_a_direct_claim_pays_stake_result_and_reward_in_one_transfer(
    driven_escrow, base, admin, fed, stakers
):
    alice = stakers[0]
    funded(driven_escrow, admin, fed, owed=6 * WAD)
    before = base.balanceOf(alice)
    tx = driven_escrow.payClaim(TASK, alice, 2 * WAD, 3 * WAD, DIRECT, 0, FAR, {"from": fed})
    assert base.balanceOf(alice) == before + 5 * WAD
    assert base_transfers(tx, base) == [(driven_escrow.address, alice, 5 * WAD)]
    assert tx.events["StakePayoutPaid"]["amount"] == 2 * WAD
    assert (tx.events["RewardPaid"]["amount"], tx.events["RewardPaid"]["mode"]) == (3 * WAD, DIRECT)
    assert budget(driven_escrow) == (100 * WAD, WAD)
    assert_conserved(driven_escrow, base)


def test_a_claim_of_a_stake_result_alone_pays_it_without_a_reward_event(
    driven_escrow, base, admin, fed, stakers
):
    alice = stakers[0]
    funded(driven_escrow, admin, fed, owed=WAD)
    tx = driven_escrow.payClaim(TASK, alice, WAD, 0, DIVIDEND, 0, FAR, {"from": fed})
    assert base_transfers(tx, base) == [(driven_escrow.address, alice, WAD)]
    assert "RewardPaid" not in tx.events
    assert budget(driven_escrow) == (100 * WAD, 0)
    assert_conserved(driven_escrow, base)


def test_a_claim_above_owed_reverts_on_the_sum(driven_escrow, admin, fed, stakers):
    funded(driven_escrow, admin, fed, owed=WAD)
    with reverts("InsufficientOwed", WAD, WAD + 1):
        driven_escrow.payClaim(TASK, stakers[0], WAD, 1, DIRECT, 0, FAR, {"from": fed})


# ---------------------------------------------------------------------------- buyback rewards


@pytest.mark.parametrize("stake_result", [0, 2 * WAD], ids=["reward", "with-stake-result"])
def test_buyback_buys_the_client_token_and_burns_it(
    driven_escrow, base, registry, admin, fed, stakers, stake_result
):
    """The reward buys the client's token and burns it; a stake result claimed with it is paid
    in base tokens."""
    alice = stakers[0]
    pool, token = seed_pool(registry, base, alice, 1_000 * WAD, 100 * WAD)
    funded(driven_escrow, admin, fed, owed=10 * WAD + stake_result)
    expected = pool.quoteBaseForTokens(10 * WAD)
    alice_base = base.balanceOf(alice)
    reserve_base = pool.getReserves()[1]
    tx = driven_escrow.payClaim(
        TASK, alice, stake_result, 10 * WAD, BUYBACK, expected, FAR, {"from": fed}
    )
    assert tx.return_value == expected > 0
    assert tx.events["RewardPaid"]["mode"] == 1
    assert tx.events["RewardPaid"]["tokensBurned"] == expected
    assert token.totalSupply() == CLIENT_SUPPLY - expected
    assert token.balanceOf(driven_escrow) == 0
    assert pool.getReserves()[1] == reserve_base + 10 * WAD
    assert base.balanceOf(alice) == alice_base + stake_result  # the reward: through its token
    paid_in_base = [t for t in base_transfers(tx, base) if t[1] == alice]
    assert paid_in_base == ([(driven_escrow.address, alice, stake_result)] if stake_result else [])
    assert base.allowance(driven_escrow, pool) == 0
    assert budget(driven_escrow) == (100 * WAD, 0)
    assert_conserved(driven_escrow, base)


def test_buyback_respects_the_slippage_bound(driven_escrow, base, registry, admin, fed, stakers):
    alice = stakers[0]
    pool, _ = seed_pool(registry, base, alice, 1_000 * WAD, 100 * WAD)
    funded(driven_escrow, admin, fed, owed=10 * WAD)
    expected = pool.quoteBaseForTokens(10 * WAD)
    with reverts("InsufficientOutput", expected, expected + 1):
        driven_escrow.payClaim(TASK, alice, 0, 10 * WAD, BUYBACK, expected + 1, FAR, {"from": fed})


def test_buyback_with_a_past_deadline_reverts_expired(
    driven_escrow, base, registry, admin, fed, stakers
):
    alice = stakers[0]
    _, token = seed_pool(registry, base, alice, 1_000 * WAD, 100 * WAD)
    funded(driven_escrow, admin, fed, owed=10 * WAD)
    now = chain[-1].timestamp + 10
    for deadline in (now - 1, 0):
        next_block_at(now)
        with reverts("Expired", deadline, now):
            driven_escrow.payClaim(TASK, alice, 0, 10 * WAD, BUYBACK, 0, deadline, {"from": fed})
        now += 1
    assert budget(driven_escrow) == (100 * WAD, 10 * WAD)
    assert token.totalSupply() == CLIENT_SUPPLY
    assert_conserved(driven_escrow, base)


def test_buyback_with_a_future_deadline_swaps_and_burns(
    driven_escrow, base, registry, admin, fed, stakers
):
    alice = stakers[0]
    pool, token = seed_pool(registry, base, alice, 1_000 * WAD, 100 * WAD)
    funded(driven_escrow, admin, fed, owed=10 * WAD)
    expected = pool.quoteBaseForTokens(4 * WAD)
    now = chain[-1].timestamp + 10
    next_block_at(now)  # the deadline is the block's own timestamp: still in time
    tx = driven_escrow.payClaim(TASK, alice, 0, 4 * WAD, BUYBACK, expected, now, {"from": fed})
    assert tx.timestamp == now
    assert tx.return_value == expected > 0
    assert tx.events["RewardPaid"]["tokensBurned"] == expected
    assert token.totalSupply() == CLIENT_SUPPLY - expected
    deadline = chain[-1].timestamp + 3600
    expected = pool.quoteBaseForTokens(6 * WAD)
    tx = driven_escrow.payClaim(TASK, alice, 0, 6 * WAD, BUYBACK, expected, deadline, {"from": fed})
    assert tx.events["RewardPaid"]["mode"] == BUYBACK
    assert tx.events["RewardPaid"]["tokensBurned"] == expected > 0
    assert budget(driven_escrow) == (100 * WAD, 0)
    assert_conserved(driven_escrow, base)


def test_the_deadline_binds_only_the_swap(driven_escrow, base, registry, admin, fed, stakers):
    """Direct rewards, dividends and a buyback's direct fallback make no swap: a past deadline
    does not block them."""
    alice, bob = stakers[:2]
    funded(driven_escrow, admin, fed, owed=6 * WAD)
    before = base.balanceOf(bob)
    driven_escrow.payClaim(TASK, bob, 0, WAD, DIRECT, 0, 0, {"from": fed})
    tx = driven_escrow.payClaim(TASK, bob, 0, 2 * WAD, BUYBACK, 0, 0, {"from": fed})  # no pool
    assert tx.events["DirectFallback"]["requestedMode"] == BUYBACK
    assert base.balanceOf(bob) == before + 3 * WAD
    tx = driven_escrow.payClaim(TASK, alice, 0, 3 * WAD, DIVIDEND, 0, 0, {"from": fed})
    assert tx.events["RewardPaid"]["mode"] == DIVIDEND
    assert base.balanceOf(registry.tokenOf(alice)) == 3 * WAD
    assert budget(driven_escrow) == (100 * WAD, 0)
    assert_conserved(driven_escrow, base)


def test_buyback_without_liquidity_pays_directly(driven_escrow, base, admin, fed, stakers):
    alice = stakers[0]
    funded(driven_escrow, admin, fed, owed=10 * WAD)
    before = base.balanceOf(alice)
    tx = driven_escrow.payClaim(TASK, alice, 0, 10 * WAD, BUYBACK, 5, FAR, {"from": fed})
    assert base.balanceOf(alice) == before + 10 * WAD
    assert base_transfers(tx, base) == [(driven_escrow.address, alice, 10 * WAD)]
    assert tx.events["DirectFallback"]["requestedMode"] == 1
    assert tx.events["RewardPaid"]["mode"] == 0
    assert tx.events["RewardPaid"]["tokensBurned"] == 0
    assert_conserved(driven_escrow, base)


def test_buyback_too_small_to_buy_a_wei_pays_directly(
    driven_escrow, base, registry, admin, fed, stakers
):
    alice = stakers[0]
    pool, _ = seed_pool(registry, base, alice, 10**6, 100 * WAD)
    funded(driven_escrow, admin, fed, owed=10 * WAD)
    assert pool.quoteBaseForTokens(1) == 0
    tx = driven_escrow.payClaim(TASK, alice, 0, 1, BUYBACK, 0, FAR, {"from": fed})
    assert "DirectFallback" in tx.events
    assert_conserved(driven_escrow, base)


def test_buyback_for_a_client_without_a_pool_pays_directly(driven_escrow, base, admin, fed):
    stranger = admin  # not registered: the registry has no pool for it
    funded(driven_escrow, admin, fed, owed=WAD)
    before = base.balanceOf(stranger)
    tx = driven_escrow.payClaim(TASK, stranger, 0, WAD, BUYBACK, 0, FAR, {"from": fed})
    assert base.balanceOf(stranger) == before + WAD
    assert tx.events["RewardPaid"]["mode"] == 0


def test_a_pool_that_pulls_the_wrong_amount_is_rejected(base, admin, fed, stakers):
    alice = stakers[0]
    registry = MockRegistry.deploy(base, {"from": admin})
    short = ShortPool.deploy(base, {"from": admin})
    registry.setClient(alice, base, short, {"from": admin})
    escrow = RewardEscrow.deploy(base, registry, {"from": admin})
    escrow.bindFederation(fed, {"from": admin})
    base.approve(escrow, WAD, {"from": admin})
    escrow.fund(TASK, WAD, {"from": admin})
    escrow.reserve(TASK, WAD, {"from": fed})
    with reverts("UnexpectedPull", WAD, WAD - 1):
        escrow.payClaim(TASK, alice, 0, WAD, BUYBACK, 0, FAR, {"from": fed})
    assert tuple(escrow.budgetOf(TASK)) == (0, WAD)
    assert base.balanceOf(escrow) == escrow.totalHeld() == WAD


# --------------------------------------------------------------------------- dividend rewards


def test_dividend_is_streamed_to_the_token_holders(
    driven_escrow, base, registry, admin, fed, stakers
):
    alice, investor = stakers[0], stakers[1]
    token = ClientToken.at(registry.tokenOf(alice))
    token.transfer(investor, CLIENT_SUPPLY // 4, {"from": alice})
    funded(driven_escrow, admin, fed, owed=8 * WAD)
    tx = driven_escrow.payClaim(TASK, alice, 0, 8 * WAD, DIVIDEND, 0, FAR, {"from": fed})
    assert tx.events["RewardPaid"]["mode"] == 2
    assert tx.events["DividendDistributed"]["amount"] == 8 * WAD
    assert token.periodFinish() == tx.timestamp + DIVIDEND_DURATION
    assert base.balanceOf(token) == 8 * WAD
    assert base.allowance(driven_escrow, token) == 0
    assert_conserved(driven_escrow, base)
    chain.sleep(DIVIDEND_DURATION + 1)
    chain.mine()
    assert token.dividendOf(alice) == 6 * WAD
    assert token.dividendOf(investor) == 2 * WAD
    assert token.unallocated() == 0


def test_dividend_reaches_liquidity_in_the_pool_too(
    driven_escrow, base, registry, admin, fed, stakers
):
    alice = stakers[0]
    pool, token = seed_pool(registry, base, alice, CLIENT_SUPPLY // 2, 10 * WAD)
    funded(driven_escrow, admin, fed, owed=4 * WAD)
    driven_escrow.payClaim(TASK, alice, 0, 4 * WAD, DIVIDEND, 0, FAR, {"from": fed})
    chain.sleep(DIVIDEND_DURATION + 1)
    chain.mine()
    assert token.dividendOf(pool) == 2 * WAD
    assert token.dividendOf(alice) == 2 * WAD


def test_dividend_without_supply_pays_directly(driven_escrow, base, registry, admin, fed, stakers):
    alice = stakers[0]
    token = ClientToken.at(registry.tokenOf(alice))
    token.burn(CLIENT_SUPPLY, {"from": alice})
    funded(driven_escrow, admin, fed, owed=3 * WAD)
    before = base.balanceOf(alice)
    tx = driven_escrow.payClaim(TASK, alice, 0, 3 * WAD, DIVIDEND, 0, FAR, {"from": fed})
    assert base.balanceOf(alice) == before + 3 * WAD
    assert tx.events["DirectFallback"]["requestedMode"] == 2
    assert tx.events["RewardPaid"]["mode"] == 0
    assert_conserved(driven_escrow, base)


def test_dividend_for_a_client_without_a_token_pays_directly(driven_escrow, base, admin, fed):
    funded(driven_escrow, admin, fed, owed=WAD)
    before = base.balanceOf(admin)
    tx = driven_escrow.payClaim(TASK, admin, 0, WAD, DIVIDEND, 0, FAR, {"from": fed})
    assert tx.events["RewardPaid"]["mode"] == 0
    assert base.balanceOf(admin) == before + WAD


# ----------------------------------------------------------------------------------- refunds


def test_refund_returns_unreleased_and_closes_the_budget(driven_escrow, base, admin, fed, stakers):
    alice, sponsor = stakers[0], stakers[1]
    funded(driven_escrow, admin, fed, unreleased=10 * WAD, owed=4 * WAD)
    before = base.balanceOf(sponsor)
    tx = driven_escrow.refund(TASK, sponsor, {"from": fed})
    assert tx.return_value == 10 * WAD
    assert tx.events["Refunded"]["to"] == sponsor
    assert tx.events["Refunded"]["amount"] == 10 * WAD
    assert base.balanceOf(sponsor) == before + 10 * WAD
    assert budget(driven_escrow) == (0, 4 * WAD)
    assert driven_escrow.isClosed(TASK)
    driven_escrow.payClaim(TASK, alice, 0, 4 * WAD, DIRECT, 0, FAR, {"from": fed})  # owed stays
    assert_conserved(driven_escrow, base)
    with reverts("BudgetClosed", TASK):
        driven_escrow.fund(TASK, WAD, {"from": admin})


def test_refund_of_an_empty_budget_pays_nothing(driven_escrow, base, fed, stakers):
    before = base.balanceOf(stakers[1])
    tx = driven_escrow.refund(TASK, stakers[1], {"from": fed})
    assert tx.return_value == 0
    assert base.balanceOf(stakers[1]) == before
    assert driven_escrow.isClosed(TASK)


def test_refund_to_zero_reverts(driven_escrow, fed):
    with reverts("ZeroAddress"):
        driven_escrow.refund(TASK, ZERO, {"from": fed})


def test_budgets_of_tasks_are_separate(driven_escrow, base, admin, fed, stakers):
    driven_escrow.fund(1, 5 * WAD, {"from": admin})
    driven_escrow.fund(2, 7 * WAD, {"from": admin})
    driven_escrow.reserve(2, 7 * WAD, {"from": fed})
    with reverts("InsufficientOwed", 0, 1):
        driven_escrow.payStakePayout(1, stakers[0], 1, {"from": fed})
    driven_escrow.refund(1, admin, {"from": fed})
    assert tuple(driven_escrow.budgetOf(2)) == (0, 7 * WAD)
    assert not driven_escrow.isClosed(2)
    assert_conserved(driven_escrow, base, tasks=(1, 2))
