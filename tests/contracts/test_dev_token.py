"""DevToken: the local chains' base token."""

import pytest
from brownie import DevToken, accounts

from tests.contracts.helpers import reverts

WAD = 10**18


@pytest.fixture(scope="module")
def token():
    return DevToken.deploy("Dev USD", "dUSD", accounts[0], {"from": accounts[0]})


def test_admin_mints_and_the_supply_grows(token):
    token.mint(accounts[1], 5 * WAD, {"from": accounts[0]})
    assert token.balanceOf(accounts[1]) == 5 * WAD
    assert token.totalSupply() == 5 * WAD


def test_only_the_minter_mints(token):
    with reverts("AccessControlUnauthorizedAccount", accounts[1]):
        token.mint(accounts[1], 1, {"from": accounts[1]})


def test_holders_burn_their_own_tokens(token):
    token.mint(accounts[2], 3 * WAD, {"from": accounts[0]})
    supply = token.totalSupply()
    token.burn(WAD, {"from": accounts[2]})
    assert token.balanceOf(accounts[2]) == 2 * WAD
    assert token.totalSupply() == supply - WAD
