"""Shared market fixtures: the base token, the registry with its implementations, and one client
whose pool is already seeded. Deploys are module-scoped; each test starts from one snapshot."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from brownie import ClientPool, ClientRegistry, ClientToken, DevToken, TestCloner, accounts

from tests.contracts.market import (
    CLIENT_HOLDING,
    DIVIDEND_DURATION,
    FAR,
    FEE_BPS,
    FUNDING,
    MAX,
    SEED_BASE,
    SEED_TOKENS,
    SUPPLY,
    DividendMirror,
    register,
)


@pytest.fixture(scope="module", autouse=True)
def _fresh_module(module_isolation):
    """Each module starts on a reset chain (before its module-scoped deploys)."""


@pytest.fixture(autouse=True)
def _isolated(fn_isolation):
    """Each test starts from the state the module fixtures left."""


@pytest.fixture(scope="module")
def base():
    """The base token (18 decimals); accounts[0] is its admin and minter."""
    token = DevToken.deploy("Dev USD", "dUSD", 18, accounts[0], accounts[0], {"from": accounts[0]})
    for account in accounts[:10]:
        token.mint(account, FUNDING, {"from": accounts[0]})
    return token


@pytest.fixture(scope="module")
def token_impl():
    """The ClientToken implementation: every clone streams dividends over DIVIDEND_DURATION."""
    return ClientToken.deploy(DIVIDEND_DURATION, {"from": accounts[0]})


@pytest.fixture(scope="module")
def pool_impl():
    return ClientPool.deploy({"from": accounts[0]})


@pytest.fixture(scope="module")
def registry(base, token_impl, pool_impl):
    return ClientRegistry.deploy(
        base, token_impl, pool_impl, SUPPLY, FEE_BPS, {"from": accounts[0]}
    )


@pytest.fixture(scope="module")
def cloner():
    """Makes uninitialized clones, to call initializers directly."""
    return TestCloner.deploy({"from": accounts[0]})


@pytest.fixture(scope="module")
def market(registry, base):
    """Client accounts[1], registered, with its pool seeded by the client (LP shares to it).
    The client and investors (accounts 2..5) approve the pool for both assets and the token for
    base (to distribute dividends). No dividend has been distributed yet."""
    client = accounts[1]
    token, pool = register(registry, client)
    for account in accounts[1:6]:
        base.approve(pool, MAX, {"from": account})
        token.approve(pool, MAX, {"from": account})
        base.approve(token, MAX, {"from": account})
    pool.addLiquidity(SEED_TOKENS, SEED_BASE, 0, 0, client, FAR, {"from": client})
    return SimpleNamespace(client=client, token=token, pool=pool, base=base, registry=registry)


@pytest.fixture
def mirror(market):
    """A DividendMirror of the market's token as the fixture leaves it (client and pool holding,
    nothing distributed). Feed it every transaction with ``mirror.apply(tx)``."""
    return DividendMirror(
        DIVIDEND_DURATION,
        market.token,
        market.pool,
        {market.client: CLIENT_HOLDING, market.pool: SEED_TOKENS},
    )


# ------------------------------------------------------------------ lending (TokenLending)


@pytest.fixture(scope="module")
def timelock():
    """A Timelock: accounts[0] proposes, anyone executes, two days between them."""
    from tests.contracts.lending import make_timelock

    return make_timelock()


@pytest.fixture(scope="module")
def lending(market, timelock):
    """The market's client token listed in a TokenLending owned by the timelock (see
    tests.contracts.lending.make_lending): lenders funded, borrowers holding tokens, valid TWAP."""
    from tests.contracts.lending import make_lending

    return make_lending(market, timelock, list_through=timelock)


@pytest.fixture(scope="module")
def lending_owned(market):
    """The same with accounts[0] as the owner (for parameter tests that need no delay)."""
    from tests.contracts.lending import make_lending

    return make_lending(market, accounts[0])
