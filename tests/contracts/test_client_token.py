"""ClientToken: initialization, burn, permit, and the streaming dividend accumulator.

A distribution streams linearly over DIVIDEND_DURATION (D); a new one folds what is left of the
running stream into a fresh stream of D seconds. Every expectation is computed twice in Python:
exactly by DividendMirror (the contract's integer arithmetic and floor rounding), and within a few
wei by IdealStream (rational time-weighted balance shares). Transactions are pinned to explicit
timestamps (``at``) and views are read on blocks mined at explicit timestamps (``mine_at``).

After every step: totalDistributed == totalClaimed + sum(dividendOf) + unallocated() + dust with
0 <= dust <= mirror.dust_bound() (below one wei per holder settlement, plus one per holder with
tokens, plus one), and never more claimed than distributed.
"""

from fractions import Fraction

import pytest
from brownie import AdversarialToken, ClientToken, accounts, chain
from eth_account import Account

from tests.contracts.helpers import reverts
from tests.contracts.market import (
    CLIENT_HOLDING,
    DIVIDEND_DURATION,
    MAX,
    PRECISION,
    SEED_TOKENS,
    SUPPLY,
    WAD,
    ZERO,
    DividendMirror,
    IdealStream,
    assert_matches_mirror,
    at,
    follow,
    fresh_clone,
    latest,
    market_holders,
    mine_at,
)

D = DIVIDEND_DURATION


@pytest.fixture
def small(cloner, token_impl, base):
    """A directly initialized clone with a 3-wei supply held by accounts[1], for rounding."""
    token = fresh_clone(cloner, token_impl, ClientToken)
    token.initialize("Small", "SML", accounts[1], 3, base, {"from": accounts[0]})
    base.approve(token, MAX, {"from": accounts[0]})
    return token


step = follow  # feed a transaction to the mirror, check every view and the conservation identity


def view_at(market, mirror, timestamp):
    """Mine an empty block at ``timestamp`` and check every view there."""
    mine_at(timestamp)
    return assert_matches_mirror(market.token, mirror, market_holders(market), market.base)


def near(value, ideal: Fraction, below: int = 3) -> None:
    """The contract rounds down: at most ``below`` wei under the exact share, never a wei over."""
    assert ideal - below <= value <= ideal + 1, f"{value} vs exact {float(ideal)}"


def ideal_of(market) -> IdealStream:
    return IdealStream(D, {market.client: CLIENT_HOLDING, market.pool: SEED_TOKENS})


# ------------------------------------------------------------------ initialization


def test_registration_mints_the_supply_to_the_client(market):
    token = market.token
    assert token.name() == "Client One"
    assert token.symbol() == "C1"
    assert token.decimals() == 18
    assert token.totalSupply() == SUPPLY
    assert token.client() == market.client
    assert token.baseToken() == market.base
    assert token.balanceOf(market.client) == CLIENT_HOLDING
    assert token.balanceOf(market.pool) == SEED_TOKENS
    assert token.PRECISION() == PRECISION
    assert token.dividendDuration() == D
    assert token.dividendPerToken() == 0
    assert token.rewardRate() == 0
    assert token.periodFinish() == 0
    assert token.unallocated() == 0


def test_the_constructor_fixes_the_duration_for_every_clone(cloner, base):
    with reverts("ZeroDuration"):
        ClientToken.deploy(0, {"from": accounts[0]})
    impl = ClientToken.deploy(100, {"from": accounts[0]})
    assert impl.dividendDuration() == 100
    token = fresh_clone(cloner, impl, ClientToken)
    token.initialize("T", "T", accounts[3], WAD, base, {"from": accounts[0]})
    assert token.dividendDuration() == 100  # immutable: in the implementation's code


def test_initialize_emits_and_mints(cloner, token_impl, base):
    token = fresh_clone(cloner, token_impl, ClientToken)
    tx = token.initialize("T", "T", accounts[3], 5 * WAD, base, {"from": accounts[7]})
    assert tx.events["Transfer"]["to"] == accounts[3]
    assert tx.events["Transfer"]["value"] == 5 * WAD
    assert tx.events["Initialized"]["version"] == 1
    assert token.balanceOf(accounts[3]) == 5 * WAD


@pytest.mark.parametrize("which", ["client", "base"])
def test_initialize_rejects_zero_addresses(cloner, token_impl, base, which):
    token = fresh_clone(cloner, token_impl, ClientToken)
    client = ZERO if which == "client" else accounts[1]
    base_token = ZERO if which == "base" else base
    with reverts("ZeroAddress"):
        token.initialize("T", "T", client, WAD, base_token, {"from": accounts[0]})


def test_initialize_rejects_a_zero_supply(cloner, token_impl, base):
    token = fresh_clone(cloner, token_impl, ClientToken)
    with reverts("ZeroSupply"):
        token.initialize("T", "T", accounts[1], 0, base, {"from": accounts[0]})


def test_initialize_mint_to_gives_the_supply_to_the_holder(cloner, token_impl, base):
    token = fresh_clone(cloner, token_impl, ClientToken)
    token.initializeMintTo("T", "T", accounts[3], accounts[4], 5 * WAD, base, {"from": accounts[0]})
    assert token.client() == accounts[3]
    assert token.balanceOf(accounts[4]) == 5 * WAD
    assert token.balanceOf(accounts[3]) == 0
    with reverts("InvalidInitialization"):  # the two initializers exclude each other
        token.initialize("T", "T", accounts[3], 5 * WAD, base, {"from": accounts[0]})


def test_initialize_mint_to_rejects_a_zero_holder(cloner, token_impl, base):
    token = fresh_clone(cloner, token_impl, ClientToken)
    with reverts("ZeroAddress"):
        token.initializeMintTo("T", "T", accounts[3], ZERO, WAD, base, {"from": accounts[0]})


# ------------------------------------------------------------------ ERC-20 extras


def test_holders_burn_and_the_supply_shrinks(market):
    market.token.burn(WAD, {"from": market.client})
    assert market.token.totalSupply() == SUPPLY - WAD
    assert market.token.balanceOf(market.client) == CLIENT_HOLDING - WAD


def test_burn_beyond_the_balance_reverts(market):
    with reverts("ERC20InsufficientBalance", accounts[4], 0, 1):
        market.token.burn(1, {"from": accounts[4]})


def test_burn_from_needs_an_allowance(market):
    with reverts("ERC20InsufficientAllowance", accounts[4], 0, WAD):
        market.token.burnFrom(market.client, WAD, {"from": accounts[4]})
    market.token.approve(accounts[4], WAD, {"from": market.client})
    market.token.burnFrom(market.client, WAD, {"from": accounts[4]})
    assert market.token.totalSupply() == SUPPLY - WAD


def _permit_signature(token, owner, spender, value, nonce, deadline):
    domain = {
        "name": token.name(),
        "version": "1",
        "chainId": chain.id,
        "verifyingContract": token.address,
    }
    types = {
        "Permit": [
            {"name": "owner", "type": "address"},
            {"name": "spender", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ]
    }
    message = {
        "owner": owner.address,
        "spender": str(spender),
        "value": value,
        "nonce": nonce,
        "deadline": deadline,
    }
    return Account.sign_typed_data(owner.private_key, domain, types, message)


def test_permit_on_a_clone_sets_the_allowance(market):
    signer = accounts.add("0x" + "11" * 32)
    deadline = chain[-1].timestamp + 3600
    sig = _permit_signature(market.token, signer, accounts[4], 7 * WAD, 0, deadline)
    market.token.permit(
        signer, accounts[4], 7 * WAD, deadline, sig.v, sig.r, sig.s, {"from": accounts[4]}
    )
    assert market.token.allowance(signer, accounts[4]) == 7 * WAD
    assert market.token.nonces(signer) == 1
    with reverts("ERC2612InvalidSigner"):  # replay: the nonce moved on
        market.token.permit(
            signer, accounts[4], 7 * WAD, deadline, sig.v, sig.r, sig.s, {"from": accounts[4]}
        )


# ------------------------------------------------------------------ distribute: the stream


def test_distribute_starts_a_stream_and_allocates_nothing_at_once(market, mirror):
    token, base = market.token, market.base
    before = base.balanceOf(accounts[2])
    t0 = latest() + 10
    at(t0)
    tx = token.distribute(100 * WAD, {"from": accounts[2]})
    event = tx.events["DividendDistributed"]
    assert (event["from"], event["amount"], event["periodFinish"]) == (
        accounts[2],
        100 * WAD,
        t0 + D,
    )
    assert token.rewardRate() == 100 * WAD * PRECISION // D
    assert token.lastAccrual() == t0
    assert token.periodFinish() == t0 + D
    assert base.balanceOf(accounts[2]) == before - 100 * WAD
    assert base.balanceOf(token) == 100 * WAD
    assert token.totalDistributed() == 100 * WAD
    # nothing is allocated in the distribution's own block: a buyer just before it gains nothing
    assert token.dividendOf(market.client) == 0
    assert token.dividendOf(market.pool) == 0
    assert token.unallocated() == 100 * WAD
    assert step(market, mirror, tx) == 0


def test_a_holder_for_the_whole_stream_gets_its_pro_rata_share(market, mirror):
    token, client, pool = market.token, market.client, market.pool
    ideal = ideal_of(market)
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(100 * WAD, {"from": accounts[2]}))
    ideal.distribute(100 * WAD, t0)
    for elapsed in (1, D // 4, D // 2, 3 * D // 4, D - 1):
        view_at(market, mirror, t0 + elapsed)
        near(token.dividendOf(client), ideal.earned_by(client, t0 + elapsed))
        near(token.dividendOf(pool), ideal.earned_by(pool, t0 + elapsed))
        assert 0 < token.unallocated() < 100 * WAD
    view_at(market, mirror, t0 + D)
    near(token.dividendOf(client), Fraction(90 * WAD))  # 900k of 1M tokens for the whole stream
    near(token.dividendOf(pool), Fraction(10 * WAD))
    assert token.unallocated() == 0
    end = (token.dividendOf(client), token.dividendOf(pool))
    view_at(market, mirror, t0 + 3 * D)  # the stream has ended: nothing more accrues
    assert (token.dividendOf(client), token.dividendOf(pool)) == end


def test_a_buyer_halfway_through_gets_about_half_of_its_share(market, mirror):
    token, pool, buyer = market.token, market.pool, accounts[2]
    ideal = ideal_of(market)
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(1_000 * WAD, {"from": accounts[3]}))
    ideal.distribute(1_000 * WAD, t0)
    at(t0 + D // 2)
    tx = pool.swapExactBaseForTokens(2_000 * WAD, 0, buyer, 2**64, {"from": buyer})
    step(market, mirror, tx)
    bought = tx.return_value
    ideal.move(pool, buyer, bought, t0 + D // 2)
    # the pool's first half, harvested by the swap itself before the tokens left it
    near(tx.events["DividendsHarvested"]["amount"], ideal.earned_by(pool, t0 + D // 2))
    assert token.dividendOf(buyer) == 0
    view_at(market, mirror, t0 + D)
    half_share = Fraction(1_000 * WAD * bought, SUPPLY) / 2
    assert ideal.earned_by(buyer, t0 + D) == half_share
    near(token.dividendOf(buyer), half_share)
    near(token.dividendOf(market.client), Fraction(900 * WAD))  # held all along


def test_transfers_mid_stream_split_accrual_by_time(market, mirror):
    token, client, alice, bob = market.token, market.client, accounts[2], accounts[3]
    token.approve(bob, MAX, {"from": alice})
    ideal = ideal_of(market)
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(120 * WAD, {"from": accounts[4]}))
    ideal.distribute(120 * WAD, t0)
    moves = [
        (D // 4, client, alice, 400_000 * WAD, {"from": client}),
        (D // 2, alice, bob, 100_000 * WAD, {"from": bob}),  # transferFrom by the spender
        (3 * D // 4, bob, client, 50_000 * WAD, {"from": bob}),
    ]
    for elapsed, sender, receiver, amount, who in moves:
        mine_at(t0 + elapsed)
        accrued = {h: token.dividendOf(h) for h in (client, alice, bob)}
        at(t0 + elapsed)
        if who["from"] == sender:
            tx = token.transfer(receiver, amount, who)
        else:
            tx = token.transferFrom(sender, receiver, amount, who)
        step(market, mirror, tx)
        ideal.move(sender, receiver, amount, t0 + elapsed)
        # the move carries no accrued dividend along: same block, same amounts
        assert {h: token.dividendOf(h) for h in (client, alice, bob)} == accrued
    view_at(market, mirror, t0 + D)
    for holder in (client, alice, bob, market.pool):
        near(token.dividendOf(holder), ideal.earned_by(holder, t0 + D))
    # by hand: alice held 400k for a quarter, then 300k for half; bob 100k for a quarter, then 50k
    near(token.dividendOf(alice), Fraction(120 * WAD * (400_000 + 2 * 300_000), 4 * 1_000_000))
    near(token.dividendOf(bob), Fraction(120 * WAD * (100_000 + 50_000), 4 * 1_000_000))
    # after the stream, moves change nothing
    settled = {h: token.dividendOf(h) for h in (client, alice, bob)}
    at(t0 + D + 5)
    step(market, mirror, token.transfer(client, 300_000 * WAD, {"from": alice}))
    assert {h: token.dividendOf(h) for h in (client, alice, bob)} == settled


def test_a_second_distribution_mid_stream_folds_the_rest_in(market, mirror):
    token, client, pool = market.token, market.client, market.pool
    ideal = ideal_of(market)
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(100 * WAD, {"from": accounts[2]}))
    ideal.distribute(100 * WAD, t0)
    first_rate = token.rewardRate()
    t1 = t0 + D // 4
    at(t1)
    tx = token.distribute(60 * WAD, {"from": accounts[3]})
    step(market, mirror, tx)
    ideal.distribute(60 * WAD, t1)
    assert tx.events["DividendDistributed"]["periodFinish"] == t1 + D == token.periodFinish()
    rest = first_rate * (t0 + D - t1)  # the first stream's unstreamed three quarters, scaled
    assert token.rewardRate() == (60 * WAD * PRECISION + rest + 100 * WAD * PRECISION % D) // D
    near(token.dividendOf(client), Fraction(90 * WAD, 4))  # a quarter of the first stream
    near(Fraction(token.unallocated()), Fraction(75 * WAD + 60 * WAD), below=1)
    view_at(market, mirror, t0 + D)  # where the first stream would have ended: still streaming
    assert token.unallocated() > 0
    near(token.dividendOf(client), ideal.earned_by(client, t0 + D))
    view_at(market, mirror, t1 + D)
    near(token.dividendOf(client), Fraction(144 * WAD))  # 90 % of 160
    near(token.dividendOf(pool), Fraction(16 * WAD))
    assert token.unallocated() == 0


def test_a_distribution_after_the_stream_ended_starts_afresh(market, mirror):
    token, client, alice = market.token, market.client, accounts[2]
    ideal = ideal_of(market)
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(100 * WAD, {"from": accounts[3]}))
    ideal.distribute(100 * WAD, t0)
    first_dust = 100 * WAD * PRECISION % D
    at(t0 + 2 * D)  # alice buys in the gap between the streams
    step(market, mirror, token.transfer(alice, 200_000 * WAD, {"from": client}))
    ideal.move(client, alice, 200_000 * WAD, t0 + 2 * D)
    t2 = t0 + 2 * D + 100
    at(t2)
    step(market, mirror, token.distribute(50 * WAD, {"from": accounts[3]}))
    ideal.distribute(50 * WAD, t2)
    assert token.rewardRate() == (50 * WAD * PRECISION + first_dust) // D  # nothing to fold
    assert (token.lastAccrual(), token.periodFinish()) == (t2, t2 + D)
    assert token.dividendOf(alice) == 0  # the gap earned nothing, the first stream was over
    view_at(market, mirror, t2 + D // 2)
    near(token.dividendOf(alice), Fraction(5 * WAD))  # 20 % of half of 50
    view_at(market, mirror, t2 + D)
    near(token.dividendOf(alice), Fraction(10 * WAD))
    near(token.dividendOf(client), Fraction(90 * WAD + 35 * WAD))
    near(token.dividendOf(alice), ideal.earned_by(alice, t2 + D))


def test_burns_mid_stream_raise_the_remaining_holders_share(market, mirror):
    token, client, pool = market.token, market.client, market.pool
    ideal = ideal_of(market)
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(120 * WAD, {"from": accounts[2]}))
    ideal.distribute(120 * WAD, t0)
    at(t0 + D // 2)
    tx = token.burn(400_000 * WAD, {"from": client})  # supply 600k: client 500k, pool 100k
    step(market, mirror, tx)
    ideal.move(client, None, 400_000 * WAD, t0 + D // 2)
    near(token.dividendOf(client), Fraction(54 * WAD))  # the burner keeps what it earned
    view_at(market, mirror, t0 + D)
    near(token.dividendOf(client), Fraction(54 * WAD + 50 * WAD))  # then 5/6 of the second half
    near(token.dividendOf(pool), Fraction(6 * WAD + 10 * WAD))  # 1/10, then 1/6
    for holder in (client, pool):
        near(token.dividendOf(holder), ideal.earned_by(holder, t0 + D))
    assert token.unallocated() == 0


def test_burning_every_token_mid_stream_strands_the_rest_in_unallocated(cloner, token_impl, base):
    token = fresh_clone(cloner, token_impl, ClientToken)
    holder = accounts[1]
    token.initialize("T", "T", holder, 10 * WAD, base, {"from": accounts[0]})
    base.approve(token, MAX, {"from": accounts[0]})
    mirror = DividendMirror(D, token, None, {holder: 10 * WAD})
    t0 = latest() + 10
    at(t0)
    mirror.apply(token.distribute(100 * WAD, {"from": accounts[0]}))
    at(t0 + D // 2)
    tx = token.claimDividend({"from": holder})
    mirror.apply(tx)
    near(tx.return_value, Fraction(50 * WAD))
    at(t0 + D // 2)
    mirror.apply(token.burn(10 * WAD, {"from": holder}))
    mine_at(t0 + D)
    assert token.totalSupply() == 0
    assert token.dividendOf(holder) == 0
    near(token.unallocated(), Fraction(50 * WAD))  # streamed to nobody: kept, never paid
    assert assert_matches_mirror(token, mirror, [holder], base) <= mirror.dust_bound()
    with reverts("NothingToDistribute"):
        token.distribute(WAD, {"from": accounts[0]})


def test_distribute_zero_reverts(market):
    with reverts("NothingToDistribute"):
        market.token.distribute(0, {"from": accounts[2]})


def test_distribute_with_no_supply_reverts(cloner, token_impl, base):
    token = fresh_clone(cloner, token_impl, ClientToken)
    token.initialize("T", "T", accounts[3], WAD, base, {"from": accounts[0]})
    token.burn(WAD, {"from": accounts[3]})
    base.approve(token, MAX, {"from": accounts[2]})
    with reverts("NothingToDistribute"):
        token.distribute(WAD, {"from": accounts[2]})


def test_distribute_without_allowance_reverts(market):
    with reverts("ERC20InsufficientAllowance", market.token, 0, WAD):
        market.token.distribute(WAD, {"from": accounts[7]})


def test_a_fee_on_transfer_base_streams_what_arrived(cloner, token_impl):
    taxed = AdversarialToken.deploy({"from": accounts[0]})
    taxed.mint(accounts[0], 1000 * WAD, {"from": accounts[0]})
    taxed.setTransferFee(100, {"from": accounts[0]})  # 1 %
    token = fresh_clone(cloner, token_impl, ClientToken)
    token.initialize("T", "T", accounts[1], WAD, taxed, {"from": accounts[0]})
    taxed.approve(token, MAX, {"from": accounts[0]})
    t0 = latest() + 10
    at(t0)
    tx = token.distribute(100 * WAD, {"from": accounts[0]})
    assert tx.events["DividendDistributed"]["amount"] == 99 * WAD
    assert token.totalDistributed() == 99 * WAD
    assert token.rewardRate() == 99 * WAD * PRECISION // D
    mine_at(t0 + D)
    near(token.dividendOf(accounts[1]), Fraction(99 * WAD), below=1)


# ------------------------------------------------------------------ transfers and burns


def test_transfers_never_move_accrued_dividends(market, mirror):
    token, client, alice, bob = market.token, market.client, accounts[2], accounts[3]
    token.approve(bob, MAX, {"from": alice})
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(100 * WAD, {"from": alice}))  # client 900k, pool 100k
    at(t0 + D)
    step(market, mirror, token.transfer(alice, 300_000 * WAD, {"from": client}))
    at(t0 + D)
    step(market, mirror, token.transferFrom(alice, bob, 100_000 * WAD, {"from": bob}))
    near(token.dividendOf(client), Fraction(90 * WAD))  # accrued before the moves: unchanged
    assert token.dividendOf(alice) == token.dividendOf(bob) == 0
    t1 = t0 + D + 10
    at(t1)
    step(market, mirror, token.distribute(50 * WAD, {"from": alice}))
    # client 600k, alice 200k, bob 100k, pool 100k for the whole second stream
    view_at(market, mirror, t1 + D)
    near(token.dividendOf(client), Fraction(90 * WAD + 30 * WAD), below=4)
    near(token.dividendOf(alice), Fraction(10 * WAD))
    near(token.dividendOf(bob), Fraction(5 * WAD))
    near(token.dividendOf(market.pool), Fraction(15 * WAD), below=4)


def test_a_self_transfer_keeps_dividends(market, mirror):
    token = market.token
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(10 * WAD, {"from": accounts[2]}))
    at(t0 + D // 2)
    step(market, mirror, token.transfer(market.client, 5 * WAD, {"from": market.client}))
    near(token.dividendOf(market.client), Fraction(9 * WAD, 2))
    assert token.balanceOf(market.client) == CLIENT_HOLDING
    view_at(market, mirror, t0 + D)
    near(token.dividendOf(market.client), Fraction(9 * WAD))


# ------------------------------------------------------------------ rounding


def test_rounding_keeps_dust_in_the_contract(small, base):
    holder, other = accounts[1], accounts[2]
    mirror = DividendMirror(D, small, None, {holder: 3})
    mirror.apply(small.transfer(other, 1, {"from": holder}))  # holder 2 wei, other 1 wei
    t0 = latest() + 10
    at(t0)
    mirror.apply(small.distribute(1, {"from": accounts[0]}))
    mine_at(t0 + D)
    assert small.dividendOf(holder) == small.dividendOf(other) == 0  # 2/3 and 1/3 of a wei
    assert assert_matches_mirror(small, mirror, [holder, other], base) <= mirror.dust_bound()
    at(t0 + D)
    mirror.apply(small.distribute(2, {"from": accounts[0]}))  # 3 wei in all
    mine_at(t0 + 2 * D)
    paid = small.dividendOf(holder) + small.dividendOf(other)
    assert small.dividendOf(holder) == mirror.dividend_of(holder, t0 + 2 * D)
    assert paid <= 3
    at(t0 + 2 * D)
    mirror.apply(small.claimDividendFor(holder, {"from": accounts[0]}))
    assert base.balanceOf(small) == 3 - mirror.claimed >= 1  # the dust stays, nobody over-claims
    assert assert_matches_mirror(small, mirror, [holder, other], base) <= mirror.dust_bound()


def test_remainders_below_a_wei_per_token_are_carried_not_lost(cloner, token_impl, base):
    """1890 wei streams exactly over a week (604800 = 1890 * 320); a supply of 3 * 1890 * 1e27
    units gets less than one scaled unit per token from it, so it is carried, then paid out with
    the next distribution."""
    token = fresh_clone(cloner, token_impl, ClientToken)
    supply = 3 * 1890 * PRECISION
    token.initialize("Huge", "HUGE", accounts[1], supply, base, {"from": accounts[0]})
    base.approve(token, MAX, {"from": accounts[0]})
    t0 = latest() + 10
    at(t0)
    token.distribute(1890, {"from": accounts[0]})
    mine_at(t0 + D)
    assert token.dividendPerToken() == 0
    assert token.dividendOf(accounts[1]) == 0
    assert token.unallocated() == 1890  # released, carried
    at(t0 + D)
    token.distribute(2 * 1890, {"from": accounts[0]})
    assert token.dividendPerToken() == 0
    mine_at(t0 + 2 * D)
    assert token.dividendOf(accounts[1]) == 3 * 1890  # exactly one scaled unit per token
    assert token.unallocated() == 0
    at(t0 + 2 * D)
    token.claimDividend({"from": accounts[1]})
    assert token.dividendPerToken() == 1
    assert base.balanceOf(token) == 0


# ------------------------------------------------------------------ claims


def test_claim_pays_the_caller_once(market, mirror):
    token, base, client = market.token, market.base, market.client
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(100 * WAD, {"from": accounts[2]}))
    mine_at(t0 + D)
    owed = token.dividendOf(client)
    near(owed, Fraction(90 * WAD))
    before = base.balanceOf(client)
    assert token.claimDividend.call({"from": client}) == owed
    at(t0 + D)
    tx = token.claimDividend({"from": client})
    step(market, mirror, tx)
    assert tx.events["DividendClaimed"]["holder"] == client
    assert tx.events["DividendClaimed"]["amount"] == owed == tx.return_value
    assert base.balanceOf(client) == before + owed
    assert token.dividendOf(client) == 0
    assert token.owed(client) == 0
    assert token.totalClaimed() == owed
    # a second claim pays nothing and emits nothing
    at(t0 + D + 1)
    tx = token.claimDividend({"from": client})
    step(market, mirror, tx)
    assert "DividendClaimed" not in tx.events
    assert base.balanceOf(client) == before + owed


def test_claims_mid_stream_pay_what_has_streamed_so_far(market, mirror):
    token, base, client = market.token, market.base, market.client
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(100 * WAD, {"from": accounts[2]}))
    before = base.balanceOf(client)
    paid = []
    for elapsed, expected in ((D // 4, 90 * WAD // 4), (D // 2, 90 * WAD // 4), (D, 45 * WAD)):
        at(t0 + elapsed)
        tx = token.claimDividend({"from": client})
        step(market, mirror, tx)
        near(tx.return_value, Fraction(expected))
        paid.append(tx.return_value)
    near(sum(paid), Fraction(90 * WAD), below=3)
    assert base.balanceOf(client) == before + sum(paid)


def test_claim_with_nothing_owed_returns_zero(market):
    assert market.token.claimDividend.call({"from": accounts[6]}) == 0
    tx = market.token.claimDividend({"from": accounts[6]})
    assert "DividendClaimed" not in tx.events


def test_claim_for_pays_the_holder_not_the_caller(market, mirror):
    token, base, client = market.token, market.base, market.client
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(100 * WAD, {"from": accounts[2]}))
    holder_before, caller_before = base.balanceOf(client), base.balanceOf(accounts[6])
    at(t0 + D // 2)
    tx = token.claimDividendFor(client, {"from": accounts[6]})
    step(market, mirror, tx)
    assert tx.events["DividendClaimed"]["holder"] == client
    near(tx.return_value, Fraction(45 * WAD))
    assert base.balanceOf(client) == holder_before + tx.return_value
    assert base.balanceOf(accounts[6]) == caller_before


def test_a_holder_that_refuses_pushes_claims_only_itself(market, mirror):
    token, client = market.token, market.client
    assert not token.refusesPushes(client)
    tx = token.refusePushes({"from": client})
    assert tx.events["PushesRefused"]["holder"] == client
    assert token.refusesPushes(client)
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(100 * WAD, {"from": accounts[2]}))
    at(t0 + D // 2)
    with reverts("PushRefused", client):
        token.claimDividendFor(client, {"from": accounts[6]})
    tx = token.claimDividendFor(client, {"from": client})  # its own call is a plain claim
    step(market, mirror, tx)
    assert tx.events["DividendClaimed"]["holder"] == client and tx.return_value > 0
    # others are unaffected
    assert not token.refusesPushes(accounts[2])
    step(market, mirror, token.claimDividendFor(accounts[2], {"from": accounts[6]}))


def test_claims_after_transfers_keep_earning_on_the_new_balance(market, mirror):
    token, client, alice = market.token, market.client, accounts[2]
    t0 = latest() + 10
    at(t0)
    step(market, mirror, token.distribute(100 * WAD, {"from": alice}))
    at(t0 + D)
    step(market, mirror, token.claimDividend({"from": client}))
    at(t0 + D)  # client 450k, alice 450k, pool 100k
    step(market, mirror, token.transfer(alice, 450_000 * WAD, {"from": client}))
    at(t0 + D + 1)
    step(market, mirror, token.distribute(100 * WAD, {"from": alice}))
    view_at(market, mirror, t0 + 2 * D + 1)
    near(token.dividendOf(client), Fraction(45 * WAD))
    near(token.dividendOf(alice), Fraction(45 * WAD))
