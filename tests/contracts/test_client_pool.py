"""ClientPool: initialization, liquidity, swaps (Uniswap v2 math), upkeep, every revert, and the
harvest of the pool's own dividends that every swap and liquidity change runs first (try/catch:
a token whose claim fails never blocks trading)."""

from math import isqrt

import pytest
from brownie import AdversarialToken, ClientPool, ClientToken, TestBaseToken, accounts, chain

from tests.contracts.helpers import reverts
from tests.contracts.market import (
    DEAD,
    DIVIDEND_DURATION,
    FAR,
    FEE_BPS,
    MAX,
    MINIMUM_LIQUIDITY,
    SEED_BASE,
    SEED_TOKENS,
    SUPPLY,
    WAD,
    ZERO,
    amount_out,
    at,
    follow,
    fresh_clone,
    ints,
    latest,
    mine_at,
    register,
)

D = DIVIDEND_DURATION
SEED_LP = isqrt(SEED_TOKENS * SEED_BASE) - MINIMUM_LIQUIDITY


@pytest.fixture
def empty(registry, base):
    """A registered client (accounts[6]) whose pool has no liquidity yet; approvals done."""
    client = accounts[6]
    token, pool = register(registry, client, "Empty", "EMP")
    base.approve(pool, MAX, {"from": client})
    token.approve(pool, MAX, {"from": client})
    return token, pool, client


@pytest.fixture
def hostile(cloner, pool_impl):
    """A pool between two adversarial tokens, seeded 1000:1000 by accounts[0]."""
    tok = AdversarialToken.deploy({"from": accounts[0]})
    bas = AdversarialToken.deploy({"from": accounts[0]})
    pool = fresh_clone(cloner, pool_impl, ClientPool)
    pool.initialize(tok, bas, FEE_BPS, {"from": accounts[0]})
    for asset in (tok, bas):
        asset.mint(accounts[0], 10_000 * WAD, {"from": accounts[0]})
        asset.approve(pool, MAX, {"from": accounts[0]})
    pool.addLiquidity(1000 * WAD, 1000 * WAD, 0, 0, accounts[0], FAR, {"from": accounts[0]})
    return pool, tok, bas


# ------------------------------------------------------------------ initialization


def test_registered_pool_is_initialized(market):
    pool = market.pool
    assert pool.token() == market.token
    assert pool.base() == market.base
    assert pool.feeBps() == FEE_BPS
    assert pool.name() == "fl-node LP"
    assert pool.symbol() == "FLP"
    assert pool.MINIMUM_LIQUIDITY() == MINIMUM_LIQUIDITY


def test_initialize_accepts_the_highest_fee(cloner, pool_impl, base, market):
    pool = fresh_clone(cloner, pool_impl, ClientPool)
    pool.initialize(market.token, base, 1000, {"from": accounts[0]})
    assert pool.feeBps() == 1000


def test_initialize_rejects_a_fee_above_ten_percent(cloner, pool_impl, base, market):
    pool = fresh_clone(cloner, pool_impl, ClientPool)
    with reverts("FeeTooHigh", 1001, 1000):
        pool.initialize(market.token, base, 1001, {"from": accounts[0]})


def test_initialize_rejects_identical_tokens(cloner, pool_impl, base):
    pool = fresh_clone(cloner, pool_impl, ClientPool)
    with reverts("IdenticalTokens", base):
        pool.initialize(base, base, FEE_BPS, {"from": accounts[0]})


@pytest.mark.parametrize("which", ["token", "base"])
def test_initialize_rejects_zero_addresses(cloner, pool_impl, base, which):
    pool = fresh_clone(cloner, pool_impl, ClientPool)
    token, base_token = (ZERO, base) if which == "token" else (base, ZERO)
    with reverts("ZeroAddress"):
        pool.initialize(token, base_token, FEE_BPS, {"from": accounts[0]})


# ------------------------------------------------------------------ views


def test_an_empty_pool_quotes_zero(empty):
    _, pool, _ = empty
    assert ints(pool.getReserves()) == (0, 0)
    assert pool.price() == 0
    assert pool.quoteBaseForTokens(WAD) == 0
    assert pool.quoteTokensForBase(WAD) == 0


def test_quotes_follow_the_v2_formula(market):
    pool = market.pool
    assert ints(pool.getReserves()) == (SEED_TOKENS, SEED_BASE)
    assert pool.price() == SEED_BASE * WAD // SEED_TOKENS == WAD // 10
    for amount in (1, 10**6, WAD, 1234 * WAD):
        assert pool.quoteBaseForTokens(amount) == amount_out(amount, SEED_BASE, SEED_TOKENS)
        assert pool.quoteTokensForBase(amount) == amount_out(amount, SEED_TOKENS, SEED_BASE)
    assert pool.getAmountOut(1000, 5000, 7000, 0) == 1000 * 7000 // 6000
    assert pool.getAmountOut(1000, 0, 7000, 30) == 0


# ------------------------------------------------------------------ addLiquidity


def test_first_deposit_mints_sqrt_minus_the_locked_minimum(empty, base):
    token, pool, client = empty
    tx = pool.addLiquidity(4000 * WAD, 1000 * WAD, 0, 0, client, FAR, {"from": client})
    liquidity = isqrt(4000 * WAD * 1000 * WAD) - MINIMUM_LIQUIDITY
    assert ints(tx.return_value) == (4000 * WAD, 1000 * WAD, liquidity)
    assert pool.balanceOf(client) == liquidity
    assert pool.balanceOf(DEAD) == MINIMUM_LIQUIDITY
    assert pool.totalSupply() == liquidity + MINIMUM_LIQUIDITY
    assert ints(pool.getReserves()) == (4000 * WAD, 1000 * WAD)
    added = tx.events["LiquidityAdded"]
    assert (added["provider"], added["to"]) == (client, client)
    assert (added["tokenAmount"], added["baseAmount"], added["liquidity"]) == (
        4000 * WAD,
        1000 * WAD,
        liquidity,
    )
    assert tx.events["Sync"]["price"] == WAD // 4 == pool.price()
    assert token.balanceOf(pool) == 4000 * WAD
    assert base.balanceOf(pool) == 1000 * WAD


def test_first_deposit_at_the_minimum_mints_nothing(empty):
    _, pool, client = empty
    with reverts("InsufficientLiquidityMinted"):
        pool.addLiquidity(1000, 1000, 0, 0, client, FAR, {"from": client})


def test_later_deposits_take_the_ratio_when_base_is_in_excess(market):
    pool, lp = market.pool, accounts[2]
    market.token.transfer(lp, 10_000 * WAD, {"from": market.client})
    base_before = market.base.balanceOf(lp)
    supply = pool.totalSupply()
    tx = pool.addLiquidity(10_000 * WAD, 5_000 * WAD, 0, 0, lp, FAR, {"from": lp})
    liquidity = 10_000 * WAD * supply // SEED_TOKENS
    assert ints(tx.return_value) == (10_000 * WAD, 1_000 * WAD, liquidity)
    assert market.base.balanceOf(lp) == base_before - 1_000 * WAD  # only what was used
    assert pool.balanceOf(lp) == liquidity
    assert ints(pool.getReserves()) == (SEED_TOKENS + 10_000 * WAD, SEED_BASE + 1_000 * WAD)


def test_later_deposits_take_the_ratio_when_tokens_are_in_excess(market):
    pool, lp = market.pool, accounts[2]
    market.token.transfer(lp, 50_000 * WAD, {"from": market.client})
    tx = pool.addLiquidity(50_000 * WAD, 2_000 * WAD, 0, 0, lp, FAR, {"from": lp})
    assert ints(tx.return_value)[:2] == (20_000 * WAD, 2_000 * WAD)
    assert market.token.balanceOf(lp) == 30_000 * WAD


def test_deposit_below_the_base_minimum_reverts(market):
    with reverts("InsufficientBaseAmount", 1_000 * WAD, 1_001 * WAD):
        market.pool.addLiquidity(
            10_000 * WAD, 5_000 * WAD, 0, 1_001 * WAD, market.client, FAR, {"from": market.client}
        )


def test_deposit_below_the_token_minimum_reverts(market):
    with reverts("InsufficientTokenAmount", 20_000 * WAD, 30_000 * WAD):
        market.pool.addLiquidity(
            50_000 * WAD, 2_000 * WAD, 30_000 * WAD, 0, market.client, FAR, {"from": market.client}
        )


def test_a_dust_deposit_mints_nothing(market):
    with reverts("InsufficientLiquidityMinted"):
        market.pool.addLiquidity(1, WAD, 0, 0, market.client, FAR, {"from": market.client})


@pytest.mark.parametrize("amounts", [(0, WAD), (WAD, 0)])
def test_deposit_of_zero_reverts(market, amounts):
    with reverts("ZeroAmount"):
        market.pool.addLiquidity(*amounts, 0, 0, market.client, FAR, {"from": market.client})


def test_deposit_after_the_deadline_reverts(market):
    deadline = chain[-1].timestamp - 1
    with reverts("Expired", deadline):
        market.pool.addLiquidity(WAD, WAD, 0, 0, market.client, deadline, {"from": market.client})


@pytest.mark.parametrize("target", ["zero", "token", "base"])
def test_deposit_to_an_invalid_recipient_reverts(market, target):
    to = {"zero": ZERO, "token": market.token.address, "base": market.base.address}[target]
    with reverts("InvalidRecipient", to):
        market.pool.addLiquidity(WAD, WAD, 0, 0, to, FAR, {"from": market.client})


def test_deposit_without_allowance_reverts(market):
    market.token.transfer(accounts[7], WAD, {"from": market.client})
    with reverts("ERC20InsufficientAllowance", market.pool, 0, WAD):
        market.pool.addLiquidity(WAD, WAD, 0, 0, accounts[7], FAR, {"from": accounts[7]})


def test_a_newcomer_pays_for_pending_donations(market):
    pool, lp = market.pool, accounts[2]
    market.base.transfer(pool, SEED_BASE, {"from": accounts[3]})  # doubles the base side
    market.token.transfer(lp, 10_000 * WAD, {"from": market.client})
    tx = pool.addLiquidity(10_000 * WAD, 10_000 * WAD, 0, 0, lp, FAR, {"from": lp})
    assert ints(tx.return_value)[:2] == (10_000 * WAD, 2_000 * WAD)  # ratio including the donation


# ------------------------------------------------------------------ removeLiquidity


def test_remove_pays_pro_rata_and_burns_the_shares(market):
    pool, client = market.pool, market.client
    share = SEED_LP // 4
    supply = pool.totalSupply()
    token_before, base_before = market.token.balanceOf(client), market.base.balanceOf(client)
    tx = pool.removeLiquidity(share, 0, 0, client, FAR, {"from": client})
    token_out, base_out = share * SEED_TOKENS // supply, share * SEED_BASE // supply
    assert ints(tx.return_value) == (token_out, base_out)
    assert market.token.balanceOf(client) == token_before + token_out
    assert market.base.balanceOf(client) == base_before + base_out
    assert pool.balanceOf(client) == SEED_LP - share
    assert pool.totalSupply() == supply - share
    assert ints(pool.getReserves()) == (SEED_TOKENS - token_out, SEED_BASE - base_out)
    removed = tx.events["LiquidityRemoved"]
    assert (removed["provider"], removed["to"], removed["liquidity"]) == (client, client, share)
    assert "Sync" in tx.events


def test_removing_everything_leaves_the_locked_minimum(market):
    pool, client = market.pool, market.client
    pool.removeLiquidity(SEED_LP, 0, 0, client, FAR, {"from": client})
    reserve_token, reserve_base = pool.getReserves()
    assert pool.totalSupply() == MINIMUM_LIQUIDITY
    assert reserve_token > 0
    assert reserve_base > 0
    assert reserve_token * reserve_base >= MINIMUM_LIQUIDITY**2


def test_remove_pays_out_donations_to_the_lps(market):
    pool, client = market.pool, market.client
    market.base.transfer(pool, 1_000 * WAD, {"from": accounts[3]})
    supply = pool.totalSupply()
    tx = pool.removeLiquidity(SEED_LP, 0, 0, client, FAR, {"from": client})
    assert tx.return_value[1] == SEED_LP * (SEED_BASE + 1_000 * WAD) // supply


def test_remove_below_the_minimums_reverts(market):
    pool, client = market.pool, market.client
    supply = pool.totalSupply()
    share = SEED_LP // 2
    token_out, base_out = share * SEED_TOKENS // supply, share * SEED_BASE // supply
    with reverts("InsufficientTokenAmount", token_out, token_out + 1):
        pool.removeLiquidity(share, token_out + 1, 0, client, FAR, {"from": client})
    with reverts("InsufficientBaseAmount", base_out, base_out + 1):
        pool.removeLiquidity(share, 0, base_out + 1, client, FAR, {"from": client})


def test_remove_more_than_owned_reverts(market):
    with reverts("ERC20InsufficientBalance", accounts[2], 0, 10**9):
        market.pool.removeLiquidity(10**9, 0, 0, accounts[2], FAR, {"from": accounts[2]})


def test_remove_zero_reverts(market):
    with reverts("ZeroAmount"):
        market.pool.removeLiquidity(0, 0, 0, market.client, FAR, {"from": market.client})


def test_remove_after_the_deadline_reverts(market):
    deadline = chain[-1].timestamp - 1
    with reverts("Expired", deadline):
        market.pool.removeLiquidity(1, 0, 0, market.client, deadline, {"from": market.client})


def test_remove_to_an_invalid_recipient_reverts(market):
    with reverts("InvalidRecipient", market.base):
        market.pool.removeLiquidity(1, 0, 0, market.base, FAR, {"from": market.client})


def test_remove_of_a_worthless_share_reverts(hostile):
    pool, tok, bas = hostile
    tok.confiscate(pool, tok.balanceOf(pool), {"from": accounts[0]})
    bas.confiscate(pool, bas.balanceOf(pool), {"from": accounts[0]})
    with reverts("InsufficientLiquidityBurned"):
        pool.removeLiquidity(WAD, 0, 0, accounts[0], FAR, {"from": accounts[0]})


# ------------------------------------------------------------------ swaps


def test_buying_tokens_pays_the_quote(market):
    pool, buyer = market.pool, accounts[2]
    quote = pool.quoteBaseForTokens(100 * WAD)
    assert quote == amount_out(100 * WAD, SEED_BASE, SEED_TOKENS)
    base_before = market.base.balanceOf(buyer)
    tx = pool.swapExactBaseForTokens(100 * WAD, quote, accounts[3], FAR, {"from": buyer})
    assert tx.return_value == quote
    assert market.token.balanceOf(accounts[3]) == quote
    assert market.base.balanceOf(buyer) == base_before - 100 * WAD
    assert ints(pool.getReserves()) == (SEED_TOKENS - quote, SEED_BASE + 100 * WAD)
    swap = tx.events["Swap"]
    assert (swap["sender"], swap["to"], swap["baseIn"]) == (buyer, accounts[3], True)
    assert (swap["amountIn"], swap["amountOut"]) == (100 * WAD, quote)
    sync = tx.events["Sync"]
    assert sync["price"] == pool.price() > WAD // 10  # buying raises the price
    assert (SEED_TOKENS - quote) * (SEED_BASE + 100 * WAD) > SEED_TOKENS * SEED_BASE


def test_selling_tokens_pays_the_quote(market):
    pool, seller = market.pool, market.client
    quote = pool.quoteTokensForBase(1_000 * WAD)
    assert quote == amount_out(1_000 * WAD, SEED_TOKENS, SEED_BASE)
    base_before = market.base.balanceOf(seller)
    tx = pool.swapExactTokensForBase(1_000 * WAD, quote, seller, FAR, {"from": seller})
    assert tx.return_value == quote
    assert market.base.balanceOf(seller) == base_before + quote
    assert ints(pool.getReserves()) == (SEED_TOKENS + 1_000 * WAD, SEED_BASE - quote)
    assert tx.events["Swap"]["baseIn"] is False
    assert pool.price() < WAD // 10


def test_a_round_trip_loses_the_fee(market):
    pool, trader = market.pool, accounts[2]
    before = market.base.balanceOf(trader)
    tokens = pool.swapExactBaseForTokens(100 * WAD, 0, trader, FAR, {"from": trader}).return_value
    pool.swapExactTokensForBase(tokens, 0, trader, FAR, {"from": trader})
    expected_tokens = amount_out(100 * WAD, SEED_BASE, SEED_TOKENS)
    assert tokens == expected_tokens
    back = amount_out(tokens, SEED_TOKENS - tokens, SEED_BASE + 100 * WAD)
    lost = before - market.base.balanceOf(trader)
    assert lost == 100 * WAD - back
    # about twice the fee on 100 base (0.6), a little less as the second leg is worth a bit less
    assert 0.58 * WAD < lost < 0.6 * WAD


def test_a_zero_fee_pool_pays_the_plain_constant_product(cloner, pool_impl, base, market):
    pool = fresh_clone(cloner, pool_impl, ClientPool)
    pool.initialize(market.token, base, 0, {"from": accounts[0]})
    client = market.client
    market.token.approve(pool, MAX, {"from": client})
    base.approve(pool, MAX, {"from": client})
    pool.addLiquidity(1000 * WAD, 1000 * WAD, 0, 0, client, FAR, {"from": client})
    base.approve(pool, MAX, {"from": accounts[2]})
    tx = pool.swapExactBaseForTokens(1000 * WAD, 0, accounts[2], FAR, {"from": accounts[2]})
    assert tx.return_value == 500 * WAD


def test_swap_below_min_out_reverts_with_both_amounts(market):
    quote = market.pool.quoteBaseForTokens(100 * WAD)
    with reverts("InsufficientOutput", quote, quote + 1):
        market.pool.swapExactBaseForTokens(
            100 * WAD, quote + 1, accounts[2], FAR, {"from": accounts[2]}
        )
    quote = market.pool.quoteTokensForBase(100 * WAD)
    with reverts("InsufficientOutput", quote, quote + 1):
        market.pool.swapExactTokensForBase(
            100 * WAD, quote + 1, market.client, FAR, {"from": market.client}
        )


def test_a_swap_too_small_for_any_output_reverts(market):
    with reverts("InsufficientOutput", 0, 0):
        market.pool.swapExactTokensForBase(1, 0, market.client, FAR, {"from": market.client})


def test_swap_of_zero_reverts(market):
    with reverts("ZeroAmount"):
        market.pool.swapExactBaseForTokens(0, 0, accounts[2], FAR, {"from": accounts[2]})
    with reverts("ZeroAmount"):
        market.pool.swapExactTokensForBase(0, 0, market.client, FAR, {"from": market.client})


def test_swap_on_an_empty_pool_reverts(empty):
    _, pool, client = empty
    with reverts("NoLiquidity"):
        pool.swapExactBaseForTokens(WAD, 0, client, FAR, {"from": client})
    with reverts("NoLiquidity"):
        pool.swapExactTokensForBase(WAD, 0, client, FAR, {"from": client})


def test_swap_after_the_deadline_reverts(market):
    deadline = chain[-1].timestamp - 1
    with reverts("Expired", deadline):
        market.pool.swapExactBaseForTokens(WAD, 0, accounts[2], deadline, {"from": accounts[2]})
    with reverts("Expired", deadline):
        market.pool.swapExactTokensForBase(WAD, 0, market.client, deadline, {"from": market.client})


def test_swap_at_the_deadline_itself_passes(market):
    deadline = chain[-1].timestamp + 100
    at(deadline)
    market.pool.swapExactBaseForTokens(WAD, 0, accounts[2], deadline, {"from": accounts[2]})
    assert chain[-1].timestamp == deadline
    at(deadline + 1)
    with reverts("Expired", deadline, deadline + 1):
        market.pool.swapExactBaseForTokens(WAD, 0, accounts[2], deadline, {"from": accounts[2]})


@pytest.mark.parametrize("target", ["zero", "token", "base"])
def test_swap_to_an_invalid_recipient_reverts(market, target):
    to = {"zero": ZERO, "token": market.token.address, "base": market.base.address}[target]
    with reverts("InvalidRecipient", to):
        market.pool.swapExactBaseForTokens(WAD, 0, to, FAR, {"from": accounts[2]})
    with reverts("InvalidRecipient", to):
        market.pool.swapExactTokensForBase(WAD, 0, to, FAR, {"from": market.client})


def test_swap_without_allowance_reverts(market):
    with reverts("ERC20InsufficientAllowance", market.pool, 0, WAD):
        market.pool.swapExactBaseForTokens(WAD, 0, accounts[7], FAR, {"from": accounts[7]})


def test_a_fee_on_transfer_input_is_priced_on_what_arrived(hostile):
    pool, _, bas = hostile
    bas.setTransferFee(100, {"from": accounts[0]})  # 1 % of every transfer is burned
    arrived = 99 * WAD
    expected = amount_out(arrived, 1000 * WAD, 1000 * WAD)
    tx = pool.swapExactBaseForTokens(100 * WAD, 0, accounts[0], FAR, {"from": accounts[0]})
    assert tx.return_value == expected
    assert tx.events["Swap"]["amountIn"] == arrived
    assert ints(pool.getReserves()) == (1000 * WAD - expected, 1000 * WAD + arrived)


def test_an_output_token_that_drains_the_pool_breaks_k(hostile):
    pool, tok, _ = hostile
    tok.setDrain(pool, 10 * WAD, {"from": accounts[0]})  # every transfer out costs the pool 10 more
    with reverts("KInvariant"):
        pool.swapExactBaseForTokens(WAD, 0, accounts[0], FAR, {"from": accounts[0]})


def test_a_confiscated_pool_has_no_liquidity(hostile):
    pool, tok, _ = hostile
    tok.confiscate(pool, tok.balanceOf(pool), {"from": accounts[0]})
    pool.sync({"from": accounts[0]})
    assert pool.price() == 0
    with reverts("NoLiquidity"):
        pool.swapExactBaseForTokens(WAD, 0, accounts[0], FAR, {"from": accounts[0]})
    with reverts("NoLiquidity"):
        pool.addLiquidity(WAD, WAD, 0, 0, accounts[0], FAR, {"from": accounts[0]})


# ------------------------------------------------------------------ upkeep


def test_sync_absorbs_donations(market):
    pool = market.pool
    market.base.transfer(pool, 500 * WAD, {"from": accounts[3]})
    market.token.transfer(pool, 1_000 * WAD, {"from": market.client})
    assert ints(pool.getReserves()) == (SEED_TOKENS, SEED_BASE)  # pending until synced
    tx = pool.sync({"from": accounts[8]})
    reserves = (SEED_TOKENS + 1_000 * WAD, SEED_BASE + 500 * WAD)
    assert ints(pool.getReserves()) == reserves
    sync = tx.events["Sync"]
    assert (sync["reserveToken"], sync["reserveBase"]) == reserves
    assert sync["price"] == reserves[1] * WAD // reserves[0] == pool.price()


def test_swaps_and_quotes_price_in_pending_donations(market):
    """A donation belongs to the LPs: the next swap folds it into the reserves before pricing,
    and the quote already counts it (so nobody can trade against reserves that omit it)."""
    pool = market.pool
    before = pool.quoteBaseForTokens(100 * WAD)
    market.base.transfer(pool, 500 * WAD, {"from": accounts[3]})
    quote = pool.quoteBaseForTokens(100 * WAD)
    assert quote == amount_out(100 * WAD, SEED_BASE + 500 * WAD, SEED_TOKENS) < before
    assert ints(pool.getReserves()) == (SEED_TOKENS, SEED_BASE)  # stored until the next action
    tx = pool.swapExactBaseForTokens(100 * WAD, 0, accounts[2], FAR, {"from": accounts[2]})
    assert tx.return_value == quote
    assert pool.getReserves()[1] == SEED_BASE + 600 * WAD  # the donation was folded in


# ------------------------------------------------------------------ dividends: the harvest


@pytest.fixture
def streaming(market, mirror):
    """1,000 base distributed at the returned timestamp, streaming over D. accounts[2] got 50k
    client tokens before (to add liquidity and sell); the pool holds 10 % of the supply."""
    follow(
        market, mirror, market.token.transfer(accounts[2], 50_000 * WAD, {"from": market.client})
    )
    t0 = latest() + 10
    at(t0)
    follow(market, mirror, market.token.distribute(1_000 * WAD, {"from": accounts[3]}))
    return t0


def near(value, exact, below=2):
    assert exact - below <= value <= exact, f"{value} vs {exact}"


def test_harvest_moves_the_pools_dividends_into_the_base_reserve(market, mirror, streaming):
    pool, token = market.pool, market.token
    mine_at(streaming + D)
    owed = token.dividendOf(pool)
    near(owed, 100 * WAD)  # 10 % of 1,000
    at(streaming + D)
    tx = pool.harvestDividends({"from": accounts[8]})
    follow(market, mirror, tx)
    assert tx.return_value == owed
    harvested = tx.events["DividendsHarvested"]
    assert (harvested["caller"], harvested["amount"]) == (accounts[8], owed)
    assert ints(pool.getReserves()) == (SEED_TOKENS, SEED_BASE + owed)
    assert tx.events["Sync"]["reserveBase"] == SEED_BASE + owed
    assert token.dividendOf(pool) == 0


def test_harvest_with_nothing_owed_changes_nothing(market):
    tx = market.pool.harvestDividends({"from": accounts[8]})
    assert tx.return_value == 0
    assert tx.events["DividendsHarvested"]["amount"] == 0
    assert ints(market.pool.getReserves()) == (SEED_TOKENS, SEED_BASE)


OPERATIONS = {
    "buy": "Swap",
    "sell": "Swap",
    "add": "LiquidityAdded",
    "remove": "LiquidityRemoved",
}


def _operate(market, op, who):
    pool, me = market.pool, {"from": who}
    if op == "buy":
        return pool.swapExactBaseForTokens(500 * WAD, 0, who, FAR, me)
    if op == "sell":
        return pool.swapExactTokensForBase(5_000 * WAD, 0, who, FAR, me)
    if op == "add":
        return pool.addLiquidity(10_000 * WAD, 10_000 * WAD, 0, 0, who, FAR, me)
    return pool.removeLiquidity(SEED_LP // 4, 0, 0, who, FAR, me)


def _reserves_after(op, reserves, lp_supply, harvested):
    """What an operation leaves when it is priced on the reserves including the harvest."""
    r_token, r_base = reserves[0], reserves[1] + harvested
    if op == "buy":
        return r_token - amount_out(500 * WAD, r_base, r_token), r_base + 500 * WAD
    if op == "sell":
        return r_token + 5_000 * WAD, r_base - amount_out(5_000 * WAD, r_token, r_base)
    if op == "add":
        return r_token + 10_000 * WAD, r_base + 10_000 * WAD * r_base // r_token
    share = SEED_LP // 4
    return r_token - share * r_token // lp_supply, r_base - share * r_base // lp_supply


@pytest.mark.parametrize("op", OPERATIONS)
def test_every_swap_and_liquidity_change_harvests_first(market, mirror, streaming, op):
    pool, token = market.pool, market.token
    who = market.client if op == "remove" else accounts[2]
    when = streaming + D // 2
    owed = mirror.dividend_of(pool, when)  # the pool's half of its 100 by then
    near(owed, 50 * WAD)
    reserves, lp_supply = ints(pool.getReserves()), pool.totalSupply()
    at(when)
    tx = _operate(market, op, who)
    follow(market, mirror, tx)
    harvested = tx.events["DividendsHarvested"]
    assert (harvested["caller"], harvested["amount"]) == (who, owed)
    names = [event.name for event in tx.events]
    assert names.index("DividendsHarvested") < names.index(OPERATIONS[op])
    assert ints(pool.getReserves()) == _reserves_after(op, reserves, lp_supply, owed)
    assert ints(pool.getReserves()) == (token.balanceOf(pool), market.base.balanceOf(pool))
    assert token.dividendOf(pool) == 0


def test_nothing_to_harvest_emits_nothing(market, mirror, streaming):
    pool = market.pool
    at(streaming + 100)
    first = pool.swapExactBaseForTokens(WAD, 0, accounts[2], FAR, {"from": accounts[2]})
    follow(market, mirror, first)
    assert first.events["DividendsHarvested"]["amount"] > 0
    at(streaming + 100)  # same timestamp: nothing more has streamed
    second = pool.swapExactBaseForTokens(WAD, 0, accounts[2], FAR, {"from": accounts[2]})
    follow(market, mirror, second)
    assert "DividendsHarvested" not in second.events
    assert "DividendClaimed" not in second.events


def test_without_distributions_trading_harvests_nothing(market):
    tx = market.pool.swapExactBaseForTokens(WAD, 0, accounts[2], FAR, {"from": accounts[2]})
    assert "DividendsHarvested" not in tx.events
    assert ints(market.pool.getReserves())[1] == SEED_BASE + WAD


def test_a_swap_is_priced_after_the_harvest_and_the_quote_knows_it(market, mirror, streaming):
    pool = market.pool
    mine_at(streaming + D // 2)
    quote = pool.quoteBaseForTokens(500 * WAD)
    owed = market.token.dividendOf(pool)
    r_token, r_base = ints(pool.getReserves())
    paid = amount_out(500 * WAD, r_base + owed, r_token)
    assert owed > 0
    assert quote == paid < amount_out(500 * WAD, r_base, r_token)
    at(streaming + D // 2)
    tx = pool.swapExactBaseForTokens(500 * WAD, quote, accounts[2], FAR, {"from": accounts[2]})
    follow(market, mirror, tx)
    assert tx.return_value == paid


def test_the_quote_is_what_the_swap_pays_while_dividends_stream(market, streaming):
    pool = market.pool
    mine_at(streaming + D // 2)
    quote = pool.quoteBaseForTokens(500 * WAD)
    at(streaming + D // 2)
    tx = pool.swapExactBaseForTokens(500 * WAD, 0, accounts[2], FAR, {"from": accounts[2]})
    assert tx.return_value == quote


def test_a_token_without_dividends_never_blocks_trading(hostile):
    """The hostile pool's client token has no claimDividend at all: the harvest's call reverts
    inside the try/catch and every operation goes on."""
    pool, tok, bas = hostile
    me = {"from": accounts[0]}
    txs = [
        pool.swapExactBaseForTokens(WAD, 0, accounts[0], FAR, me),
        pool.swapExactTokensForBase(WAD, 0, accounts[0], FAR, me),
        pool.addLiquidity(WAD, WAD, 0, 0, accounts[0], FAR, me),
        pool.removeLiquidity(WAD, 0, 0, accounts[0], FAR, me),
    ]
    for tx in txs:
        assert "DividendsHarvested" not in tx.events
        assert "Sync" in tx.events
    assert ints(pool.getReserves()) == (tok.balanceOf(pool), bas.balanceOf(pool))


@pytest.fixture
def jammed(cloner, token_impl, pool_impl):
    """A real ClientToken whose base is a TestBaseToken, with its pool made by the TestCloner and
    seeded 100k:10k by accounts[1]; accounts[2] holds 10k client tokens; 1,000 base distributed at
    the returned timestamp."""
    tb = TestBaseToken.deploy({"from": accounts[0]})
    token = fresh_clone(cloner, token_impl, ClientToken)
    token.initialize("Jam", "JAM", accounts[1], SUPPLY, tb, {"from": accounts[0]})
    pool = fresh_clone(cloner, pool_impl, ClientPool)
    pool.initialize(token, tb, FEE_BPS, {"from": accounts[0]})
    for who in accounts[:3]:
        tb.mint(who, 100_000 * WAD, {"from": who})
        tb.approve(pool, MAX, {"from": who})
        token.approve(pool, MAX, {"from": who})
    tb.approve(token, MAX, {"from": accounts[0]})
    pool.addLiquidity(SEED_TOKENS, SEED_BASE, 0, 0, accounts[1], FAR, {"from": accounts[1]})
    token.transfer(accounts[2], 10_000 * WAD, {"from": accounts[1]})
    t0 = latest() + 10
    at(t0)
    token.distribute(1_000 * WAD, {"from": accounts[0]})
    return token, pool, tb, t0


def test_a_reverting_dividend_claim_never_blocks_trading(jammed):
    token, pool, tb, t0 = jammed
    # every payment out of the token now reverts: the base token re-enters it on the way out
    tb.arm(token, token, token.distribute.encode_input(WAD), {"from": accounts[0]})
    mine_at(t0 + D // 2)
    at(t0 + D // 2)
    with reverts("ReentrancyGuardReentrantCall"):
        token.claimDividend({"from": accounts[1]})
    at(t0 + D // 2)
    with reverts("ReentrancyGuardReentrantCall"):  # the explicit harvest is not shielded
        pool.harvestDividends({"from": accounts[0]})
    stuck = token.dividendOf(pool)
    near(stuck, 50 * WAD)
    trader, lp = accounts[2], accounts[1]
    trades = [
        lambda: pool.swapExactBaseForTokens(100 * WAD, 0, trader, FAR, {"from": trader}),
        lambda: pool.swapExactTokensForBase(1_000 * WAD, 0, trader, FAR, {"from": trader}),
        lambda: pool.addLiquidity(1_000 * WAD, 1_000 * WAD, 0, 0, trader, FAR, {"from": trader}),
        lambda: pool.removeLiquidity(10**20, 0, 0, lp, FAR, {"from": lp}),
    ]
    reserve_token, reserve_base = ints(pool.getReserves())
    txs = []
    for trade in trades:
        at(t0 + D // 2)
        txs.append(trade())
        assert "DividendsHarvested" not in txs[-1].events
        assert "DividendClaimed" not in txs[-1].events
    # priced without the dividends, which stay owed to the pool
    assert txs[0].return_value == amount_out(100 * WAD, reserve_base, reserve_token)
    assert ints(pool.getReserves()) == (token.balanceOf(pool), tb.balanceOf(pool))
    assert token.dividendOf(pool) == stuck
    # once claims work again the next operation harvests everything owed, nothing was lost
    tb.arm(ZERO, ZERO, b"", {"from": accounts[0]})
    mine_at(t0 + D)
    owed = token.dividendOf(pool)
    assert owed > stuck
    at(t0 + D)
    tx = pool.swapExactBaseForTokens(100 * WAD, 0, trader, FAR, {"from": trader})
    assert tx.events["DividendsHarvested"]["amount"] == owed
    assert token.dividendOf(pool) == 0
