// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IClientPool} from "./interfaces/IClientPool.sol";
import {IClientToken} from "./interfaces/IClientToken.sol";

/// @title TokenLending
/// @notice Borrow base tokens against client tokens. Lenders deposit base tokens into an ERC-4626
/// vault (shares "fl-node lending share", flLEND) whose assets are the cash it holds plus what
/// borrowers owe with interest; borrowers deposit a listed client token as collateral and borrow up
/// to its loan-to-value limit; anyone liquidates a position whose debt exceeds the liquidation
/// threshold of its collateral's value. The collateral is valued at a time-weighted average price
/// (TWAP) of the client token's pool, never at its spot price, so a price pushed for one block
/// moves a borrowing limit by at most that block's share of the window.
///
/// Interest: one borrow index for every market (they all lend the same base token), accrued
/// before every state change: `index += index * rate * elapsed / 1e18` (rounded down; compounding
/// at each accrual, as Compound's borrowIndex), where the per-second rate follows a kink model of
/// the utilization `u = debt / (cash + debt)`: `baseRate + slope1 * min(u, kink) + slope2 *
/// max(u - kink, 0)`, fixed at deployment. A position owes `scaledDebt * index / 1e27` rounded
/// up; every interest wei goes to the lenders (no reserve factor).
///
/// Oracle: each market keeps its own ring of four observations `(cumulative price, timestamp)` of
/// its pool's `currentCumulativePrices()` (Uniswap's ExampleSlidingWindowOracle). Anyone records
/// one with `pokeOracle` (also done by every borrow, price-checked withdrawal and liquidation),
/// at most one per half window. The price is `(cumulativeNow - cumulativeThen) / (now - then)`
/// from the newest observation at least `twapWindow` old, valid only if it is at most
/// 2 * `twapWindow` old: the average of the last 1 to 2 windows. Without a valid price, borrowing,
/// withdrawing collateral from an indebted position and liquidating revert with `NoValidPrice`;
/// the exit is to poke and wait one window (observations can always be made by anyone), while
/// repaying and lenders' withdrawals never need a price.
///
/// Liquidation: when `debt > value * liquidationThreshold`, anyone repays up to `closeFactor` of
/// the debt and receives collateral worth `repaid * (1 + bonus)` at the TWAP. If the collateral
/// does not cover that, the liquidator takes all of it for its value / (1 + bonus), and whatever
/// debt is left on a position without collateral is written off against the lenders at once
/// (`BadDebtWrittenOff`; `totalAssets` falls), so no debt is ever stuck.
///
/// Dividends: client tokens pay base-token dividends to their holders (ClientToken's stream).
/// Collateral held here earns them for this contract; they belong to the borrowers who deposited
/// it. Before every change of a market's collateral the contract claims them and credits them per
/// unit of collateral (a reward-per-collateral accumulator with carried remainders), and each
/// position is checkpointed, so a borrower claims exactly what its collateral earned while it lay
/// here. Dividends are held apart from the vault's cash and never count as lenders' assets.
///
/// Governance: the owner (the suite's Timelock, so every change is public for its delay) lists
/// and configures markets (pool, loan-to-value, liquidation threshold, borrow cap, enabled) and
/// the TWAP window within bounds. Nothing else needs it: if it disappears, every position can
/// still be repaid, withdrawn and liquidated, and lenders withdraw up to the cash.
///
/// @dev Assumptions: the base token and listed client tokens move exactly the amounts asked (no fee
/// on transfer); collateral deposits are measured anyway. The vault's cash is tracked, not read
/// from the balance, so donations cannot move the share price (and the virtual offset of 10**6
/// shares defeats the ERC-4626 inflation attack in any case); `skim` hands donations to lenders.
/// Collateral dividends are credited by what this contract's own `claimDividend` returns, so at
/// listing it makes the token refuse claims pushed to it by others (`refusePushes`): otherwise
/// anyone could push them here as unexplained base tokens, which `skim` hands to the lenders.
contract TokenLending is ERC4626, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Math for uint256;

    // ------------------------------------------------------------------ constants

    uint256 private constant BPS = 10_000;
    uint256 private constant WAD = 1e18;
    /// @notice Scale of `borrowIndex`.
    uint256 public constant RAY = 1e27;
    /// @notice Scale of the pool's cumulative prices and of `twapPrice` (UQ112x112).
    uint256 public constant Q112 = 2 ** 112;
    /// @notice Scale of the reward-per-collateral accumulators.
    uint256 public constant DIVIDEND_PRECISION = 1e27;
    /// @notice Observations kept per market.
    uint256 public constant OBSERVATIONS = 4;
    /// @notice Bounds of `twapWindow`.
    uint256 public constant MIN_WINDOW = 5 minutes;
    uint256 public constant MAX_WINDOW = 1 days;
    /// @notice The highest borrow rate the model may reach (1000 % a year, per second, WAD).
    uint256 public constant MAX_RATE = 10 * WAD / 365 days;
    /// @notice Bounds of the liquidation parameters.
    uint256 public constant MIN_CLOSE_FACTOR_BPS = 1_000;
    uint256 public constant MAX_BONUS_BPS = 2_000;

    // ------------------------------------------------------------------ parameters

    /// @notice Largest share of a position's debt one liquidation may repay (basis points).
    uint256 public immutable closeFactorBps;
    /// @notice Extra collateral value a liquidator receives over what it repays (basis points).
    uint256 public immutable liquidationBonusBps;
    /// @notice Borrow rate per second at zero utilization (WAD).
    uint256 public immutable baseRate;
    /// @notice Rate added per unit of utilization up to the kink (WAD per second).
    uint256 public immutable slope1;
    /// @notice Rate added per unit of utilization above the kink (WAD per second).
    uint256 public immutable slope2;
    /// @notice Utilization (WAD) where the slope changes.
    uint256 public immutable kink;

    // ------------------------------------------------------------------ debt

    /// @dev The borrow index (RAY), 256 bits: at the model's highest rate it would outgrow 192
    /// bits within a decade, and an index that cannot be stored would block every repayment.
    uint256 private _borrowIndex;
    /// @dev When interest was last accrued, and the TWAP window (seconds it covers at least),
    /// packed: a borrow or liquidation reads both.
    uint64 private _lastAccrual;
    uint64 private _twapWindow;
    /// @notice Sum of every position's scaled debt.
    uint256 public totalScaledDebt;
    /// @notice Base tokens the vault holds for lending (deposits + repayments - loans - withdrawals).
    uint256 public cash;
    /// @notice Debt written off against the lenders over the contract's life.
    uint256 public badDebt;
    /// @notice Base tokens held for borrowers' dividends (claimed from tokens, not yet paid out).
    uint256 public dividendsHeld;

    struct Market {
        address pool;
        bool listed;
        bool enabled;
        uint16 ltvBps;
        uint16 thresholdBps;
        uint8 head; // index of the newest observation
        uint8 count; // observations made, up to OBSERVATIONS
        uint256 borrowCap;
        uint256 scaledDebt;
        uint256 collateral;
        uint256 dividendPerCollateral;
        uint256 dividendCarry; // scaled by DIVIDEND_PRECISION
        uint48[4] observedAt;
        uint256[4] observedCumulative;
    }

    struct Position {
        uint256 collateral;
        uint256 scaledDebt;
        uint256 dividendPaid; // dividendPerCollateral at the last checkpoint
        uint256 dividendOwed;
    }

    mapping(address token => Market) private _markets;
    mapping(address token => mapping(address borrower => Position)) private _positions;

    // ------------------------------------------------------------------ events

    /// @notice A market was listed or reconfigured.
    event MarketSet(
        address indexed token, address indexed pool, uint256 ltvBps, uint256 thresholdBps, uint256 borrowCap, bool enabled
    );
    /// @notice The TWAP window changed.
    event TwapWindowSet(uint256 window);
    /// @notice An observation of `token`'s pool was recorded.
    event Observed(address indexed token, uint256 cumulative, uint256 timestamp);
    /// @notice Interest accrued: the new index and the growth of the total debt.
    event InterestAccrued(uint256 borrowIndex, uint256 interest);
    event CollateralDeposited(address indexed token, address indexed borrower, uint256 amount);
    event CollateralWithdrawn(address indexed token, address indexed borrower, address to, uint256 amount);
    event Borrowed(address indexed token, address indexed borrower, address to, uint256 amount);
    event Repaid(address indexed token, address indexed borrower, address indexed payer, uint256 amount);
    event Liquidated(
        address indexed token, address indexed borrower, address indexed liquidator, uint256 repaid, uint256 seized
    );
    /// @notice Debt left on a position without collateral, written off against the lenders.
    event BadDebtWrittenOff(address indexed token, address indexed borrower, uint256 amount);
    /// @notice Dividends of `token` claimed by this contract for its collateral.
    event DividendsHarvested(address indexed token, uint256 amount);
    event DividendsClaimed(address indexed token, address indexed borrower, uint256 amount);
    /// @notice Base tokens nobody accounted for (donations) were added to the vault's cash.
    event Skimmed(address indexed caller, uint256 amount);

    // ------------------------------------------------------------------ errors

    error ZeroAmount();
    error ZeroAddress();
    /// @notice The rate model exceeds MAX_RATE or its kink is not within (0, 1].
    error InvalidRateModel();
    /// @notice Close factor outside [MIN_CLOSE_FACTOR_BPS, 10000] or bonus above MAX_BONUS_BPS.
    error InvalidLiquidationParameters();
    /// @notice The window is outside [MIN_WINDOW, MAX_WINDOW].
    error WindowOutOfBounds(uint256 window, uint256 min, uint256 max);
    /// @notice LTV must be below the threshold, and the threshold with the bonus below 100 %.
    error InvalidRiskParameters(uint256 ltvBps, uint256 thresholdBps);
    /// @notice The pool does not trade `token` against this vault's asset, or is not the market's.
    error PoolMismatch(address token, address pool);
    error MarketNotListed(address token);
    error MarketNotEnabled(address token);
    /// @notice No observation of the market is between one and two windows old.
    error NoValidPrice(address token);
    error BorrowCapExceeded(address token, uint256 marketDebt, uint256 cap);
    /// @notice The position's debt would exceed its borrowing limit.
    error Undercollateralized(uint256 debt, uint256 limit);
    error InsufficientCash(uint256 amount, uint256 cash);
    error InsufficientCollateral(uint256 amount, uint256 collateral);
    error NothingToRepay();
    /// @notice The repayment is worth less than one unit of scaled debt.
    error RepayTooSmall(uint256 amount);
    /// @notice The position's debt does not exceed its liquidation limit.
    error NotLiquidatable(uint256 debt, uint256 limit);
    error NothingToLiquidate();

    /// @param base_ The base token lent and borrowed (the vault's asset).
    /// @param owner_ The governor (the suite's Timelock).
    /// @param window_ Initial TWAP window, within [MIN_WINDOW, MAX_WINDOW].
    /// @param closeFactorBps_ Largest share of a debt one liquidation repays.
    /// @param bonusBps_ Liquidation bonus.
    /// @param rateModel_ [baseRate, slope1, slope2, kink] per second (WAD); rates at full
    /// utilization at most MAX_RATE.
    constructor(
        IERC20 base_,
        address owner_,
        uint256 window_,
        uint256 closeFactorBps_,
        uint256 bonusBps_,
        uint256[4] memory rateModel_
    ) ERC20("fl-node lending share", "flLEND") ERC4626(base_) Ownable(owner_) {
        if (address(base_) == address(0)) revert ZeroAddress();
        if (closeFactorBps_ < MIN_CLOSE_FACTOR_BPS || closeFactorBps_ > BPS || bonusBps_ > MAX_BONUS_BPS) {
            revert InvalidLiquidationParameters();
        }
        (uint256 r0, uint256 s1, uint256 s2, uint256 k) = (rateModel_[0], rateModel_[1], rateModel_[2], rateModel_[3]);
        if (k == 0 || k > WAD) revert InvalidRateModel();
        if (r0 + s1.mulDiv(k, WAD) + s2.mulDiv(WAD - k, WAD) > MAX_RATE) revert InvalidRateModel();
        closeFactorBps = closeFactorBps_;
        liquidationBonusBps = bonusBps_;
        (baseRate, slope1, slope2, kink) = (r0, s1, s2, k);
        _setWindow(window_);
        _borrowIndex = RAY;
        _lastAccrual = uint64(block.timestamp);
    }

    // ------------------------------------------------------------------ governance

    /// @notice List `token` with its pool, or reconfigure it. Owner (the Timelock) only, so every
    /// change is public for the timelock's delay before it applies.
    /// @dev A listed market keeps its pool (observations of another pool would be meaningless).
    /// Lowering LTV or threshold applies to existing positions too; disabling stops new deposits
    /// and borrows but never repayments, withdrawals or liquidations.
    /// @param token The client token used as collateral.
    /// @param pool Its pool against this vault's asset (`pool.token() == token`).
    /// @param ltvBps Borrowing limit as a share of the collateral's value.
    /// @param thresholdBps Liquidation threshold (above LTV; with the bonus, below 100 %).
    /// @param borrowCap Most base tokens the market's positions may owe after a borrow.
    /// @param enabled Whether collateral deposits and borrows are open.
    function setMarket(
        address token,
        address pool,
        uint256 ltvBps,
        uint256 thresholdBps,
        uint256 borrowCap,
        bool enabled
    ) external onlyOwner {
        if (ltvBps >= thresholdBps || thresholdBps * (BPS + liquidationBonusBps) >= BPS * BPS) {
            revert InvalidRiskParameters(ltvBps, thresholdBps);
        }
        Market storage m = _markets[token];
        bool listing = false;
        if (m.listed) {
            if (pool != m.pool) revert PoolMismatch(token, pool);
        } else {
            if (token == address(0) || pool == address(0)) revert ZeroAddress();
            if (
                IClientPool(pool).token() != token || IClientPool(pool).base() != asset()
                    || IClientToken(token).baseToken() != asset()
            ) revert PoolMismatch(token, pool);
            m.pool = pool;
            m.listed = true;
            listing = true;
        }
        m.ltvBps = uint16(ltvBps); // < thresholdBps < BPS
        m.thresholdBps = uint16(thresholdBps);
        m.borrowCap = borrowCap;
        m.enabled = enabled;
        emit MarketSet(token, pool, ltvBps, thresholdBps, borrowCap, enabled);
        _observe(token, m);
        // Dividends reach borrowers only through this contract's own claims (see the header).
        if (listing) IClientToken(token).refusePushes();
    }

    /// @notice Set the TWAP window (owner only), within [MIN_WINDOW, MAX_WINDOW]. Observations
    /// already made stay; which of them is valid follows the new window at once.
    /// @param window Seconds the average covers at least.
    function setTwapWindow(uint256 window) external onlyOwner {
        _setWindow(window);
    }

    // ------------------------------------------------------------------ oracle

    /// @notice Record an observation of `token`'s pool if the newest one is at least half a window
    /// old (otherwise nothing changes). Anyone may call it: keepers keep prices valid with it,
    /// and it is the exit when no valid price exists (poke, wait one window, act).
    /// @param token A listed client token.
    /// @return recorded Whether an observation was added.
    function pokeOracle(address token) external nonReentrant returns (bool recorded) {
        Market storage m = _listed(token);
        if (!_observationDue(m)) return false; // no call to the pool for nothing
        (, recorded) = _observe(token, m);
    }

    /// @notice The market's time-weighted price now: base per token, UQ112x112 (multiply an amount
    /// of tokens and divide by Q112 for its value in base).
    /// @param token A listed client token.
    /// @return valid Whether an observation one to two windows old exists.
    /// @return price The average price since that observation (0 when not valid).
    function twapPrice(address token) external view returns (bool valid, uint256 price) {
        Market storage m = _listed(token);
        (uint256 cumulative,,) = IClientPool(m.pool).currentCumulativePrices();
        return _twap(m, cumulative);
    }

    /// @notice Observation `i` of `token`'s ring (i < OBSERVATIONS), and which one is newest.
    /// @param token A listed client token.
    /// @param i Index in the ring.
    function observation(address token, uint256 i)
        external
        view
        returns (uint256 timestamp, uint256 cumulative, uint256 newest, uint256 count)
    {
        Market storage m = _markets[token];
        return (m.observedAt[i], m.observedCumulative[i], m.head, m.count);
    }

    // ------------------------------------------------------------------ views

    /// @notice The current borrow index (RAY), interest up to now included.
    function borrowIndex() public view returns (uint256) {
        return _indexNow();
    }

    /// @notice When interest was last accrued.
    function lastAccrual() external view returns (uint256) {
        return _lastAccrual;
    }

    /// @notice Seconds the TWAP covers at least (it covers at most twice as many).
    function twapWindow() public view returns (uint256) {
        return _twapWindow;
    }

    /// @notice What every position owes together now (rounded up).
    function totalDebt() public view returns (uint256) {
        return totalScaledDebt.mulDiv(_indexNow(), RAY, Math.Rounding.Ceil);
    }

    /// @notice The borrow rate per second (WAD) at the current utilization.
    function borrowRate() external view returns (uint256) {
        return _rate(cash, totalDebt());
    }

    /// @notice Vault assets: cash plus what borrowers owe now, interest included. Dividends held
    /// for borrowers and unaccounted donations are not assets of the lenders.
    function totalAssets() public view override returns (uint256) {
        return cash + totalDebt();
    }

    /// @notice What `holder` can withdraw now: its assets, at most the vault's cash.
    /// @dev Not OpenZeppelin's `previewRedeem(maxRedeem(holder))`, which rounds twice and would
    /// leave the last wei of cash out of reach.
    function maxWithdraw(address holder) public view override returns (uint256) {
        return Math.min(_convertToAssets(balanceOf(holder), Math.Rounding.Floor), cash);
    }

    /// @notice Shares `holder` can redeem now: its shares, at most those worth the vault's cash.
    function maxRedeem(address holder) public view override returns (uint256) {
        return Math.min(super.maxRedeem(holder), _convertToShares(cash, Math.Rounding.Floor));
    }

    /// @notice A market's configuration and totals.
    function marketOf(address token)
        external
        view
        returns (
            address pool,
            bool listed,
            bool enabled,
            uint256 ltvBps,
            uint256 thresholdBps,
            uint256 borrowCap,
            uint256 debt,
            uint256 collateral
        )
    {
        Market storage m = _markets[token];
        return (
            m.pool,
            m.listed,
            m.enabled,
            m.ltvBps,
            m.thresholdBps,
            m.borrowCap,
            m.scaledDebt.mulDiv(_indexNow(), RAY, Math.Rounding.Ceil),
            m.collateral
        );
    }

    /// @notice `borrower`'s position in `token`'s market now.
    /// @return collateral Client tokens deposited.
    /// @return debt Base tokens owed, interest included (rounded up).
    /// @return dividends Base-token dividends its collateral earned and it has not claimed.
    function positionOf(address token, address borrower)
        external
        view
        returns (uint256 collateral, uint256 debt, uint256 dividends)
    {
        Position storage p = _positions[token][borrower];
        Market storage m = _markets[token];
        uint256 perCollateral = m.dividendPerCollateral;
        if (m.collateral != 0) {
            uint256 owedToUs;
            try IClientToken(token).dividendOf(address(this)) returns (uint256 owed) {
                owedToUs = owed;
            } catch {}
            perCollateral += (owedToUs * DIVIDEND_PRECISION + m.dividendCarry) / m.collateral;
        }
        return (
            p.collateral,
            _debt(p.scaledDebt, _indexNow()),
            p.dividendOwed + p.collateral.mulDiv(perCollateral - p.dividendPaid, DIVIDEND_PRECISION)
        );
    }

    /// @notice `borrower`'s limits in `token`'s market at the current TWAP.
    /// @return valid Whether a valid TWAP exists (the other values are 0 when not).
    /// @return value Collateral value in base tokens.
    /// @return debt Current debt.
    /// @return borrowLimit value * LTV: the most the position may owe after a borrow or withdrawal.
    /// @return liquidationLimit value * threshold: above it the position is liquidatable.
    function accountLiquidity(address token, address borrower)
        external
        view
        returns (bool valid, uint256 value, uint256 debt, uint256 borrowLimit, uint256 liquidationLimit)
    {
        Market storage m = _listed(token);
        Position storage p = _positions[token][borrower];
        debt = _debt(p.scaledDebt, _indexNow());
        (uint256 cumulative,,) = IClientPool(m.pool).currentCumulativePrices();
        uint256 price;
        (valid, price) = _twap(m, cumulative);
        if (!valid) return (false, 0, debt, 0, 0);
        value = p.collateral.mulDiv(price, Q112);
        borrowLimit = value.mulDiv(m.ltvBps, BPS);
        liquidationLimit = value.mulDiv(m.thresholdBps, BPS);
    }

    // ------------------------------------------------------------------ lenders (ERC-4626)

    /// @notice Deposit `assets` base tokens for vault shares minted to `receiver`.
    /// @dev Interest is accrued first; the share price includes it either way (views accrue).
    function deposit(uint256 assets, address receiver) public override nonReentrant returns (uint256) {
        return super.deposit(assets, receiver);
    }

    /// @notice Mint exactly `shares` vault shares to `receiver` for the base tokens they are worth.
    function mint(uint256 shares, address receiver) public override nonReentrant returns (uint256) {
        return super.mint(shares, receiver);
    }

    /// @notice Withdraw `assets` base tokens of `holder`'s to `receiver`; at most the vault's cash
    /// (lent-out assets come back as borrowers repay or are liquidated).
    function withdraw(uint256 assets, address receiver, address holder)
        public
        override
        nonReentrant
        returns (uint256)
    {
        return super.withdraw(assets, receiver, holder);
    }

    /// @notice Redeem `shares` of `holder`'s for base tokens sent to `receiver`; at most those worth
    /// the vault's cash.
    function redeem(uint256 shares, address receiver, address holder)
        public
        override
        nonReentrant
        returns (uint256)
    {
        return super.redeem(shares, receiver, holder);
    }

    // ------------------------------------------------------------------ borrowers

    /// @notice Deposit `amount` of `token` as the caller's collateral. The market must be enabled.
    /// Dividends the collateral earns from now on are credited to the caller.
    /// @param token A listed, enabled client token (approve this contract first).
    /// @param amount Client tokens to deposit; what arrives is credited.
    function depositCollateral(address token, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Market storage m = _listed(token);
        if (!m.enabled) revert MarketNotEnabled(token);
        Position storage p = _positions[token][msg.sender];
        _harvest(token, m);
        _checkpoint(m, p);
        IERC20 asset_ = IERC20(token);
        uint256 before = asset_.balanceOf(address(this));
        asset_.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = asset_.balanceOf(address(this)) - before;
        m.collateral += received;
        p.collateral += received;
        emit CollateralDeposited(token, msg.sender, received);
    }

    /// @notice Withdraw `amount` of the caller's collateral to `to`. A position with debt must stay
    /// within its borrowing limit (LTV) at the TWAP, so it needs a valid price; one without debt
    /// withdraws at any time, whatever the market's state.
    /// @param token The client token.
    /// @param amount Client tokens to withdraw (at most the position's collateral).
    /// @param to Receiver.
    function withdrawCollateral(address token, uint256 amount, address to) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        Market storage m = _listed(token);
        Position storage p = _positions[token][msg.sender];
        if (amount > p.collateral) revert InsufficientCollateral(amount, p.collateral);
        uint256 index = _accrue();
        _harvest(token, m);
        _checkpoint(m, p);
        uint256 left = p.collateral - amount;
        if (p.scaledDebt != 0) {
            uint256 price = _price(token, m);
            uint256 debt = _debt(p.scaledDebt, index);
            uint256 limit = left.mulDiv(price, Q112).mulDiv(m.ltvBps, BPS);
            if (debt > limit) revert Undercollateralized(debt, limit);
        }
        p.collateral = left;
        m.collateral -= amount;
        emit CollateralWithdrawn(token, msg.sender, to, amount);
        IERC20(token).safeTransfer(to, amount);
    }

    /// @notice Borrow `amount` base tokens against the caller's collateral in `token`'s market,
    /// sent to `to`. Needs an enabled market, a valid TWAP, the debt after it within the LTV limit
    /// at the TWAP, the market's debt within its cap, and that much cash in the vault.
    /// @param token The client token.
    /// @param amount Base tokens to borrow.
    /// @param to Receiver.
    function borrow(address token, uint256 amount, address to) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        Market storage m = _listed(token);
        if (!m.enabled) revert MarketNotEnabled(token);
        uint256 index = _accrue();
        uint256 price = _price(token, m);
        if (amount > cash) revert InsufficientCash(amount, cash);
        Position storage p = _positions[token][msg.sender];
        uint256 shares = amount.mulDiv(RAY, index, Math.Rounding.Ceil);
        uint256 debt = _debt(p.scaledDebt + shares, index);
        uint256 limit = p.collateral.mulDiv(price, Q112).mulDiv(m.ltvBps, BPS);
        if (debt > limit) revert Undercollateralized(debt, limit);
        uint256 marketDebt = _debt(m.scaledDebt + shares, index);
        if (marketDebt > m.borrowCap) revert BorrowCapExceeded(token, marketDebt, m.borrowCap);
        p.scaledDebt += shares;
        m.scaledDebt += shares;
        totalScaledDebt += shares;
        cash -= amount;
        emit Borrowed(token, msg.sender, to, amount);
        IERC20(asset()).safeTransfer(to, amount);
    }

    /// @notice Repay up to `amount` of `borrower`'s debt in `token`'s market with the caller's base
    /// tokens (anyone may repay for anyone). Needs no price and works in any market state.
    /// @param token The client token.
    /// @param borrower Whose debt.
    /// @param amount Most base tokens to pay; anything at or above the debt pays it all.
    /// @return paid Base tokens pulled from the caller.
    function repay(address token, address borrower, uint256 amount) external nonReentrant returns (uint256 paid) {
        if (amount == 0) revert ZeroAmount();
        Market storage m = _listed(token);
        Position storage p = _positions[token][borrower];
        uint256 index = _accrue();
        uint256 debt = _debt(p.scaledDebt, index);
        if (debt == 0) revert NothingToRepay();
        uint256 shares;
        (shares, paid) = _sharesFor(p.scaledDebt, debt, amount, index);
        if (shares == 0) revert RepayTooSmall(amount);
        p.scaledDebt -= shares;
        m.scaledDebt -= shares;
        totalScaledDebt -= shares;
        cash += paid;
        emit Repaid(token, borrower, msg.sender, paid);
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), paid);
    }

    /// @notice Liquidate `borrower`'s position in `token`'s market if its debt exceeds the
    /// liquidation threshold of its collateral's value at the TWAP: repay up to `maxRepay` (at most
    /// `closeFactorBps` of the debt) with the caller's base tokens and receive collateral worth the
    /// repayment plus the bonus. If the collateral runs out, the caller gets all of it for its value
    /// less the bonus and the debt left is written off (`BadDebtWrittenOff`).
    /// @param token The client token.
    /// @param borrower The position to liquidate.
    /// @param maxRepay Most base tokens the caller pays.
    /// @return repaid Base tokens paid.
    /// @return seized Client tokens received.
    function liquidate(address token, address borrower, uint256 maxRepay)
        external
        nonReentrant
        returns (uint256 repaid, uint256 seized)
    {
        Market storage m = _listed(token);
        Position storage p = _positions[token][borrower];
        uint256 index = _accrue();
        uint256 price = _price(token, m);
        uint256 debt = _debt(p.scaledDebt, index);
        uint256 collateral = p.collateral;
        {
            uint256 limit = collateral.mulDiv(price, Q112).mulDiv(m.thresholdBps, BPS);
            if (debt == 0 || debt <= limit) revert NotLiquidatable(debt, limit);
        }
        _harvest(token, m);
        _checkpoint(m, p);

        repaid = Math.min(maxRepay, debt.mulDiv(closeFactorBps, BPS));
        uint256 withBonus = repaid.mulDiv(BPS + liquidationBonusBps, BPS);
        seized = price == 0 ? collateral : withBonus.mulDiv(Q112, price);
        if (seized > collateral) seized = collateral;
        if (seized == collateral) {
            // the collateral is exhausted: the caller pays its value less the bonus
            repaid = Math.min(repaid, collateral.mulDiv(price, Q112).mulDiv(BPS, BPS + liquidationBonusBps));
        }
        if (repaid == 0 && seized == 0) revert NothingToLiquidate();

        (uint256 shares,) = _sharesFor(p.scaledDebt, debt, repaid, index);
        uint256 scaledLeft = p.scaledDebt - shares;
        uint256 collateralLeft = collateral - seized;
        uint256 writtenOff;
        if (collateralLeft == 0 && scaledLeft != 0) {
            writtenOff = _debt(scaledLeft, index);
            shares += scaledLeft;
            scaledLeft = 0;
        }
        p.scaledDebt = scaledLeft;
        m.scaledDebt -= shares;
        totalScaledDebt -= shares;
        p.collateral = collateralLeft;
        m.collateral -= seized;
        cash += repaid;
        emit Liquidated(token, borrower, msg.sender, repaid, seized);
        if (writtenOff != 0) {
            badDebt += writtenOff;
            emit BadDebtWrittenOff(token, borrower, writtenOff);
        }
        if (repaid != 0) IERC20(asset()).safeTransferFrom(msg.sender, address(this), repaid);
        if (seized != 0) IERC20(token).safeTransfer(msg.sender, seized);
    }

    /// @notice Pay the caller the dividends its collateral in `token`'s market has earned (also
    /// after its collateral was withdrawn or liquidated).
    /// @param token The client token.
    /// @return amount Base tokens paid.
    function claimDividends(address token) external nonReentrant returns (uint256 amount) {
        Market storage m = _listed(token);
        Position storage p = _positions[token][msg.sender];
        _harvest(token, m);
        _checkpoint(m, p);
        amount = p.dividendOwed;
        if (amount == 0) return 0;
        p.dividendOwed = 0;
        dividendsHeld -= amount;
        emit DividendsClaimed(token, msg.sender, amount);
        IERC20(asset()).safeTransfer(msg.sender, amount);
    }

    /// @notice Claim `token`'s dividends owed to this contract and credit them to the collateral
    /// (every collateral change does it too). Anyone may call it.
    /// @param token A listed client token.
    /// @return amount Base tokens claimed.
    function harvestDividends(address token) external nonReentrant returns (uint256 amount) {
        return _harvest(token, _listed(token));
    }

    /// @notice Add base tokens this contract holds beyond its cash and the dividends it holds for
    /// borrowers (donations) to the vault's cash, for the lenders. Anyone may call it.
    /// @return amount Base tokens added.
    function skim() external nonReentrant returns (uint256 amount) {
        _accrue();
        amount = IERC20(asset()).balanceOf(address(this)) - cash - dividendsHeld;
        if (amount == 0) return 0;
        cash += amount;
        emit Skimmed(msg.sender, amount);
    }

    // ------------------------------------------------------------------ internals: vault

    /// @dev Accrue before the cash moves (the rate depends on it), then count the deposit.
    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        _accrue();
        cash += assets;
        super._deposit(caller, receiver, assets, shares);
    }

    function _withdraw(address caller, address receiver, address holder, uint256 assets, uint256 shares)
        internal
        override
    {
        _accrue();
        cash -= assets;
        super._withdraw(caller, receiver, holder, assets, shares);
    }

    /// @dev 10**6 virtual shares: a first depositor cannot inflate the share price to steal the
    /// next deposit (OpenZeppelin's defence; the cash being tracked makes donations inert anyway).
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    // ------------------------------------------------------------------ internals: interest

    function _rate(uint256 cash_, uint256 debt) private view returns (uint256 rate) {
        uint256 total = cash_ + debt;
        uint256 utilization = total == 0 ? 0 : debt.mulDiv(WAD, total);
        uint256 k = kink;
        rate = baseRate + Math.min(utilization, k).mulDiv(slope1, WAD);
        if (utilization > k) rate += (utilization - k).mulDiv(slope2, WAD);
    }

    function _indexNow() private view returns (uint256 index) {
        index = _borrowIndex;
        uint256 last = _lastAccrual;
        if (block.timestamp <= last || totalScaledDebt == 0) return index;
        uint256 debt = totalScaledDebt.mulDiv(index, RAY, Math.Rounding.Ceil);
        index += index.mulDiv(_rate(cash, debt) * (block.timestamp - last), WAD);
    }

    /// @dev Brings the index up to now; returns it.
    function _accrue() private returns (uint256 index) {
        uint256 last = _lastAccrual;
        if (block.timestamp <= last) return _borrowIndex;
        uint256 old = _borrowIndex;
        index = _indexNow();
        _lastAccrual = uint64(block.timestamp);
        if (index != old) {
            _borrowIndex = index;
            uint256 scaled = totalScaledDebt;
            emit InterestAccrued(
                index, scaled.mulDiv(index, RAY, Math.Rounding.Ceil) - scaled.mulDiv(old, RAY, Math.Rounding.Ceil)
            );
        }
    }

    function _debt(uint256 scaled, uint256 index) private pure returns (uint256) {
        return scaled.mulDiv(index, RAY, Math.Rounding.Ceil);
    }

    /// @dev Scaled debt cleared by paying `amount` of a debt of `debt` (`scaled` shares), and what
    /// is paid: all of it at or above the debt, else `amount` for its shares rounded down.
    function _sharesFor(uint256 scaled, uint256 debt, uint256 amount, uint256 index)
        private
        pure
        returns (uint256 shares, uint256 paid)
    {
        if (amount >= debt) return (scaled, debt);
        return (amount.mulDiv(RAY, index), amount);
    }

    // ------------------------------------------------------------------ internals: oracle

    function _setWindow(uint256 window) private {
        if (window < MIN_WINDOW || window > MAX_WINDOW) revert WindowOutOfBounds(window, MIN_WINDOW, MAX_WINDOW);
        _twapWindow = uint64(window); // <= MAX_WINDOW
        emit TwapWindowSet(window);
    }

    /// @dev Reads the pool's cumulative price now and records it when the ring is empty or its
    /// newest entry is at least half a window old. Returns the cumulative.
    function _observe(address token, Market storage m) private returns (uint256 cumulative, bool recorded) {
        (cumulative,,) = IClientPool(m.pool).currentCumulativePrices();
        if (!_observationDue(m)) return (cumulative, false);
        uint256 count = m.count;
        uint256 head = m.head;
        if (count != 0) head = (head + 1) % OBSERVATIONS;
        m.observedAt[head] = uint48(block.timestamp);
        m.observedCumulative[head] = cumulative;
        m.head = uint8(head);
        if (count < OBSERVATIONS) m.count = uint8(count + 1);
        emit Observed(token, cumulative, block.timestamp);
        return (cumulative, true);
    }

    /// @dev Whether the ring is empty or its newest observation is at least half a window old.
    function _observationDue(Market storage m) private view returns (bool) {
        return m.count == 0 || block.timestamp >= m.observedAt[m.head] + _twapWindow / 2;
    }

    /// @dev The TWAP from the newest observation at least one window old, if it is at most two
    /// windows old. The cumulatives wrap modulo 2**256 by design, hence the unchecked difference.
    function _twap(Market storage m, uint256 cumulative) private view returns (bool valid, uint256 price) {
        uint256 window = _twapWindow;
        uint256 count = m.count;
        uint256 best = type(uint256).max;
        uint256 bestAt;
        for (uint256 i = 0; i < count; ++i) {
            uint256 t = m.observedAt[i];
            if (t + window <= block.timestamp && (best == type(uint256).max || t > bestAt)) {
                (best, bestAt) = (i, t);
            }
        }
        if (best == type(uint256).max || block.timestamp - bestAt > 2 * window) return (false, 0);
        unchecked {
            price = (cumulative - m.observedCumulative[best]) / (block.timestamp - bestAt);
        }
        return (true, price);
    }

    /// @dev Observe, then the valid TWAP or a revert.
    function _price(address token, Market storage m) private returns (uint256 price) {
        (uint256 cumulative,) = _observe(token, m);
        bool valid;
        (valid, price) = _twap(m, cumulative);
        if (!valid) revert NoValidPrice(token);
    }

    function _listed(address token) private view returns (Market storage m) {
        m = _markets[token];
        if (!m.listed) revert MarketNotListed(token);
    }

    // ------------------------------------------------------------------ internals: dividends

    /// @dev Claims the dividends this contract's `token` balance earned and spreads them over the
    /// market's collateral (remainders carried). A token whose claim fails never blocks an exit.
    function _harvest(address token, Market storage m) private returns (uint256 amount) {
        try IClientToken(token).claimDividend() returns (uint256 claimed) {
            amount = claimed;
        } catch {
            return 0;
        }
        if (amount == 0) return 0;
        dividendsHeld += amount;
        uint256 pool_ = amount * DIVIDEND_PRECISION + m.dividendCarry;
        uint256 collateral = m.collateral;
        if (collateral == 0) {
            m.dividendCarry = pool_; // earned by donated tokens while no collateral lay here
        } else {
            uint256 increment = pool_ / collateral;
            m.dividendPerCollateral += increment;
            m.dividendCarry = pool_ - increment * collateral;
        }
        emit DividendsHarvested(token, amount);
    }

    function _checkpoint(Market storage m, Position storage p) private {
        uint256 perCollateral = m.dividendPerCollateral;
        uint256 paid = p.dividendPaid;
        if (paid == perCollateral) return;
        uint256 pending = p.collateral.mulDiv(perCollateral - paid, DIVIDEND_PRECISION);
        if (pending != 0) p.dividendOwed += pending;
        p.dividendPaid = perCollateral;
    }
}
