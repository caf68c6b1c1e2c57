"""ClientPool: initialization, liquidity, swaps (Uniswap v2 math), upkeep, and every revert."""

from math import isqrt

import pytest
from brownie import AdversarialToken, ClientPool, accounts, chain, web3

from tests.contracts.helpers import reverts
from tests.contracts.market import (
    DEAD,
    FAR,
    FEE_BPS,
    MAX,
    MINIMUM_LIQUIDITY,
    SEED_BASE,
    SEED_TOKENS,
    WAD,
    amount_out,
    fresh_clone,
    ints,
    register,
)

ZERO = "0x" + "00" * 20
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


def _next_timestamp(ts: int) -> None:
    web3.provider.make_request("evm_setNextBlockTimestamp", [ts])


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
    _next_timestamp(deadline)
    market.pool.swapExactBaseForTokens(WAD, 0, accounts[2], deadline, {"from": accounts[2]})
    assert chain[-1].timestamp == deadline
    _next_timestamp(deadline + 1)
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


def test_quotes_ignore_pending_donations_until_synced(market):
    pool = market.pool
    quote = pool.quoteBaseForTokens(100 * WAD)
    market.base.transfer(pool, 500 * WAD, {"from": accounts[3]})
    tx = pool.swapExactBaseForTokens(100 * WAD, 0, accounts[2], FAR, {"from": accounts[2]})
    assert tx.return_value == quote
    assert pool.getReserves()[1] == SEED_BASE + 600 * WAD  # the donation was folded in


def test_harvest_moves_the_pools_dividends_into_the_base_reserve(market):
    pool, token = market.pool, market.token
    token.distribute(100 * WAD, {"from": accounts[2]})  # the pool holds 10 % of the supply
    assert token.dividendOf(pool) == 10 * WAD
    tx = pool.harvestDividends({"from": accounts[8]})
    assert tx.return_value == 10 * WAD
    assert tx.events["DividendsHarvested"]["amount"] == 10 * WAD
    assert tx.events["DividendsHarvested"]["caller"] == accounts[8]
    assert ints(pool.getReserves()) == (SEED_TOKENS, SEED_BASE + 10 * WAD)
    assert token.dividendOf(pool) == 0
    assert tx.events["Sync"]["reserveBase"] == SEED_BASE + 10 * WAD


def test_harvest_with_nothing_owed_changes_nothing(market):
    tx = market.pool.harvestDividends({"from": accounts[8]})
    assert tx.return_value == 0
    assert ints(market.pool.getReserves()) == (SEED_TOKENS, SEED_BASE)
