"""ClientRegistry: construction checks, registration by deterministic clones, lookups, offerings."""

from math import isqrt

import pytest
from brownie import ClientPool, ClientRegistry, ClientToken, accounts

from tests.contracts.helpers import reverts
from tests.contracts.market import (
    DEAD,
    DIVIDEND_DURATION,
    FAR,
    FEE_BPS,
    MAX,
    MINIMUM_LIQUIDITY,
    SUPPLY,
    WAD,
    ZERO,
    at,
    latest,
    mine_at,
    register,
)

# ------------------------------------------------------------------ constructor


def test_constructor_stores_the_parameters(registry, base, token_impl, pool_impl):
    assert registry.baseToken() == base
    assert registry.tokenImpl() == token_impl
    assert registry.poolImpl() == pool_impl
    assert registry.supply() == SUPPLY
    assert registry.feeBps() == FEE_BPS
    assert registry.clientCount() == 0


@pytest.mark.parametrize("position", [0, 1, 2])
def test_constructor_rejects_zero_addresses(base, token_impl, pool_impl, position):
    args = [base, token_impl, pool_impl]
    args[position] = ZERO
    with reverts("ZeroAddress"):
        ClientRegistry.deploy(*args, SUPPLY, FEE_BPS, {"from": accounts[0]})


@pytest.mark.parametrize("position", [1, 2])
def test_constructor_rejects_implementations_without_code(base, token_impl, pool_impl, position):
    args = [base, token_impl, pool_impl]
    args[position] = accounts[9]
    with reverts("NotAContract", accounts[9]):
        ClientRegistry.deploy(*args, SUPPLY, FEE_BPS, {"from": accounts[0]})


def test_constructor_rejects_a_zero_supply(base, token_impl, pool_impl):
    with reverts("ZeroSupply"):
        ClientRegistry.deploy(base, token_impl, pool_impl, 0, FEE_BPS, {"from": accounts[0]})


def test_constructor_rejects_a_fee_above_ten_percent(base, token_impl, pool_impl):
    with reverts("FeeTooHigh", 1001, 1000):
        ClientRegistry.deploy(base, token_impl, pool_impl, SUPPLY, 1001, {"from": accounts[0]})
    highest = ClientRegistry.deploy(
        base, token_impl, pool_impl, SUPPLY, 1000, {"from": accounts[0]}
    )
    assert highest.feeBps() == 1000


# ------------------------------------------------------------------ register


def test_register_clones_token_and_pool_at_the_predicted_addresses(registry, base):
    client = accounts[2]
    predicted_token, predicted_pool = registry.predictToken(client), registry.predictPool(client)
    assert predicted_token != predicted_pool
    assert registry.register.call("Hospital A", "HOSA", {"from": client}) == (
        predicted_token,
        predicted_pool,
    )
    tx = registry.register("Hospital A", "HOSA", {"from": client})
    event = tx.events["ClientRegistered"]
    assert (event["client"], event["token"], event["pool"]) == (
        client,
        predicted_token,
        predicted_pool,
    )
    assert (event["name"], event["symbol"]) == ("Hospital A", "HOSA")

    token, pool = ClientToken.at(predicted_token), ClientPool.at(predicted_pool)
    assert (token.name(), token.symbol()) == ("Hospital A", "HOSA")
    assert token.client() == client
    assert token.baseToken() == base
    assert token.balanceOf(client) == token.totalSupply() == SUPPLY
    assert (pool.token(), pool.base(), pool.feeBps()) == (token, base, FEE_BPS)
    assert pool.totalSupply() == 0

    assert registry.isRegistered(client)
    assert registry.tokenOf(client) == token
    assert registry.poolOf(client) == pool
    assert registry.clientOf(token) == client
    assert registry.clientCount() == 1
    assert registry.clientAt(0) == client


def test_registered_tokens_stream_over_the_implementations_duration(registry, token_impl):
    token, _ = register(registry, accounts[2])
    assert token_impl.dividendDuration() == DIVIDEND_DURATION
    assert token.dividendDuration() == DIVIDEND_DURATION
    assert token.periodFinish() == 0


def test_clients_are_listed_in_registration_order_with_distinct_contracts(registry):
    clients = accounts[2:5]
    for i, client in enumerate(clients):
        register(registry, client, f"Client {i}", f"C{i}")
    assert registry.clientCount() == 3
    assert [registry.clientAt(i) for i in range(3)] == list(clients)
    addresses = {registry.tokenOf(c) for c in clients} | {registry.poolOf(c) for c in clients}
    assert len(addresses) == 6
    for client in clients:
        assert registry.clientOf(registry.tokenOf(client)) == client


def test_unregistered_lookups_are_empty(registry):
    assert not registry.isRegistered(accounts[7])
    assert registry.tokenOf(accounts[7]) == ZERO
    assert registry.poolOf(accounts[7]) == ZERO
    assert registry.clientOf(accounts[7]) == ZERO


def test_register_twice_reverts(registry):
    register(registry, accounts[2])
    with reverts("AlreadyRegistered", accounts[2]):
        registry.register("Again", "AGN", {"from": accounts[2]})


def test_register_with_an_empty_name_reverts(registry):
    with reverts("EmptyName"):
        registry.register("", "SYM", {"from": accounts[2]})


def test_register_with_an_empty_symbol_reverts(registry):
    with reverts("EmptySymbol"):
        registry.register("Name", "", {"from": accounts[2]})


def test_client_at_beyond_the_end_reverts(registry):
    with reverts("IndexOutOfRange", 0, 0):
        registry.clientAt(0)
    register(registry, accounts[2])
    with reverts("IndexOutOfRange", 1, 1):
        registry.clientAt(1)


def test_registration_gas_does_not_grow_with_the_federation(registry):
    register(registry, accounts[2], "C0", "C0")  # the first one also creates the list's storage
    second = registry.register("C1", "C1", {"from": accounts[3]}).gas_used
    for i, client in enumerate(accounts[4:9]):
        register(registry, client, f"C{i + 2}", f"C{i + 2}")
    last = registry.register("C9", "C9", {"from": accounts[9]}).gas_used
    assert last == second


# ------------------------------------------------------------------ registerWithOffering


def test_offering_registers_and_seeds_the_pool(registry, base):
    client = accounts[2]
    base.approve(registry, MAX, {"from": client})
    base_before = base.balanceOf(client)
    tokens, base_amount = 200_000 * WAD, 20_000 * WAD
    tx = registry.registerWithOffering("Factory B", "FACB", tokens, base_amount, {"from": client})
    token = ClientToken.at(registry.tokenOf(client))
    pool = ClientPool.at(registry.poolOf(client))
    liquidity = isqrt(tokens * base_amount) - MINIMUM_LIQUIDITY
    assert tx.return_value[2] == liquidity
    seeded = tx.events["OfferingSeeded"]
    assert (seeded["client"], seeded["tokenAmount"], seeded["baseAmount"]) == (
        client,
        tokens,
        base_amount,
    )
    assert seeded["liquidity"] == liquidity
    assert tx.events["ClientRegistered"]["client"] == client
    assert token.client() == client
    assert token.balanceOf(client) == SUPPLY - tokens
    assert token.balanceOf(pool) == tokens
    assert token.balanceOf(registry) == 0
    assert base.balanceOf(registry) == 0
    assert base.balanceOf(client) == base_before - base_amount
    assert pool.balanceOf(client) == liquidity
    assert pool.balanceOf(DEAD) == MINIMUM_LIQUIDITY
    assert pool.price() == WAD // 10
    assert token.allowance(registry, pool) == 0
    assert base.allowance(registry, pool) == 0
    assert registry.isRegistered(client)


def test_offering_of_the_whole_supply_leaves_the_client_only_lp(registry, base):
    client = accounts[2]
    base.approve(registry, MAX, {"from": client})
    registry.registerWithOffering("All", "ALL", SUPPLY, WAD, {"from": client})
    token = ClientToken.at(registry.tokenOf(client))
    assert token.balanceOf(client) == 0
    assert token.balanceOf(registry.poolOf(client)) == SUPPLY


@pytest.mark.parametrize("amounts", [(0, WAD), (WAD, 0)])
def test_an_empty_offering_reverts(registry, amounts):
    with reverts("EmptyOffering"):
        registry.registerWithOffering("N", "S", *amounts, {"from": accounts[2]})


def test_an_offering_above_the_supply_reverts(registry):
    with reverts("OfferingTooLarge", SUPPLY + 1, SUPPLY):
        registry.registerWithOffering("N", "S", SUPPLY + 1, WAD, {"from": accounts[2]})


def test_an_offering_without_base_allowance_reverts(registry):
    with reverts("ERC20InsufficientAllowance", registry, 0, WAD):
        registry.registerWithOffering("N", "S", WAD, WAD, {"from": accounts[2]})


def test_an_offering_checks_registration_like_register(registry, base):
    base.approve(registry, MAX, {"from": accounts[2]})
    with reverts("EmptyName"):
        registry.registerWithOffering("", "S", WAD, WAD, {"from": accounts[2]})
    register(registry, accounts[2])
    with reverts("AlreadyRegistered", accounts[2]):
        registry.registerWithOffering("N", "S", WAD, WAD, {"from": accounts[2]})


def test_a_too_small_offering_reverts_in_the_pool(registry, base):
    base.approve(registry, MAX, {"from": accounts[2]})
    with reverts("InsufficientLiquidityMinted"):
        registry.registerWithOffering("N", "S", 1000, 1000, {"from": accounts[2]})


def test_an_offering_pool_earns_dividends_for_its_lp(registry, base):
    """The seeded pool holds 20 % of the supply: it earns 20 % of a distribution, harvested into
    its reserves by the next operation, and the client (its only LP) takes them out."""
    client = accounts[2]
    base.approve(registry, MAX, {"from": client})
    tokens, base_amount = 200_000 * WAD, 20_000 * WAD
    registry.registerWithOffering("Factory B", "FACB", tokens, base_amount, {"from": client})
    token = ClientToken.at(registry.tokenOf(client))
    pool = ClientPool.at(registry.poolOf(client))
    assert token.dividendOf(registry) == 0  # the registry held the supply only in passing
    base.approve(token, MAX, {"from": accounts[3]})
    t0 = latest() + 10
    at(t0)
    token.distribute(1_000 * WAD, {"from": accounts[3]})
    mine_at(t0 + DIVIDEND_DURATION)
    owed = token.dividendOf(pool)
    assert 200 * WAD - 2 <= owed <= 200 * WAD
    assert token.dividendOf(registry) == 0
    liquidity = pool.balanceOf(client)
    at(t0 + DIVIDEND_DURATION)
    tx = pool.removeLiquidity(liquidity, 0, 0, client, FAR, {"from": client})
    assert tx.events["DividendsHarvested"]["amount"] == owed
    supply = liquidity + MINIMUM_LIQUIDITY
    assert tx.return_value[1] == liquidity * (base_amount + owed) // supply
