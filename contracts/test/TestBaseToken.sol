// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestBaseToken
/// @notice Test-only base token: a mintable ERC-20 whose `burn` can be made to work, revert or
/// silently do nothing, and which can re-enter a target once, during a transfer out of a chosen
/// account (to probe the suite's reentrancy guards). Never deployed outside tests.
contract TestBaseToken is ERC20 {
    /// @notice How `burn` behaves.
    enum BurnMode {
        Burns,
        Reverts,
        NoOp
    }

    /// @notice The current burn behaviour.
    BurnMode public burnMode;
    /// @notice The re-entry fires on the next transfer out of `hookFrom`.
    address public hookFrom;
    /// @notice The contract called back during that transfer.
    address public hookTarget;
    /// @notice The calldata of the call back.
    bytes public hookData;

    /// @notice `burn` is switched off.
    error BurnDisabled();

    constructor() ERC20("Test Base", "TB") {}

    /// @notice Mint `amount` to `to` (anyone: test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Choose how `burn` behaves.
    function setBurnMode(BurnMode mode) external {
        burnMode = mode;
    }

    /// @notice Destroy `amount` of the caller's tokens (per `burnMode`).
    function burn(uint256 amount) external {
        if (burnMode == BurnMode.Reverts) revert BurnDisabled();
        if (burnMode == BurnMode.NoOp) return;
        _burn(msg.sender, amount);
    }

    /// @notice On the next transfer out of `from`, call `target` with `data`, bubbling a revert.
    function arm(address from, address target, bytes calldata data) external {
        hookFrom = from;
        hookTarget = target;
        hookData = data;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from != address(0) && from == hookFrom) {
            hookFrom = address(0);
            (bool ok, bytes memory ret) = hookTarget.call(hookData);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 32), mload(ret))
                }
            }
        }
    }
}
