// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {FederationBound} from "./utils/FederationBound.sol";
import {IClientRegistry} from "./interfaces/IClientRegistry.sol";
import {IClientPool} from "./interfaces/IClientPool.sol";
import {IClientToken} from "./interfaces/IClientToken.sol";

/// @title RewardEscrow
/// @notice Holds every task's reward budget in the base token. A task's budget has two parts:
/// `unreleased` (funded, not yet reserved by a round) and `owed` (reserved by posted rounds, not yet
/// paid out). The Federation moves budget between the two and pays it out; rewards reach a client
/// in the task's mode: direct (base tokens), buyback (the reward buys the client's token on its
/// pool and burns it) or dividend (the reward is shared among the client token's holders).
/// @dev Only the bound Federation moves budgets; there is no admin. Invariant:
/// `base.balanceOf(this) >= totalHeld == sum over tasks of (unreleased + owed)` (equality but for
/// tokens sent without `fund`). Funding credits what arrived, and every payment checks that exactly
/// the paid amount left the escrow, so a pool or token that takes more or less cannot break it.
contract RewardEscrow is FederationBound, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Reward modes (the Federation's `TaskParams.mode`).
    uint8 public constant MODE_DIRECT = 0;
    uint8 public constant MODE_BUYBACK = 1;
    uint8 public constant MODE_DIVIDEND = 2;

    struct Budget {
        uint256 unreleased;
        uint256 owed;
        bool closed;
    }

    /// @notice The token of budgets and rewards.
    IERC20 public immutable base;
    /// @notice The registry of client tokens and pools (buyback and dividend modes).
    IClientRegistry public immutable registry;
    /// @notice Sum of every task's unreleased and owed budget.
    uint256 public totalHeld;

    mapping(uint256 taskId => Budget) private _budgets;

    /// @notice `funder` added `amount` to the unreleased budget of `taskId`.
    event Funded(uint256 indexed taskId, address indexed funder, uint256 amount);
    /// @notice `amount` of `taskId`'s budget was reserved for a posted round.
    event Reserved(uint256 indexed taskId, uint256 amount);
    /// @notice `amount` reserved for an overturned or cancelled round went back to unreleased.
    event Unreserved(uint256 indexed taskId, uint256 amount);
    /// @notice A positive stake result of `amount` was paid to `to`.
    event StakePayoutPaid(uint256 indexed taskId, address indexed to, uint256 amount);
    /// @notice `client`'s reward of `amount` was paid in `mode` (the mode actually used: 0 after a
    /// fallback); `tokensBurned` client tokens were bought and burned (buyback mode).
    event RewardPaid(uint256 indexed taskId, address indexed client, uint256 amount, uint8 mode, uint256 tokensBurned);
    /// @notice The reward could not be paid in `requestedMode` (no pool liquidity, no token holders)
    /// and was paid directly instead.
    event DirectFallback(uint256 indexed taskId, address indexed client, uint8 requestedMode, uint256 amount);
    /// @notice The unreleased budget of `taskId`, `amount`, went back to `to`; the budget is closed
    /// to new funds (later refunds return what rounds swept back).
    event Refunded(uint256 indexed taskId, address indexed to, uint256 amount);

    /// @notice The registry quotes its pools in another token than this escrow's base.
    error BaseMismatch(address registryBase, address base);
    /// @notice An amount that must be positive is zero.
    error ZeroAmount();
    /// @notice Only `available` unreleased budget is left, `amount` was asked for.
    error InsufficientBudget(uint256 available, uint256 amount);
    /// @notice Only `owed` is reserved, `amount` was asked for.
    error InsufficientOwed(uint256 owed, uint256 amount);
    /// @notice The task's budget was refunded: it takes no more funds.
    error BudgetClosed(uint256 taskId);
    /// @notice `mode` is not 0 (direct), 1 (buyback) or 2 (dividend).
    error InvalidMode(uint8 mode);
    /// @notice A pool or token took `taken` base tokens from the escrow instead of `expected`.
    error UnexpectedPull(uint256 expected, uint256 taken);

    /// @param base_ The base token (must be the registry's).
    /// @param registry_ The client registry.
    constructor(address base_, address registry_) {
        if (base_ == address(0) || registry_ == address(0)) revert ZeroAddress();
        address registryBase = IClientRegistry(registry_).baseToken();
        if (registryBase != base_) revert BaseMismatch(registryBase, base_);
        base = IERC20(base_);
        registry = IClientRegistry(registry_);
    }

    // ----------------------------------------------------------------------------------- funding

    /// @notice Add `amount` of the caller's base tokens to the budget of `taskId` (approve first).
    /// Anyone may fund any task; the sponsor gets what is left when the task ends. What arrives is
    /// credited: a fee-on-transfer token credits less than `amount`.
    /// @param taskId The Federation's task id.
    /// @param amount Amount in wei.
    /// @return credited The budget added.
    function fund(uint256 taskId, uint256 amount) external nonReentrant returns (uint256 credited) {
        if (amount == 0) revert ZeroAmount();
        Budget storage b = _budgets[taskId];
        if (b.closed) revert BudgetClosed(taskId);
        uint256 before = base.balanceOf(address(this));
        base.safeTransferFrom(msg.sender, address(this), amount);
        credited = base.balanceOf(address(this)) - before;
        if (credited == 0) revert ZeroAmount();
        b.unreleased += credited;
        totalHeld += credited;
        emit Funded(taskId, msg.sender, credited);
    }

    // ------------------------------------------------------------------------ federation controls

    /// @notice Reserve `amount` of the unreleased budget for a posted round.
    /// @param taskId The task.
    /// @param amount The round's rewards plus its positive stake payouts.
    function reserve(uint256 taskId, uint256 amount) external onlyFederation {
        Budget storage b = _budgets[taskId];
        if (amount > b.unreleased) revert InsufficientBudget(b.unreleased, amount);
        b.unreleased -= amount;
        b.owed += amount;
        emit Reserved(taskId, amount);
    }

    /// @notice Give back a reservation (an overturned post, a cancelled task's open round).
    /// @param taskId The task.
    /// @param amount What the round had reserved and not paid.
    function unreserve(uint256 taskId, uint256 amount) external onlyFederation {
        Budget storage b = _budgets[taskId];
        if (amount > b.owed) revert InsufficientOwed(b.owed, amount);
        b.owed -= amount;
        b.unreleased += amount;
        emit Unreserved(taskId, amount);
    }

    /// @notice Pay a positive stake result of `amount` from the owed budget to `to` (a stake
    /// settled without a claim; a claim pays its stake result with the reward, `payClaim`).
    /// @param taskId The task.
    /// @param to The client.
    /// @param amount Base tokens.
    function payStakePayout(uint256 taskId, address to, uint256 amount)
        external
        onlyFederation
        nonReentrant
    {
        if (to == address(0)) revert ZeroAddress();
        _takeOwed(taskId, amount);
        emit StakePayoutPaid(taskId, to, amount);
        base.safeTransfer(to, amount);
    }

    /// @notice Pay a claim from the owed budget: `client`'s positive stake result `stakePayout`
    /// in base tokens, and its reward `reward` in `mode`.
    /// @dev Whatever is paid in base tokens (the stake result, and the reward in direct mode or
    /// after a fallback) leaves in one transfer: a claim is the costliest call a client makes
    /// every round, and paying the two apart cost it about 5.4k gas more. Buyback: swaps on
    /// `registry.poolOf(client)` with `minTokensOut` and `deadline`, then burns what it bought; a
    /// pool without liquidity (or too little to buy one wei) falls back to direct. Dividend: calls
    /// `distribute` on the client's token (streamed to its holders); a token without supply falls
    /// back to direct.
    /// @param taskId The task.
    /// @param client The claiming client.
    /// @param stakePayout Base tokens of its positive stake result (0 if none is paid here).
    /// @param reward Base tokens of its reward (`RewardPaid` is emitted only for a positive one).
    /// @param mode 0 direct, 1 buyback, 2 dividend.
    /// @param minTokensOut Fewest client tokens the buyback accepts (slippage bound).
    /// @param deadline Latest block timestamp of the buyback swap.
    /// @return tokensBurned Client tokens bought and burned (buyback mode), else 0.
    function payClaim(
        uint256 taskId,
        address client,
        uint256 stakePayout,
        uint256 reward,
        uint8 mode,
        uint256 minTokensOut,
        uint256 deadline
    )
        external
        onlyFederation
        nonReentrant
        returns (uint256 tokensBurned)
    {
        if (client == address(0)) revert ZeroAddress();
        if (mode > MODE_DIVIDEND) revert InvalidMode(mode);
        _takeOwed(taskId, stakePayout + reward);
        if (stakePayout > 0) emit StakePayoutPaid(taskId, client, stakePayout);
        uint256 direct = stakePayout;
        if (reward > 0) {
            uint8 used = mode;
            if (mode == MODE_BUYBACK) {
                address pool = registry.poolOf(client);
                if (_canBuy(pool, reward)) {
                    tokensBurned = _buyback(pool, registry.tokenOf(client), reward, minTokensOut, deadline);
                } else {
                    used = _fallback(taskId, client, mode, reward);
                }
            } else if (mode == MODE_DIVIDEND) {
                address token = registry.tokenOf(client);
                if (token != address(0) && IERC20(token).totalSupply() > 0) {
                    _distribute(token, reward);
                } else {
                    used = _fallback(taskId, client, mode, reward);
                }
            }
            if (used == MODE_DIRECT) direct += reward;
            emit RewardPaid(taskId, client, reward, used, tokensBurned);
        }
        if (direct > 0) base.safeTransfer(client, direct);
    }

    /// @notice Return the whole unreleased budget of `taskId` to `to` and close the budget to new
    /// funds (owed amounts stay claimable; what rounds later sweep back is refunded by another call).
    /// @param taskId The task.
    /// @param to The sponsor.
    /// @return amount Base tokens refunded.
    function refund(uint256 taskId, address to) external onlyFederation nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert ZeroAddress();
        Budget storage b = _budgets[taskId];
        amount = b.unreleased;
        b.unreleased = 0;
        b.closed = true;
        totalHeld -= amount;
        emit Refunded(taskId, to, amount);
        if (amount > 0) base.safeTransfer(to, amount);
    }

    // ------------------------------------------------------------------------------------ views

    /// @notice The budget of `taskId`.
    /// @param taskId The task.
    /// @return unreleased Funded and not reserved.
    /// @return owed Reserved by posted rounds and not paid.
    function budgetOf(uint256 taskId) external view returns (uint256 unreleased, uint256 owed) {
        Budget storage b = _budgets[taskId];
        return (b.unreleased, b.owed);
    }

    /// @notice Whether the budget of `taskId` was refunded (it takes no more funds).
    /// @param taskId The task.
    function isClosed(uint256 taskId) external view returns (bool) {
        return _budgets[taskId].closed;
    }

    // --------------------------------------------------------------------------------- internals

    function _takeOwed(uint256 taskId, uint256 amount) private {
        Budget storage b = _budgets[taskId];
        if (amount > b.owed) revert InsufficientOwed(b.owed, amount);
        b.owed -= amount;
        totalHeld -= amount;
    }

    /// @dev A buyback needs a pool with both reserves and an amount that buys at least one wei
    /// (the pool rejects a swap with no output, which would block the claim for good).
    function _canBuy(address pool, uint256 amount) private view returns (bool) {
        if (pool == address(0)) return false;
        (uint256 reserveToken, uint256 reserveBase) = IClientPool(pool).getReserves();
        return reserveToken > 0 && reserveBase > 0 && IClientPool(pool).quoteBaseForTokens(amount) > 0;
    }

    /// @dev Records a reward paid directly instead of in `mode` (`payClaim` transfers it).
    function _fallback(uint256 taskId, address client, uint8 mode, uint256 amount) private returns (uint8) {
        emit DirectFallback(taskId, client, mode, amount);
        return MODE_DIRECT;
    }

    function _buyback(address pool, address token, uint256 amount, uint256 minTokensOut, uint256 deadline)
        private
        returns (uint256 bought)
    {
        uint256 before = base.balanceOf(address(this));
        base.forceApprove(pool, amount);
        bought = IClientPool(pool).swapExactBaseForTokens(amount, minTokensOut, address(this), deadline);
        base.forceApprove(pool, 0);
        _checkPulled(before, amount);
        IClientToken(token).burn(bought);
    }

    function _distribute(address token, uint256 amount) private {
        uint256 before = base.balanceOf(address(this));
        base.forceApprove(token, amount);
        IClientToken(token).distribute(amount);
        base.forceApprove(token, 0);
        _checkPulled(before, amount);
    }

    function _checkPulled(uint256 before, uint256 expected) private view {
        uint256 remaining = base.balanceOf(address(this));
        uint256 taken = before > remaining ? before - remaining : 0;
        if (taken != expected) revert UnexpectedPull(expected, taken);
    }
}
