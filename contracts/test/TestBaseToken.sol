// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestBaseToken
/// @notice Test-only base token: a mintable ERC-20 whose `burn` can be made to work, revert,
/// silently do nothing or burn only part, which can take a fee on transfers (the receiver gets
/// less), and which can re-enter a target once, during a transfer out of a chosen account (to probe
/// the suite's reentrancy guards). Never deployed outside tests.
contract TestBaseToken is ERC20 {
    /// @notice How `burn` behaves.
    enum BurnMode {
        Burns,
        Reverts,
        NoOp,
        Half
    }

    /// @notice The current burn behaviour.
    BurnMode public burnMode;
    /// @notice The re-entry fires on the next transfer out of `hookFrom`.
    address public hookFrom;
    /// @notice The contract called back during that transfer.
    address public hookTarget;
    /// @notice Fee in basis points destroyed from every transfer between accounts.
    uint256 public transferFeeBps;
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
        _burn(msg.sender, burnMode == BurnMode.Half ? amount / 2 : amount);
    }

    /// @notice Destroy `bps` of every transfer between accounts (a fee-on-transfer token).
    function setTransferFee(uint256 bps) external {
        transferFeeBps = bps;
    }

    /// @notice On the next transfer out of `from`, call `target` with `data`, bubbling a revert.
    function arm(address from, address target, bytes calldata data) external {
        hookFrom = from;
        hookTarget = target;
        hookData = data;
    }

    function _update(address from, address to, uint256 value) internal override {
        uint256 fee = (from == address(0) || to == address(0)) ? 0 : value * transferFeeBps / 10_000;
        super._update(from, to, value - fee);
        if (fee != 0) super._update(from, address(0), fee);
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
