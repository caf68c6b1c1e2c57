// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title DevToken
/// @notice The base token of stakes, rewards and AMM quotes on local chains: a plain ERC-20 with
/// permit and burn, minted by a faucet account to the sponsor, clients and investors. On public
/// networks the suite is pointed at an existing ERC-20 (a stablecoin) instead.
contract DevToken is ERC20, ERC20Burnable, ERC20Permit, AccessControl {
    /// @notice Role allowed to mint new tokens (the local chain's faucet account).
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    uint8 private immutable _decimals;

    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    /// @param decimals_ Decimals (18 like most ERC-20s, 6 like USDC).
    /// @param admin Receives the admin role (grants and revokes minters).
    /// @param minter Receives the minter role (the faucet).
    constructor(string memory name_, string memory symbol_, uint8 decimals_, address admin, address minter)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        _decimals = decimals_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, minter);
    }

    /// @notice Decimals of the token's amounts.
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Mint `amount` tokens to `to`. Only for local chains: this is the one place base
    /// tokens are created, so conservation checks count mints explicitly.
    /// @param to Receiver of the new tokens.
    /// @param amount Amount in the token's smallest unit.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
