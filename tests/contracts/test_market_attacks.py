"""Attacks on the market: reentrancy through a hostile token, sandwiches past minOut, stale
transactions past their deadline, re-initialization of clones and implementations, first-depositor
share inflation, and dividend double claims."""

import pytest
from brownie import AdversarialToken, ClientPool, ClientToken, accounts, chain

from tests.contracts.helpers import reverts
from tests.contracts.market import (
    FAR,
    MAX,
    MINIMUM_LIQUIDITY,
    SEED_BASE,
    SEED_TOKENS,
    WAD,
    amount_out,
    fresh_clone,
    register,
)

ZERO = "0x" + "00" * 20


@pytest.fixture
def trap(cloner, pool_impl, base):
    """A pool whose client token is hostile: it can call back into the pool on every transfer.
    accounts[0] seeds it and holds both assets, approved."""
    evil = AdversarialToken.deploy({"from": accounts[0]})
    pool = fresh_clone(cloner, pool_impl, ClientPool)
    pool.initialize(evil, base, 30, {"from": accounts[0]})
    evil.mint(accounts[0], 100_000 * WAD, {"from": accounts[0]})
    evil.approve(pool, MAX, {"from": accounts[0]})
    base.approve(pool, MAX, {"from": accounts[0]})
    pool.addLiquidity(10_000 * WAD, 10_000 * WAD, 0, 0, accounts[0], FAR, {"from": accounts[0]})
    return pool, evil


def _reentry(pool, name):
    me = accounts[0]
    return {
        "sync": lambda: pool.sync.encode_input(),
        "harvestDividends": lambda: pool.harvestDividends.encode_input(),
        "swapExactBaseForTokens": lambda: pool.swapExactBaseForTokens.encode_input(WAD, 0, me, FAR),
        "swapExactTokensForBase": lambda: pool.swapExactTokensForBase.encode_input(WAD, 0, me, FAR),
        "addLiquidity": lambda: pool.addLiquidity.encode_input(WAD, WAD, 0, 0, me, FAR),
        "removeLiquidity": lambda: pool.removeLiquidity.encode_input(1000, 0, 0, me, FAR),
    }[name]()


def _enter(pool, name):
    me = {"from": accounts[0]}
    return {
        "swapExactBaseForTokens": lambda: pool.swapExactBaseForTokens(WAD, 0, accounts[0], FAR, me),
        "swapExactTokensForBase": lambda: pool.swapExactTokensForBase(WAD, 0, accounts[0], FAR, me),
        "addLiquidity": lambda: pool.addLiquidity(WAD, WAD, 0, 0, accounts[0], FAR, me),
        "removeLiquidity": lambda: pool.removeLiquidity(WAD, 0, 0, accounts[0], FAR, me),
    }[name]()


ENTRIES = ["swapExactBaseForTokens", "swapExactTokensForBase", "addLiquidity", "removeLiquidity"]
REENTRIES = [*ENTRIES, "sync", "harvestDividends"]


# ------------------------------------------------------------------ reentrancy


def test_the_hostile_token_really_calls_back(trap):
    """Control: with a harmless callback (minting itself a token) every entry point runs, and the
    callback ran once per transfer of the hostile token."""
    pool, evil = trap
    evil.setHook(evil, evil.mint.encode_input(accounts[9], 1), {"from": accounts[0]})
    for name in ENTRIES:
        _enter(pool, name)
    assert evil.balanceOf(accounts[9]) == 4  # one transfer of the hostile token per entry point


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("reentry", REENTRIES)
def test_reentering_the_pool_from_a_token_callback_reverts(trap, entry, reentry):
    pool, evil = trap
    evil.setHook(pool, _reentry(pool, reentry), {"from": accounts[0]})
    with reverts("ReentrancyGuardReentrantCall"):
        _enter(pool, entry)


def test_views_stay_readable_from_a_callback(trap):
    pool, evil = trap
    evil.setHook(pool, pool.getReserves.encode_input(), {"from": accounts[0]})
    pool.swapExactBaseForTokens(WAD, 0, accounts[0], FAR, {"from": accounts[0]})


@pytest.fixture
def hostile_dividends(cloner, token_impl):
    """A client token whose base token is hostile; accounts[1] holds the whole supply."""
    evil = AdversarialToken.deploy({"from": accounts[0]})
    token = fresh_clone(cloner, token_impl, ClientToken)
    token.initialize("T", "T", accounts[1], 1000 * WAD, evil, {"from": accounts[0]})
    evil.mint(accounts[0], 1000 * WAD, {"from": accounts[0]})
    evil.approve(token, MAX, {"from": accounts[0]})
    return token, evil


def test_reentering_distribute_from_the_base_token_reverts(hostile_dividends):
    token, evil = hostile_dividends
    evil.setHook(token, token.claimDividendFor.encode_input(accounts[1]), {"from": accounts[0]})
    with reverts("ReentrancyGuardReentrantCall"):
        token.distribute(WAD, {"from": accounts[0]})


def test_a_claim_cannot_be_reentered_to_pay_twice(hostile_dividends):
    token, evil = hostile_dividends
    token.distribute(10 * WAD, {"from": accounts[0]})
    evil.setHook(token, token.claimDividendFor.encode_input(accounts[1]), {"from": accounts[0]})
    with reverts("ReentrancyGuardReentrantCall"):
        token.claimDividend({"from": accounts[1]})
    evil.setHook(ZERO, b"", {"from": accounts[0]})
    token.claimDividend({"from": accounts[1]})
    assert evil.balanceOf(accounts[1]) == 10 * WAD
    assert evil.balanceOf(token) == 0


# ------------------------------------------------------------------ sandwich


def test_a_sandwich_makes_the_victims_bounded_swap_revert(market):
    pool, victim, attacker = market.pool, accounts[2], accounts[3]
    quote = pool.quoteBaseForTokens(1_000 * WAD)
    min_out = quote * 995 // 1000  # 0.5 % slippage tolerance
    # the attacker's buy lands first
    front = pool.swapExactBaseForTokens(3_000 * WAD, 0, attacker, FAR, {"from": attacker})
    got = front.events["Swap"]["amountOut"]
    would_get = amount_out(1_000 * WAD, SEED_BASE + 3_000 * WAD, SEED_TOKENS - got)
    with reverts("InsufficientOutput", would_get, min_out):
        pool.swapExactBaseForTokens(1_000 * WAD, min_out, victim, FAR, {"from": victim})
    # the back-run now loses money for the attacker: the fee on two legs, no victim to pay it
    back = pool.swapExactTokensForBase(got, 0, attacker, FAR, {"from": attacker})
    assert back.events["Swap"]["amountOut"] < 3_000 * WAD


def test_without_a_bound_the_same_sandwich_profits_from_the_victim(market):
    pool, victim, attacker = market.pool, accounts[2], accounts[3]
    quote = pool.quoteBaseForTokens(1_000 * WAD)
    front = pool.swapExactBaseForTokens(3_000 * WAD, 0, attacker, FAR, {"from": attacker})
    stolen = front.events["Swap"]["amountOut"]
    hurt = pool.swapExactBaseForTokens(1_000 * WAD, 0, victim, FAR, {"from": victim})
    assert hurt.events["Swap"]["amountOut"] < quote * 80 // 100  # lost over 20 % to the sandwich
    back = pool.swapExactTokensForBase(stolen, 0, attacker, FAR, {"from": attacker})
    assert back.events["Swap"]["amountOut"] > 3_000 * WAD  # the attacker profited


# ------------------------------------------------------------------ stale transactions


def test_a_swap_held_back_past_its_deadline_reverts(market):
    deadline = chain[-1].timestamp + 60
    chain.sleep(120)  # the transaction waits in a mempool, or a block producer holds it
    with reverts("Expired", deadline):
        market.pool.swapExactBaseForTokens(WAD, 0, accounts[2], deadline, {"from": accounts[2]})
    with reverts("Expired", deadline):
        market.pool.removeLiquidity(1, 0, 0, market.client, deadline, {"from": market.client})


# ------------------------------------------------------------------ initialization


def test_registered_clones_cannot_be_initialized_again(market, base):
    token, pool = market.token, market.pool
    attacker = accounts[5]
    with reverts("InvalidInitialization"):
        token.initialize("Stolen", "STL", attacker, 10**30, base, {"from": attacker})
    with reverts("InvalidInitialization"):
        token.initializeMintTo(
            "Stolen", "STL", attacker, attacker, 10**30, base, {"from": attacker}
        )
    with reverts("InvalidInitialization"):
        pool.initialize(base, token, 0, {"from": attacker})
    assert token.client() == market.client
    assert token.totalSupply() == 1_000_000 * WAD
    assert pool.token() == token


def test_implementations_cannot_be_initialized(token_impl, pool_impl, base):
    attacker = accounts[5]
    with reverts("InvalidInitialization"):
        token_impl.initialize("Impl", "IMP", attacker, WAD, base, {"from": attacker})
    with reverts("InvalidInitialization"):
        token_impl.initializeMintTo(
            "Impl", "IMP", attacker, attacker, WAD, base, {"from": attacker}
        )
    with reverts("InvalidInitialization"):
        pool_impl.initialize(base, attacker, 30, {"from": attacker})


# ------------------------------------------------------------------ share inflation


def test_first_depositor_inflation_costs_the_attacker_not_the_victim(registry, base):
    client, attacker, victim = accounts[6], accounts[7], accounts[8]
    token, pool = register(registry, client, "Victim Co", "VIC")
    for who in (attacker, victim):
        token.transfer(who, 20_000 * WAD, {"from": client})
        token.approve(pool, MAX, {"from": who})
        base.approve(pool, MAX, {"from": who})
    attacker_start = (token.balanceOf(attacker), base.balanceOf(attacker))
    # the attacker opens the pool with the smallest deposit, then donates to inflate one share
    pool.addLiquidity(1001, 1001, 0, 0, attacker, FAR, {"from": attacker})
    assert pool.balanceOf(attacker) == 1
    token.transfer(pool, 10_000 * WAD, {"from": attacker})
    base.transfer(pool, 10_000 * WAD, {"from": attacker})
    pool.sync({"from": attacker})

    deposit = 15_000 * WAD
    victim_start = (token.balanceOf(victim), base.balanceOf(victim))
    pool.addLiquidity(deposit, deposit, 0, 0, victim, FAR, {"from": victim})
    assert pool.balanceOf(victim) > 0
    pool.removeLiquidity(pool.balanceOf(victim), 0, 0, victim, FAR, {"from": victim})
    victim_loss = (victim_start[0] - token.balanceOf(victim)) + (
        victim_start[1] - base.balanceOf(victim)
    )
    pool.removeLiquidity(1, 0, 0, attacker, FAR, {"from": attacker})
    attacker_loss = (attacker_start[0] - token.balanceOf(attacker)) + (
        attacker_start[1] - base.balanceOf(attacker)
    )
    # the locked minimum liquidity owns almost all of the donation
    assert attacker_loss > 19_900 * WAD
    assert victim_loss < deposit * 2 // 1000  # under 0.1 % of what the victim put in
    assert attacker_loss > 1000 * victim_loss
    assert pool.balanceOf(pool.DEAD()) == MINIMUM_LIQUIDITY


# ------------------------------------------------------------------ dividends


def test_moving_tokens_between_own_accounts_does_not_claim_twice(market):
    token, client, second = market.token, market.client, accounts[7]
    token.distribute(100 * WAD, {"from": accounts[2]})
    token.claimDividend({"from": client})
    token.transfer(second, token.balanceOf(client), {"from": client})
    assert token.dividendOf(second) == 0
    tx = token.claimDividend({"from": second})
    assert "DividendClaimed" not in tx.events
    assert token.dividendOf(client) == 0


def test_anyone_can_trigger_the_pools_claim_but_only_the_pool_is_paid(market):
    token, pool, stranger = market.token, market.pool, accounts[7]
    token.distribute(100 * WAD, {"from": accounts[2]})
    before = market.base.balanceOf(stranger)
    token.claimDividendFor(pool, {"from": stranger})
    assert market.base.balanceOf(stranger) == before
    assert market.base.balanceOf(pool) == SEED_BASE + 10 * WAD
    pool.sync({"from": stranger})  # the LPs own it once folded in
    assert pool.getReserves()[1] == SEED_BASE + 10 * WAD
