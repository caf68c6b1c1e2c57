// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ERC20Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/ERC20Upgradeable.sol";
import {ERC20BurnableUpgradeable} from
    "@openzeppelin/contracts-upgradeable/token/ERC20/extensions/ERC20BurnableUpgradeable.sol";
import {ERC20PermitUpgradeable} from
    "@openzeppelin/contracts-upgradeable/token/ERC20/extensions/ERC20PermitUpgradeable.sol";

import {IClientToken} from "./interfaces/IClientToken.sol";

/// @title ClientToken
/// @notice One federation client's ERC-20: a fixed supply minted to the client at registration, and
/// a pull-based dividend accumulator in the base token (reward per token, as Synthetix
/// StakingRewards). Anyone may `distribute` base tokens; they are streamed to the holders at a
/// constant rate over `dividendDuration` seconds (a new distribution folds what is left of the
/// current stream into a new one), so each holder earns in proportion to its balance times the
/// time it held it. Buying just before a distribution and selling right after earns next to
/// nothing, and moving tokens never moves dividends already accrued.
/// @dev Deployed once as an implementation (locked by its constructor, which also fixes the stream
/// duration for every clone) and used through minimal-proxy clones made by ClientRegistry. All
/// amounts of the stream are kept scaled by PRECISION, and every rounding remainder is carried, so
/// base tokens are conserved exactly: what was distributed equals what holders claimed, what they
/// can claim, what is still streaming, and remainders below one wei per token carried forward.
contract ClientToken is
    IClientToken,
    ERC20Upgradeable,
    ERC20BurnableUpgradeable,
    ERC20PermitUpgradeable,
    ReentrancyGuardTransient
{
    using SafeERC20 for IERC20;

    /// @notice Fixed-point scale of `dividendPerToken` and of stream amounts.
    uint256 public constant PRECISION = 1e27;

    /// @notice Seconds over which each distribution is streamed to holders (the same for every
    /// clone of one implementation).
    uint256 public immutable dividendDuration;

    /// @inheritdoc IClientToken
    address public client;
    /// @inheritdoc IClientToken
    address public baseToken;
    /// @dev When the current stream ends, and until when it has been allocated to
    /// `dividendPerToken`: timestamps of 48 bits (good for 8.9 million years), packed with
    /// `baseToken` into one slot. Every transfer, claim and distribution reads both timestamps, and
    /// every payment the base token: one cold slot instead of three saves up to 4,200 gas a call.
    /// Read through `periodFinish()` and `lastAccrual()`.
    uint48 private _periodFinish;
    uint48 private _lastAccrual;

    /// @notice Base tokens allocated per token unit since creation, scaled by PRECISION.
    uint256 public dividendPerToken;
    /// @notice Stream rate: base tokens per second, scaled by PRECISION.
    uint256 public rewardRate;
    /// @notice Base tokens received by `distribute` over the token's life.
    uint256 public totalDistributed;
    /// @notice Base tokens paid out to holders over the token's life.
    uint256 public totalClaimed;
    /// @dev Released but not allocated (below one unit per token), scaled by PRECISION.
    uint256 private _carry;
    /// @dev A distribution's remainder below one unit per second of the stream, scaled.
    uint256 private _streamDust;

    /// @notice `dividendPerToken` at `holder`'s last settlement.
    mapping(address holder => uint256) public dividendPerTokenPaid;
    /// @notice Dividends settled to `holder` and not yet claimed.
    mapping(address holder => uint256) public owed;
    /// @inheritdoc IClientToken
    mapping(address holder => bool) public refusesPushes;

    /// @notice A zero address where an account is required.
    error ZeroAddress();
    /// @notice The initial supply must be positive.
    error ZeroSupply();
    /// @notice `distribute` with a zero amount, or while no token exists to share it.
    error NothingToDistribute();
    /// @notice The stream duration must be positive.
    error ZeroDuration();
    /// @notice `holder` claims its dividends itself only (`refusePushes`).
    error PushRefused(address holder);

    /// @param dividendDuration_ Seconds over which every distribution is streamed (positive).
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(uint256 dividendDuration_) {
        if (dividendDuration_ == 0) revert ZeroDuration();
        dividendDuration = dividendDuration_;
        _disableInitializers();
    }

    /// @inheritdoc IClientToken
    /// @dev Reverts with `InvalidInitialization` on a second call and on the implementation.
    function initialize(
        string calldata name_,
        string calldata symbol_,
        address client_,
        uint256 supply,
        address baseToken_
    ) external initializer {
        _initialize(name_, symbol_, client_, client_, supply, baseToken_);
    }

    /// @notice Set up a fresh clone as `initialize` does, but mint the supply to `holder` instead of
    /// the client: the registry uses it to seed the client's pool in the registration itself.
    /// Callable once, and only instead of `initialize`.
    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    /// @param client_ The client this token belongs to.
    /// @param holder Receiver of the whole supply.
    /// @param supply Fixed supply, positive.
    /// @param baseToken_ The base token dividends are paid in.
    function initializeMintTo(
        string calldata name_,
        string calldata symbol_,
        address client_,
        address holder,
        uint256 supply,
        address baseToken_
    ) external initializer {
        _initialize(name_, symbol_, client_, holder, supply, baseToken_);
    }

    /// @inheritdoc IClientToken
    /// @dev Counts what actually arrived (a fee-on-transfer base token delivers less than `amount`)
    /// and streams it, with what is left of the current stream, over `dividendDuration` from now.
    function distribute(uint256 amount) external nonReentrant {
        if (amount == 0 || totalSupply() == 0) revert NothingToDistribute();
        _accrue();
        IERC20 base = IERC20(baseToken);
        uint256 before = base.balanceOf(address(this));
        base.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = base.balanceOf(address(this)) - before;
        if (received == 0) revert NothingToDistribute();
        totalDistributed += received;

        uint256 pool = received * PRECISION + _streamDust;
        uint256 finish = _periodFinish;
        if (block.timestamp < finish) pool += rewardRate * (finish - block.timestamp);
        uint256 duration = dividendDuration;
        rewardRate = pool / duration;
        _streamDust = pool - rewardRate * duration;
        // A stream ending after 2**48 - 1 (a duration of more than 8.9 million years) cannot be
        // stored: SafeCast reverts.
        uint48 newFinish = SafeCast.toUint48(block.timestamp + duration);
        (_lastAccrual, _periodFinish) = (uint48(block.timestamp), newFinish);
        emit DividendDistributed(msg.sender, received, newFinish);
    }

    /// @notice When the current stream ends (0 before the first distribution).
    function periodFinish() external view returns (uint256) {
        return _periodFinish;
    }

    /// @notice Until when the stream has been allocated to `dividendPerToken`.
    function lastAccrual() external view returns (uint256) {
        return _lastAccrual;
    }

    /// @inheritdoc IClientToken
    function dividendOf(address holder) public view returns (uint256) {
        (uint256 perToken,) = _accrued();
        return owed[holder] + _pending(holder, perToken);
    }

    /// @notice Base tokens distributed and not yet allocated to holders (still streaming, or
    /// carried as remainders), rounded down.
    function unallocated() external view returns (uint256) {
        (, uint256 carry) = _accrued();
        uint256 finish = _periodFinish;
        uint256 streaming = block.timestamp < finish ? rewardRate * (finish - block.timestamp) : 0;
        return (streaming + carry + _streamDust) / PRECISION;
    }

    /// @inheritdoc IClientToken
    function claimDividend() external nonReentrant returns (uint256) {
        return _claim(msg.sender);
    }

    /// @inheritdoc IClientToken
    /// @dev Reverts with `PushRefused` for a holder that refused pushes (unless it calls itself).
    function claimDividendFor(address holder) external nonReentrant returns (uint256) {
        if (holder != msg.sender && refusesPushes[holder]) revert PushRefused(holder);
        return _claim(holder);
    }

    /// @inheritdoc IClientToken
    function refusePushes() external {
        refusesPushes[msg.sender] = true;
        emit PushesRefused(msg.sender);
    }

    /// @inheritdoc IClientToken
    function burn(uint256 amount) public override(ERC20BurnableUpgradeable, IClientToken) {
        super.burn(amount);
    }

    /// @dev Allocates the stream up to now at the old supply, then settles both sides at their old
    /// balances, before any balance moves (mint, burn, transfer).
    function _update(address from, address to, uint256 value) internal override {
        _accrue();
        uint256 perToken = dividendPerToken;
        if (from != address(0)) _settle(from, perToken);
        if (to != address(0) && to != from) _settle(to, perToken);
        super._update(from, to, value);
    }

    function _initialize(
        string calldata name_,
        string calldata symbol_,
        address client_,
        address holder,
        uint256 supply,
        address baseToken_
    ) private {
        if (client_ == address(0) || holder == address(0) || baseToken_ == address(0)) revert ZeroAddress();
        if (supply == 0) revert ZeroSupply();
        __ERC20_init(name_, symbol_);
        __ERC20Burnable_init();
        __ERC20Permit_init(name_);
        client = client_;
        baseToken = baseToken_;
        _mint(holder, supply);
    }

    /// @dev `dividendPerToken` and the carry as they would be after allocating the stream up to now.
    function _accrued() private view returns (uint256 perToken, uint256 carry) {
        perToken = dividendPerToken;
        carry = _carry;
        uint256 finish = _periodFinish;
        uint256 until = block.timestamp < finish ? block.timestamp : finish;
        uint256 last = _lastAccrual;
        if (until <= last) return (perToken, carry);
        uint256 released = rewardRate * (until - last) + carry;
        uint256 supply = totalSupply();
        if (supply == 0) return (perToken, released);
        uint256 increment = released / supply;
        return (perToken + increment, released - increment * supply);
    }

    function _accrue() private {
        uint256 finish = _periodFinish;
        uint256 until = block.timestamp < finish ? block.timestamp : finish;
        if (until <= _lastAccrual) return;
        (dividendPerToken, _carry) = _accrued();
        _lastAccrual = uint48(until); // until <= _periodFinish, a uint48
    }

    /// @dev Accrual since `holder`'s last settlement at `perToken`, rounded down.
    function _pending(address holder, uint256 perToken) private view returns (uint256) {
        uint256 delta = perToken - dividendPerTokenPaid[holder];
        if (delta == 0) return 0;
        return Math.mulDiv(balanceOf(holder), delta, PRECISION);
    }

    function _settle(address holder, uint256 perToken) private {
        uint256 pending = _pending(holder, perToken);
        if (pending != 0) owed[holder] += pending;
        if (dividendPerTokenPaid[holder] != perToken) dividendPerTokenPaid[holder] = perToken;
    }

    /// @dev Settles and pays in one step: what accrued since the last settlement is paid with what
    /// was owed, without passing through `owed` (a write of a zero slot costs 20,000 gas, and the
    /// refund for clearing it again is capped).
    function _claim(address holder) private returns (uint256 amount) {
        _accrue();
        uint256 perToken = dividendPerToken;
        uint256 settled = owed[holder];
        amount = settled + _pending(holder, perToken);
        if (dividendPerTokenPaid[holder] != perToken) dividendPerTokenPaid[holder] = perToken;
        if (amount == 0) return 0;
        if (settled != 0) owed[holder] = 0;
        totalClaimed += amount;
        emit DividendClaimed(holder, amount);
        IERC20(baseToken).safeTransfer(holder, amount);
    }
}
