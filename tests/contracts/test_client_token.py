"""ClientToken: initialization, burn, permit, and the pull-based dividend accumulator."""

import pytest
from brownie import AdversarialToken, ClientToken, accounts, chain
from eth_account import Account

from tests.contracts.helpers import reverts
from tests.contracts.market import MAX, PRECISION, SEED_TOKENS, SUPPLY, WAD, fresh_clone

CLIENT_HOLDING = SUPPLY - SEED_TOKENS  # the pool holds the rest after seeding
ZERO = "0x" + "00" * 20


@pytest.fixture
def small(cloner, token_impl, base):
    """A directly initialized clone with a 3-wei supply held by accounts[1], for rounding."""
    token = fresh_clone(cloner, token_impl, ClientToken)
    token.initialize("Small", "SML", accounts[1], 3, base, {"from": accounts[0]})
    base.approve(token, MAX, {"from": accounts[0]})
    return token


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
    assert token.dividendPerToken() == 0
    assert token.PRECISION() == PRECISION


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


# ------------------------------------------------------------------ distribute


def test_distribute_shares_by_balance(market):
    token, base = market.token, market.base
    before = base.balanceOf(accounts[2])
    tx = token.distribute(100 * WAD, {"from": accounts[2]})
    event = tx.events["DividendDistributed"]
    assert event["from"] == accounts[2]
    assert event["amount"] == 100 * WAD
    assert event["dividendPerToken"] == token.dividendPerToken() == 100 * WAD * PRECISION // SUPPLY
    assert base.balanceOf(accounts[2]) == before - 100 * WAD
    assert base.balanceOf(token) == 100 * WAD
    assert token.dividendOf(market.client) == 90 * WAD  # 900k of 1M tokens
    assert token.dividendOf(market.pool) == 10 * WAD
    assert token.dividendOf(accounts[2]) == 0
    assert token.totalDistributed() == 100 * WAD


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


def test_transfers_never_move_accrued_dividends(market):
    token, client, alice, bob = market.token, market.client, accounts[2], accounts[3]
    token.distribute(100 * WAD, {"from": alice})  # client 900k, pool 100k
    token.transfer(alice, 300_000 * WAD, {"from": client})
    token.approve(bob, MAX, {"from": alice})
    token.transferFrom(alice, bob, 100_000 * WAD, {"from": bob})
    # accrued before the moves: unchanged
    assert token.dividendOf(client) == 90 * WAD
    assert token.dividendOf(alice) == 0
    assert token.dividendOf(bob) == 0
    token.distribute(50 * WAD, {"from": alice})  # client 600k, alice 200k, bob 100k, pool 100k
    assert token.dividendOf(client) == 90 * WAD + 30 * WAD
    assert token.dividendOf(alice) == 10 * WAD
    assert token.dividendOf(bob) == 5 * WAD
    assert token.dividendOf(market.pool) == 10 * WAD + 5 * WAD
    total = sum(token.dividendOf(a) for a in (client, alice, bob, market.pool))
    assert total == 150 * WAD == token.totalDistributed()


def test_a_self_transfer_keeps_dividends(market):
    token = market.token
    token.distribute(10 * WAD, {"from": accounts[2]})
    token.transfer(market.client, 5 * WAD, {"from": market.client})
    assert token.dividendOf(market.client) == 9 * WAD
    assert token.balanceOf(market.client) == CLIENT_HOLDING


def test_burners_keep_earned_dividends_and_the_rest_share_later_ones(market):
    token, client = market.token, market.client
    token.distribute(100 * WAD, {"from": accounts[2]})
    token.burn(400_000 * WAD, {"from": client})  # supply 600k: client 500k, pool 100k
    assert token.dividendOf(client) == 90 * WAD
    token.distribute(60 * WAD, {"from": accounts[2]})
    assert token.dividendOf(client) == 90 * WAD + 50 * WAD
    assert token.dividendOf(market.pool) == 10 * WAD + 10 * WAD


def test_rounding_keeps_dust_in_the_contract(small, base):
    holder, other = accounts[1], accounts[2]
    small.transfer(other, 1, {"from": holder})  # holder 2 wei, other 1 wei
    small.distribute(1, {"from": accounts[0]})
    assert small.dividendOf(holder) == 0  # 2/3 of a wei, rounded down
    assert small.dividendOf(other) == 0
    small.distribute(2, {"from": accounts[0]})  # 3 wei in all: exactly 1 wei per token unit
    assert small.dividendOf(holder) + small.dividendOf(other) <= 3
    assert small.dividendOf(holder) == 1  # floor(2 * (1e27//3 + 2e27//3) / 1e27)
    assert small.dividendOf(other) == 0
    small.claimDividendFor(holder, {"from": accounts[0]})
    assert base.balanceOf(small) == 2  # the dust stays, nobody can over-claim


def test_undistributed_remainder_is_carried_to_the_next_distribution(cloner, token_impl, base):
    token = fresh_clone(cloner, token_impl, ClientToken)
    supply = 3 * PRECISION * 1000  # more token units than the accumulator resolves per wei
    token.initialize("Huge", "HUGE", accounts[1], supply, base, {"from": accounts[0]})
    base.approve(token, MAX, {"from": accounts[0]})
    token.distribute(1000, {"from": accounts[0]})
    assert token.dividendPerToken() == 0
    assert token.undistributed() == 1000
    assert token.dividendOf(accounts[1]) == 0
    token.distribute(2000, {"from": accounts[0]})
    assert token.dividendPerToken() == 1
    assert token.undistributed() == 0
    assert token.dividendOf(accounts[1]) == 3000


def test_a_fee_on_transfer_base_counts_what_arrived(cloner, token_impl):
    taxed = AdversarialToken.deploy({"from": accounts[0]})
    taxed.mint(accounts[0], 1000 * WAD, {"from": accounts[0]})
    taxed.setTransferFee(100, {"from": accounts[0]})  # 1 %
    token = fresh_clone(cloner, token_impl, ClientToken)
    token.initialize("T", "T", accounts[1], WAD, taxed, {"from": accounts[0]})
    taxed.approve(token, MAX, {"from": accounts[0]})
    tx = token.distribute(100 * WAD, {"from": accounts[0]})
    assert tx.events["DividendDistributed"]["amount"] == 99 * WAD
    assert token.dividendOf(accounts[1]) == 99 * WAD
    assert token.totalDistributed() == 99 * WAD


# ------------------------------------------------------------------ claims


def test_claim_pays_the_caller_once(market):
    token, base, client = market.token, market.base, market.client
    token.distribute(100 * WAD, {"from": accounts[2]})
    before = base.balanceOf(client)
    assert token.claimDividend.call({"from": client}) == 90 * WAD
    tx = token.claimDividend({"from": client})
    assert tx.events["DividendClaimed"]["holder"] == client
    assert tx.events["DividendClaimed"]["amount"] == 90 * WAD
    assert base.balanceOf(client) == before + 90 * WAD
    assert token.dividendOf(client) == 0
    assert token.owed(client) == 0
    assert token.totalClaimed() == 90 * WAD
    # a second claim pays nothing and emits nothing
    tx = token.claimDividend({"from": client})
    assert "DividendClaimed" not in tx.events
    assert base.balanceOf(client) == before + 90 * WAD


def test_claim_with_nothing_owed_returns_zero(market):
    assert market.token.claimDividend.call({"from": accounts[6]}) == 0
    tx = market.token.claimDividend({"from": accounts[6]})
    assert "DividendClaimed" not in tx.events


def test_claim_for_pays_the_holder_not_the_caller(market):
    token, base, client = market.token, market.base, market.client
    token.distribute(100 * WAD, {"from": accounts[2]})
    holder_before, caller_before = base.balanceOf(client), base.balanceOf(accounts[6])
    tx = token.claimDividendFor(client, {"from": accounts[6]})
    assert tx.events["DividendClaimed"]["holder"] == client
    assert base.balanceOf(client) == holder_before + 90 * WAD
    assert base.balanceOf(accounts[6]) == caller_before


def test_claims_after_transfers_keep_earning_on_the_new_balance(market):
    token, client, alice = market.token, market.client, accounts[2]
    token.distribute(100 * WAD, {"from": alice})
    token.claimDividend({"from": client})
    token.transfer(alice, 450_000 * WAD, {"from": client})  # client 450k, alice 450k, pool 100k
    token.distribute(100 * WAD, {"from": alice})
    assert token.dividendOf(client) == 45 * WAD
    assert token.dividendOf(alice) == 45 * WAD
    assert (
        token.totalClaimed() + sum(token.dividendOf(a) for a in (client, alice, market.pool))
        == token.totalDistributed()
    )
