"""RewardEscrow: task budgets (unreleased / owed), stake payouts, rewards in the three modes."""

from brownie import ClientToken, MockRegistry, RewardEscrow, ShortPool, TestBaseToken

from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import CLIENT_SUPPLY, WAD, seed_pool
from tests.contracts.helpers import reverts

ZERO = "0x0000000000000000000000000000000000000000"
TASK = 7


def budget(escrow, task=TASK):
    return tuple(escrow.budgetOf(task))


def assert_conserved(escrow, base, tasks=(TASK,)):
    held = sum(sum(escrow.budgetOf(t)) for t in tasks)
    assert base.balanceOf(escrow) == escrow.totalHeld() == held


def funded(escrow, admin, fed, unreleased=100 * WAD, owed=0):
    escrow.fund(TASK, unreleased + owed, {"from": admin})
    if owed:
        escrow.reserve(TASK, owed, {"from": fed})


# ------------------------------------------------------------------------------ construction


def test_constructor_wires_base_registry_and_admin(escrow, base, registry, admin):
    assert escrow.base() == base
    assert escrow.registry() == registry
    assert escrow.hasRole(escrow.DEFAULT_ADMIN_ROLE(), admin)
    assert escrow.totalHeld() == 0


def test_constructor_rejects_zero_addresses(base, registry, admin):
    for args in ((ZERO, registry, admin), (base, ZERO, admin), (base, registry, ZERO)):
        with reverts("ZeroAddress"):
            RewardEscrow.deploy(*args, {"from": admin})


def test_constructor_rejects_a_registry_of_another_base(base, admin):
    other = TestBaseToken.deploy({"from": admin})
    foreign = MockRegistry.deploy(other, {"from": admin})
    with reverts("BaseMismatch", other, base):
        RewardEscrow.deploy(base, foreign, admin, {"from": admin})


# ----------------------------------------------------------------------------------- funding


def test_anyone_funds_a_task(escrow, base, stakers):
    funder = stakers[0]
    base.approve(escrow, 5 * WAD, {"from": funder})
    tx = escrow.fund(TASK, 5 * WAD, {"from": funder})
    assert budget(escrow) == (5 * WAD, 0)
    assert base.balanceOf(escrow) == 5 * WAD
    assert tx.events["Funded"]["taskId"] == TASK
    assert tx.events["Funded"]["funder"] == funder
    assert tx.events["Funded"]["amount"] == 5 * WAD
    assert_conserved(escrow, base)


def test_fund_rejects_zero_and_missing_allowance(escrow, stakers):
    with reverts("ZeroAmount"):
        escrow.fund(TASK, 0, {"from": stakers[0]})
    with reverts("ERC20InsufficientAllowance", escrow, 0, WAD):
        escrow.fund(TASK, WAD, {"from": stakers[0]})


# ------------------------------------------------------------------------ reserve / unreserve


def test_reserve_and_unreserve_move_budget_between_the_parts(escrow, base, admin, fed):
    funded(escrow, admin, fed)
    tx = escrow.reserve(TASK, 30 * WAD, {"from": fed})
    assert tx.events["Reserved"]["amount"] == 30 * WAD
    assert budget(escrow) == (70 * WAD, 30 * WAD)
    tx = escrow.unreserve(TASK, 10 * WAD, {"from": fed})
    assert tx.events["Unreserved"]["amount"] == 10 * WAD
    assert budget(escrow) == (80 * WAD, 20 * WAD)
    assert_conserved(escrow, base)


def test_reserve_above_the_budget_reverts(escrow, admin, fed):
    funded(escrow, admin, fed, unreleased=10 * WAD)
    with reverts("InsufficientBudget", 10 * WAD, 10 * WAD + 1):
        escrow.reserve(TASK, 10 * WAD + 1, {"from": fed})
    with reverts("InsufficientBudget", 0, 1):
        escrow.reserve(TASK + 1, 1, {"from": fed})


def test_unreserve_above_owed_reverts(escrow, admin, fed):
    funded(escrow, admin, fed, unreleased=10 * WAD, owed=3 * WAD)
    with reverts("InsufficientOwed", 3 * WAD, 4 * WAD):
        escrow.unreserve(TASK, 4 * WAD, {"from": fed})


def test_only_the_federation_moves_budgets(escrow, admin, fed, stakers):
    funded(escrow, admin, fed, owed=WAD)
    outsider = stakers[0]
    calls = (
        lambda: escrow.reserve(TASK, 1, {"from": outsider}),
        lambda: escrow.unreserve(TASK, 1, {"from": outsider}),
        lambda: escrow.payStakePayout(TASK, outsider, 1, {"from": outsider}),
        lambda: escrow.payReward(TASK, outsider, 1, 0, 0, {"from": outsider}),
        lambda: escrow.refund(TASK, outsider, {"from": outsider}),
    )
    for call in calls:
        with reverts("AccessControlUnauthorizedAccount", outsider):
            call()


# ------------------------------------------------------------------------------ stake payouts


def test_stake_payout_is_paid_from_owed(escrow, base, admin, fed, stakers):
    alice = stakers[0]
    funded(escrow, admin, fed, owed=5 * WAD)
    before = base.balanceOf(alice)
    tx = escrow.payStakePayout(TASK, alice, 2 * WAD, {"from": fed})
    assert base.balanceOf(alice) == before + 2 * WAD
    assert budget(escrow) == (100 * WAD, 3 * WAD)
    assert tx.events["StakePayoutPaid"]["to"] == alice
    assert tx.events["StakePayoutPaid"]["amount"] == 2 * WAD
    assert_conserved(escrow, base)


def test_stake_payout_above_owed_or_to_zero_reverts(escrow, admin, fed, stakers):
    funded(escrow, admin, fed, owed=WAD)
    with reverts("InsufficientOwed", WAD, WAD + 1):
        escrow.payStakePayout(TASK, stakers[0], WAD + 1, {"from": fed})
    with reverts("ZeroAddress"):
        escrow.payStakePayout(TASK, ZERO, 1, {"from": fed})


# ----------------------------------------------------------------------------- direct rewards


def test_direct_reward_pays_base_to_the_client(escrow, base, admin, fed, stakers):
    alice = stakers[0]
    funded(escrow, admin, fed, owed=5 * WAD)
    before = base.balanceOf(alice)
    tx = escrow.payReward(TASK, alice, 4 * WAD, 0, 0, {"from": fed})
    assert base.balanceOf(alice) == before + 4 * WAD
    assert budget(escrow) == (100 * WAD, WAD)
    event = tx.events["RewardPaid"]
    assert (event["client"], event["amount"], event["mode"], event["tokensBurned"]) == (
        alice,
        4 * WAD,
        0,
        0,
    )
    assert_conserved(escrow, base)


def test_reward_rejects_bad_mode_zero_client_and_overdraw(escrow, admin, fed, stakers):
    funded(escrow, admin, fed, owed=WAD)
    with reverts("InvalidMode", 3):
        escrow.payReward(TASK, stakers[0], 1, 3, 0, {"from": fed})
    with reverts("ZeroAddress"):
        escrow.payReward(TASK, ZERO, 1, 0, 0, {"from": fed})
    with reverts("InsufficientOwed", WAD, 2 * WAD):
        escrow.payReward(TASK, stakers[0], 2 * WAD, 0, 0, {"from": fed})


def test_a_zero_reward_moves_nothing(escrow, base, admin, fed, stakers):
    funded(escrow, admin, fed, owed=WAD)
    tx = escrow.payReward(TASK, stakers[0], 0, 1, 0, {"from": fed})
    assert tx.events["RewardPaid"]["mode"] == 0
    assert budget(escrow) == (100 * WAD, WAD)
    assert_conserved(escrow, base)


# ---------------------------------------------------------------------------- buyback rewards


def test_buyback_buys_the_client_token_and_burns_it(escrow, base, registry, admin, fed, stakers):
    alice = stakers[0]
    pool, token = seed_pool(registry, base, alice, 1_000 * WAD, 100 * WAD)
    funded(escrow, admin, fed, owed=10 * WAD)
    expected = pool.quoteBaseForTokens(10 * WAD)
    alice_base = base.balanceOf(alice)
    reserve_base = pool.getReserves()[1]
    tx = escrow.payReward(TASK, alice, 10 * WAD, 1, expected, {"from": fed})
    assert expected > 0
    assert tx.return_value == expected
    assert tx.events["RewardPaid"]["mode"] == 1
    assert tx.events["RewardPaid"]["tokensBurned"] == expected
    assert token.totalSupply() == CLIENT_SUPPLY - expected
    assert token.balanceOf(escrow) == 0
    assert pool.getReserves()[1] == reserve_base + 10 * WAD
    assert base.balanceOf(alice) == alice_base  # the client gains through its token, not in base
    assert base.allowance(escrow, pool) == 0
    assert_conserved(escrow, base)


def test_buyback_respects_the_slippage_bound(escrow, base, registry, admin, fed, stakers):
    alice = stakers[0]
    pool, _ = seed_pool(registry, base, alice, 1_000 * WAD, 100 * WAD)
    funded(escrow, admin, fed, owed=10 * WAD)
    expected = pool.quoteBaseForTokens(10 * WAD)
    with reverts("InsufficientOutput", expected, expected + 1):
        escrow.payReward(TASK, alice, 10 * WAD, 1, expected + 1, {"from": fed})


def test_buyback_without_liquidity_pays_directly(escrow, base, registry, admin, fed, stakers):
    alice = stakers[0]
    funded(escrow, admin, fed, owed=10 * WAD)
    before = base.balanceOf(alice)
    tx = escrow.payReward(TASK, alice, 10 * WAD, 1, 5, {"from": fed})
    assert base.balanceOf(alice) == before + 10 * WAD
    assert tx.events["DirectFallback"]["requestedMode"] == 1
    assert tx.events["RewardPaid"]["mode"] == 0
    assert tx.events["RewardPaid"]["tokensBurned"] == 0
    assert_conserved(escrow, base)


def test_buyback_too_small_to_buy_a_wei_pays_directly(escrow, base, registry, admin, fed, stakers):
    alice = stakers[0]
    pool, _ = seed_pool(registry, base, alice, 10**6, 100 * WAD)
    funded(escrow, admin, fed, owed=10 * WAD)
    assert pool.quoteBaseForTokens(1) == 0
    tx = escrow.payReward(TASK, alice, 1, 1, 0, {"from": fed})
    assert "DirectFallback" in tx.events
    assert_conserved(escrow, base)


def test_buyback_for_a_client_without_a_pool_pays_directly(escrow, base, admin, fed):
    stranger = admin  # not registered: the registry has no pool for it
    funded(escrow, admin, fed, owed=WAD)
    before = base.balanceOf(stranger)
    tx = escrow.payReward(TASK, stranger, WAD, 1, 0, {"from": fed})
    assert base.balanceOf(stranger) == before + WAD
    assert tx.events["RewardPaid"]["mode"] == 0


def test_a_pool_that_pulls_the_wrong_amount_is_rejected(base, admin, fed, stakers):
    alice = stakers[0]
    registry = MockRegistry.deploy(base, {"from": admin})
    short = ShortPool.deploy(base, {"from": admin})
    registry.setClient(alice, base, short, {"from": admin})
    escrow = RewardEscrow.deploy(base, registry, admin, {"from": admin})
    escrow.grantRole(escrow.FEDERATION_ROLE(), fed, {"from": admin})
    base.approve(escrow, WAD, {"from": admin})
    escrow.fund(TASK, WAD, {"from": admin})
    escrow.reserve(TASK, WAD, {"from": fed})
    with reverts("UnexpectedPull", WAD, WAD - 1):
        escrow.payReward(TASK, alice, WAD, 1, 0, {"from": fed})


# --------------------------------------------------------------------------- dividend rewards


def test_dividend_is_shared_by_the_token_holders(escrow, base, registry, admin, fed, stakers):
    alice, investor = stakers[0], stakers[1]
    token = ClientToken.at(registry.tokenOf(alice))
    token.transfer(investor, CLIENT_SUPPLY // 4, {"from": alice})
    funded(escrow, admin, fed, owed=8 * WAD)
    tx = escrow.payReward(TASK, alice, 8 * WAD, 2, 0, {"from": fed})
    assert tx.events["RewardPaid"]["mode"] == 2
    assert token.dividendOf(alice) == 6 * WAD
    assert token.dividendOf(investor) == 2 * WAD
    assert base.balanceOf(token) == 8 * WAD
    assert base.allowance(escrow, token) == 0
    assert_conserved(escrow, base)


def test_dividend_reaches_liquidity_in_the_pool_too(escrow, base, registry, admin, fed, stakers):
    alice = stakers[0]
    pool, token = seed_pool(registry, base, alice, CLIENT_SUPPLY // 2, 10 * WAD)
    funded(escrow, admin, fed, owed=4 * WAD)
    escrow.payReward(TASK, alice, 4 * WAD, 2, 0, {"from": fed})
    assert token.dividendOf(pool) == 2 * WAD
    assert token.dividendOf(alice) == 2 * WAD


def test_dividend_without_supply_pays_directly(escrow, base, registry, admin, fed, stakers):
    alice = stakers[0]
    token = ClientToken.at(registry.tokenOf(alice))
    token.burn(CLIENT_SUPPLY, {"from": alice})
    funded(escrow, admin, fed, owed=3 * WAD)
    before = base.balanceOf(alice)
    tx = escrow.payReward(TASK, alice, 3 * WAD, 2, 0, {"from": fed})
    assert base.balanceOf(alice) == before + 3 * WAD
    assert tx.events["DirectFallback"]["requestedMode"] == 2
    assert tx.events["RewardPaid"]["mode"] == 0
    assert_conserved(escrow, base)


def test_dividend_for_a_client_without_a_token_pays_directly(escrow, base, admin, fed):
    funded(escrow, admin, fed, owed=WAD)
    tx = escrow.payReward(TASK, admin, WAD, 2, 0, {"from": fed})
    assert tx.events["RewardPaid"]["mode"] == 0


# ----------------------------------------------------------------------------------- refunds


def test_refund_returns_unreleased_and_closes_the_budget(escrow, base, admin, fed, stakers):
    alice, sponsor = stakers[0], stakers[1]
    funded(escrow, admin, fed, unreleased=10 * WAD, owed=4 * WAD)
    before = base.balanceOf(sponsor)
    tx = escrow.refund(TASK, sponsor, {"from": fed})
    assert tx.return_value == 10 * WAD
    assert tx.events["Refunded"]["to"] == sponsor
    assert tx.events["Refunded"]["amount"] == 10 * WAD
    assert base.balanceOf(sponsor) == before + 10 * WAD
    assert budget(escrow) == (0, 4 * WAD)
    assert escrow.isClosed(TASK)
    escrow.payReward(TASK, alice, 4 * WAD, 0, 0, {"from": fed})  # owed stays claimable
    assert_conserved(escrow, base)
    with reverts("BudgetClosed", TASK):
        escrow.fund(TASK, WAD, {"from": admin})


def test_refund_of_an_empty_budget_pays_nothing(escrow, base, fed, stakers):
    tx = escrow.refund(TASK, stakers[1], {"from": fed})
    assert tx.return_value == 0
    assert escrow.isClosed(TASK)


def test_refund_to_zero_reverts(escrow, fed):
    with reverts("ZeroAddress"):
        escrow.refund(TASK, ZERO, {"from": fed})


def test_budgets_of_tasks_are_separate(escrow, base, admin, fed, stakers):
    escrow.fund(1, 5 * WAD, {"from": admin})
    escrow.fund(2, 7 * WAD, {"from": admin})
    escrow.reserve(2, 7 * WAD, {"from": fed})
    with reverts("InsufficientOwed", 0, 1):
        escrow.payStakePayout(1, stakers[0], 1, {"from": fed})
    escrow.refund(1, admin, {"from": fed})
    assert tuple(escrow.budgetOf(2)) == (0, 7 * WAD)
    assert_conserved(escrow, base, tasks=(1, 2))
