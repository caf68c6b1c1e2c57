"""TokenLending: lenders' ERC-4626 vault, borrowing against client tokens at a time-weighted pool
price, interest by a kink model through a borrow index, liquidation and bad debt, governance by the
Timelock, exits without an admin, and dividends on collateral. Amounts are exact: every figure is
predicted by LendingMirror (the contract's integer arithmetic) or by the pool's UQ112x112 prices."""

from fractions import Fraction

import pytest
from brownie import ClientPool, ClientToken, TokenLending, accounts

from tests.contracts.helpers import reverts
from tests.contracts.lending import (
    BONUS_BPS,
    BORROW_CAP,
    BPS,
    CLOSE_FACTOR_BPS,
    DECIMALS_OFFSET,
    LENDER_DEPOSIT,
    LTV_BPS,
    MOD,
    Q112,
    RAY,
    THRESHOLD_BPS,
    TIMELOCK_DELAY,
    WINDOW,
    YEAR,
    LendingMirror,
    RateModel,
    assets_for,
    deploy_lending,
    same_block,
    shares_for,
    timelock_call,
    uq112,
)
from tests.contracts.market import (
    DIVIDEND_DURATION,
    FAR,
    MAX,
    WAD,
    ZERO,
    amount_out,
    at,
    ints,
    latest,
    mine_at,
)

BORROWER, OTHER, THIRD = 2, 3, 4
LENDER = 7
LIQUIDATOR = 9
TRADER = 6
COLLATERAL = 10_000 * WAD  # worth 1,000 base at the seed price 0.1


def acct(index):
    return accounts[index]


def twap(contract, token) -> tuple[bool, int]:
    """twapPrice() as plain Python values (Brownie's return tuples refuse bool/int tuples)."""
    valid, price = contract.twapPrice(token)
    return bool(valid), int(price)


def plain(values) -> tuple:
    """Return values or event values as plain Python (addresses as checksummed strings)."""
    return tuple(
        v if isinstance(v, bool) else str(v) if isinstance(v, str) else int(v) for v in values
    )


def addr(*items) -> tuple:
    return tuple(str(item) for item in items)


def spot(pool) -> int:
    reserve_token, reserve_base = ints(pool.getReserves())
    return uq112(reserve_base, reserve_token)


def value_of(amount: int, price: int) -> int:
    return amount * price // Q112


def limit_of(amount: int, price: int, bps: int) -> int:
    return value_of(amount, price) * bps // BPS


def deposit(env, who, amount=COLLATERAL):
    return env.lending.depositCollateral(env.token, amount, {"from": acct(who)})


def borrow(env, who, amount, to=None):
    return env.lending.borrow(env.token, amount, to or acct(who), {"from": acct(who)})


def keep_oracle_fresh(env, until: int, step: int = WINDOW // 2) -> None:
    """Poke every half window until ``until``, so the price is valid then (and throughout, for
    short spans; a long span gets one poke a window and a half before its end)."""
    if until - latest() > 2 * WINDOW:
        mine_at(until - WINDOW - step)
        env.lending.pokeOracle(env.token, {"from": acct(0)})
    while latest() + step <= until:
        mine_at(latest() + step)
        env.lending.pokeOracle(env.token, {"from": acct(0)})
    if latest() < until:
        mine_at(until)


def sell_tokens(env, amount, who=None):
    """The client sells ``amount`` client tokens on the pool (the price falls)."""
    who = who or env.client
    return env.pool.swapExactTokensForBase(amount, 0, who, FAR, {"from": who})


# ------------------------------------------------------------------ deployment and governance


def test_deployment(lending):
    contract, rates = lending.lending, RateModel()
    assert contract.owner() == lending.timelock
    assert contract.asset() == lending.base
    assert contract.decimals() == 18 + DECIMALS_OFFSET
    assert contract.twapWindow() == WINDOW
    assert contract.closeFactorBps() == CLOSE_FACTOR_BPS
    assert contract.liquidationBonusBps() == BONUS_BPS
    assert (contract.baseRate(), contract.slope1(), contract.slope2(), contract.kink()) == (
        rates.base,
        rates.slope1,
        rates.slope2,
        rates.kink,
    )
    config = contract.marketOf(lending.token)
    assert config[0] == lending.pool and config[1] is True and config[2] is True
    assert ints(config[3:]) == (LTV_BPS, THRESHOLD_BPS, BORROW_CAP, 0, 0)
    assert contract.totalAssets() == contract.cash() == 2 * LENDER_DEPOSIT
    assert contract.borrowIndex() == RAY


@pytest.mark.parametrize(
    "window, close, bonus, model, error",
    [
        (299, 5_000, 800, None, "WindowOutOfBounds"),
        (86_401, 5_000, 800, None, "WindowOutOfBounds"),
        (WINDOW, 999, 800, None, "InvalidLiquidationParameters"),
        (WINDOW, 10_001, 800, None, "InvalidLiquidationParameters"),
        (WINDOW, 5_000, 2_001, None, "InvalidLiquidationParameters"),
        (WINDOW, 5_000, 800, [0, 0, 0, 0], "InvalidRateModel"),
        (WINDOW, 5_000, 800, [0, 0, 0, WAD + 1], "InvalidRateModel"),
        (WINDOW, 5_000, 800, [0, 0, 21 * WAD // YEAR, WAD // 2], "InvalidRateModel"),
    ],
)
def test_constructor_checks_its_parameters(market, window, close, bonus, model, error):
    rates = RateModel()
    model = model or [rates.base, rates.slope1, rates.slope2, rates.kink]
    with reverts(error):
        TokenLending.deploy(market.base, acct(0), window, close, bonus, model, {"from": acct(0)})


def test_only_the_owner_sets_parameters(lending):
    contract = lending.lending
    for who in (acct(0), acct(BORROWER)):
        with reverts("OwnableUnauthorizedAccount", who):
            contract.setMarket(lending.token, lending.pool, 1, 2, 0, True, {"from": who})
        with reverts("OwnableUnauthorizedAccount", who):
            contract.setTwapWindow(600, {"from": who})


def test_a_timelock_change_applies_only_after_its_delay(lending):
    contract, timelock = lending.lending, lending.timelock
    data = contract.setMarket.encode_input(
        lending.token, lending.pool, 4_000, 6_000, 1_000 * WAD, True
    )
    salt, zero = "0x" + "11" * 32, "0x" + "00" * 32
    timelock.schedule(contract, 0, data, zero, salt, TIMELOCK_DELAY, {"from": acct(0)})
    operation = timelock.hashOperation(contract, 0, data, zero, salt)
    scheduled = latest()
    at(scheduled + TIMELOCK_DELAY - 1)
    assert timelock.isOperationPending(operation)
    with reverts("TimelockUnexpectedOperationState"):
        timelock.execute(contract, 0, data, zero, salt, {"from": acct(BORROWER)})
    at(scheduled + TIMELOCK_DELAY)
    tx = timelock.execute(contract, 0, data, zero, salt, {"from": acct(BORROWER)})  # anyone
    assert tx.events["MarketSet"]["ltvBps"] == 4_000
    assert ints(contract.marketOf(lending.token)[3:6]) == (4_000, 6_000, 1_000 * WAD)


def test_set_market_checks(lending_owned, market, registry):
    env = lending_owned
    contract, owner = env.lending, acct(0)
    with reverts("InvalidRiskParameters", 7_500, 7_500):
        contract.setMarket(env.token, env.pool, 7_500, 7_500, 0, True, {"from": owner})
    # with the 8 % bonus, a threshold of 92.6 % or more could never be liquidated back to health
    with reverts("InvalidRiskParameters", 5_000, 9_260):
        contract.setMarket(env.token, env.pool, 5_000, 9_260, 0, True, {"from": owner})
    contract.setMarket(env.token, env.pool, 5_000, 9_259, 0, True, {"from": owner})
    # a listed market keeps its pool; a new one needs the pool of that token against the base
    with reverts("PoolMismatch", env.token, env.base):
        contract.setMarket(env.token, env.base, 5_000, 7_500, 0, True, {"from": owner})
    registry.register("Two", "C2", {"from": acct(5)})
    other_token, other_pool = registry.tokenOf(acct(5)), registry.poolOf(acct(5))
    with reverts("PoolMismatch", other_token, env.pool):
        contract.setMarket(other_token, env.pool, 5_000, 7_500, 0, True, {"from": owner})
    with reverts("ZeroAddress"):
        contract.setMarket(ZERO, ZERO, 5_000, 7_500, 0, True, {"from": owner})
    assert not ClientToken.at(other_token).refusesPushes(contract)
    tx = contract.setMarket(other_token, other_pool, 5_000, 7_500, 0, False, {"from": owner})
    assert tx.events["MarketSet"]["pool"] == other_pool
    # listing makes the token refuse dividend claims pushed to the contract (see the test below)
    assert ClientToken.at(other_token).refusesPushes(contract)
    assert "Observed" in tx.events  # listing records the first observation
    with reverts("WindowOutOfBounds", 10, 300, 86_400):
        contract.setTwapWindow(10, {"from": owner})
    assert contract.setTwapWindow(600, {"from": owner}).events["TwapWindowSet"]["window"] == 600


# ------------------------------------------------------------------ oracle


def test_twap_needs_an_observation_one_to_two_windows_old(lending_owned, registry):
    env = lending_owned
    contract = env.lending
    registry.register("Fresh", "FR", {"from": acct(5)})
    token, pool = registry.tokenOf(acct(5)), registry.poolOf(acct(5))
    env.base.approve(pool, MAX, {"from": acct(5)})
    ClientToken.at(token).approve(pool, MAX, {"from": acct(5)})
    ClientToken.at(token).approve(contract, MAX, {"from": acct(5)})
    ClientPool.at(pool).addLiquidity(
        100_000 * WAD, 5_000 * WAD, 0, 0, acct(5), FAR, {"from": acct(5)}
    )
    listed = contract.setMarket(
        token, pool, LTV_BPS, THRESHOLD_BPS, BORROW_CAP, True, {"from": acct(0)}
    )
    start = listed.timestamp
    contract.depositCollateral(token, 1_000 * WAD, {"from": acct(5)})
    assert twap(contract, token) == (False, 0)
    with reverts("NoValidPrice", token):
        contract.borrow(token, 1, acct(5), {"from": acct(5)})
    # pokes closer than half a window record nothing
    at(start + WINDOW // 2 - 1)
    tx = contract.pokeOracle(token, {"from": acct(9)})
    assert tx.return_value is False and "Observed" not in tx.events
    at(start + WINDOW // 2)
    assert contract.pokeOracle(token, {"from": acct(9)}).return_value is True
    mine_at(start + WINDOW - 1)
    assert twap(contract, token) == (False, 0)
    mine_at(start + WINDOW)
    price = uq112(5_000 * WAD, 100_000 * WAD)  # nothing traded: the average is the price
    assert twap(contract, token) == (True, price)
    # two windows after the newest usable observation, with no poke since, the price is stale
    mine_at(start + WINDOW // 2 + 2 * WINDOW)
    assert twap(contract, token)[0] is True  # the one at half a window is exactly 2W old
    mine_at(start + WINDOW // 2 + 2 * WINDOW + 1)
    assert twap(contract, token) == (False, 0)
    with reverts("NoValidPrice", token):
        contract.borrow(token, 1, acct(5), {"from": acct(5)})
    # the exit: poke, wait one window
    contract.pokeOracle(token, {"from": acct(9)})
    mine_at(latest() + WINDOW)
    assert twap(contract, token) == (True, price)
    contract.borrow(token, 1, acct(5), {"from": acct(5)})


def test_twap_is_the_pool_cumulative_difference(lending):
    env = lending
    contract, pool = env.lending, env.pool
    for elapsed, amount in ((17, 2_000 * WAD), (300, 9_000 * WAD), (444, 500 * WAD)):
        at(latest() + elapsed)
        sell_tokens(env, amount)
        contract.pokeOracle(env.token, {"from": acct(0)})
        now = latest()
        cumulative = int(pool.currentCumulativePrices()[0])
        usable = []
        for i in range(4):
            timestamp, observed, _, count = ints(contract.observation(env.token, i))
            if i < count and timestamp + WINDOW <= now:
                usable.append((timestamp, observed))
        timestamp, observed = max(usable)
        assert now - timestamp <= 2 * WINDOW
        expected = ((cumulative - observed) % MOD) // (now - timestamp)
        assert twap(env.lending, env.token) == (True, expected)


# ------------------------------------------------------------------ borrowing


def test_borrow_up_to_the_ltv_limit_and_not_a_wei_more(lending):
    env = lending
    price = spot(env.pool)  # nothing traded since the pool was seeded: TWAP == spot
    assert twap(env.lending, env.token) == (True, price)
    deposit(env, BORROWER)
    limit = limit_of(COLLATERAL, price, LTV_BPS)
    assert limit in (500 * WAD - 1, 500 * WAD)  # 0.1 in UQ112x112 is rounded down
    with reverts("Undercollateralized", limit + 1, limit):
        borrow(env, BORROWER, limit + 1)
    before = env.base.balanceOf(acct(BORROWER))
    tx = borrow(env, BORROWER, limit)
    assert plain(tx.events["Borrowed"].values()) == (
        *addr(env.token, acct(BORROWER), acct(BORROWER)),
        limit,
    )
    assert env.base.balanceOf(acct(BORROWER)) - before == limit
    assert ints(env.lending.positionOf(env.token, acct(BORROWER))) == (COLLATERAL, limit, 0)
    valid, value, debt, borrow_limit, liquidation_limit = env.lending.accountLiquidity(
        env.token, acct(BORROWER)
    )
    assert (valid, value, debt, borrow_limit) == (True, value_of(COLLATERAL, price), limit, limit)
    assert liquidation_limit == limit_of(COLLATERAL, price, THRESHOLD_BPS)
    # even in the same second (no interest yet), not 1 wei more
    at(latest())
    with reverts("Undercollateralized", limit + 1, limit):
        borrow(env, BORROWER, 1)
    # withdrawing collateral is held to the same limit (a second later: interest has accrued)
    at(latest() + 1)
    with reverts("Undercollateralized"):
        env.lending.withdrawCollateral(env.token, 1, acct(BORROWER), {"from": acct(BORROWER)})


def test_borrow_cap(lending):
    env = lending
    for who in (BORROWER, OTHER, THIRD):
        deposit(env, who, 20_000 * WAD)  # 2,000 base of value each: a limit just below 1,000
    # the fixture's cap is 50k: lowered to 1,500 through the timelock
    data = env.lending.setMarket.encode_input(
        env.token, env.pool, LTV_BPS, THRESHOLD_BPS, 1_500 * WAD, True
    )
    timelock_call(env.timelock, env.lending, data)
    keep_oracle_fresh(env, latest())
    env.lending.pokeOracle(env.token, {"from": acct(0)})
    mine_at(latest() + WINDOW)
    borrow(env, BORROWER, 900 * WAD)
    at(latest())  # same second: no interest, the market owes exactly 900
    with reverts("BorrowCapExceeded", env.token, 1_500 * WAD + 1, 1_500 * WAD):
        borrow(env, OTHER, 600 * WAD + 1)
    at(latest())
    borrow(env, OTHER, 600 * WAD)
    assert env.lending.marketOf(env.token)[6] == 1_500 * WAD


def test_borrow_refusals(lending_owned):
    env = lending_owned
    contract, owner = env.lending, acct(0)
    deposit(env, BORROWER)
    with reverts("ZeroAmount"):
        borrow(env, BORROWER, 0)
    with reverts("ZeroAddress"):
        contract.borrow(env.token, 1, ZERO, {"from": acct(BORROWER)})
    with reverts("MarketNotListed", env.base):
        contract.borrow(env.base, 1, acct(BORROWER), {"from": acct(BORROWER)})
    with reverts("ZeroAmount"):
        deposit(env, BORROWER, 0)
    # cash: the lenders take out all they can
    for lender in (7, 8):
        contract.redeem(
            contract.maxRedeem(acct(lender)), acct(lender), acct(lender), {"from": acct(lender)}
        )
    left = int(contract.cash())
    with reverts("InsufficientCash", left + 1, left):
        borrow(env, BORROWER, left + 1)
    # a disabled market takes neither collateral nor borrows
    contract.setMarket(
        env.token, env.pool, LTV_BPS, THRESHOLD_BPS, BORROW_CAP, False, {"from": owner}
    )
    with reverts("MarketNotEnabled", env.token):
        borrow(env, BORROWER, 1)
    with reverts("MarketNotEnabled", env.token):
        deposit(env, BORROWER, 1)


def test_interest_accrues_exactly(lending):
    env = lending
    contract = env.lending
    mirror = LendingMirror(contract)
    deposit(env, BORROWER, 20_000 * WAD)
    deposit(env, OTHER, 20_000 * WAD)
    tx = borrow(env, BORROWER, 900 * WAD)
    mirror.borrow(env.token, acct(BORROWER), 900 * WAD, tx.timestamp)
    for elapsed, who, amount in (
        (3_600, OTHER, 700 * WAD),
        (86_400, BORROWER, 5 * WAD),
        (YEAR // 12, OTHER, 1),
    ):
        keep_oracle_fresh(env, latest() + elapsed)
        now = latest()
        assert contract.borrowIndex() == mirror.index_at(now)
        assert contract.totalDebt() == mirror.total_debt(mirror.index_at(now))
        assert contract.totalAssets() == mirror.total_assets(now)
        at(now + 1)
        tx = borrow(env, who, amount)
        mirror.borrow(env.token, acct(who), amount, tx.timestamp)
        assert contract.borrowIndex() == mirror.index
        assert "InterestAccrued" in tx.events
        event = tx.events["InterestAccrued"]
        assert event["borrowIndex"] == mirror.index
        for index in (BORROWER, OTHER):
            assert contract.positionOf(env.token, acct(index))[1] == mirror.debt_of(
                env.token, acct(index)
            )
    assert contract.borrowRate() == mirror.rates.rate(mirror.cash, mirror.total_debt())
    # full repayment by a third party: exactly the mirror's debt
    at(latest() + 1000)
    debt = mirror.debt_of(env.token, acct(BORROWER), latest() + 1000)
    tx = contract.repay(env.token, acct(BORROWER), MAX, {"from": acct(THIRD)})
    paid = mirror.repay(env.token, acct(BORROWER), MAX, tx.timestamp)
    assert tx.return_value == paid == debt
    assert plain(tx.events["Repaid"].values()) == (
        *addr(env.token, acct(BORROWER), acct(THIRD)),
        paid,
    )
    assert contract.positionOf(env.token, acct(BORROWER))[1] == 0
    assert contract.cash() == mirror.cash
    assert contract.totalAssets() == mirror.total_assets()
    assert mirror.interest > 0


def test_kink_rate_model(lending_owned):
    rates = RateModel()
    # below, at and above the kink
    for cash, debt in ((100, 0), (50, 50), (20, 80), (10, 90), (0, 100)):
        utilization = debt * WAD // (cash + debt)
        expected = rates.base + min(utilization, rates.kink) * rates.slope1 // WAD
        if utilization > rates.kink:
            expected += (utilization - rates.kink) * rates.slope2 // WAD
        assert rates.rate(cash, debt) == expected
    env = lending_owned
    deposit(env, BORROWER, 20_000 * WAD)
    at(latest() + 1)
    borrow(env, BORROWER, 900 * WAD)
    cash, debt = int(env.lending.cash()), int(env.lending.totalDebt())
    assert env.lending.borrowRate() == rates.rate(cash, debt)
    # above the kink the rate jumps: the lenders withdraw all the cash they can
    for lender in (7, 8):
        who = acct(lender)
        at(latest())  # the same second as the view: the share price has not moved
        env.lending.redeem(env.lending.maxRedeem(who), who, who, {"from": who})
    cash, debt = int(env.lending.cash()), int(env.lending.totalDebt())
    assert debt * WAD // (cash + debt) > rates.kink
    assert env.lending.borrowRate() == rates.rate(cash, debt) > rates.base + rates.slope1 * 8 // 10


def test_repay_partial_by_anyone_and_refusals(lending):
    env = lending
    contract = env.lending
    deposit(env, BORROWER)
    borrow(env, BORROWER, 400 * WAD)
    mine_at(latest() + 86_400)
    index_next = int(contract.borrowIndex())
    at(latest())
    tx = contract.repay(env.token, acct(BORROWER), 100 * WAD, {"from": acct(OTHER)})
    assert tx.return_value == 100 * WAD
    assert contract.borrowIndex() == index_next
    remaining = int(contract.positionOf(env.token, acct(BORROWER))[1])
    assert remaining > 300 * WAD  # interest
    with reverts("ZeroAmount"):
        contract.repay(env.token, acct(BORROWER), 0, {"from": acct(OTHER)})
    with reverts("RepayTooSmall", 1):
        contract.repay(env.token, acct(BORROWER), 1, {"from": acct(OTHER)})  # index > 1: 0 shares
    with reverts("NothingToRepay"):
        contract.repay(env.token, acct(THIRD), 1, {"from": acct(OTHER)})
    contract.repay(env.token, acct(BORROWER), MAX, {"from": acct(BORROWER)})
    assert contract.positionOf(env.token, acct(BORROWER))[1] == 0
    assert contract.totalScaledDebt() == 0
    # debt free: all collateral out at once
    before = env.token.balanceOf(acct(BORROWER))
    with reverts("InsufficientCollateral", COLLATERAL + 1, COLLATERAL):
        contract.withdrawCollateral(
            env.token, COLLATERAL + 1, acct(BORROWER), {"from": acct(BORROWER)}
        )
    with reverts("ZeroAddress"):
        contract.withdrawCollateral(env.token, 1, ZERO, {"from": acct(BORROWER)})
    with reverts("ZeroAmount"):
        contract.withdrawCollateral(env.token, 0, acct(BORROWER), {"from": acct(BORROWER)})
    tx = contract.withdrawCollateral(
        env.token, COLLATERAL, acct(BORROWER), {"from": acct(BORROWER)}
    )
    assert tx.events["CollateralWithdrawn"]["amount"] == COLLATERAL
    assert env.token.balanceOf(acct(BORROWER)) - before == COLLATERAL


# ------------------------------------------------------------------ manipulation


def pump_call(env, amount):
    who = acct(TRADER)
    return (env.pool.swapExactBaseForTokens, amount, 0, who, FAR, {"from": who})


def dump_call(env, amount):
    who = acct(TRADER)
    return (env.pool.swapExactTokensForBase, amount, 0, who, FAR, {"from": who})


def test_a_one_block_pump_does_not_raise_borrowing_power(lending):
    """A sandwich: a large buy of the client token, a borrow, the sale back, all in one block.
    The spot price triples, but the TWAP only counts prices that survived a block's end, so the
    borrowing limit is the one before the pump, to the wei."""
    env = lending
    deposit(env, BORROWER)
    price = spot(env.pool)
    limit = limit_of(COLLATERAL, price, LTV_BPS)
    reserve_token, reserve_base = ints(env.pool.getReserves())
    pumped_with = 8_000 * WAD
    bought = amount_out(pumped_with, reserve_base, reserve_token)
    when = latest() + 1
    pump, greedy, dump = same_block(
        pump_call(env, pumped_with),
        (env.lending.borrow, env.token, limit + 1, acct(BORROWER), {"from": acct(BORROWER)}),
        dump_call(env, bought),
        timestamp=when,
    )
    assert pump.status == 1 and dump.status == 1
    assert greedy.status == 0  # the limit is still the pre-pump one
    assert greedy.revert_msg.startswith("Undercollateralized")
    spot_during = uq112(reserve_base + pumped_with, reserve_token - bought)
    assert spot_during > 3 * price
    # an honest borrow in the same kind of block goes through (the limit is the TWAP's: the round
    # trip's fees moved the price a hair, hence 99.9 %)
    pump, fair, dump = same_block(
        pump_call(env, pumped_with),
        (
            env.lending.borrow,
            env.token,
            limit * 999 // 1000,
            acct(BORROWER),
            {"from": acct(BORROWER)},
        ),
        dump_call(env, bought * 99 // 100),
        timestamp=latest() + 1,
    )
    assert pump.status == fair.status == dump.status == 1
    assert fair.events["Borrowed"]["amount"] == limit * 999 // 1000


def test_a_pump_held_one_block_moves_the_limit_by_that_block_only(lending):
    env = lending
    deposit(env, BORROWER)
    price = spot(env.pool)
    env.pool.swapExactBaseForTokens(8_000 * WAD, 0, acct(TRADER), FAR, {"from": acct(TRADER)})
    pumped = spot(env.pool)
    assert pumped > 3 * price
    mine_at(latest() + 1)
    valid, twap_now = twap(env.lending, env.token)
    assert valid
    # one second of the pumped price in an average over more than a window
    assert twap_now <= price + (pumped - price) // WINDOW + 1
    spot_limit = limit_of(COLLATERAL, pumped, LTV_BPS)
    twap_limit = limit_of(COLLATERAL, twap_now, LTV_BPS)
    assert twap_limit * 100 < spot_limit * 34
    with reverts("Undercollateralized"):
        borrow(env, BORROWER, limit_of(COLLATERAL, price, LTV_BPS) * 101 // 100)


def test_a_sustained_fall_makes_a_position_liquidatable_and_liquidation_restores_health(lending):
    env = lending
    contract = env.lending
    deposit(env, BORROWER)
    price = spot(env.pool)
    borrow(env, BORROWER, limit_of(COLLATERAL, price, LTV_BPS))
    with reverts("NotLiquidatable"):
        contract.liquidate(env.token, acct(BORROWER), MAX, {"from": acct(LIQUIDATOR)})
    # the price falls by about 37 %: below the threshold, not so far that half the debt cannot
    # bring the position back
    sell_tokens(env, 26_000 * WAD)
    assert spot(env.pool) * 3 < price * 2
    keep_oracle_fresh(env, latest() + 2 * WINDOW)
    valid, _, debt, _, liquidation_limit = ints(
        contract.accountLiquidity(env.token, acct(BORROWER))
    )
    assert valid and debt > liquidation_limit
    at(latest())  # the same second as the views: no interest in between
    price_now = twap(contract, env.token)[1]
    base_before = env.base.balanceOf(acct(LIQUIDATOR))
    tx = contract.liquidate(env.token, acct(BORROWER), MAX, {"from": acct(LIQUIDATOR)})
    repaid = debt * CLOSE_FACTOR_BPS // BPS
    seized = (repaid * (BPS + BONUS_BPS) // BPS) * Q112 // price_now
    assert ints(tx.return_value) == (repaid, seized)
    assert plain(tx.events["Liquidated"].values()) == (
        *addr(env.token, acct(BORROWER), acct(LIQUIDATOR)),
        repaid,
        seized,
    )
    assert "BadDebtWrittenOff" not in tx.events
    assert base_before - env.base.balanceOf(acct(LIQUIDATOR)) == repaid
    assert env.token.balanceOf(acct(LIQUIDATOR)) == seized
    valid, _, debt_after, _, liquidation_limit = ints(
        contract.accountLiquidity(env.token, acct(BORROWER))
    )
    assert debt_after <= debt - repaid + 2
    assert debt_after <= liquidation_limit  # healthy again
    assert contract.positionOf(env.token, acct(BORROWER))[0] == COLLATERAL - seized
    with reverts("NotLiquidatable"):
        contract.liquidate(env.token, acct(BORROWER), MAX, {"from": acct(LIQUIDATOR)})


def test_a_crash_leaves_bad_debt_that_is_written_off(lending):
    env = lending
    contract = env.lending
    deposit(env, BORROWER)
    borrow(env, BORROWER, limit_of(COLLATERAL, spot(env.pool), LTV_BPS))
    sell_tokens(env, 400_000 * WAD)  # the price falls by about 97 %
    keep_oracle_fresh(env, latest() + 2 * WINDOW)
    mine_at(latest() + 1)
    at(latest())
    price_now = twap(contract, env.token)[1]
    debt = int(contract.positionOf(env.token, acct(BORROWER))[1])
    assets_before = int(contract.totalAssets())
    share_price_before = int(contract.convertToAssets(10**24))
    tx = contract.liquidate(env.token, acct(BORROWER), MAX, {"from": acct(LIQUIDATOR)})
    value = value_of(COLLATERAL, price_now)
    repaid = value * BPS // (BPS + BONUS_BPS)
    assert ints(tx.return_value) == (repaid, COLLATERAL)
    written_off = tx.events["BadDebtWrittenOff"]["amount"]
    assert plain(tx.events["BadDebtWrittenOff"].values()) == (
        *addr(env.token, acct(BORROWER)),
        written_off,
    )
    assert written_off > 0
    assert ints(contract.positionOf(env.token, acct(BORROWER)))[:2] == (0, 0)
    assert contract.totalScaledDebt() == 0 and contract.totalDebt() == 0
    assert contract.badDebt() == written_off
    # the lenders bear it: total assets fall by the debt less what the liquidator paid
    assert contract.totalAssets() == assets_before + repaid - debt
    assert abs((debt - repaid) - written_off) <= 1  # the partial repayment rounds by at most 1
    assert contract.convertToAssets(10**24) < share_price_before
    assert contract.totalAssets() == contract.cash()


def test_liquidation_without_a_valid_price_waits_for_a_poke(lending):
    env = lending
    contract = env.lending
    deposit(env, BORROWER)
    borrow(env, BORROWER, limit_of(COLLATERAL, spot(env.pool), LTV_BPS))
    sell_tokens(env, 60_000 * WAD)
    mine_at(latest() + 3 * WINDOW)  # nobody poked: every observation is stale
    assert twap(env.lending, env.token) == (False, 0)
    with reverts("NoValidPrice", env.token):
        contract.liquidate(env.token, acct(BORROWER), MAX, {"from": acct(LIQUIDATOR)})
    # the failed call recorded nothing (it reverted); a poke does, and a window later it works
    contract.pokeOracle(env.token, {"from": acct(LIQUIDATOR)})
    mine_at(latest() + WINDOW)
    tx = contract.liquidate(env.token, acct(BORROWER), MAX, {"from": acct(LIQUIDATOR)})
    assert tx.events["Liquidated"]["repaid"] > 0


def test_liquidate_refusals(lending):
    env = lending
    with reverts("NotLiquidatable", 0, 0):
        env.lending.liquidate(env.token, acct(BORROWER), MAX, {"from": acct(LIQUIDATOR)})
    with reverts("MarketNotListed", env.base):
        env.lending.liquidate(env.base, acct(BORROWER), MAX, {"from": acct(LIQUIDATOR)})


def test_liquidating_with_zero_repay_seizes_nothing(lending):
    env = lending
    deposit(env, BORROWER)
    borrow(env, BORROWER, limit_of(COLLATERAL, spot(env.pool), LTV_BPS))
    sell_tokens(env, 40_000 * WAD)
    keep_oracle_fresh(env, latest() + 2 * WINDOW)
    with reverts("NothingToLiquidate"):
        env.lending.liquidate(env.token, acct(BORROWER), 0, {"from": acct(LIQUIDATOR)})


# ------------------------------------------------------------------ exits without the admin


def test_every_position_has_an_exit_when_the_admin_is_gone(lending_owned):
    env = lending_owned
    contract = env.lending
    for who in (BORROWER, OTHER, THIRD):
        deposit(env, who)
        borrow(env, who, 400 * WAD)
    contract.setMarket(
        env.token, env.pool, LTV_BPS, THRESHOLD_BPS, BORROW_CAP, False, {"from": acct(0)}
    )
    tx = contract.renounceOwnership({"from": acct(0)})
    assert tx.events["OwnershipTransferred"]["newOwner"] == ZERO
    with reverts("OwnableUnauthorizedAccount", acct(0)):
        contract.setMarket(
            env.token, env.pool, LTV_BPS, THRESHOLD_BPS, BORROW_CAP, True, {"from": acct(0)}
        )
    mine_at(latest() + 30 * 86_400)  # a month later, the oracle long stale
    # repay and withdraw: no price needed once the debt is gone
    contract.repay(env.token, acct(BORROWER), MAX, {"from": acct(BORROWER)})
    contract.withdrawCollateral(env.token, COLLATERAL, acct(BORROWER), {"from": acct(BORROWER)})
    # a partial withdrawal of an indebted position: poke, wait a window
    contract.pokeOracle(env.token, {"from": acct(OTHER)})
    mine_at(latest() + WINDOW)
    contract.withdrawCollateral(env.token, COLLATERAL // 10, acct(OTHER), {"from": acct(OTHER)})
    # liquidation: after a crash, anyone
    sell_tokens(env, 100_000 * WAD)
    keep_oracle_fresh(env, latest() + 2 * WINDOW)
    contract.liquidate(env.token, acct(THIRD), MAX, {"from": acct(LIQUIDATOR)})
    # lenders: up to the cash
    lender = acct(LENDER)
    available = int(contract.maxWithdraw(lender))
    assert available > 0
    contract.withdraw(available, lender, lender, {"from": lender})


# ------------------------------------------------------------------ lenders


def test_lenders_earn_the_interest(lending):
    env = lending
    contract = env.lending
    lender = acct(LENDER)
    shares = int(contract.balanceOf(lender))
    assert shares == LENDER_DEPOSIT * 10**DECIMALS_OFFSET
    deposit(env, BORROWER, 20_000 * WAD)
    borrow(env, BORROWER, 900 * WAD)
    mine_at(latest() + YEAR // 4)
    at(latest() + 1)
    contract.repay(env.token, acct(BORROWER), MAX, {"from": acct(BORROWER)})
    total, supply = int(contract.totalAssets()), int(contract.totalSupply())
    interest = total - 2 * LENDER_DEPOSIT
    assert interest > 0
    expected = assets_for(shares, total, supply)
    before = env.base.balanceOf(lender)
    tx = contract.redeem(shares, lender, lender, {"from": lender})
    assert tx.return_value == expected
    assert env.base.balanceOf(lender) - before == expected
    assert abs(expected - LENDER_DEPOSIT - interest // 2) <= 1
    # a new lender pays the same share price
    newcomer = acct(6)
    env.base.approve(contract, MAX, {"from": newcomer})
    total, supply = int(contract.totalAssets()), int(contract.totalSupply())
    tx = contract.deposit(1_000 * WAD, newcomer, {"from": newcomer})
    assert tx.return_value == shares_for(1_000 * WAD, total, supply)


def test_lenders_withdraw_at_most_the_cash(lending):
    env = lending
    contract = env.lending
    for who in (BORROWER, OTHER, THIRD):
        deposit(env, who, 20_000 * WAD)
        borrow(env, who, 900 * WAD)
    cash = int(contract.cash())
    lender = acct(LENDER)
    assert contract.maxWithdraw(lender) == min(
        cash, contract.previewRedeem(contract.balanceOf(lender))
    )
    # a vault almost fully lent: lender 8 leaves first, lender 7 finds the cash short
    other = acct(8)
    at(latest())
    contract.redeem(contract.maxRedeem(other), other, other, {"from": other})
    cash = int(contract.cash())
    assert contract.maxWithdraw(lender) == cash
    with reverts("ERC4626ExceededMaxWithdraw", lender, cash + 1, cash):
        contract.withdraw(cash + 1, lender, lender, {"from": lender})
    contract.withdraw(cash, lender, lender, {"from": lender})
    assert contract.cash() == 0


def test_first_depositor_cannot_inflate_the_share_price(market):
    contract = deploy_lending(market.base, acct(0))
    attacker, victim = acct(2), acct(3)
    for who in (attacker, victim):
        market.base.approve(contract, MAX, {"from": who})
    contract.deposit(1, attacker, {"from": attacker})
    market.base.transfer(contract, 10_000 * WAD, {"from": attacker})  # the "donation"
    tx = contract.deposit(10_000 * WAD, victim, {"from": victim})
    assert tx.return_value == 10_000 * WAD * 10**DECIMALS_OFFSET  # untouched share price
    assert contract.previewRedeem(contract.balanceOf(victim)) == 10_000 * WAD
    # the donation is skimmed to the lenders pro rata: the attacker gets back 1 wei's share of it
    tx = contract.skim({"from": acct(5)})
    assert tx.return_value == 10_000 * WAD
    assert contract.previewRedeem(contract.balanceOf(attacker)) < WAD


# ------------------------------------------------------------------ dividends


def test_dividends_on_collateral_reach_the_borrowers(lending):
    """The contract claims its dividends at every collateral change and splits them by
    collateral: each borrower gets what its tokens would have earned in its own wallet (the exact
    stream: rate * collateral / supply per second), to a few wei of rounding."""
    env = lending
    contract, token = env.lending, env.token
    a, b = acct(BORROWER), acct(OTHER)
    amount = 70_000 * WAD
    at(latest() + 1)
    token.distribute(amount, {"from": env.client})
    rate = Fraction(amount, DIVIDEND_DURATION)
    supply = int(token.totalSupply())
    collateral = {a: 0, b: 0}
    earned = {a: Fraction(0), b: Fraction(0)}
    last = latest()

    def advance(now):
        nonlocal last
        for who in earned:
            earned[who] += rate * collateral[who] * (now - last) / supply
        last = now

    steps = [
        (3_600, a, 10_000 * WAD),
        (7_200, b, 5_000 * WAD),
        (86_400, a, -4_000 * WAD),
        (50_000, b, 1_000 * WAD),
    ]
    for elapsed, who, change in steps:
        at(latest() + elapsed)
        if change > 0:
            tx = contract.depositCollateral(token, change, {"from": who})
        else:
            tx = contract.withdrawCollateral(token, -change, who, {"from": who})
        advance(tx.timestamp)
        collateral[who] += change
    assets = int(contract.totalAssets())
    at(latest() + 200_000)
    for who in (a, b):
        pending = int(contract.positionOf(token, who)[2])
        tx = contract.claimDividends(token, {"from": who})
        advance(tx.timestamp)
        paid = int(tx.return_value)
        assert tx.events["DividendsClaimed"]["amount"] == paid > 0
        assert abs(paid - earned[who]) <= 10, (paid, float(earned[who]))
        assert paid >= pending  # the view counts up to the latest block
    # never lenders' assets; what the contract holds beyond its cash is owed to the borrowers
    assert contract.totalAssets() == assets
    held = int(contract.dividendsHeld())
    assert env.base.balanceOf(contract) == contract.cash() + held
    owed = sum(int(contract.positionOf(token, who)[2]) for who in (a, b))
    assert 0 <= held - owed <= 10
    assert contract.claimDividends(token, {"from": acct(THIRD)}).return_value == 0


def test_nobody_can_push_the_collateral_dividends_to_the_lenders(lending):
    """Listing a market makes its token refuse claims pushed to the contract: pushed dividends
    would arrive as unexplained base tokens, which ``skim`` gives to the lenders, so any lender
    could take the borrowers' dividends. The contract's own claims still credit them."""
    env = lending
    contract, token, borrower = env.lending, env.token, acct(BORROWER)
    assert token.refusesPushes(contract)
    at(latest() + 1)
    token.distribute(70_000 * WAD, {"from": env.client})
    contract.depositCollateral(token, 10_000 * WAD, {"from": borrower})
    mine_at(latest() + 3_600)
    assert token.dividendOf(contract) > 0
    with reverts("PushRefused", contract):
        token.claimDividendFor(contract, {"from": acct(LIQUIDATOR)})
    assert contract.skim.call({"from": acct(LIQUIDATOR)}) == 0  # nothing unexplained to skim
    tx = contract.claimDividends(token, {"from": borrower})
    assert tx.return_value > 0  # the borrower gets them, through the contract's own claim
