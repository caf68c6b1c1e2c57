"""Fixtures of the stake vault, reward escrow and federation tests.

Import them with ``from tests.contracts.fed_fixtures import *``. Deployments are module-scoped and
every test runs in its own snapshot (Brownie's ``fn_isolation``), so tests never see each other's
transactions.
"""

from __future__ import annotations

import pytest
from brownie import (
    ClientPool,
    ClientRegistry,
    ClientToken,
    RewardEscrow,
    StakeVault,
    TestBaseToken,
    accounts,
    chain,
)
from eth_utils import keccak

__all__ = [
    "CLIENT_SUPPLY",
    "DEAD",
    "FEDERATION_ROLE",
    "POOL_FEE_BPS",
    "WAD",
    "WITHDRAW_DELAY",
    "admin",
    "base",
    "escrow",
    "fed",
    "fed_isolation",
    "registry",
    "seed_pool",
    "stakers",
    "vault",
]

WAD = 10**18
WITHDRAW_DELAY = 100
FEDERATION_ROLE = keccak(text="FEDERATION_ROLE")
DEAD = "0x000000000000000000000000000000000000dEaD"
CLIENT_SUPPLY = 1_000_000 * WAD
POOL_FEE_BPS = 30


@pytest.fixture(autouse=True)
def fed_isolation(fn_isolation):
    """Every test starts from the module's deployments, untouched by other tests."""


@pytest.fixture(scope="module")
def admin():
    return accounts[0]


@pytest.fixture(scope="module")
def fed():
    """An account standing in for the Federation where a test drives a contract directly."""
    return accounts[1]


@pytest.fixture(scope="module")
def stakers():
    return accounts[2:6]


@pytest.fixture(scope="module")
def base(admin, stakers):
    token = TestBaseToken.deploy({"from": admin})
    for account in [admin, *stakers]:
        token.mint(account, 1_000 * WAD, {"from": admin})
    return token


@pytest.fixture(scope="module")
def vault(base, admin, fed, stakers):
    contract = StakeVault.deploy(base, WITHDRAW_DELAY, admin, {"from": admin})
    contract.grantRole(FEDERATION_ROLE, fed, {"from": admin})
    for account in stakers:
        base.approve(contract, 2**256 - 1, {"from": account})
    return contract


@pytest.fixture(scope="module")
def registry(base, admin, stakers):
    """The real client registry; every staker is a registered client with an empty pool."""
    token_impl = ClientToken.deploy({"from": admin})
    pool_impl = ClientPool.deploy({"from": admin})
    contract = ClientRegistry.deploy(
        base, token_impl, pool_impl, CLIENT_SUPPLY, POOL_FEE_BPS, {"from": admin}
    )
    for index, account in enumerate(stakers):
        contract.register(f"Client {index}", f"C{index}", {"from": account})
    return contract


@pytest.fixture(scope="module")
def escrow(base, registry, admin, fed):
    contract = RewardEscrow.deploy(base, registry, admin, {"from": admin})
    contract.grantRole(FEDERATION_ROLE, fed, {"from": admin})
    base.approve(contract, 2**256 - 1, {"from": admin})
    return contract


def seed_pool(registry, base, client, tokens: int, base_amount: int):
    """Open ``client``'s market: it adds ``tokens`` of its token and ``base_amount`` base."""
    pool = ClientPool.at(registry.poolOf(client))
    token = ClientToken.at(registry.tokenOf(client))
    token.approve(pool, tokens, {"from": client})
    base.approve(pool, base_amount, {"from": client})
    deadline = chain.time() + 3600
    pool.addLiquidity(tokens, base_amount, 0, 0, client, deadline, {"from": client})
    return pool, token
