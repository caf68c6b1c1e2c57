// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IClientPool
/// @notice A constant-product market (Uniswap v2 math) of one client token against the base token.
/// The pool pulls its inputs with `transferFrom` (no router): approve the pool first.
interface IClientPool {
    event Swap(
        address indexed sender,
        address indexed to,
        bool baseIn,
        uint256 amountIn,
        uint256 amountOut
    );
    event LiquidityAdded(
        address indexed provider, address indexed to, uint256 tokenAmount, uint256 baseAmount, uint256 liquidity
    );
    event LiquidityRemoved(
        address indexed provider, address indexed to, uint256 tokenAmount, uint256 baseAmount, uint256 liquidity
    );
    /// @notice Reserves after every change, and the price in base per token (1e18 = 1:1).
    event Sync(uint256 reserveToken, uint256 reserveBase, uint256 price);

    function initialize(address token_, address base_, uint256 feeBps_) external;

    function token() external view returns (address);

    function base() external view returns (address);

    function feeBps() external view returns (uint256);

    function getReserves() external view returns (uint256 reserveToken, uint256 reserveBase);

    /// @notice Base tokens per client token, 18 decimals; 0 before the first liquidity.
    function price() external view returns (uint256);

    /// @notice Sum over time of the base-per-token price (UQ112x112: `(reserveBase << 112) /
    /// reserveToken`) times the seconds it held, up to `blockTimestampLast()`; wraps modulo 2**256.
    function basePerTokenCumulativeLast() external view returns (uint256);

    /// @notice The same for the token-per-base price (`(reserveToken << 112) / reserveBase`).
    function tokenPerBaseCumulativeLast() external view returns (uint256);

    /// @notice When the cumulatives were last updated (the first reserve change of that block).
    function blockTimestampLast() external view returns (uint256);

    /// @notice Both cumulatives as they would be if updated at this block's timestamp (returned as
    /// `timestamp`). A time-weighted average price between two observations is
    /// `(cumulativeB - cumulativeA) / (timestampB - timestampA)` (UQ112x112), differences modulo 2**256.
    function currentCumulativePrices()
        external
        view
        returns (uint256 basePerTokenCumulative, uint256 tokenPerBaseCumulative, uint256 timestamp);

    function quoteBaseForTokens(uint256 baseIn) external view returns (uint256 tokensOut);

    function quoteTokensForBase(uint256 tokenIn) external view returns (uint256 baseOut);

    function addLiquidity(
        uint256 tokenDesired,
        uint256 baseDesired,
        uint256 tokenMin,
        uint256 baseMin,
        address to,
        uint256 deadline
    ) external returns (uint256 tokenUsed, uint256 baseUsed, uint256 liquidity);

    function removeLiquidity(uint256 liquidity, uint256 tokenMin, uint256 baseMin, address to, uint256 deadline)
        external
        returns (uint256 tokenOut, uint256 baseOut);

    function swapExactBaseForTokens(uint256 baseIn, uint256 minTokensOut, address to, uint256 deadline)
        external
        returns (uint256 tokensOut);

    function swapExactTokensForBase(uint256 tokenIn, uint256 minBaseOut, address to, uint256 deadline)
        external
        returns (uint256 baseOut);
}
