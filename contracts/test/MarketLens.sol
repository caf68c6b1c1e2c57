// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IClientPool} from "../interfaces/IClientPool.sol";
import {IClientToken} from "../interfaces/IClientToken.sol";

interface IDividendTotals {
    function totalDistributed() external view returns (uint256);
    function totalClaimed() external view returns (uint256);
}

/// @title MarketLens
/// @notice TEST ONLY. Reads a pool's whole observable state in one call, so the stateful market
/// campaign checks its invariants after every step without dozens of round trips.
contract MarketLens {
    /// @notice Fields of `state`'s header, then four per holder.
    uint256 public constant HEADER = 10;

    /// @notice [reserveToken, reserveBase, poolTokenBalance, poolBaseBalance, lpSupply, baseSupply,
    /// tokenSupply, totalDistributed, totalClaimed, tokenContractBaseBalance] followed, for each
    /// holder, by [baseBalance, tokenBalance, lpBalance, dividendOf].
    function state(address pool, address[] calldata holders) external view returns (uint256[] memory out) {
        IClientPool p = IClientPool(pool);
        IERC20 token = IERC20(p.token());
        IERC20 base = IERC20(p.base());
        out = new uint256[](HEADER + 4 * holders.length);
        (out[0], out[1]) = p.getReserves();
        out[2] = token.balanceOf(pool);
        out[3] = base.balanceOf(pool);
        out[4] = IERC20(pool).totalSupply();
        out[5] = base.totalSupply();
        out[6] = token.totalSupply();
        out[7] = IDividendTotals(address(token)).totalDistributed();
        out[8] = IDividendTotals(address(token)).totalClaimed();
        out[9] = base.balanceOf(address(token));
        for (uint256 i = 0; i < holders.length; ++i) {
            uint256 at = HEADER + 4 * i;
            out[at] = base.balanceOf(holders[i]);
            out[at + 1] = token.balanceOf(holders[i]);
            out[at + 2] = IERC20(pool).balanceOf(holders[i]);
            out[at + 3] = IClientToken(address(token)).dividendOf(holders[i]);
        }
    }
}
