"""StakeVault: deposits, federation locks and settlements, the withdrawal countdown, burns."""

from brownie import StakeVault, chain

from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import DEAD, WAD, WITHDRAW_DELAY
from tests.contracts.helpers import reverts

ZERO = "0x0000000000000000000000000000000000000000"


def stake(vault, account):
    return tuple(vault.stakeOf(account))


# ------------------------------------------------------------------------------ construction


def test_constructor_sets_base_delay_and_admin(vault, base, admin):
    assert vault.base() == base
    assert vault.withdrawDelay() == WITHDRAW_DELAY
    assert vault.hasRole(vault.DEFAULT_ADMIN_ROLE(), admin)
    assert vault.totalBurned() == 0
    assert vault.totalStaked() == 0


def test_constructor_rejects_zero_addresses(base, admin):
    with reverts("ZeroAddress"):
        StakeVault.deploy(ZERO, 1, admin, {"from": admin})
    with reverts("ZeroAddress"):
        StakeVault.deploy(base, 1, ZERO, {"from": admin})


# ---------------------------------------------------------------------------------- deposits


def test_deposit_pulls_tokens_and_credits_the_caller(vault, base, stakers):
    alice = stakers[0]
    tx = vault.deposit(10 * WAD, {"from": alice})
    assert stake(vault, alice) == (10 * WAD, 0, 0, 0)
    assert vault.freeStake(alice) == 10 * WAD
    assert base.balanceOf(vault) == 10 * WAD
    assert base.balanceOf(alice) == 990 * WAD
    assert vault.totalStaked() == 10 * WAD
    assert tx.events["Deposited"]["payer"] == alice
    assert tx.events["Deposited"]["account"] == alice
    assert tx.events["Deposited"]["amount"] == 10 * WAD


def test_deposit_for_credits_another_account(vault, base, stakers):
    alice, bob = stakers[:2]
    tx = vault.depositFor(bob, 3 * WAD, {"from": alice})
    assert stake(vault, bob)[0] == 3 * WAD
    assert stake(vault, alice)[0] == 0
    assert base.balanceOf(alice) == 997 * WAD
    assert tx.events["Deposited"]["payer"] == alice
    assert tx.events["Deposited"]["account"] == bob


def test_deposit_rejects_zero_and_zero_account(vault, stakers):
    with reverts("ZeroAmount"):
        vault.deposit(0, {"from": stakers[0]})
    with reverts("ZeroAmount"):
        vault.depositFor(stakers[1], 0, {"from": stakers[0]})
    with reverts("ZeroAddress"):
        vault.depositFor(ZERO, WAD, {"from": stakers[0]})


def test_deposit_without_allowance_reverts(vault, base, admin):
    with reverts("ERC20InsufficientAllowance", vault, 0, WAD):
        vault.deposit(WAD, {"from": admin})


# ------------------------------------------------------------------------------------ locks


def test_lock_and_unlock_move_free_stake(vault, fed, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    tx = vault.lock(alice, 4 * WAD, {"from": fed})
    assert tx.events["StakeLocked"]["lockedTotal"] == 4 * WAD
    assert stake(vault, alice) == (10 * WAD, 4 * WAD, 0, 0)
    assert vault.freeStake(alice) == 6 * WAD
    vault.lock(alice, 6 * WAD, {"from": fed})
    assert vault.freeStake(alice) == 0
    tx = vault.unlock(alice, 3 * WAD, {"from": fed})
    assert tx.events["StakeUnlocked"]["amount"] == 3 * WAD
    assert tx.events["StakeUnlocked"]["lockedTotal"] == 7 * WAD
    assert vault.freeStake(alice) == 3 * WAD


def test_lock_above_free_stake_reverts(vault, fed, stakers):
    alice = stakers[0]
    vault.deposit(5 * WAD, {"from": alice})
    vault.lock(alice, 2 * WAD, {"from": fed})
    with reverts("InsufficientFreeStake", 3 * WAD, 4 * WAD):
        vault.lock(alice, 4 * WAD, {"from": fed})


def test_unlock_above_locked_reverts(vault, fed, stakers):
    alice = stakers[0]
    vault.deposit(5 * WAD, {"from": alice})
    vault.lock(alice, 2 * WAD, {"from": fed})
    with reverts("InsufficientLocked", 2 * WAD, 2 * WAD + 1):
        vault.unlock(alice, 2 * WAD + 1, {"from": fed})


def test_only_the_federation_locks_unlocks_and_settles(vault, stakers):
    alice = stakers[0]
    vault.deposit(5 * WAD, {"from": alice})
    for call in (
        lambda: vault.lock(alice, 1, {"from": alice}),
        lambda: vault.unlock(alice, 0, {"from": alice}),
        lambda: vault.settle(alice, 0, 0, {"from": alice}),
    ):
        with reverts("AccessControlUnauthorizedAccount", alice):
            call()


# ------------------------------------------------------------------------------ settlements


def test_settle_unlocks_and_burns_with_the_token_burn(vault, base, fed, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    vault.lock(alice, 4 * WAD, {"from": fed})
    supply = base.totalSupply()
    tx = vault.settle(alice, 4 * WAD, WAD, {"from": fed})
    assert stake(vault, alice) == (9 * WAD, 0, 0, 0)
    assert base.totalSupply() == supply - WAD
    assert base.balanceOf(vault) == 9 * WAD
    assert vault.totalBurned() == WAD
    assert vault.totalStaked() == 9 * WAD
    assert tx.events["LockSettled"]["unlocked"] == 4 * WAD
    assert tx.events["LockSettled"]["burned"] == WAD
    assert tx.events["StakeBurned"]["amount"] == WAD
    assert tx.events["StakeBurned"]["viaDeadAddress"] is False


def test_settle_without_burn_only_unlocks(vault, fed, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    vault.lock(alice, 4 * WAD, {"from": fed})
    tx = vault.settle(alice, 4 * WAD, 0, {"from": fed})
    assert stake(vault, alice) == (10 * WAD, 0, 0, 0)
    assert "StakeBurned" not in tx.events
    assert vault.totalBurned() == 0


def test_settle_sends_to_dead_when_the_token_cannot_burn(vault, base, fed, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    vault.lock(alice, 4 * WAD, {"from": fed})
    base.setBurnMode(1, {"from": alice})  # burn reverts
    supply = base.totalSupply()
    tx = vault.settle(alice, 4 * WAD, 2 * WAD, {"from": fed})
    assert base.balanceOf(DEAD) == 2 * WAD
    assert base.totalSupply() == supply
    assert vault.totalBurned() == 2 * WAD
    assert tx.events["StakeBurned"]["viaDeadAddress"] is True


def test_settle_reverts_when_the_token_burn_keeps_the_tokens(vault, base, fed, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    vault.lock(alice, 4 * WAD, {"from": fed})
    base.setBurnMode(2, {"from": alice})  # burn returns without burning
    with reverts("BurnFailed", WAD):
        vault.settle(alice, 4 * WAD, WAD, {"from": fed})


def test_settle_rejects_burn_above_the_lock_and_unknown_locks(vault, fed, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    vault.lock(alice, 4 * WAD, {"from": fed})
    with reverts("BurnExceedsLocked", 4 * WAD, 4 * WAD + 1):
        vault.settle(alice, 4 * WAD, 4 * WAD + 1, {"from": fed})
    with reverts("InsufficientLocked", 4 * WAD, 5 * WAD):
        vault.settle(alice, 5 * WAD, 0, {"from": fed})


# ------------------------------------------------------------------------------ withdrawals


def test_withdrawal_waits_for_the_countdown(vault, base, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    tx = vault.requestWithdrawal(4 * WAD, {"from": alice})
    unlock_time = tx.timestamp + WITHDRAW_DELAY
    assert tx.events["WithdrawalRequested"]["unlockTime"] == unlock_time
    assert tx.events["WithdrawalRequested"]["pendingTotal"] == 4 * WAD
    assert stake(vault, alice) == (10 * WAD, 0, 4 * WAD, unlock_time)
    assert vault.freeStake(alice) == 6 * WAD
    with reverts("CountdownRunning", unlock_time):
        vault.withdraw({"from": alice})
    chain.sleep(WITHDRAW_DELAY + 1)
    tx = vault.withdraw({"from": alice})
    assert tx.return_value == 4 * WAD
    assert tx.events["Withdrawn"]["amount"] == 4 * WAD
    assert stake(vault, alice) == (6 * WAD, 0, 0, 0)
    assert base.balanceOf(alice) == 994 * WAD
    assert vault.totalStaked() == 6 * WAD


def test_a_second_request_adds_up_and_restarts_the_countdown(vault, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    vault.requestWithdrawal(2 * WAD, {"from": alice})
    chain.sleep(WITHDRAW_DELAY // 2)
    tx = vault.requestWithdrawal(3 * WAD, {"from": alice})
    assert stake(vault, alice)[2:] == (5 * WAD, tx.timestamp + WITHDRAW_DELAY)


def test_request_rejects_zero_and_more_than_free(vault, fed, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    vault.lock(alice, 7 * WAD, {"from": fed})
    with reverts("ZeroAmount"):
        vault.requestWithdrawal(0, {"from": alice})
    with reverts("InsufficientFreeStake", 3 * WAD, 3 * WAD + 1):
        vault.requestWithdrawal(3 * WAD + 1, {"from": alice})


def test_pending_stake_cannot_be_locked(vault, fed, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    vault.requestWithdrawal(8 * WAD, {"from": alice})
    with reverts("InsufficientFreeStake", 2 * WAD, 3 * WAD):
        vault.lock(alice, 3 * WAD, {"from": fed})


def test_cancel_makes_pending_stake_free_again(vault, fed, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    vault.requestWithdrawal(8 * WAD, {"from": alice})
    tx = vault.cancelWithdrawal({"from": alice})
    assert tx.events["WithdrawalCancelled"]["amount"] == 8 * WAD
    assert stake(vault, alice) == (10 * WAD, 0, 0, 0)
    vault.lock(alice, 10 * WAD, {"from": fed})
    with reverts("NoPendingWithdrawal"):
        vault.cancelWithdrawal({"from": alice})


def test_withdraw_without_request_reverts(vault, stakers):
    vault.deposit(WAD, {"from": stakers[0]})
    with reverts("NoPendingWithdrawal"):
        vault.withdraw({"from": stakers[0]})


def test_stake_locked_before_the_request_stays_burnable_during_the_countdown(
    vault, base, fed, stakers
):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    vault.lock(alice, 6 * WAD, {"from": fed})
    vault.requestWithdrawal(4 * WAD, {"from": alice})
    vault.settle(alice, 6 * WAD, 6 * WAD, {"from": fed})  # the worst round result
    assert stake(vault, alice)[:3] == (4 * WAD, 0, 4 * WAD)
    chain.sleep(WITHDRAW_DELAY + 1)
    assert vault.withdraw({"from": alice}).return_value == 4 * WAD
    assert stake(vault, alice) == (0, 0, 0, 0)
    assert base.balanceOf(vault) == 0
    assert vault.totalBurned() == 6 * WAD


def test_a_zero_delay_vault_pays_at_once(base, admin, stakers):
    vault = StakeVault.deploy(base, 0, admin, {"from": admin})
    alice = stakers[0]
    base.approve(vault, WAD, {"from": alice})
    vault.deposit(WAD, {"from": alice})
    vault.requestWithdrawal(WAD, {"from": alice})
    assert vault.withdraw({"from": alice}).return_value == WAD


def test_withdraw_cannot_be_reentered_by_the_token(vault, base, stakers):
    alice = stakers[0]
    vault.deposit(10 * WAD, {"from": alice})
    vault.requestWithdrawal(5 * WAD, {"from": alice})
    chain.sleep(WITHDRAW_DELAY + 1)
    base.arm(vault, vault, vault.withdraw.encode_input(), {"from": alice})
    with reverts("ReentrancyGuardReentrantCall"):
        vault.withdraw({"from": alice})
    assert stake(vault, alice)[2] == 5 * WAD


def test_the_vault_holds_exactly_the_staked_balances(vault, base, fed, stakers):
    alice, bob = stakers[:2]
    vault.deposit(10 * WAD, {"from": alice})
    vault.depositFor(bob, 7 * WAD, {"from": alice})
    vault.lock(bob, 7 * WAD, {"from": fed})
    vault.settle(bob, 7 * WAD, 2 * WAD, {"from": fed})
    balances = sum(vault.stakeOf(a)[0] for a in (alice, bob))
    assert balances == vault.totalStaked() == base.balanceOf(vault) == 15 * WAD
