"""DevToken: the local chains' base token (configurable decimals, separate admin and minter)."""

import pytest
from brownie import DevToken, accounts

from tests.contracts.helpers import reverts

WAD = 10**18


@pytest.fixture(scope="module")
def deployer():
    return accounts[0]


@pytest.fixture(scope="module")
def admin():
    return accounts[1]


@pytest.fixture(scope="module")
def minter():
    return accounts[2]


@pytest.fixture(scope="module")
def token(deployer, admin, minter):
    return DevToken.deploy("Dev USD", "dUSD", 18, admin, minter, {"from": deployer})


def roles(token, account):
    """The (admin, minter) roles ``account`` holds."""
    return (
        token.hasRole(token.DEFAULT_ADMIN_ROLE(), account),
        token.hasRole(token.MINTER_ROLE(), account),
    )


# ------------------------------------------------------------------------------ construction


@pytest.mark.parametrize("decimals", [6, 18])
def test_constructor_sets_name_symbol_and_decimals(deployer, admin, minter, decimals):
    token = DevToken.deploy("Dev USD", "dUSD", decimals, admin, minter, {"from": deployer})
    assert token.name() == "Dev USD"
    assert token.symbol() == "dUSD"
    assert token.decimals() == decimals
    assert token.totalSupply() == 0


def test_admin_holds_only_the_admin_role_and_minter_only_the_minter_role(
    token, deployer, admin, minter
):
    assert roles(token, admin) == (True, False)
    assert roles(token, minter) == (False, True)
    assert roles(token, deployer) == (False, False)  # deploying grants nothing
    assert token.getRoleAdmin(token.MINTER_ROLE()) == token.DEFAULT_ADMIN_ROLE()


def test_one_account_may_hold_both_roles(deployer, admin):
    token = DevToken.deploy("Dev USD", "dUSD", 6, admin, admin, {"from": deployer})
    assert roles(token, admin) == (True, True)
    token.mint(deployer, 5, {"from": admin})
    assert token.balanceOf(deployer) == 5


# ----------------------------------------------------------------------------------- minting


def test_minter_mints_and_the_supply_grows(token, minter):
    token.mint(accounts[3], 5 * WAD, {"from": minter})
    assert token.balanceOf(accounts[3]) == 5 * WAD
    assert token.totalSupply() == 5 * WAD


def test_only_the_minter_mints(token, deployer, admin):
    # (the role argument of the error is decoded as raw bytes: only the account is compared)
    for account in (admin, deployer, accounts[3]):
        with reverts("AccessControlUnauthorizedAccount", account):
            token.mint(account, 1, {"from": account})
    assert token.totalSupply() == 0


def test_admin_grants_and_revokes_minters(token, admin, minter):
    newcomer = accounts[3]
    minter_role = token.MINTER_ROLE()
    token.grantRole(minter_role, newcomer, {"from": admin})
    token.mint(newcomer, 7, {"from": newcomer})
    assert token.balanceOf(newcomer) == 7
    token.revokeRole(minter_role, minter, {"from": admin})
    with reverts("AccessControlUnauthorizedAccount", minter):
        token.mint(minter, 1, {"from": minter})


def test_the_minter_cannot_grant_roles(token, minter):
    admin_role = token.DEFAULT_ADMIN_ROLE()
    with reverts("AccessControlUnauthorizedAccount", minter):
        token.grantRole(token.MINTER_ROLE(), accounts[3], {"from": minter})
    with reverts("AccessControlUnauthorizedAccount", minter):
        token.grantRole(admin_role, minter, {"from": minter})
    assert roles(token, minter) == (False, True)


# ----------------------------------------------------------------------------------- burning


def test_holders_burn_their_own_tokens(token, minter):
    holder = accounts[3]
    token.mint(holder, 3 * WAD, {"from": minter})
    supply = token.totalSupply()
    token.burn(WAD, {"from": holder})
    assert token.balanceOf(holder) == 2 * WAD
    assert token.totalSupply() == supply - WAD
