// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IClientToken} from "../interfaces/IClientToken.sol";

interface ILendingViews {
    function cash() external view returns (uint256);
    function totalDebt() external view returns (uint256);
    function totalAssets() external view returns (uint256);
    function borrowIndex() external view returns (uint256);
    function totalScaledDebt() external view returns (uint256);
    function dividendsHeld() external view returns (uint256);
    function badDebt() external view returns (uint256);
    function totalSupply() external view returns (uint256);
    function positionOf(address token, address borrower) external view returns (uint256, uint256, uint256);
    function marketOf(address token)
        external
        view
        returns (address, bool, bool, uint256, uint256, uint256, uint256, uint256);
}

/// @title LendingLens
/// @notice TEST ONLY. Reads TokenLending's whole observable state for one market in one call, so
/// the stateful lending campaign checks its invariants after every step without dozens of calls.
contract LendingLens {
    /// @notice Fields of `state`'s header, then one per base holder, then three per borrower.
    uint256 public constant HEADER = 14;

    /// @notice [cash, totalDebt, totalAssets, borrowIndex, totalScaledDebt, dividendsHeld, badDebt,
    /// vault share supply, base supply, lending's base balance, lending's token balance, token
    /// dividends owed to lending, market collateral, market debt], then each holder's base balance,
    /// then each borrower's [collateral, debt, dividends].
    function state(
        address lending,
        address token,
        address base,
        address[] calldata holders,
        address[] calldata borrowers
    ) external view returns (uint256[] memory out) {
        ILendingViews l = ILendingViews(lending);
        out = new uint256[](HEADER + holders.length + 3 * borrowers.length);
        out[0] = l.cash();
        out[1] = l.totalDebt();
        out[2] = l.totalAssets();
        out[3] = l.borrowIndex();
        out[4] = l.totalScaledDebt();
        out[5] = l.dividendsHeld();
        out[6] = l.badDebt();
        out[7] = l.totalSupply();
        out[8] = IERC20(base).totalSupply();
        out[9] = IERC20(base).balanceOf(lending);
        out[10] = IERC20(token).balanceOf(lending);
        out[11] = IClientToken(token).dividendOf(lending);
        (,,,,,, out[13], out[12]) = l.marketOf(token);
        for (uint256 i = 0; i < holders.length; ++i) {
            out[HEADER + i] = IERC20(base).balanceOf(holders[i]);
        }
        uint256 at = HEADER + holders.length;
        for (uint256 i = 0; i < borrowers.length; ++i) {
            (out[at + 3 * i], out[at + 3 * i + 1], out[at + 3 * i + 2]) = l.positionOf(token, borrowers[i]);
        }
    }
}
