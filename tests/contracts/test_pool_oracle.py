"""ClientPool's price oracle (Uniswap v2's design): cumulative prices in UQ112x112, updated on the
first reserve change of a block with the price from before that change times the seconds since the
last update, wrapping modulo 2**256; ``currentCumulativePrices()`` is the counterfactual value at
the current block. Every number is checked exactly against OracleModel."""

import pytest
from brownie import AdversarialToken, ClientPool, accounts, web3

from tests.contracts.lending import MOD, Q112, OracleModel, same_block, uq112
from tests.contracts.market import (
    FAR,
    FEE_BPS,
    MAX,
    WAD,
    amount_out,
    at,
    fresh_clone,
    ints,
    latest,
    mine_at,
)

TRADER = 2  # accounts[2], an investor of the market fixture
SLOT_BASE_CUMULATIVE = 4  # storage: token|fee|timestamp, base|seeded, reserves (2), cumulatives


def buy(pool, amount, who=TRADER, **params):
    who = accounts[who] if isinstance(who, int) else who
    return pool.swapExactBaseForTokens(amount, 0, who, FAR, {"from": who, **params})


def sell(pool, amount, who=TRADER, **params):
    who = accounts[who] if isinstance(who, int) else who
    return pool.swapExactTokensForBase(amount, 0, who, FAR, {"from": who, **params})


def buying(pool, amount, who=TRADER):
    """A buy as a ``same_block`` call."""
    return (pool.swapExactBaseForTokens, amount, 0, accounts[who], FAR, {"from": accounts[who]})


def selling(pool, amount, who=TRADER):
    """A sell as a ``same_block`` call."""
    return (pool.swapExactTokensForBase, amount, 0, accounts[who], FAR, {"from": accounts[who]})


def assert_model(pool, model):
    assert pool.basePerTokenCumulativeLast() == model.base_cum
    assert pool.tokenPerBaseCumulativeLast() == model.token_cum
    assert pool.blockTimestampLast() == model.last
    assert ints(pool.getReserves()) == (model.reserve_token, model.reserve_base)


def test_seeding_starts_the_clock_with_zero_cumulatives(market):
    pool = market.pool
    assert pool.Q112() == Q112
    assert pool.basePerTokenCumulativeLast() == 0
    assert pool.tokenPerBaseCumulativeLast() == 0
    seeded_at = int(pool.blockTimestampLast())
    assert 0 < seeded_at <= latest()
    # nothing accumulated before the first liquidity; from then on, the seed price
    mine_at(latest() + 10)
    rt, rb = ints(pool.getReserves())
    elapsed = latest() - seeded_at
    assert ints(pool.currentCumulativePrices()) == (
        uq112(rb, rt) * elapsed,
        uq112(rt, rb) * elapsed,
        latest(),
    )


def test_cumulatives_follow_the_model_across_blocks(market):
    pool, base, token = market.pool, market.base, market.token
    model = OracleModel(pool)
    steps = [
        (1, lambda: buy(pool, 500 * WAD)),
        (13, lambda: sell(pool, 2_000 * WAD)),
        (600, lambda: buy(pool, 3_000 * WAD)),
        (3_600, lambda: sell(pool, 10_000 * WAD)),
        (
            7,
            lambda: base.transfer(pool, 123 * WAD, {"from": accounts[TRADER]}),
        ),  # a donation: no change
        (5, lambda: pool.sync({"from": accounts[TRADER]})),
        (
            86_400,
            lambda: pool.addLiquidity(
                1_000 * WAD, 1_000 * WAD, 0, 0, accounts[TRADER], FAR, {"from": accounts[TRADER]}
            ),
        ),
        (
            2,
            lambda: pool.removeLiquidity(
                pool.balanceOf(accounts[TRADER]) // 2,
                0,
                0,
                accounts[TRADER],
                FAR,
                {"from": accounts[TRADER]},
            ),
        ),
        (31, lambda: token.transfer(pool, 77 * WAD, {"from": accounts[TRADER]})),
        (1, lambda: buy(pool, 1)),  # folds the token donation in first: two Syncs, one update
    ]
    for elapsed, send in steps:
        at(latest() + elapsed)
        tx = send()
        model.apply(tx)
        assert_model(pool, model)
        for later in (0, 1, 999):
            if later:
                mine_at(latest() + later)
            assert ints(pool.currentCumulativePrices()) == model.current(latest())
    assert model.base_cum > 0 and model.token_cum > 0


def test_first_change_of_a_block_counts_the_price_before_it(market):
    pool = market.pool
    last = int(pool.blockTimestampLast())
    rt, rb = ints(pool.getReserves())
    before = (int(pool.basePerTokenCumulativeLast()), int(pool.tokenPerBaseCumulativeLast()))
    at(last + 100)
    tx = buy(pool, 5_000 * WAD)  # a big buy: the price after it is far higher
    new_rt, new_rb = ints(pool.getReserves())
    assert pool.basePerTokenCumulativeLast() == before[0] + uq112(rb, rt) * 100
    assert pool.tokenPerBaseCumulativeLast() == before[1] + uq112(rt, rb) * 100
    assert pool.blockTimestampLast() == tx.timestamp == last + 100
    assert uq112(new_rb, new_rt) > uq112(rb, rt) * 2  # the post-trade price did not count
    # the next second counts the new price
    mine_at(last + 101)
    base_cum, token_cum, _ = ints(pool.currentCumulativePrices())
    assert base_cum == before[0] + uq112(rb, rt) * 100 + uq112(new_rb, new_rt)
    assert token_cum == before[1] + uq112(rt, rb) * 100 + uq112(new_rt, new_rb)


def test_several_changes_in_one_block_count_once(market):
    pool = market.pool
    model = OracleModel(pool)
    when = latest() + 50
    pump, dump, again = same_block(
        buying(pool, 5_000 * WAD),
        selling(pool, 20_000 * WAD),
        buying(pool, 700 * WAD),
        timestamp=when,
    )
    for tx in (pump, dump, again):
        assert tx.status == 1 and tx.timestamp == when
        model.apply(tx)
    # one update: the price before the block times 50 s; the block's intermediate prices: nothing
    assert_model(pool, model)
    assert model.last == when
    # the same in a second block with the same timestamp (Anvil allows it): no second update
    base_cum = int(pool.basePerTokenCumulativeLast())
    at(when)
    tx = sell(pool, 1_000 * WAD)
    assert tx.timestamp == when
    model.apply(tx)
    assert_model(pool, model)
    assert pool.basePerTokenCumulativeLast() == base_cum


def test_a_same_block_round_trip_leaves_no_trace(market):
    """A pump and its reversal in one block: the cumulatives grow at the price before it, exactly as
    if nothing had happened that block."""
    pool = market.pool
    rt, rb = ints(pool.getReserves())
    last = int(pool.blockTimestampLast())
    base_cum = int(pool.basePerTokenCumulativeLast())
    when = latest() + 30
    got = amount_out(8_000 * WAD, rb, rt)  # no dividend stream runs: nothing is harvested
    pump, dump = same_block(buying(pool, 8_000 * WAD), selling(pool, got), timestamp=when)
    assert pump.status == dump.status == 1
    assert pump.events["Swap"]["amountOut"] == got
    mine_at(when + 100)
    new_rt, new_rb = ints(pool.getReserves())
    expected = base_cum + uq112(rb, rt) * (when - last) + uq112(new_rb, new_rt) * 100
    assert pool.currentCumulativePrices()[0] == expected
    # the price after the round trip is close to the one before: only fees moved it
    assert abs(uq112(new_rb, new_rt) - uq112(rb, rt)) * 100 < uq112(rb, rt)


def test_time_weighted_average_between_two_observations(market):
    pool = market.pool
    start = latest() + 1
    mine_at(start)
    first = ints(pool.currentCumulativePrices())
    rt, rb = ints(pool.getReserves())
    at(start + 100)
    buy(pool, 4_000 * WAD)
    rt2, rb2 = ints(pool.getReserves())
    mine_at(start + 400)
    second = ints(pool.currentCumulativePrices())
    twap = ((second[0] - first[0]) % MOD) // (second[2] - first[2])
    expected = (uq112(rb, rt) * 100 + uq112(rb2, rt2) * 300) // 400
    assert twap == expected
    # in 1e18 units it sits between the two spot prices, weighted 1:3
    spot = (rb * WAD // rt, rb2 * WAD // rt2)
    assert spot[0] < twap * WAD // Q112 < spot[1]


def test_cumulatives_wrap_around(market):
    """The accumulators overflow by design: a value just below 2**256 wraps, and the difference of
    two observations taken modulo 2**256 is still the exact sum."""
    pool = market.pool
    near = MOD - 5
    slot = web3.to_hex(SLOT_BASE_CUMULATIVE)
    web3.provider.make_request(
        "anvil_setStorageAt", [pool.address, slot, "0x" + near.to_bytes(32, "big").hex()]
    )
    assert pool.basePerTokenCumulativeLast() == near
    model = OracleModel(pool)
    rt0, rb0 = model.reserve_token, model.reserve_base
    start = model.last
    at(latest() + 60)
    tx = buy(pool, 100 * WAD)
    model.apply(tx)
    assert_model(pool, model)
    assert int(pool.basePerTokenCumulativeLast()) < near  # wrapped
    mine_at(latest() + 40)
    after = ints(pool.currentCumulativePrices())
    assert after == model.current(latest())
    rt, rb = model.reserve_token, model.reserve_base
    expected = uq112(rb0, rt0) * (tx.timestamp - start) + uq112(rb, rt) * 40
    assert (after[0] - near) % MOD == expected


def test_an_extreme_ratio_saturates_instead_of_reverting(cloner, pool_impl):
    """A token-per-base ratio of 2**144 or more would not fit UQ112x112 in 256 bits: the price
    saturates at the largest value and trading goes on."""
    tok = AdversarialToken.deploy({"from": accounts[0]})
    bas = AdversarialToken.deploy({"from": accounts[0]})
    pool = fresh_clone(cloner, pool_impl, ClientPool)
    pool.initialize(tok, bas, FEE_BPS, {"from": accounts[0]})
    for asset, amount in ((tok, 2**200), (bas, 10**6)):
        asset.mint(accounts[0], amount, {"from": accounts[0]})
        asset.approve(pool, MAX, {"from": accounts[0]})
    pool.addLiquidity(2**150, 2, 0, 0, accounts[0], FAR, {"from": accounts[0]})
    model = OracleModel(pool)
    at(latest() + 10)
    tx = pool.swapExactBaseForTokens(1, 0, accounts[0], FAR, {"from": accounts[0]})
    model.apply(tx)
    assert_model(pool, model)
    assert pool.tokenPerBaseCumulativeLast() == ((MOD - 1) * 10) % MOD
    mine_at(latest() + 3)
    assert ints(pool.currentCumulativePrices()) == model.current(latest())


@pytest.mark.parametrize("elapsed", [1, 12, 10**6])
def test_views_change_nothing(market, elapsed):
    pool = market.pool
    stored = (
        int(pool.basePerTokenCumulativeLast()),
        int(pool.tokenPerBaseCumulativeLast()),
        int(pool.blockTimestampLast()),
    )
    mine_at(latest() + elapsed)
    pool.currentCumulativePrices()
    assert (
        int(pool.basePerTokenCumulativeLast()),
        int(pool.tokenPerBaseCumulativeLast()),
        int(pool.blockTimestampLast()),
    ) == stored
