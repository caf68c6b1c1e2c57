// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title StakeVault
/// @notice Holds the base-token stakes of federation clients, Erasure CountdownGriefing-style.
/// A client deposits once and the Federation locks part of the deposit on every round it commits
/// to. After the round, the lock is released (positive or zero result) or partly burned (negative
/// result). Leaving the vault needs a countdown: `requestWithdrawal` marks free stake as pending,
/// which stops new locks on it, and `withdraw` pays it once `withdrawDelay` seconds have passed.
/// Stake locked before the request stays locked, and burnable, during the countdown.
/// @dev Invariant kept by every function: `balance >= locked + pending` for every account, and
/// `totalStaked` equals the sum of all balances (the vault's base balance, without donations).
contract StakeVault is AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Role of the Federation contract: locks, unlocks and settles stakes.
    bytes32 public constant FEDERATION_ROLE = keccak256("FEDERATION_ROLE");
    /// @notice Where burned stake goes when the base token has no working `burn`.
    address public constant DEAD = 0x000000000000000000000000000000000000dEaD;

    /// @dev One account's stake. `locked` and `pending` are both parts of `balance`.
    struct Stake {
        uint256 balance;
        uint256 locked;
        uint256 pending;
        uint256 unlockTime;
    }

    /// @notice The staked token.
    IERC20 public immutable base;
    /// @notice Seconds between a withdrawal request and the earliest withdrawal.
    uint256 public immutable withdrawDelay;
    /// @notice Base tokens burned (or sent to `DEAD`) by negative round results, in total.
    uint256 public totalBurned;
    /// @notice Sum of every account's balance.
    uint256 public totalStaked;

    mapping(address account => Stake) private _stakes;

    /// @notice `payer` added `amount` to `account`'s stake.
    event Deposited(address indexed payer, address indexed account, uint256 amount);
    /// @notice `amount` of `account`'s stake was locked for a round.
    event StakeLocked(address indexed account, uint256 amount, uint256 lockedTotal);
    /// @notice `amount` of `account`'s locked stake was released.
    event StakeUnlocked(address indexed account, uint256 amount, uint256 lockedTotal);
    /// @notice A round result released `unlocked` of `account`'s stake and burned `burned` of it.
    event LockSettled(address indexed account, uint256 unlocked, uint256 burned);
    /// @notice `amount` of `account`'s stake was destroyed; `viaDeadAddress` when the base token
    /// could not burn and the tokens were sent to `DEAD` instead.
    event StakeBurned(address indexed account, uint256 amount, bool viaDeadAddress);
    /// @notice `account` asked to withdraw `amount` more; `pendingTotal` leaves at `unlockTime`.
    event WithdrawalRequested(address indexed account, uint256 amount, uint256 pendingTotal, uint256 unlockTime);
    /// @notice `account` cancelled its pending withdrawal of `amount`.
    event WithdrawalCancelled(address indexed account, uint256 amount);
    /// @notice `amount` of stake was paid back to `account`.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice A constructor argument or receiver is the zero address.
    error ZeroAddress();
    /// @notice An amount that must be positive is zero.
    error ZeroAmount();
    /// @notice Only `free` stake is neither locked nor pending, `amount` was asked for.
    error InsufficientFreeStake(uint256 free, uint256 amount);
    /// @notice Only `locked` stake is locked, `amount` was asked for.
    error InsufficientLocked(uint256 locked, uint256 amount);
    /// @notice A settlement tried to burn more (`burnAmount`) than it unlocks (`lockedAmount`).
    error BurnExceedsLocked(uint256 lockedAmount, uint256 burnAmount);
    /// @notice There is no pending withdrawal.
    error NoPendingWithdrawal();
    /// @notice The withdrawal countdown ends at `unlockTime`.
    error CountdownRunning(uint256 unlockTime);
    /// @notice The base token kept part of a burn: the vault balance did not drop by the amount.
    error BurnFailed(uint256 amount);

    /// @param base_ The staked ERC-20 (the suite's base token).
    /// @param withdrawDelay_ Countdown between a withdrawal request and the withdrawal, in seconds.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (grants FEDERATION_ROLE to the Federation).
    constructor(address base_, uint256 withdrawDelay_, address admin) {
        if (base_ == address(0) || admin == address(0)) revert ZeroAddress();
        base = IERC20(base_);
        withdrawDelay = withdrawDelay_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ---------------------------------------------------------------------------------- deposits

    /// @notice Stake `amount` base tokens of the caller (approve the vault first).
    /// @param amount Amount in wei.
    function deposit(uint256 amount) external nonReentrant {
        _deposit(msg.sender, amount);
    }

    /// @notice Stake `amount` of the caller's base tokens on behalf of `account`.
    /// @param account Receives the stake (only it can withdraw it).
    /// @param amount Amount in wei.
    function depositFor(address account, uint256 amount) external nonReentrant {
        if (account == address(0)) revert ZeroAddress();
        _deposit(account, amount);
    }

    function _deposit(address account, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        _stakes[account].balance += amount;
        totalStaked += amount;
        emit Deposited(msg.sender, account, amount);
        base.safeTransferFrom(msg.sender, address(this), amount);
    }

    // ---------------------------------------------------------------------- federation controls

    /// @notice Lock `amount` of `account`'s free stake for a round commitment.
    /// @param account The committing client.
    /// @param amount Stake to lock (may be zero when the task's minimum is zero).
    function lock(address account, uint256 amount) external onlyRole(FEDERATION_ROLE) {
        Stake storage s = _stakes[account];
        uint256 free = s.balance - s.locked - s.pending;
        if (amount > free) revert InsufficientFreeStake(free, amount);
        s.locked += amount;
        emit StakeLocked(account, amount, s.locked);
    }

    /// @notice Release `amount` of `account`'s locked stake (round paid, aborted or cancelled).
    /// @param account The client.
    /// @param amount Stake to release.
    function unlock(address account, uint256 amount) external onlyRole(FEDERATION_ROLE) {
        Stake storage s = _stakes[account];
        if (amount > s.locked) revert InsufficientLocked(s.locked, amount);
        s.locked -= amount;
        emit StakeUnlocked(account, amount, s.locked);
    }

    /// @notice Settle a negative round result: release `lockedAmount` and burn `burnAmount` of it.
    /// @dev Tries `ERC20Burnable.burn` first; a base token without a working burn gets the tokens
    /// sent to `DEAD`. Either way they leave the vault for good and count in `totalBurned`.
    /// @param account The client.
    /// @param lockedAmount The stake the round had locked.
    /// @param burnAmount The part of it destroyed (at most `lockedAmount`).
    function settle(address account, uint256 lockedAmount, uint256 burnAmount)
        external
        onlyRole(FEDERATION_ROLE)
        nonReentrant
    {
        if (burnAmount > lockedAmount) revert BurnExceedsLocked(lockedAmount, burnAmount);
        Stake storage s = _stakes[account];
        if (lockedAmount > s.locked) revert InsufficientLocked(s.locked, lockedAmount);
        s.locked -= lockedAmount;
        s.balance -= burnAmount; // balance >= locked + pending held before, and burn <= lockedAmount
        totalStaked -= burnAmount;
        emit LockSettled(account, lockedAmount, burnAmount);
        if (burnAmount > 0) {
            totalBurned += burnAmount;
            emit StakeBurned(account, burnAmount, _burn(burnAmount));
        }
    }

    /// @dev Destroys `amount` base tokens held by the vault; returns true when they went to DEAD.
    function _burn(uint256 amount) private returns (bool viaDeadAddress) {
        uint256 before = base.balanceOf(address(this));
        try ERC20Burnable(address(base)).burn(amount) {}
        catch {
            viaDeadAddress = true;
            base.safeTransfer(DEAD, amount);
        }
        // A token whose `burn` returns without burning must not leave the stake in the vault.
        if (before - base.balanceOf(address(this)) < amount) revert BurnFailed(amount);
    }

    // ---------------------------------------------------------------------------- withdrawals

    /// @notice Start (or extend) the countdown to withdraw `amount` more of the caller's free
    /// stake. The whole pending amount becomes withdrawable `withdrawDelay` seconds from now.
    /// @param amount Stake to withdraw, at most `freeStake(msg.sender)`.
    function requestWithdrawal(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Stake storage s = _stakes[msg.sender];
        uint256 free = s.balance - s.locked - s.pending;
        if (amount > free) revert InsufficientFreeStake(free, amount);
        s.pending += amount;
        s.unlockTime = block.timestamp + withdrawDelay;
        emit WithdrawalRequested(msg.sender, amount, s.pending, s.unlockTime);
    }

    /// @notice Cancel the caller's pending withdrawal: the stake becomes free (lockable) again.
    function cancelWithdrawal() external {
        Stake storage s = _stakes[msg.sender];
        uint256 amount = s.pending;
        if (amount == 0) revert NoPendingWithdrawal();
        s.pending = 0;
        s.unlockTime = 0;
        emit WithdrawalCancelled(msg.sender, amount);
    }

    /// @notice After the countdown, pay the caller its pending stake (whatever of it is not
    /// locked: a settlement during the countdown may have reduced the balance).
    /// @return amount Base tokens paid.
    function withdraw() external nonReentrant returns (uint256 amount) {
        Stake storage s = _stakes[msg.sender];
        if (s.pending == 0) revert NoPendingWithdrawal();
        if (block.timestamp < s.unlockTime) revert CountdownRunning(s.unlockTime);
        uint256 unlocked = s.balance - s.locked;
        amount = s.pending < unlocked ? s.pending : unlocked;
        s.pending = 0;
        s.unlockTime = 0;
        s.balance -= amount;
        totalStaked -= amount;
        emit Withdrawn(msg.sender, amount);
        base.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------------------------- views

    /// @notice Stake of `account` that can be locked or requested for withdrawal now.
    /// @param account The client.
    /// @return The free stake in wei.
    function freeStake(address account) external view returns (uint256) {
        Stake storage s = _stakes[account];
        return s.balance - s.locked - s.pending;
    }

    /// @notice The full stake record of `account`.
    /// @param account The client.
    /// @return balance Everything staked.
    /// @return locked Part of `balance` locked by open rounds.
    /// @return pending Part of `balance` waiting for withdrawal.
    /// @return unlockTime When `pending` becomes withdrawable (0 if nothing is pending).
    function stakeOf(address account)
        external
        view
        returns (uint256 balance, uint256 locked, uint256 pending, uint256 unlockTime)
    {
        Stake storage s = _stakes[account];
        return (s.balance, s.locked, s.pending, s.unlockTime);
    }
}
