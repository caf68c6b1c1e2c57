// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {ERC20Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/ERC20Upgradeable.sol";

import {IClientPool} from "./interfaces/IClientPool.sol";
import {IClientToken} from "./interfaces/IClientToken.sol";

/// @title ClientPool
/// @notice Constant-product market (Uniswap v2 math) of one client token against the base token,
/// and the ERC-20 of its liquidity shares ("fl-node LP", FLP). There is no router: the pool pulls
/// its inputs with `transferFrom`, so approve it first. Every swap carries a `minOut` bound and a
/// deadline; every change of reserves emits `Sync` with the new price, so price history is on-chain.
/// The pool is also a price oracle, as Uniswap v2's pair: it accumulates both prices (base per
/// token and token per base, UQ112x112 fixed point) times the seconds each held, so anyone can
/// take a time-weighted average price between two observations of `currentCumulativePrices()`.
/// @dev Deployed once as an implementation (locked by its constructor) and used through
/// minimal-proxy clones made by ClientRegistry. Reserves are always re-read from balances after a
/// change, and every swap checks the fee-adjusted constant-product invariant at its end.
///
/// Oracle (UniswapV2Pair._update): on the first reserve change of a block, each cumulative grows by
/// the price of the reserves stored BEFORE that change times the seconds since the last update,
/// so a price counts only once it has survived to the end of a block (a trade and its reversal in
/// the same block leave no trace), and later changes in the same block add nothing. A price is
/// `(reserveOther << 112) / reserve` (UQ112x112: the integer part in the high bits, 112 fractional
/// bits), rounded down; a ratio of 2**144 or more (unreachable for real supplies) saturates at
/// the largest UQ112x112 value instead of reverting, so the oracle can never block trading. The
/// cumulatives are meant to overflow: they are added in `unchecked` arithmetic modulo 2**256, and a
/// reader takes the difference of two observations modulo 2**256, which is exact as long as the
/// true difference is below 2**256 (price * seconds < 2**144 * 2**112: any realistic window).
/// The update's timestamp is 48 bits (8.9 million years), packed with the fee into `token`'s slot.
contract ClientPool is IClientPool, Initializable, ERC20Upgradeable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Liquidity locked forever at the first deposit (as Uniswap v2), so shares can never be
    /// inflated by donating to an almost empty pool.
    uint256 public constant MINIMUM_LIQUIDITY = 1000;
    /// @notice Holder of the locked minimum liquidity.
    address public constant DEAD = 0x000000000000000000000000000000000000dEaD;
    /// @notice The highest swap fee: 10 %.
    uint256 public constant MAX_FEE_BPS = 1000;
    uint256 private constant BPS = 10_000;

    /// @notice Fixed-point scale of the cumulative prices (UQ112x112, as Uniswap v2).
    uint256 public constant Q112 = 2 ** 112;
    /// @dev A price ratio at or above this saturates (its UQ112x112 value would exceed 256 bits).
    uint256 private constant MAX_RATIO = 2 ** 144;

    /// @inheritdoc IClientPool
    address public token;
    /// @dev The swap fee (<= MAX_FEE_BPS), packed into `token`'s slot: every swap reads both, and
    /// one cold slot costs 2,100 gas less than two. Read through `feeBps()`.
    uint16 private _feeBps;
    /// @dev Timestamp of the last oracle update (the last reserve change of an earlier block),
    /// packed into `token`'s slot too: the slot is warm whenever the reserves change, so reading
    /// and writing it costs no cold access. Read through `blockTimestampLast()`.
    uint48 private _blockTimestampLast;
    /// @inheritdoc IClientPool
    address public base;
    /// @dev Whether the first deposit was made, packed into `base`'s slot (which every pool action
    /// reads anyway). Equivalent to `totalSupply() != 0`, since MINIMUM_LIQUIDITY stays with DEAD
    /// for good, but spares every swap the cold read of the supply (2,100 gas).
    bool private _seeded;

    uint256 private _reserveToken;
    uint256 private _reserveBase;

    /// @inheritdoc IClientPool
    uint256 public basePerTokenCumulativeLast;
    /// @inheritdoc IClientPool
    uint256 public tokenPerBaseCumulativeLast;

    /// @notice The pool's own client-token dividends were claimed into the base reserve.
    event DividendsHarvested(address indexed caller, uint256 amount);

    /// @notice The fee is above MAX_FEE_BPS.
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice A zero address where a token is required.
    error ZeroAddress();
    /// @notice The client token and the base token must differ.
    error IdenticalTokens(address token);
    /// @notice The deadline has passed.
    error Expired(uint256 deadline, uint256 timestamp);
    /// @notice A zero input amount.
    error ZeroAmount();
    /// @notice The pool has no liquidity to trade against.
    error NoLiquidity();
    /// @notice The output is below the caller's bound.
    error InsufficientOutput(uint256 amountOut, uint256 minAmountOut);
    /// @notice The fee-adjusted constant product decreased.
    error KInvariant();
    /// @notice The client-token amount used is below the caller's bound.
    error InsufficientTokenAmount(uint256 amount, uint256 minAmount);
    /// @notice The base amount used is below the caller's bound.
    error InsufficientBaseAmount(uint256 amount, uint256 minAmount);
    /// @notice The deposit is too small to mint any liquidity.
    error InsufficientLiquidityMinted();
    /// @notice The burn is too small to pay out anything.
    error InsufficientLiquidityBurned();
    /// @notice Outputs cannot go to the zero address or to either of the pool's tokens.
    error InvalidRecipient(address to);

    modifier ensure(uint256 deadline) {
        if (block.timestamp > deadline) revert Expired(deadline, block.timestamp);
        _;
    }

    modifier validRecipient(address to) {
        if (to == address(0) || to == token || to == base) revert InvalidRecipient(to);
        _;
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @inheritdoc IClientPool
    /// @dev Reverts with `InvalidInitialization` on a second call and on the implementation.
    function initialize(address token_, address base_, uint256 feeBps_) external initializer {
        if (token_ == address(0) || base_ == address(0)) revert ZeroAddress();
        if (token_ == base_) revert IdenticalTokens(token_);
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        __ERC20_init("fl-node LP", "FLP");
        token = token_;
        base = base_;
        _feeBps = uint16(feeBps_); // <= MAX_FEE_BPS, checked above
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IClientPool
    function feeBps() public view returns (uint256) {
        return _feeBps;
    }

    /// @inheritdoc IClientPool
    function getReserves() external view returns (uint256 reserveToken, uint256 reserveBase) {
        return (_reserveToken, _reserveBase);
    }

    /// @inheritdoc IClientPool
    function price() public view returns (uint256) {
        return _price(_reserveToken, _reserveBase);
    }

    /// @inheritdoc IClientPool
    function blockTimestampLast() external view returns (uint256) {
        return _blockTimestampLast;
    }

    /// @inheritdoc IClientPool
    /// @dev UniswapV2OracleLibrary.currentCumulativePrices: the stored cumulatives plus the stored
    /// reserves' prices times the seconds since the last update, i.e. what the cumulatives would be
    /// if the reserves were updated now. Costs no transaction, so observers need not trade.
    function currentCumulativePrices()
        external
        view
        returns (uint256 basePerTokenCumulative, uint256 tokenPerBaseCumulative, uint256 timestamp)
    {
        basePerTokenCumulative = basePerTokenCumulativeLast;
        tokenPerBaseCumulative = tokenPerBaseCumulativeLast;
        timestamp = block.timestamp;
        uint256 rT = _reserveToken;
        uint256 rB = _reserveBase;
        uint256 last = _blockTimestampLast;
        if (timestamp != last && rT != 0 && rB != 0) {
            unchecked {
                uint256 elapsed = timestamp - last;
                basePerTokenCumulative += _uq112(rB, rT) * elapsed;
                tokenPerBaseCumulative += _uq112(rT, rB) * elapsed;
            }
        }
    }

    /// @inheritdoc IClientPool
    /// @dev The same formula and reserves as `swapExactBaseForTokens`; 0 without liquidity.
    function quoteBaseForTokens(uint256 baseIn) external view returns (uint256 tokensOut) {
        (uint256 rT, uint256 rB) = _tradingReserves();
        return getAmountOut(baseIn, rB, rT, _feeBps);
    }

    /// @inheritdoc IClientPool
    /// @dev The same formula and reserves as `swapExactTokensForBase`; 0 without liquidity.
    function quoteTokensForBase(uint256 tokenIn) external view returns (uint256 baseOut) {
        (uint256 rT, uint256 rB) = _tradingReserves();
        return getAmountOut(tokenIn, rT, rB, _feeBps);
    }

    /// @notice Uniswap v2 output for an exact input with the fee taken on the input:
    /// `in*(10000-fee)*reserveOut / (reserveIn*10000 + in*(10000-fee))`.
    /// @param amountIn Exact input amount.
    /// @param reserveIn Reserve of the input token.
    /// @param reserveOut Reserve of the output token.
    /// @param fee Fee in basis points.
    /// @return The output amount, rounded down; 0 when either reserve is empty.
    function getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut, uint256 fee)
        public
        pure
        returns (uint256)
    {
        if (reserveIn == 0 || reserveOut == 0) return 0;
        uint256 inWithFee = amountIn * (BPS - fee);
        return Math.mulDiv(inWithFee, reserveOut, reserveIn * BPS + inWithFee);
    }

    // ------------------------------------------------------------------ liquidity

    /// @inheritdoc IClientPool
    /// @notice Deposit both tokens for LP shares minted to `to`. The first deposit sets the price
    /// with both desired amounts and locks MINIMUM_LIQUIDITY; later ones take the current ratio
    /// (as the Uniswap v2 router) and pull only what they use.
    /// @param tokenDesired Most client tokens to deposit.
    /// @param baseDesired Most base tokens to deposit.
    /// @param tokenMin Fewest client tokens acceptable (slippage bound).
    /// @param baseMin Fewest base tokens acceptable (slippage bound).
    /// @param to Receiver of the LP shares.
    /// @param deadline Latest block timestamp.
    function addLiquidity(
        uint256 tokenDesired,
        uint256 baseDesired,
        uint256 tokenMin,
        uint256 baseMin,
        address to,
        uint256 deadline
    )
        external
        nonReentrant
        ensure(deadline)
        validRecipient(to)
        returns (uint256 tokenUsed, uint256 baseUsed, uint256 liquidity)
    {
        if (tokenDesired == 0 || baseDesired == 0) revert ZeroAmount();
        // Dividends the pool's tokens earned, and donations made since the last change, belong to
        // the current LPs: fold them in first, so the newcomer pays the ratio that includes them.
        (bool known, uint256 rT, uint256 rB) = _harvest();
        if (!known) (rT, rB) = _balances();
        uint256 supply = totalSupply();
        if (supply == 0) {
            (tokenUsed, baseUsed) = (tokenDesired, baseDesired);
        } else {
            if (rT == 0 || rB == 0) revert NoLiquidity();
            uint256 baseOptimal = Math.mulDiv(tokenDesired, rB, rT);
            if (baseOptimal <= baseDesired) {
                (tokenUsed, baseUsed) = (tokenDesired, baseOptimal);
            } else {
                (tokenUsed, baseUsed) = (Math.mulDiv(baseDesired, rT, rB), baseDesired);
            }
        }
        if (tokenUsed < tokenMin) revert InsufficientTokenAmount(tokenUsed, tokenMin);
        if (baseUsed < baseMin) revert InsufficientBaseAmount(baseUsed, baseMin);

        // rT is the balance right before this pull (no call in between); the token's transfer is a
        // call, so the base balance is read again before the second pull.
        uint256 tokenIn = _pull(token, tokenUsed, rT);
        uint256 baseIn = _pull(base, baseUsed, IERC20(base).balanceOf(address(this)));
        if (supply == 0) {
            uint256 root = Math.sqrt(tokenIn * baseIn);
            if (root <= MINIMUM_LIQUIDITY) revert InsufficientLiquidityMinted();
            liquidity = root - MINIMUM_LIQUIDITY;
            _mint(DEAD, MINIMUM_LIQUIDITY);
            _seeded = true;
        } else {
            liquidity = Math.min(Math.mulDiv(tokenIn, supply, rT), Math.mulDiv(baseIn, supply, rB));
            if (liquidity == 0) revert InsufficientLiquidityMinted();
        }
        _mint(to, liquidity);
        emit LiquidityAdded(msg.sender, to, tokenIn, baseIn, liquidity);
        _sync();
        return (tokenIn, baseIn, liquidity);
    }

    /// @inheritdoc IClientPool
    /// @notice Burn `liquidity` of the caller's LP shares for its pro-rata part of both reserves
    /// (including donations and harvested dividends not yet synced).
    /// @param liquidity LP shares to burn.
    /// @param tokenMin Fewest client tokens acceptable.
    /// @param baseMin Fewest base tokens acceptable.
    /// @param to Receiver of both tokens.
    /// @param deadline Latest block timestamp.
    function removeLiquidity(uint256 liquidity, uint256 tokenMin, uint256 baseMin, address to, uint256 deadline)
        external
        nonReentrant
        ensure(deadline)
        validRecipient(to)
        returns (uint256 tokenOut, uint256 baseOut)
    {
        if (liquidity == 0) revert ZeroAmount();
        (bool known, uint256 rT, uint256 rB) = _harvest();
        if (!known) (rT, rB) = _balances();
        (tokenOut, baseOut) = _shareOf(liquidity, rT, rB);
        if (tokenOut < tokenMin) revert InsufficientTokenAmount(tokenOut, tokenMin);
        if (baseOut < baseMin) revert InsufficientBaseAmount(baseOut, baseMin);
        _burn(msg.sender, liquidity);
        IERC20(token).safeTransfer(to, tokenOut);
        IERC20(base).safeTransfer(to, baseOut);
        emit LiquidityRemoved(msg.sender, to, tokenOut, baseOut, liquidity);
        _sync();
    }

    // ------------------------------------------------------------------ swaps

    /// @inheritdoc IClientPool
    /// @notice Sell exactly `baseIn` base tokens for client tokens sent to `to`.
    /// @param baseIn Base tokens to sell (pulled from the caller).
    /// @param minTokensOut Fewest client tokens acceptable, else `InsufficientOutput`.
    /// @param to Receiver of the client tokens.
    /// @param deadline Latest block timestamp.
    function swapExactBaseForTokens(uint256 baseIn, uint256 minTokensOut, address to, uint256 deadline)
        external
        nonReentrant
        ensure(deadline)
        validRecipient(to)
        returns (uint256 tokensOut)
    {
        tokensOut = _swap(base, token, baseIn, minTokensOut, to, true);
    }

    /// @inheritdoc IClientPool
    /// @notice Sell exactly `tokenIn` client tokens for base tokens sent to `to`.
    /// @param tokenIn Client tokens to sell (pulled from the caller).
    /// @param minBaseOut Fewest base tokens acceptable, else `InsufficientOutput`.
    /// @param to Receiver of the base tokens.
    /// @param deadline Latest block timestamp.
    function swapExactTokensForBase(uint256 tokenIn, uint256 minBaseOut, address to, uint256 deadline)
        external
        nonReentrant
        ensure(deadline)
        validRecipient(to)
        returns (uint256 baseOut)
    {
        baseOut = _swap(token, base, tokenIn, minBaseOut, to, false);
    }

    // ------------------------------------------------------------------ upkeep

    /// @notice Fold tokens sent to the pool without a swap or deposit (donations) into the reserves.
    function sync() external nonReentrant {
        _sync();
    }

    /// @notice Claim the pool's own client-token dividends into the base reserve (they belong to
    /// the LPs, who own the pool's client tokens), then sync. Every swap and liquidity change does
    /// this first, so dividends never leak between LPs who come and go.
    /// @return amount Base tokens claimed.
    function harvestDividends() external nonReentrant returns (uint256 amount) {
        amount = IClientToken(token).claimDividend();
        emit DividendsHarvested(msg.sender, amount);
        _sync();
    }

    // ------------------------------------------------------------------ internals

    /// @dev Claims the pool's dividends and folds everything the pool received since the last
    /// change (those dividends, dividends someone pushed with `claimDividendFor`, donations) into
    /// its reserves, so every swap and liquidity change prices them in: they belong to the LPs
    /// of that moment. A token without dividends (or failing to pay them) never blocks trading.
    /// Returns the balances it read (`known`), which callers reuse until their next external call
    /// instead of asking both tokens again (each `balanceOf` is a call, through a clone for the
    /// client token).
    function _harvest() private returns (bool known, uint256 rT, uint256 rB) {
        try IClientToken(token).claimDividend() returns (uint256 amount) {
            if (amount > 0) emit DividendsHarvested(msg.sender, amount);
        } catch {}
        if (!_seeded) return (false, 0, 0); // before the first deposit there is nothing to price
        (rT, rB) = _balances();
        if (rT != _reserveToken || rB != _reserveBase) _syncTo(rT, rB);
        known = true;
    }

    /// @dev The reserves the next swap will trade against: the stored ones plus what `_harvest`
    /// will fold in first (dividends owed to the pool, tokens received since the last change).
    function _tradingReserves() private view returns (uint256 rT, uint256 rB) {
        if (totalSupply() == 0) return (_reserveToken, _reserveBase);
        (rT, rB) = _balances();
        try IClientToken(token).dividendOf(address(this)) returns (uint256 owed) {
            rB += owed;
        } catch {}
    }

    function _swap(address tokenIn, address tokenOut, uint256 amountIn, uint256 minOut, address to, bool baseIn)
        private
        returns (uint256 amountOut)
    {
        if (amountIn == 0) revert ZeroAmount();
        (bool known, uint256 balT, uint256 balB) = _harvest();
        (uint256 rIn, uint256 rOut) = baseIn ? (_reserveBase, _reserveToken) : (_reserveToken, _reserveBase);
        if (rIn == 0 || rOut == 0) revert NoLiquidity();

        // The input token's balance read by _harvest is still current: no call since.
        uint256 before = known ? (baseIn ? balB : balT) : IERC20(tokenIn).balanceOf(address(this));
        uint256 received = _pull(tokenIn, amountIn, before);
        uint256 fee = _feeBps;
        amountOut = getAmountOut(received, rIn, rOut, fee);
        if (amountOut < minOut || amountOut == 0) revert InsufficientOutput(amountOut, minOut);
        IERC20(tokenOut).safeTransfer(to, amountOut);
        (uint256 balIn, uint256 balOut) = _checkK(tokenIn, tokenOut, received, rIn, rOut, fee);
        emit Swap(msg.sender, to, baseIn, received, amountOut);
        // The balances the K check just read are the reserves: no call since.
        if (baseIn) _syncTo(balOut, balIn);
        else _syncTo(balIn, balOut);
    }

    /// @dev Fee-adjusted constant product, as Uniswap v2 (the fee part of the input does not count):
    /// (balIn*10000 - in*fee) * balOut*10000 >= rIn*rOut*10000^2. Both sides are divided by 10000
    /// and compared in 512 bits, so no reserve size can overflow the check.
    /// Returns the balances it checked.
    function _checkK(address tokenIn, address tokenOut, uint256 received, uint256 rIn, uint256 rOut, uint256 fee)
        private
        view
        returns (uint256 balIn, uint256 balOut)
    {
        balIn = IERC20(tokenIn).balanceOf(address(this));
        balOut = IERC20(tokenOut).balanceOf(address(this));
        if (balIn * BPS < received * fee) revert KInvariant();
        (uint256 newHigh, uint256 newLow) = Math.mul512(balIn * BPS - received * fee, balOut);
        (uint256 oldHigh, uint256 oldLow) = Math.mul512(rIn * BPS, rOut);
        if (newHigh < oldHigh || (newHigh == oldHigh && newLow < oldLow)) revert KInvariant();
    }

    /// @dev Pull `amount` of `asset` from the caller; returns what actually arrived. `before` is the
    /// pool's balance of `asset` read by the caller with no external call since.
    function _pull(address asset, uint256 amount, uint256 before) private returns (uint256) {
        IERC20 erc20 = IERC20(asset);
        erc20.safeTransferFrom(msg.sender, address(this), amount);
        return erc20.balanceOf(address(this)) - before;
    }

    /// @dev Both tokens owed for burning `liquidity`, against the balances `rT`, `rB` (pending
    /// donations included).
    function _shareOf(uint256 liquidity, uint256 rT, uint256 rB)
        private
        view
        returns (uint256 tokenOut, uint256 baseOut)
    {
        uint256 supply = totalSupply();
        tokenOut = Math.mulDiv(liquidity, rT, supply);
        baseOut = Math.mulDiv(liquidity, rB, supply);
        if (tokenOut == 0 && baseOut == 0) revert InsufficientLiquidityBurned();
    }

    function _balances() private view returns (uint256 tokenBalance, uint256 baseBalance) {
        tokenBalance = IERC20(token).balanceOf(address(this));
        baseBalance = IERC20(base).balanceOf(address(this));
    }

    function _sync() private {
        (uint256 rT, uint256 rB) = _balances();
        _syncTo(rT, rB);
    }

    /// @dev Store `rT`, `rB` (the current balances, just read) as the reserves. On the first change
    /// of a block, the oracle first accumulates the prices of the reserves stored until now over
    /// the seconds they held (UniswapV2Pair._update); the cumulatives wrap by design.
    function _syncTo(uint256 rT, uint256 rB) private {
        uint256 last = _blockTimestampLast;
        if (block.timestamp != last) {
            uint256 oldT = _reserveToken;
            uint256 oldB = _reserveBase;
            if (oldT != 0 && oldB != 0) {
                unchecked {
                    uint256 elapsed = block.timestamp - last;
                    basePerTokenCumulativeLast += _uq112(oldB, oldT) * elapsed;
                    tokenPerBaseCumulativeLast += _uq112(oldT, oldB) * elapsed;
                }
            }
            _blockTimestampLast = uint48(block.timestamp); // good until the year 8.9 million
        }
        _reserveToken = rT;
        _reserveBase = rB;
        emit Sync(rT, rB, _price(rT, rB));
    }

    /// @dev `numerator / denominator` as UQ112x112, rounded down; saturates at type(uint256).max
    /// when the ratio is 2**144 or more. Both arguments are positive.
    function _uq112(uint256 numerator, uint256 denominator) private pure returns (uint256) {
        if (numerator / denominator >= MAX_RATIO) return type(uint256).max;
        return Math.mulDiv(numerator, Q112, denominator);
    }

    function _price(uint256 rT, uint256 rB) private pure returns (uint256) {
        return rT == 0 ? 0 : Math.mulDiv(rB, 1e18, rT);
    }
}
