// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title SafeBurn
/// @notice Destroys base tokens a contract holds without ever blocking the caller. The base token is
/// any ERC-20 on public networks: its `burn` may not exist, may revert, or may return without
/// burning (or burn only part). Whatever `burn` did not destroy goes to a dead address; if even that
/// transfer fails, the tokens stay in the contract, where no account can ever claim them (the
/// caller's accounting has already written them off). A settlement that must destroy stake
/// therefore always completes.
library SafeBurn {
    using SafeERC20 for IERC20;

    /// @notice Where tokens go when the token cannot burn them.
    address internal constant DEAD = 0x000000000000000000000000000000000000dEaD;

    /// @notice How the tokens were destroyed.
    enum Route {
        Burned, // `burn` destroyed all of them
        Dead, // some or all went to DEAD
        Kept // the token refused both: they stay, written off, in the contract
    }

    /// @notice Destroy `amount` of `token` held by this contract.
    /// @param token The token (the suite's base token).
    /// @param amount Amount to destroy.
    /// @return route How they were destroyed.
    function burnOrBury(IERC20 token, uint256 amount) internal returns (Route route) {
        if (amount == 0) return Route.Burned;
        uint256 before = token.balanceOf(address(this));
        try ERC20Burnable(address(token)).burn(amount) {} catch {}
        uint256 remaining = token.balanceOf(address(this));
        uint256 gone = remaining < before ? before - remaining : 0;
        if (gone >= amount) return Route.Burned;
        return token.trySafeTransfer(DEAD, amount - gone) ? Route.Dead : Route.Kept;
    }
}
