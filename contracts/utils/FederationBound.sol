// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title FederationBound
/// @notice A contract that only the Federation may drive, bound once and for good. The deployer
/// names the Federation right after deploying both (they reference each other, so one of them must
/// learn the other's address after construction); from then on nobody can change it, and the
/// deployer keeps no power: there is no admin to take funds, grant roles or upgrade.
abstract contract FederationBound {
    /// @notice The Federation contract, once bound (zero before).
    address public federation;
    address private _binder;

    /// @notice The contract was bound to `federation` for good.
    event FederationSet(address indexed federation);

    /// @notice A zero address where an account or contract is required.
    error ZeroAddress();
    /// @notice Only the deployer may bind, once.
    error NotBinder(address caller);
    /// @notice The Federation is bound already.
    error AlreadyBound(address federation);
    /// @notice Only the bound Federation may call this.
    error NotFederation(address caller);

    constructor() {
        _binder = msg.sender;
    }

    modifier onlyFederation() {
        if (msg.sender != federation || msg.sender == address(0)) revert NotFederation(msg.sender);
        _;
    }

    /// @notice Name the Federation that drives this contract (the deployer, once).
    /// @param federation_ The Federation contract.
    function bindFederation(address federation_) external {
        if (federation != address(0)) revert AlreadyBound(federation);
        if (msg.sender != _binder) revert NotBinder(msg.sender);
        if (federation_ == address(0)) revert ZeroAddress();
        federation = federation_;
        _binder = address(0);
        emit FederationSet(federation_);
    }
}
