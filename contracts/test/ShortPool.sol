// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title ShortPool
/// @notice Test-only pool double that claims liquidity but pulls one wei less than the swap's
/// input and returns no tokens: the escrow must notice that the wrong amount left it.
contract ShortPool {
    IERC20 public immutable base;

    constructor(address base_) {
        base = IERC20(base_);
    }

    /// @notice Claims non-empty reserves, so the escrow attempts a buyback.
    function getReserves() external pure returns (uint256, uint256) {
        return (1e18, 1e18);
    }

    /// @notice Claims every swap buys something.
    function quoteBaseForTokens(uint256) external pure returns (uint256) {
        return 1;
    }

    /// @notice Pulls one wei less than `baseIn` and sends nothing back.
    function swapExactBaseForTokens(uint256 baseIn, uint256, address, uint256) external returns (uint256) {
        base.transferFrom(msg.sender, address(this), baseIn - 1);
        return 0;
    }
}
