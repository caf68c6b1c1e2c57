"""Attacks on the market: reentrancy through a hostile token, sandwiches past minOut, stale
transactions past their deadline, re-initialization of clones and implementations, first-depositor
share inflation, dividend double claims, and the two dividend attacks of the streaming redesign:

(a) taking the pool LPs' dividends: join the pool after dividends accrued to it, harvest, leave;
    or leave right after dividends accrued. The pool harvests before every liquidity change, so a
    newcomer pays for what accrued before it and a leaver takes exactly its share.
(b) sniping a distribution: buy just before `distribute`, claim, sell right after. Dividends
    stream over DIVIDEND_DURATION, so a holder of a few seconds earns a few seconds' worth.

Every dividend step is fed to a DividendMirror and checked against the conservation identity.
"""

from fractions import Fraction

import pytest
from brownie import AdversarialToken, ClientPool, ClientToken, accounts, chain

from tests.contracts.helpers import reverts
from tests.contracts.market import (
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
    assert_matches_mirror,
    at,
    follow,
    fresh_clone,
    ints,
    latest,
    market_holders,
    mine_at,
    register,
)

D = DIVIDEND_DURATION


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
    tx = pool.swapExactBaseForTokens(WAD, 0, accounts[0], FAR, {"from": accounts[0]})
    assert tx.events["Swap"]["amountOut"] == amount_out(WAD, 10_000 * WAD, 10_000 * WAD) > 0


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
    t0 = latest() + 10
    at(t0)
    token.distribute(10 * WAD, {"from": accounts[0]})
    mine_at(t0 + D)
    owed = token.dividendOf(accounts[1])
    assert 10 * WAD - 2 <= owed <= 10 * WAD
    evil.setHook(token, token.claimDividendFor.encode_input(accounts[1]), {"from": accounts[0]})
    with reverts("ReentrancyGuardReentrantCall"):
        token.claimDividend({"from": accounts[1]})
    evil.setHook(ZERO, b"", {"from": accounts[0]})
    token.claimDividend({"from": accounts[1]})
    assert evil.balanceOf(accounts[1]) == owed
    assert evil.balanceOf(token) == 10 * WAD - owed <= 2  # rounding dust, never paid twice
    assert token.unallocated() == 0


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


# ------------------------------------------------------------------ dividends: double claims


def test_moving_tokens_between_own_accounts_does_not_claim_twice(market, mirror):
    token, client, second = market.token, market.client, accounts[7]
    t0 = latest() + 10
    at(t0)
    follow(market, mirror, token.distribute(100 * WAD, {"from": accounts[2]}))
    at(t0 + D)
    follow(market, mirror, token.claimDividend({"from": client}))
    at(t0 + D)
    follow(market, mirror, token.transfer(second, token.balanceOf(client), {"from": client}))
    assert token.dividendOf(second) == 0
    at(t0 + D + 1)
    tx = token.claimDividend({"from": second})
    follow(market, mirror, tx)
    assert "DividendClaimed" not in tx.events
    assert token.dividendOf(client) == 0


def test_anyone_can_trigger_the_pools_claim_but_only_the_pool_is_paid(market, mirror):
    token, pool, stranger = market.token, market.pool, accounts[7]
    t0 = latest() + 10
    at(t0)
    follow(market, mirror, token.distribute(100 * WAD, {"from": accounts[2]}))
    before = market.base.balanceOf(stranger)
    at(t0 + D)
    tx = token.claimDividendFor(pool, {"from": stranger})
    follow(market, mirror, tx)
    owed = tx.return_value
    assert 10 * WAD - 2 <= owed <= 10 * WAD
    assert market.base.balanceOf(stranger) == before
    assert market.base.balanceOf(pool) == SEED_BASE + owed
    assert pool.getReserves()[1] == SEED_BASE  # pending until the pool folds it in
    at(t0 + D)
    follow(market, mirror, pool.sync({"from": stranger}))  # the LPs own it once folded in
    assert pool.getReserves()[1] == SEED_BASE + owed


# ------------------------------------------------------------------ (a) the LPs' dividends


def _value(tokens: int, base: int, pool) -> Fraction:
    """A position in base at the pool's current price."""
    reserve_token, reserve_base = ints(pool.getReserves())
    return base + Fraction(tokens * reserve_base, reserve_token)


def test_a_late_lp_takes_none_of_the_dividends_earned_before_its_deposit(market, mirror):
    """The issue's attack (a): 10,000 base distributed; the pool (10 % of the supply) earns 1,000
    that nobody harvested. The attacker then adds four times the pool's liquidity, harvests and
    removes it all. Before the redesign it took 80 % of the 1,000; now its deposit pays the ratio
    that includes them, and it gets back what it put in, less rounding."""
    token, pool, base = market.token, market.pool, market.base
    client, attacker = market.client, accounts[3]
    t0 = latest() + 10
    at(t0)
    follow(market, mirror, token.distribute(10_000 * WAD, {"from": accounts[4]}))
    t1 = t0 + D  # the stream is over: the pool's 1,000 have accrued, unharvested
    pending = mirror.dividend_of(pool, t1)
    assert 1_000 * WAD - 2 <= pending <= 1_000 * WAD
    at(t1)
    follow(market, mirror, token.transfer(attacker, 400_000 * WAD, {"from": client}))
    honest_lp = pool.balanceOf(client)

    tokens_before, base_before = token.balanceOf(attacker), base.balanceOf(attacker)
    at(t1 + 1)
    add = pool.addLiquidity(400_000 * WAD, 50_000 * WAD, 0, 0, attacker, FAR, {"from": attacker})
    follow(market, mirror, add)
    assert add.events["DividendsHarvested"]["amount"] == pending  # folded in before pricing
    token_in, base_in, liquidity = ints(add.return_value)
    assert token_in == 400_000 * WAD
    assert base_in == 400_000 * WAD * (SEED_BASE + pending) // SEED_TOKENS  # pays for them
    lp_supply = pool.totalSupply()
    would_have_taken = Fraction(liquidity * pending, lp_supply)  # its share without the harvest
    assert would_have_taken > 799 * WAD
    at(t1 + 2)
    harvest = pool.harvestDividends({"from": attacker})
    follow(market, mirror, harvest)
    assert harvest.return_value == 0  # nothing left to take
    at(t1 + 3)
    remove = pool.removeLiquidity(liquidity, 0, 0, attacker, FAR, {"from": attacker})
    follow(market, mirror, remove)

    token_back = token.balanceOf(attacker) - tokens_before + token_in
    base_back = base.balanceOf(attacker) - base_before + base_in
    assert token_back <= token_in and base_back <= base_in  # never more than it put in
    assert token_in - token_back <= 1 and base_in - base_back <= 1  # only rounding lost
    taken = _value(token_back, base_back, pool) - _value(token_in, base_in, pool)
    assert taken <= 0
    # the honest LP still owns all of the 1,000
    at(t1 + 4)
    out = pool.removeLiquidity(honest_lp, 0, 0, client, FAR, {"from": client})
    follow(market, mirror, out)
    reserve_share = Fraction(honest_lp, honest_lp + MINIMUM_LIQUIDITY)
    assert out.return_value[1] >= reserve_share * (SEED_BASE + pending) - 2


def test_an_lp_joining_mid_stream_earns_only_what_streams_while_it_is_in(market, mirror):
    token, pool, base = market.token, market.pool, market.base
    client, attacker = market.client, accounts[3]
    at(latest() + 1)
    follow(market, mirror, token.transfer(attacker, 100_000 * WAD, {"from": client}))
    t0 = latest() + 10
    at(t0)
    follow(market, mirror, token.distribute(10_000 * WAD, {"from": accounts[4]}))
    at(t0 + D // 2)
    add = pool.addLiquidity(100_000 * WAD, 20_000 * WAD, 0, 0, attacker, FAR, {"from": attacker})
    follow(market, mirror, add)
    first_half = add.events["DividendsHarvested"]["amount"]
    assert 500 * WAD - 2 <= first_half <= 500 * WAD  # 10 % of half the stream, to the old LPs
    token_in, base_in, liquidity = ints(add.return_value)
    share = Fraction(liquidity, pool.totalSupply())
    assert Fraction(4999, 10_000) < share <= Fraction(1, 2)  # half the pool from now on
    base_before = base.balanceOf(attacker) + base_in
    at(t0 + D)
    remove = pool.removeLiquidity(liquidity, 0, 0, attacker, FAR, {"from": attacker})
    follow(market, mirror, remove)
    second_half = remove.events["DividendsHarvested"]["amount"]
    # the pool held 200k tokens (20 %) for the second half: 1,000 for all its LPs
    assert 1_000 * WAD - 2 <= second_half <= 1_000 * WAD
    token_back, base_back = ints(remove.return_value)
    assert token_in - 1 <= token_back <= token_in  # no swaps: the token side comes back
    earned = base.balanceOf(attacker) - base_before
    assert earned == base_back - base_in
    # exactly its share of the second half, none of the first
    assert share * second_half - 2 <= earned <= share * second_half + 1


def test_each_lp_leaving_after_dividends_accrued_gets_exactly_its_share(market, mirror):
    """Two LPs with about half the pool each; dividends accrue to the pool; the first LP leaves
    right away (its removal harvests first), then the other. Neither takes the other's part and
    the one who leaves first leaves nothing of its own behind."""
    token, pool = market.token, market.pool
    client, leaver = market.client, accounts[3]
    at(latest() + 1)
    follow(market, mirror, token.transfer(leaver, 100_000 * WAD, {"from": client}))
    at(latest() + 1)
    add = pool.addLiquidity(100_000 * WAD, 10_000 * WAD, 0, 0, leaver, FAR, {"from": leaver})
    follow(market, mirror, add)
    t0 = latest() + 10
    at(t0)
    follow(market, mirror, token.distribute(10_000 * WAD, {"from": accounts[4]}))
    t1 = t0 + D
    pending = mirror.dividend_of(pool, t1)
    assert 2_000 * WAD - 2 <= pending <= 2_000 * WAD  # the pool holds 20 % of the supply
    balances = (token.balanceOf(pool), market.base.balanceOf(pool))
    outs = {}
    for lp in (leaver, client):
        liquidity, lp_supply = pool.balanceOf(lp), pool.totalSupply()
        expected = (
            liquidity * balances[0] // lp_supply,
            liquidity * (balances[1] + pending) // lp_supply,
        )
        at(t1)
        tx = pool.removeLiquidity(liquidity, 0, 0, lp, FAR, {"from": lp})
        follow(market, mirror, tx)
        assert ints(tx.return_value) == expected
        if lp == leaver:
            assert tx.events["DividendsHarvested"]["amount"] == pending
        else:  # harvested by the first removal, nothing more streamed since
            assert "DividendsHarvested" not in tx.events
        outs[lp] = expected
        balances = (balances[0] - expected[0], balances[1] + pending - expected[1])
        pending = 0
    # both had deposited at the same price, so each dividend part is its share of 2,000
    seeded = {leaver: 10_000 * WAD, client: SEED_BASE}
    for lp, (_, base_out) in outs.items():
        dividend_part = base_out - seeded[lp]
        assert 999 * WAD < dividend_part <= 1_000 * WAD


# ------------------------------------------------------------------ (b) sniping a distribution


@pytest.mark.parametrize("hold", [1, 12, 3600])
def test_sniping_a_distribution_loses_the_fees(market, mirror, hold):
    """The issue's attack (b), on the seeded pool: buy 5,000 base of client tokens in the block
    before a 10,000 base distribution, claim and sell back ``hold`` seconds after it. Before the
    redesign the distribution was shared at once: 332.67 base of dividends for a round trip losing
    20.01, so 312 base of profit. Now the snipe earns ``hold`` seconds of the stream, far below the
    two legs' pool fees. An honest holder who held through the whole stream earns its full share.
    """
    token, pool, base = market.token, market.pool, market.base
    attacker, honest = accounts[3], accounts[5]
    t = latest() + 10
    at(t)
    follow(market, mirror, token.transfer(honest, 50_000 * WAD, {"from": market.client}))

    start = base.balanceOf(attacker)
    at(t + 100)
    buy = pool.swapExactBaseForTokens(5_000 * WAD, 0, attacker, FAR, {"from": attacker})
    follow(market, mirror, buy)
    bought = buy.return_value
    assert bought == amount_out(5_000 * WAD, SEED_BASE, SEED_TOKENS)
    at(t + 101)
    follow(market, mirror, token.distribute(10_000 * WAD, {"from": accounts[4]}))
    at(t + 101 + hold)
    claim = token.claimDividend({"from": attacker})
    follow(market, mirror, claim)
    at(t + 101 + hold)
    sell = pool.swapExactTokensForBase(bought, 0, attacker, FAR, {"from": attacker})
    follow(market, mirror, sell)
    profit = base.balanceOf(attacker) - start
    dividends = claim.return_value

    streamed = Fraction(10_000 * WAD * bought * hold, SUPPLY * D)  # its time-weighted share
    assert streamed - 2 <= dividends <= streamed + 1
    # the fees of both legs, in base: 0.3 % of 5,000, and 0.3 % of the tokens sold at the price
    fees = Fraction(5_000 * WAD * FEE_BPS, 10_000) + Fraction(
        sell.return_value * FEE_BPS, 10_000 - FEE_BPS
    )
    assert dividends < fees
    assert profit < 0
    instant_share = Fraction(10_000 * WAD * bought, SUPPLY)  # what the instant split paid it
    assert instant_share > 332 * WAD

    # the honest holder held through the whole stream: its full pro-rata share
    mine_at(t + 101 + D)
    exact = Fraction(10_000 * WAD * 50_000, 1_000_000)
    assert exact - 2 <= token.dividendOf(honest) <= exact


def test_the_same_round_trip_around_accrued_pool_dividends_takes_nothing(market, mirror):
    """Control for the attack below: with the pool's dividends accrued and unharvested, a large
    buy-and-sell round trip is priced after the harvest and only pays the fees."""
    token, pool, base = market.token, market.pool, market.base
    attacker = accounts[3]
    t0 = latest() + 10
    at(t0)
    follow(market, mirror, token.distribute(10_000 * WAD, {"from": accounts[4]}))
    start = base.balanceOf(attacker)
    at(t0 + D)
    buy = pool.swapExactBaseForTokens(30_000 * WAD, 0, attacker, FAR, {"from": attacker})
    follow(market, mirror, buy)
    harvested = buy.events["DividendsHarvested"]["amount"]
    assert harvested > 999 * WAD
    reserve_base = SEED_BASE + harvested  # the buy is priced on these
    assert buy.return_value == amount_out(30_000 * WAD, reserve_base, SEED_TOKENS)
    at(t0 + D)
    sell = pool.swapExactTokensForBase(buy.return_value, 0, attacker, FAR, {"from": attacker})
    follow(market, mirror, sell)
    back = amount_out(buy.return_value, SEED_TOKENS - buy.return_value, reserve_base + 30_000 * WAD)
    assert sell.return_value == back
    assert base.balanceOf(attacker) - start == back - 30_000 * WAD < -40 * WAD


def test_pushing_the_pools_dividends_unsynced_lets_no_trader_take_them(market, mirror):
    """Anyone may push the pool's dividends into its balance (claimDividendFor) without a sync;
    the next swap folds them in before pricing, so buying before that fold and selling after it
    takes nothing from the LPs (it took 704 of 1,000 base when swaps priced on stale reserves)."""
    token, pool, base = market.token, market.pool, market.base
    attacker = accounts[3]
    t0 = latest() + 10
    at(t0)
    follow(market, mirror, token.distribute(10_000 * WAD, {"from": accounts[4]}))
    start = base.balanceOf(attacker)
    at(t0 + D)
    push = token.claimDividendFor(pool, {"from": attacker})  # anyone may; no sync follows
    follow(market, mirror, push)
    assert push.return_value > 999 * WAD
    at(t0 + D)
    buy = pool.swapExactBaseForTokens(30_000 * WAD, 0, attacker, FAR, {"from": attacker})
    follow(market, mirror, buy)
    at(t0 + D)
    sell = pool.swapExactTokensForBase(buy.return_value, 0, attacker, FAR, {"from": attacker})
    follow(market, mirror, sell)
    assert base.balanceOf(attacker) - start <= 0


def test_dust_distributions_stretch_the_stream_but_lose_nothing(market, mirror):
    """Anyone may distribute, and each distribution restarts the stream with what is left: a 1-wei
    distribution halfway stretches the other half over a new full period. Holders then get it
    later, never less; the identity holds throughout."""
    token, client = market.token, market.client
    t0 = latest() + 10
    at(t0)
    follow(market, mirror, token.distribute(7_000 * WAD, {"from": accounts[4]}))
    at(t0 + D // 2)
    follow(market, mirror, token.distribute(1, {"from": accounts[3]}))
    assert token.periodFinish() == t0 + D // 2 + D
    mine_at(t0 + D)
    assert_matches_mirror(token, mirror, market_holders(market), market.base)
    streamed = token.dividendOf(client)
    full = Fraction(7_000 * WAD * 9, 10)
    assert full * 3 / 4 - 3 <= streamed <= full * 3 / 4 + 1  # a half, then half of the half
    mine_at(t0 + D // 2 + D)
    assert full - 3 <= token.dividendOf(client) <= full + 1
    assert token.unallocated() == 0
    assert_matches_mirror(token, mirror, market_holders(market), market.base)
