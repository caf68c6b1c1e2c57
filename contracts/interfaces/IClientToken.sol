// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IClientToken
/// @notice One client's ERC-20 (a minimal-proxy clone made by the registry), with a dividend
/// accumulator in the base token: `distribute` streams base tokens to the holders pro rata to their
/// balances over time (reward-per-token, as Synthetix StakingRewards), and holders pull them with
/// `claimDividend`.
interface IClientToken is IERC20 {
    /// @notice Emitted when `amount` base tokens join the stream, which now ends at `periodFinish`.
    event DividendDistributed(address indexed from, uint256 amount, uint256 periodFinish);
    /// @notice Emitted when `holder`'s accrued dividends are paid to it.
    event DividendClaimed(address indexed holder, uint256 amount);
    /// @notice Emitted when `holder` refuses claims pushed by others.
    event PushesRefused(address indexed holder);

    /// @notice Set up a fresh clone: mints `supply` to `client`. Callable once.
    function initialize(
        string calldata name_,
        string calldata symbol_,
        address client_,
        uint256 supply,
        address baseToken_
    ) external;

    /// @notice The client this token belongs to.
    function client() external view returns (address);

    /// @notice The base token dividends are paid in.
    function baseToken() external view returns (address);

    /// @notice Pull `amount` base tokens from the caller and stream them to the holders.
    function distribute(uint256 amount) external;

    /// @notice Base tokens `holder` can claim now.
    function dividendOf(address holder) external view returns (uint256);

    /// @notice Pay the caller's accrued dividends to it; returns the amount.
    function claimDividend() external returns (uint256);

    /// @notice Pay `holder`'s accrued dividends to `holder` (anyone may trigger it, unless
    /// `holder` refused pushes).
    function claimDividendFor(address holder) external returns (uint256);

    /// @notice From now on only the caller itself claims its dividends: `claimDividendFor(caller)`
    /// by anyone else reverts. For contracts that credit dividends by what their own claims return
    /// (a lending contract crediting its collateral's dividends to borrowers). Irreversible.
    function refusePushes() external;

    /// @notice Whether `holder` refused pushed claims.
    function refusesPushes(address holder) external view returns (bool);

    /// @notice Destroy `amount` of the caller's tokens.
    function burn(uint256 amount) external;
}
