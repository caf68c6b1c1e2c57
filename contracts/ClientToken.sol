// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
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
/// StakingRewards). Anyone may `distribute` base tokens; each holder's share is fixed at that moment
/// by its balance, and moving tokens afterwards never moves dividends already accrued.
/// @dev Deployed once as an implementation (locked by its constructor) and used through
/// minimal-proxy clones made by ClientRegistry. Rounding never favours holders: per distribution the
/// amount actually allocated is rounded up and the rest (`undistributed`) is carried into the next
/// distribution, while each holder's accrual is rounded down, so the sum of all claims can never
/// exceed the base tokens distributed.
contract ClientToken is
    IClientToken,
    ERC20Upgradeable,
    ERC20BurnableUpgradeable,
    ERC20PermitUpgradeable,
    ReentrancyGuardTransient
{
    using SafeERC20 for IERC20;

    /// @notice Fixed-point scale of `dividendPerToken` (base wei per token wei, times 1e27).
    uint256 public constant PRECISION = 1e27;

    /// @inheritdoc IClientToken
    address public client;
    /// @inheritdoc IClientToken
    address public baseToken;

    /// @notice Base tokens accrued per token unit since creation, scaled by PRECISION.
    uint256 public dividendPerToken;
    /// @notice Base tokens received by `distribute` but not yet allocated (rounding remainder),
    /// added to the next distribution.
    uint256 public undistributed;
    /// @notice Base tokens received by `distribute` over the token's life.
    uint256 public totalDistributed;
    /// @notice Base tokens paid out to holders over the token's life.
    uint256 public totalClaimed;

    /// @notice `dividendPerToken` at `holder`'s last settlement.
    mapping(address holder => uint256) public dividendPerTokenPaid;
    /// @notice Dividends settled to `holder` and not yet claimed.
    mapping(address holder => uint256) public owed;

    /// @notice A zero address where an account is required.
    error ZeroAddress();
    /// @notice The initial supply must be positive.
    error ZeroSupply();
    /// @notice `distribute` with a zero amount, or while no token exists to share it.
    error NothingToDistribute();

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
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
    /// @dev Counts what actually arrived (a fee-on-transfer base token delivers less than `amount`).
    function distribute(uint256 amount) external nonReentrant {
        uint256 supply = totalSupply();
        if (amount == 0 || supply == 0) revert NothingToDistribute();
        IERC20 base = IERC20(baseToken);
        uint256 before = base.balanceOf(address(this));
        base.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = base.balanceOf(address(this)) - before;
        totalDistributed += received;

        uint256 pool = received + undistributed;
        uint256 increment = Math.mulDiv(pool, PRECISION, supply);
        // What holders can ever claim from this increment, rounded up: never more than `pool`.
        uint256 allocated = Math.mulDiv(increment, supply, PRECISION, Math.Rounding.Ceil);
        undistributed = pool - allocated;
        dividendPerToken += increment;
        emit DividendDistributed(msg.sender, received, dividendPerToken);
    }

    /// @inheritdoc IClientToken
    function dividendOf(address holder) public view returns (uint256) {
        return owed[holder] + _pending(holder);
    }

    /// @inheritdoc IClientToken
    function claimDividend() external nonReentrant returns (uint256) {
        return _claim(msg.sender);
    }

    /// @inheritdoc IClientToken
    function claimDividendFor(address holder) external nonReentrant returns (uint256) {
        return _claim(holder);
    }

    /// @inheritdoc IClientToken
    function burn(uint256 amount) public override(ERC20BurnableUpgradeable, IClientToken) {
        super.burn(amount);
    }

    /// @dev Settles both sides at the old balances before any balance moves (mint, burn, transfer).
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0)) _settle(from);
        if (to != address(0) && to != from) _settle(to);
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

    /// @dev Accrual since `holder`'s last settlement, rounded down.
    function _pending(address holder) private view returns (uint256) {
        uint256 delta = dividendPerToken - dividendPerTokenPaid[holder];
        if (delta == 0) return 0;
        return Math.mulDiv(balanceOf(holder), delta, PRECISION);
    }

    function _settle(address holder) private {
        uint256 pending = _pending(holder);
        if (pending != 0) owed[holder] += pending;
        dividendPerTokenPaid[holder] = dividendPerToken;
    }

    function _claim(address holder) private returns (uint256 amount) {
        _settle(holder);
        amount = owed[holder];
        if (amount == 0) return 0;
        owed[holder] = 0;
        totalClaimed += amount;
        emit DividendClaimed(holder, amount);
        IERC20(baseToken).safeTransfer(holder, amount);
    }
}
