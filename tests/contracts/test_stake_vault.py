"""StakeVault: binding to the Federation, deposits (measured credits), federation locks and
settlements, burns that never block, the withdrawal countdown.

``driven_vault`` is bound to the ``fed`` account, which drives it directly; ``unbound`` is a fresh
vault nobody has bound yet (its deployer is ``admin``).
"""

import pytest
from brownie import AdversarialToken, StakeVault, chain

from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import DEAD, MAX, WAD, WITHDRAW_DELAY
from tests.contracts.helpers import reverts

ZERO = "0x0000000000000000000000000000000000000000"

# TestBaseToken.BurnMode and SafeBurn.Route
BURNS, REVERTS, NOOP, HALF = 0, 1, 2, 3
BURNED, TO_DEAD, KEPT = 0, 1, 2


@pytest.fixture(scope="module")
def unbound(base, admin, stakers):
    """A vault deployed by ``admin`` and not bound to any Federation."""
    contract = StakeVault.deploy(base, WITHDRAW_DELAY, {"from": admin})
    for account in stakers:
        base.approve(contract, MAX, {"from": account})
    return contract


def stake(vault, account):
    return tuple(vault.stakeOf(account))


def privileged_calls(vault, account, sender):
    """Every call only the bound Federation may make, on ``account``'s stake, sent by ``sender``."""
    tx = {"from": sender}
    return (
        lambda: vault.lock(account, 0, tx),
        lambda: vault.lock(account, WAD, tx),
        lambda: vault.unlock(account, 0, tx),
        lambda: vault.settle(account, 0, 0, tx),
        lambda: vault.settle(account, WAD, WAD, tx),
    )


def assert_solvent(vault, base):
    assert base.balanceOf(vault) >= vault.totalStaked()


# ------------------------------------------------------------------------------ construction


def test_constructor_sets_base_and_delay_and_binds_nothing(unbound, base):
    assert unbound.base() == base
    assert unbound.withdrawDelay() == WITHDRAW_DELAY
    assert unbound.federation() == ZERO
    assert unbound.totalBurned() == 0
    assert unbound.totalStaked() == 0


def test_constructor_rejects_a_zero_base(admin):
    with reverts("ZeroAddress"):
        StakeVault.deploy(ZERO, 1, {"from": admin})


# ----------------------------------------------------------------------------------- binding


def test_the_deployer_binds_the_federation_once(unbound, admin, fed):
    tx = unbound.bindFederation(fed, {"from": admin})
    assert tx.events["FederationSet"]["federation"] == fed
    assert unbound.federation() == fed
    with reverts("AlreadyBound", fed):
        unbound.bindFederation(admin, {"from": admin})
    assert unbound.federation() == fed


def test_only_the_deployer_binds(unbound, fed, stakers, outsider):
    for caller in (fed, stakers[0], outsider):
        with reverts("NotBinder", caller):
            unbound.bindFederation(caller, {"from": caller})
    assert unbound.federation() == ZERO


def test_binding_to_zero_reverts_and_leaves_the_vault_bindable(unbound, admin, fed):
    with reverts("ZeroAddress"):
        unbound.bindFederation(ZERO, {"from": admin})
    assert unbound.federation() == ZERO
    unbound.bindFederation(fed, {"from": admin})
    assert unbound.federation() == fed


def test_a_bound_vault_refuses_every_rebinding(driven_vault, fed, outsider):
    for caller in (fed, outsider):
        with reverts("AlreadyBound", fed):
            driven_vault.bindFederation(caller, {"from": caller})


def test_the_suite_vault_is_bound_to_the_federation_contract(federation, vault, admin):
    assert vault.federation() == federation
    with reverts("AlreadyBound", federation):
        vault.bindFederation(admin, {"from": admin})


def test_before_binding_nobody_drives_the_vault(unbound, admin, fed, stakers):
    alice = stakers[0]
    unbound.deposit(5 * WAD, {"from": alice})
    for sender in (admin, fed, alice):
        for call in privileged_calls(unbound, alice, sender):
            with reverts("NotFederation", sender):
                call()
    assert stake(unbound, alice) == (5 * WAD, 0, 0, 0)


def test_after_binding_only_the_federation_drives_the_vault(driven_vault, fed, stakers, outsider):
    alice = stakers[0]
    driven_vault.deposit(5 * WAD, {"from": alice})
    for sender in (alice, stakers[1], outsider):
        for call in privileged_calls(driven_vault, alice, sender):
            with reverts("NotFederation", sender):
                call()
    driven_vault.lock(alice, WAD, {"from": fed})
    assert stake(driven_vault, alice) == (5 * WAD, WAD, 0, 0)


def test_the_deployer_keeps_no_power_after_binding(unbound, base, admin, fed, stakers):
    alice = stakers[0]
    unbound.bindFederation(fed, {"from": admin})
    unbound.deposit(10 * WAD, {"from": alice})
    unbound.lock(alice, 4 * WAD, {"from": fed})
    before = (stake(unbound, alice), base.balanceOf(unbound), unbound.totalStaked())
    with reverts("AlreadyBound", fed):
        unbound.bindFederation(admin, {"from": admin})
    for call in privileged_calls(unbound, alice, admin):
        with reverts("NotFederation", admin):
            call()
    with reverts("NotFederation", admin):
        unbound.unlock(alice, 4 * WAD, {"from": admin})
    with reverts("NotFederation", admin):
        unbound.settle(alice, 4 * WAD, 4 * WAD, {"from": admin})
    # the deployer has no stake of its own to take either
    with reverts("InsufficientFreeStake", 0, WAD):
        unbound.requestWithdrawal(WAD, {"from": admin})
    with reverts("NoPendingWithdrawal"):
        unbound.withdraw({"from": admin})
    assert (stake(unbound, alice), base.balanceOf(unbound), unbound.totalStaked()) == before
    assert unbound.federation() == fed


def test_stakers_exit_an_unbound_vault(unbound, base, stakers):
    alice = stakers[0]
    unbound.deposit(3 * WAD, {"from": alice})
    unbound.requestWithdrawal(3 * WAD, {"from": alice})
    chain.sleep(WITHDRAW_DELAY + 1)
    before = base.balanceOf(alice)
    assert unbound.withdraw({"from": alice}).return_value == 3 * WAD
    assert base.balanceOf(alice) == before + 3 * WAD


# ---------------------------------------------------------------------------------- deposits


def test_deposit_pulls_tokens_and_credits_the_caller(driven_vault, base, stakers):
    alice = stakers[0]
    before = base.balanceOf(alice)
    tx = driven_vault.deposit(10 * WAD, {"from": alice})
    assert tx.return_value == 10 * WAD
    assert stake(driven_vault, alice) == (10 * WAD, 0, 0, 0)
    assert driven_vault.freeStake(alice) == 10 * WAD
    assert base.balanceOf(driven_vault) == 10 * WAD
    assert base.balanceOf(alice) == before - 10 * WAD
    assert driven_vault.totalStaked() == 10 * WAD
    assert tx.events["Deposited"]["payer"] == alice
    assert tx.events["Deposited"]["account"] == alice
    assert tx.events["Deposited"]["amount"] == 10 * WAD


def test_deposit_for_credits_another_account(driven_vault, base, stakers):
    alice, bob = stakers[:2]
    before = base.balanceOf(alice)
    tx = driven_vault.depositFor(bob, 3 * WAD, {"from": alice})
    assert tx.return_value == 3 * WAD
    assert stake(driven_vault, bob)[0] == 3 * WAD
    assert stake(driven_vault, alice)[0] == 0
    assert base.balanceOf(alice) == before - 3 * WAD
    assert tx.events["Deposited"]["payer"] == alice
    assert tx.events["Deposited"]["account"] == bob


def test_deposit_rejects_zero_and_zero_account(driven_vault, stakers):
    with reverts("ZeroAmount"):
        driven_vault.deposit(0, {"from": stakers[0]})
    with reverts("ZeroAmount"):
        driven_vault.depositFor(stakers[1], 0, {"from": stakers[0]})
    with reverts("ZeroAddress"):
        driven_vault.depositFor(ZERO, WAD, {"from": stakers[0]})


def test_deposit_without_allowance_reverts(driven_vault, admin):
    with reverts("ERC20InsufficientAllowance", driven_vault, 0, WAD):
        driven_vault.deposit(WAD, {"from": admin})


@pytest.mark.parametrize("fee_bps", [1, 100, 3_333, 9_999])
@pytest.mark.parametrize("for_other", [False, True])
def test_a_fee_on_transfer_deposit_credits_what_arrived(
    driven_vault, base, stakers, fee_bps, for_other
):
    alice, bob = stakers[:2]
    account = bob if for_other else alice
    base.setTransferFee(fee_bps, {"from": alice})
    sent = 10 * WAD + 7
    arrived = sent - sent * fee_bps // 10_000
    payer_before = base.balanceOf(alice)
    if for_other:
        tx = driven_vault.depositFor(bob, sent, {"from": alice})
    else:
        tx = driven_vault.deposit(sent, {"from": alice})
    assert 0 < arrived < sent
    assert tx.return_value == arrived
    assert tx.events["Deposited"]["amount"] == arrived
    assert tx.events["Deposited"]["account"] == account
    assert stake(driven_vault, account) == (arrived, 0, 0, 0)
    assert driven_vault.freeStake(account) == arrived
    assert driven_vault.totalStaked() == arrived
    assert base.balanceOf(driven_vault) == arrived
    assert base.balanceOf(alice) == payer_before - sent


def test_a_deposit_where_nothing_arrives_reverts(driven_vault, base, stakers):
    alice, bob = stakers[:2]
    base.setTransferFee(10_000, {"from": alice})  # the whole transfer is the fee
    with reverts("ZeroAmount"):
        driven_vault.deposit(WAD, {"from": alice})
    with reverts("ZeroAmount"):
        driven_vault.depositFor(bob, WAD, {"from": alice})
    with reverts("ZeroAmount"):
        driven_vault.deposit(1, {"from": alice})
    assert driven_vault.totalStaked() == 0
    assert stake(driven_vault, alice) == stake(driven_vault, bob) == (0, 0, 0, 0)


def test_a_one_wei_arrival_is_credited(driven_vault, base, stakers):
    alice = stakers[0]
    base.setTransferFee(9_999, {"from": alice})
    tx = driven_vault.deposit(10_001, {"from": alice})  # fee 9,999 (rounded down): 2 arrive
    assert tx.return_value == 2
    assert stake(driven_vault, alice)[0] == 2
    assert base.balanceOf(driven_vault) == driven_vault.totalStaked() == 2


@pytest.mark.parametrize("reentry", ["deposit", "depositFor"])
def test_a_deposit_cannot_be_reentered_to_inflate_the_measured_credit(
    driven_vault, base, stakers, reentry
):
    """The token calls back into the vault during the transfer the vault measures: a nested
    deposit would be counted twice (once by itself, once in the outer balance difference)."""
    alice, bob = stakers[:2]
    data = (
        driven_vault.deposit.encode_input(WAD)
        if reentry == "deposit"
        else driven_vault.depositFor.encode_input(bob, WAD)
    )
    base.arm(alice, driven_vault, data, {"from": alice})
    with reverts("ReentrancyGuardReentrantCall"):
        driven_vault.deposit(5 * WAD, {"from": alice})
    assert driven_vault.totalStaked() == 0
    assert base.balanceOf(driven_vault) == 0


@pytest.mark.parametrize("burn_mode", [BURNS, REVERTS, NOOP, HALF])
def test_a_fee_on_transfer_vault_stays_solvent_through_lock_settle_and_withdraw(
    driven_vault, base, fed, stakers, burn_mode
):
    alice, bob = stakers[:2]
    base.setTransferFee(250, {"from": alice})  # 2.5%
    base.setBurnMode(burn_mode, {"from": alice})
    a = driven_vault.deposit(40 * WAD, {"from": alice}).return_value
    b = driven_vault.depositFor(bob, 20 * WAD, {"from": alice}).return_value
    assert (a, b) == (39 * WAD, 19_500 * WAD // 1_000)
    assert base.balanceOf(driven_vault) == driven_vault.totalStaked() == a + b
    driven_vault.lock(alice, 30 * WAD, {"from": fed})
    driven_vault.lock(bob, b, {"from": fed})
    assert_solvent(driven_vault, base)

    supply, dead = base.totalSupply(), base.balanceOf(DEAD)
    burned = 7 * WAD + 3
    tx = driven_vault.settle(alice, 30 * WAD, burned, {"from": fed})
    assert tx.events["StakeBurned"]["amount"] == burned
    assert driven_vault.totalBurned() == burned
    assert driven_vault.totalStaked() == a + b - burned
    # the fee only shrinks what DEAD receives: every burned wei left circulation
    assert (supply - base.totalSupply()) + (base.balanceOf(DEAD) - dead) == burned
    assert base.balanceOf(driven_vault) == driven_vault.totalStaked()
    driven_vault.settle(bob, b, 0, {"from": fed})
    assert_solvent(driven_vault, base)

    for account in (alice, bob):
        driven_vault.requestWithdrawal(driven_vault.freeStake(account), {"from": account})
    chain.sleep(WITHDRAW_DELAY + 1)
    alice_before = base.balanceOf(alice)
    paid = driven_vault.withdraw({"from": alice}).return_value
    assert paid == a - burned
    assert base.balanceOf(alice) == alice_before + paid - paid * 250 // 10_000
    assert_solvent(driven_vault, base)
    assert driven_vault.withdraw({"from": bob}).return_value == b
    assert driven_vault.totalStaked() == 0
    assert base.balanceOf(driven_vault) == 0


# ------------------------------------------------------------------------------------ locks


def test_lock_and_unlock_move_free_stake(driven_vault, fed, stakers):
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    tx = driven_vault.lock(alice, 4 * WAD, {"from": fed})
    assert tx.events["StakeLocked"]["lockedTotal"] == 4 * WAD
    assert stake(driven_vault, alice) == (10 * WAD, 4 * WAD, 0, 0)
    assert driven_vault.freeStake(alice) == 6 * WAD
    driven_vault.lock(alice, 6 * WAD, {"from": fed})
    assert driven_vault.freeStake(alice) == 0
    tx = driven_vault.unlock(alice, 3 * WAD, {"from": fed})
    assert tx.events["StakeUnlocked"]["amount"] == 3 * WAD
    assert tx.events["StakeUnlocked"]["lockedTotal"] == 7 * WAD
    assert driven_vault.freeStake(alice) == 3 * WAD


def test_a_zero_lock_is_allowed_and_changes_nothing(driven_vault, fed, stakers):
    alice = stakers[0]
    tx = driven_vault.lock(alice, 0, {"from": fed})  # a task asking for no stake
    assert tx.events["StakeLocked"]["amount"] == 0
    assert stake(driven_vault, alice) == (0, 0, 0, 0)


def test_lock_above_free_stake_reverts(driven_vault, fed, stakers):
    alice = stakers[0]
    driven_vault.deposit(5 * WAD, {"from": alice})
    driven_vault.lock(alice, 2 * WAD, {"from": fed})
    with reverts("InsufficientFreeStake", 3 * WAD, 4 * WAD):
        driven_vault.lock(alice, 4 * WAD, {"from": fed})


def test_unlock_above_locked_reverts(driven_vault, fed, stakers):
    alice = stakers[0]
    driven_vault.deposit(5 * WAD, {"from": alice})
    driven_vault.lock(alice, 2 * WAD, {"from": fed})
    with reverts("InsufficientLocked", 2 * WAD, 2 * WAD + 1):
        driven_vault.unlock(alice, 2 * WAD + 1, {"from": fed})


# ------------------------------------------------------------------------------ settlements


def test_settle_unlocks_and_burns_with_the_token_burn(driven_vault, base, fed, stakers):
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.lock(alice, 4 * WAD, {"from": fed})
    supply = base.totalSupply()
    tx = driven_vault.settle(alice, 4 * WAD, WAD, {"from": fed})
    assert stake(driven_vault, alice) == (9 * WAD, 0, 0, 0)
    assert base.totalSupply() == supply - WAD
    assert base.balanceOf(driven_vault) == 9 * WAD
    assert driven_vault.totalBurned() == WAD
    assert driven_vault.totalStaked() == 9 * WAD
    assert tx.events["LockSettled"]["unlocked"] == 4 * WAD
    assert tx.events["LockSettled"]["burned"] == WAD
    assert tx.events["StakeBurned"]["account"] == alice
    assert tx.events["StakeBurned"]["amount"] == WAD
    assert tx.events["StakeBurned"]["route"] == BURNED


def test_settle_without_burn_only_unlocks(driven_vault, base, fed, stakers):
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.lock(alice, 4 * WAD, {"from": fed})
    supply = base.totalSupply()
    tx = driven_vault.settle(alice, 4 * WAD, 0, {"from": fed})
    assert stake(driven_vault, alice) == (10 * WAD, 0, 0, 0)
    assert "StakeBurned" not in tx.events
    assert driven_vault.totalBurned() == 0
    assert base.totalSupply() == supply


# (burn mode, route, what the token's `burn` destroys of `amount`: the rest goes to DEAD)
BURN_CASES = [
    pytest.param(BURNS, BURNED, lambda amount: amount, id="Burns"),
    pytest.param(REVERTS, TO_DEAD, lambda amount: 0, id="Reverts"),
    pytest.param(NOOP, TO_DEAD, lambda amount: 0, id="NoOp"),
    pytest.param(HALF, TO_DEAD, lambda amount: amount // 2, id="Half"),
]


@pytest.mark.parametrize("mode, route, destroys", BURN_CASES)
def test_every_burn_mode_completes_the_settlement(
    driven_vault, base, fed, stakers, mode, route, destroys
):
    alice, bob = stakers[:2]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.deposit(5 * WAD, {"from": bob})
    driven_vault.lock(alice, 4 * WAD, {"from": fed})
    base.setBurnMode(mode, {"from": alice})
    burned = 3 * WAD + 1  # odd: Half burns the floor of half, DEAD gets the rest
    supply, dead = base.totalSupply(), base.balanceOf(DEAD)
    tx = driven_vault.settle(alice, 4 * WAD, burned, {"from": fed})
    destroyed = destroys(burned)
    assert tx.events["StakeBurned"]["amount"] == burned
    assert tx.events["StakeBurned"]["route"] == route
    assert tx.events["LockSettled"]["burned"] == burned
    assert driven_vault.totalBurned() == burned
    assert driven_vault.totalStaked() == 15 * WAD - burned
    assert stake(driven_vault, alice) == (10 * WAD - burned, 0, 0, 0)
    assert stake(driven_vault, bob) == (5 * WAD, 0, 0, 0)
    assert supply - base.totalSupply() == destroyed
    assert base.balanceOf(DEAD) - dead == burned - destroyed
    assert base.balanceOf(driven_vault) == driven_vault.totalStaked()


def test_half_burn_splits_between_burned_and_dead(driven_vault, base, fed, stakers):
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.lock(alice, 10 * WAD, {"from": fed})
    base.setBurnMode(HALF, {"from": alice})
    supply, dead = base.totalSupply(), base.balanceOf(DEAD)
    driven_vault.settle(alice, 10 * WAD, 4 * WAD, {"from": fed})
    assert supply - base.totalSupply() == 2 * WAD
    assert base.balanceOf(DEAD) - dead == 2 * WAD


@pytest.mark.parametrize("mode", [REVERTS, NOOP])
def test_a_token_refusing_burn_and_dead_keeps_the_burn_written_off(
    driven_vault, base, fed, stakers, mode
):
    """Route Kept with TestBaseToken: `burn` fails, and the transfer to DEAD is made to revert by
    the token's one-shot hook on transfers out of the vault (the hook calls `base.burn`, which
    reverts BurnDisabled in mode Reverts; in mode NoOp it calls `vault.lock`, NotFederation)."""
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.lock(alice, 4 * WAD, {"from": fed})
    base.setBurnMode(mode, {"from": alice})
    data = (
        base.burn.encode_input(1) if mode == REVERTS else driven_vault.lock.encode_input(alice, 0)
    )
    target = base if mode == REVERTS else driven_vault
    base.arm(driven_vault, target, data, {"from": alice})
    supply, dead = base.totalSupply(), base.balanceOf(DEAD)
    tx = driven_vault.settle(alice, 4 * WAD, 3 * WAD, {"from": fed})
    assert tx.events["StakeBurned"]["route"] == KEPT
    assert tx.events["StakeBurned"]["amount"] == 3 * WAD
    assert driven_vault.totalBurned() == 3 * WAD
    assert driven_vault.totalStaked() == 7 * WAD
    assert stake(driven_vault, alice) == (7 * WAD, 0, 0, 0)
    assert base.totalSupply() == supply
    assert base.balanceOf(DEAD) == dead
    # the tokens stay in the vault, written off: no account can take them out
    assert base.balanceOf(driven_vault) == 10 * WAD
    base.arm(ZERO, ZERO, b"", {"from": alice})
    driven_vault.requestWithdrawal(7 * WAD, {"from": alice})
    chain.sleep(WITHDRAW_DELAY + 1)
    assert driven_vault.withdraw({"from": alice}).return_value == 7 * WAD
    assert driven_vault.totalStaked() == 0
    assert base.balanceOf(driven_vault) == 3 * WAD


def test_a_token_without_burn_that_refuses_dead_keeps_the_burn(admin, fed, stakers):
    """Route Kept with AdversarialToken: it has no `burn` at all, and its transfer hook (calling
    the vault's `lock`, which the token may not) makes the transfer to DEAD revert."""
    alice = stakers[0]
    token = AdversarialToken.deploy({"from": admin})
    vault = StakeVault.deploy(token, WITHDRAW_DELAY, {"from": admin})
    vault.bindFederation(fed, {"from": admin})
    token.mint(alice, 10 * WAD, {"from": admin})
    token.approve(vault, MAX, {"from": alice})
    vault.deposit(10 * WAD, {"from": alice})
    vault.lock(alice, 5 * WAD, {"from": fed})
    token.setHook(vault, vault.lock.encode_input(alice, 0), {"from": admin})
    tx = vault.settle(alice, 5 * WAD, 2 * WAD, {"from": fed})
    assert tx.events["StakeBurned"]["route"] == KEPT
    assert vault.totalBurned() == 2 * WAD
    assert vault.totalStaked() == 8 * WAD
    assert token.balanceOf(vault) == 10 * WAD
    assert token.balanceOf(DEAD) == 0
    assert token.totalSupply() == 10 * WAD
    # without the hook, the same token's burns go to DEAD
    token.setHook(ZERO, b"", {"from": admin})
    vault.lock(alice, WAD, {"from": fed})
    tx = vault.settle(alice, WAD, WAD, {"from": fed})
    assert tx.events["StakeBurned"]["route"] == TO_DEAD
    assert token.balanceOf(DEAD) == WAD


def test_settle_rejects_burn_above_the_lock_and_unknown_locks(driven_vault, fed, stakers):
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.lock(alice, 4 * WAD, {"from": fed})
    with reverts("BurnExceedsLocked", 4 * WAD, 4 * WAD + 1):
        driven_vault.settle(alice, 4 * WAD, 4 * WAD + 1, {"from": fed})
    with reverts("InsufficientLocked", 4 * WAD, 5 * WAD):
        driven_vault.settle(alice, 5 * WAD, 0, {"from": fed})


# ------------------------------------------------------------------------------ withdrawals


def test_withdrawal_waits_for_the_countdown(driven_vault, base, stakers):
    alice = stakers[0]
    before = base.balanceOf(alice)
    driven_vault.deposit(10 * WAD, {"from": alice})
    tx = driven_vault.requestWithdrawal(4 * WAD, {"from": alice})
    unlock_time = tx.timestamp + WITHDRAW_DELAY
    assert tx.events["WithdrawalRequested"]["unlockTime"] == unlock_time
    assert tx.events["WithdrawalRequested"]["pendingTotal"] == 4 * WAD
    assert stake(driven_vault, alice) == (10 * WAD, 0, 4 * WAD, unlock_time)
    assert driven_vault.freeStake(alice) == 6 * WAD
    with reverts("CountdownRunning", unlock_time):
        driven_vault.withdraw({"from": alice})
    chain.sleep(WITHDRAW_DELAY + 1)
    tx = driven_vault.withdraw({"from": alice})
    assert tx.return_value == 4 * WAD
    assert tx.events["Withdrawn"]["amount"] == 4 * WAD
    assert stake(driven_vault, alice) == (6 * WAD, 0, 0, 0)
    assert base.balanceOf(alice) == before - 6 * WAD
    assert driven_vault.totalStaked() == 6 * WAD


def test_a_second_request_adds_up_and_restarts_the_countdown(driven_vault, stakers):
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.requestWithdrawal(2 * WAD, {"from": alice})
    chain.sleep(WITHDRAW_DELAY // 2)
    tx = driven_vault.requestWithdrawal(3 * WAD, {"from": alice})
    assert stake(driven_vault, alice)[2:] == (5 * WAD, tx.timestamp + WITHDRAW_DELAY)


def test_request_rejects_zero_and_more_than_free(driven_vault, fed, stakers):
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.lock(alice, 7 * WAD, {"from": fed})
    with reverts("ZeroAmount"):
        driven_vault.requestWithdrawal(0, {"from": alice})
    with reverts("InsufficientFreeStake", 3 * WAD, 3 * WAD + 1):
        driven_vault.requestWithdrawal(3 * WAD + 1, {"from": alice})


def test_pending_stake_cannot_be_locked(driven_vault, fed, stakers):
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.requestWithdrawal(8 * WAD, {"from": alice})
    with reverts("InsufficientFreeStake", 2 * WAD, 3 * WAD):
        driven_vault.lock(alice, 3 * WAD, {"from": fed})


def test_cancel_makes_pending_stake_free_again(driven_vault, fed, stakers):
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.requestWithdrawal(8 * WAD, {"from": alice})
    tx = driven_vault.cancelWithdrawal({"from": alice})
    assert tx.events["WithdrawalCancelled"]["amount"] == 8 * WAD
    assert stake(driven_vault, alice) == (10 * WAD, 0, 0, 0)
    driven_vault.lock(alice, 10 * WAD, {"from": fed})
    with reverts("NoPendingWithdrawal"):
        driven_vault.cancelWithdrawal({"from": alice})


def test_withdraw_without_request_reverts(driven_vault, stakers):
    driven_vault.deposit(WAD, {"from": stakers[0]})
    with reverts("NoPendingWithdrawal"):
        driven_vault.withdraw({"from": stakers[0]})


def test_stake_locked_before_the_request_stays_burnable_during_the_countdown(
    driven_vault, base, fed, stakers
):
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.lock(alice, 6 * WAD, {"from": fed})
    driven_vault.requestWithdrawal(4 * WAD, {"from": alice})
    driven_vault.settle(alice, 6 * WAD, 6 * WAD, {"from": fed})  # the worst round result
    assert stake(driven_vault, alice)[:3] == (4 * WAD, 0, 4 * WAD)
    chain.sleep(WITHDRAW_DELAY + 1)
    assert driven_vault.withdraw({"from": alice}).return_value == 4 * WAD
    assert stake(driven_vault, alice) == (0, 0, 0, 0)
    assert base.balanceOf(driven_vault) == 0
    assert driven_vault.totalBurned() == 6 * WAD


def test_a_zero_delay_vault_pays_at_once(base, admin, stakers):
    vault = StakeVault.deploy(base, 0, {"from": admin})
    alice = stakers[0]
    base.approve(vault, WAD, {"from": alice})
    vault.deposit(WAD, {"from": alice})
    vault.requestWithdrawal(WAD, {"from": alice})
    assert vault.withdraw({"from": alice}).return_value == WAD


def test_withdraw_cannot_be_reentered_by_the_token(driven_vault, base, stakers):
    alice = stakers[0]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.requestWithdrawal(5 * WAD, {"from": alice})
    chain.sleep(WITHDRAW_DELAY + 1)
    base.arm(driven_vault, driven_vault, driven_vault.withdraw.encode_input(), {"from": alice})
    with reverts("ReentrancyGuardReentrantCall"):
        driven_vault.withdraw({"from": alice})
    assert stake(driven_vault, alice)[2] == 5 * WAD


def test_the_vault_holds_exactly_the_staked_balances(driven_vault, base, fed, stakers):
    alice, bob = stakers[:2]
    driven_vault.deposit(10 * WAD, {"from": alice})
    driven_vault.depositFor(bob, 7 * WAD, {"from": alice})
    driven_vault.lock(bob, 7 * WAD, {"from": fed})
    driven_vault.settle(bob, 7 * WAD, 2 * WAD, {"from": fed})
    balances = sum(driven_vault.stakeOf(a)[0] for a in (alice, bob))
    assert balances == driven_vault.totalStaked() == base.balanceOf(driven_vault) == 15 * WAD
