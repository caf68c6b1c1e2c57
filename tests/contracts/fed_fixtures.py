"""Fixtures of the stake vault, reward escrow and federation tests.

Import them with ``from tests.contracts.fed_fixtures import *``. Deployments are module-scoped and
every test runs in its own snapshot (Brownie's ``fn_isolation``), so tests never see each other's
transactions.
"""

from __future__ import annotations

import pytest
from brownie import StakeVault, TestBaseToken, accounts
from eth_utils import keccak

__all__ = [
    "DEAD",
    "FEDERATION_ROLE",
    "WAD",
    "WITHDRAW_DELAY",
    "admin",
    "base",
    "fed",
    "fed_isolation",
    "stakers",
    "vault",
]

WAD = 10**18
WITHDRAW_DELAY = 100
FEDERATION_ROLE = keccak(text="FEDERATION_ROLE")
DEAD = "0x000000000000000000000000000000000000dEaD"


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
