// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title AdversarialToken
/// @notice TEST ONLY. An ERC-20 with switchable misbehaviour, to attack the market contracts:
/// a callback into another contract on every transfer (reentrancy), a fee on transfer (the receiver
/// gets less than was sent), and a hidden drain (the sender `victim` loses `drainAmount` extra on
/// each of its transfers, breaking the pool's constant-product invariant), and confiscation.
contract AdversarialToken is ERC20 {
    /// @notice Contract called back on every transfer while `hookTarget` is set.
    address public hookTarget;
    /// @notice Calldata of the callback.
    bytes public hookData;
    /// @notice Fee in basis points burned from every transfer between accounts.
    uint256 public transferFeeBps;
    /// @notice Account that silently loses `drainAmount` extra on each transfer it sends.
    address public drainVictim;
    /// @notice Extra amount burned from `drainVictim` per transfer.
    uint256 public drainAmount;

    /// @notice A token with no supply and every misbehaviour switched off.
    constructor() ERC20("Adversarial", "ADV") {}

    /// @notice Mint freely (test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Destroy `amount` of `account`'s tokens without its consent (a hostile token).
    function confiscate(address account, uint256 amount) external {
        _burn(account, amount);
    }

    /// @notice Call `target` with `data` on every transfer (zero target: off). Reverts bubble up.
    function setHook(address target, bytes calldata data) external {
        hookTarget = target;
        hookData = data;
    }

    /// @notice Burn `bps` of every transfer between accounts.
    function setTransferFee(uint256 bps) external {
        transferFeeBps = bps;
    }

    /// @notice Burn `amount` extra from `victim` on each of its transfers.
    function setDrain(address victim, uint256 amount) external {
        drainVictim = victim;
        drainAmount = amount;
    }

    /// @notice ERC-20 transfer, after the callback (if set).
    function transfer(address to, uint256 value) public override returns (bool) {
        _callHook();
        return super.transfer(to, value);
    }

    /// @notice ERC-20 transferFrom, after the callback (if set).
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _callHook();
        return super.transferFrom(from, to, value);
    }

    /// @dev Fee and drain apply to transfers between accounts, not to mints and burns.
    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = value * transferFeeBps / 10_000;
        super._update(from, to, value - fee);
        if (fee != 0) super._update(from, address(0), fee);
        if (from == drainVictim && drainAmount != 0) super._update(from, address(0), drainAmount);
    }

    function _callHook() private {
        address target = hookTarget;
        if (target == address(0)) return;
        (bool ok, bytes memory ret) = target.call(hookData);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }
}
