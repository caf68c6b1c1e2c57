// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {FederationBound} from "./utils/FederationBound.sol";
import {SafeBurn} from "./utils/SafeBurn.sol";

/// @title StakeVault
/// @notice Holds the base-token stakes of federation clients, Erasure CountdownGriefing-style.
/// A client deposits once and the Federation locks part of the deposit when the client itself
/// joins a task (its join bond) or commits to a round (its round stake). After the round, the lock
/// is released (positive or zero result, aborted round) or partly burned (negative result).
/// Leaving the vault needs a countdown: `requestWithdrawal` marks free stake as pending, which stops
/// new locks on it, and `withdraw` pays it once `withdrawDelay` seconds have passed. Stake locked
/// before the request stays locked, and burnable, during the countdown.
/// @dev Only the bound Federation can lock, unlock or burn, and it does so only for calls the
/// client made itself (join, commit) or for results proven against a finalized round. There is no
/// admin. Invariant kept by every function: `balance >= locked + pending` for every account, and
/// `totalStaked` equals the sum of all balances; the vault holds at least `totalStaked` base tokens
/// (more after donations, or after a burn the base token refused).
contract StakeVault is FederationBound, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

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
    /// @notice Base tokens destroyed by negative round results and griefing, in total.
    uint256 public totalBurned;
    /// @notice Sum of every account's balance.
    uint256 public totalStaked;

    mapping(address account => Stake) private _stakes;

    /// @notice `payer` added `amount` (what arrived) to `account`'s stake.
    event Deposited(address indexed payer, address indexed account, uint256 amount);
    /// @notice `amount` of `account`'s stake was locked for a round or a task seat.
    event StakeLocked(address indexed account, uint256 amount, uint256 lockedTotal);
    /// @notice `amount` of `account`'s locked stake was released.
    event StakeUnlocked(address indexed account, uint256 amount, uint256 lockedTotal);
    /// @notice A settlement released `unlocked` of `account`'s stake and burned `burned` of it.
    event LockSettled(address indexed account, uint256 unlocked, uint256 burned);
    /// @notice `amount` of `account`'s stake was destroyed, by `route` (see SafeBurn.Route).
    event StakeBurned(address indexed account, uint256 amount, SafeBurn.Route route);
    /// @notice `account` asked to withdraw `amount` more; `pendingTotal` leaves at `unlockTime`.
    event WithdrawalRequested(address indexed account, uint256 amount, uint256 pendingTotal, uint256 unlockTime);
    /// @notice `account` cancelled its pending withdrawal of `amount`.
    event WithdrawalCancelled(address indexed account, uint256 amount);
    /// @notice `amount` of stake was paid back to `account`.
    event Withdrawn(address indexed account, uint256 amount);

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

    /// @param base_ The staked ERC-20 (the suite's base token).
    /// @param withdrawDelay_ Countdown between a withdrawal request and the withdrawal, in seconds.
    constructor(address base_, uint256 withdrawDelay_) {
        if (base_ == address(0)) revert ZeroAddress();
        base = IERC20(base_);
        withdrawDelay = withdrawDelay_;
    }

    // ---------------------------------------------------------------------------------- deposits

    /// @notice Stake `amount` base tokens of the caller (approve the vault first). What arrives is
    /// credited: a fee-on-transfer token credits less than `amount`.
    /// @param amount Amount in wei.
    /// @return credited The stake added.
    function deposit(uint256 amount) external nonReentrant returns (uint256 credited) {
        return _deposit(msg.sender, amount);
    }

    /// @notice Stake `amount` of the caller's base tokens on behalf of `account`.
    /// @param account Receives the stake (only it can withdraw it).
    /// @param amount Amount in wei.
    /// @return credited The stake added.
    function depositFor(address account, uint256 amount) external nonReentrant returns (uint256 credited) {
        if (account == address(0)) revert ZeroAddress();
        return _deposit(account, amount);
    }

    function _deposit(address account, uint256 amount) private returns (uint256 credited) {
        if (amount == 0) revert ZeroAmount();
        uint256 before = base.balanceOf(address(this));
        base.safeTransferFrom(msg.sender, address(this), amount);
        credited = base.balanceOf(address(this)) - before;
        if (credited == 0) revert ZeroAmount();
        _stakes[account].balance += credited;
        totalStaked += credited;
        emit Deposited(msg.sender, account, credited);
    }

    // ---------------------------------------------------------------------- federation controls

    /// @notice Lock `amount` of `account`'s free stake (a round commitment or a task seat).
    /// @param account The client, which made the call that locks.
    /// @param amount Stake to lock (may be zero when the task asks for none).
    function lock(address account, uint256 amount) external onlyFederation {
        Stake storage s = _stakes[account];
        uint256 free = s.balance - s.locked - s.pending;
        if (amount > free) revert InsufficientFreeStake(free, amount);
        s.locked += amount;
        emit StakeLocked(account, amount, s.locked);
    }

    /// @notice Release `amount` of `account`'s locked stake (round paid, aborted, seat left).
    /// @param account The client.
    /// @param amount Stake to release.
    function unlock(address account, uint256 amount) external onlyFederation {
        Stake storage s = _stakes[account];
        if (amount > s.locked) revert InsufficientLocked(s.locked, amount);
        s.locked -= amount;
        emit StakeUnlocked(account, amount, s.locked);
    }

    /// @notice Settle a negative result: release `lockedAmount` and burn `burnAmount` of it.
    /// @dev The burn never blocks: SafeBurn destroys the tokens by `burn`, by a transfer to a dead
    /// address, or writes them off in place. Either way they count in `totalBurned` and leave
    /// `totalStaked`.
    /// @param account The client.
    /// @param lockedAmount The stake the round had locked.
    /// @param burnAmount The part of it destroyed (at most `lockedAmount`).
    function settle(address account, uint256 lockedAmount, uint256 burnAmount) external onlyFederation nonReentrant {
        if (burnAmount > lockedAmount) revert BurnExceedsLocked(lockedAmount, burnAmount);
        Stake storage s = _stakes[account];
        if (lockedAmount > s.locked) revert InsufficientLocked(s.locked, lockedAmount);
        s.locked -= lockedAmount;
        s.balance -= burnAmount; // balance >= locked + pending held before, and burn <= lockedAmount
        totalStaked -= burnAmount;
        emit LockSettled(account, lockedAmount, burnAmount);
        if (burnAmount > 0) {
            totalBurned += burnAmount;
            emit StakeBurned(account, burnAmount, SafeBurn.burnOrBury(base, burnAmount));
        }
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
    /// @return locked Part of `balance` locked by rounds and task seats.
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
