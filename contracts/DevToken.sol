// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title DevToken
/// @notice The base token of stakes, rewards and AMM quotes on local chains: a plain ERC-20 with
/// permit and burn, minted by the deploy script to the sponsor, clients and investors. On public
/// networks the suite is pointed at an existing ERC-20 (a stablecoin) instead.
contract DevToken is ERC20, ERC20Burnable, ERC20Permit, AccessControl {
    /// @notice Role allowed to mint new tokens (the deployer on local chains).
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    /// @param admin Receives the admin and minter roles.
    constructor(string memory name_, string memory symbol_, address admin)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /// @notice Mint `amount` tokens to `to`. Only for local chains: this is the one place base
    /// tokens are created, so conservation checks count mints explicitly.
    /// @param to Receiver of the new tokens.
    /// @param amount Amount in wei (18 decimals).
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
