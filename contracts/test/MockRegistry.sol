// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IClientRegistry} from "../interfaces/IClientRegistry.sol";

/// @title MockRegistry
/// @notice Test-only registry: `register` records the caller and creates nothing; a test wires
/// any token and pool addresses to a client with `setClient`. Never deployed outside tests.
contract MockRegistry is IClientRegistry {
    /// @notice The base token the escrow checks against.
    address public immutable baseToken;
    mapping(address client => address) public tokenOf;
    mapping(address client => address) public poolOf;
    mapping(address token => address) public clientOf;
    mapping(address client => bool) public isRegistered;
    address[] private _clients;

    constructor(address base) {
        baseToken = base;
    }

    /// @notice Record `client` with `token` and `pool` (any addresses, even zero).
    function setClient(address client, address token, address pool) external {
        if (!isRegistered[client]) {
            isRegistered[client] = true;
            _clients.push(client);
        }
        tokenOf[client] = token;
        poolOf[client] = pool;
        clientOf[token] = client;
        emit ClientRegistered(client, token, pool, "", "");
    }

    /// @notice Record the caller with the addresses set for it so far (zero by default).
    function register(string calldata name, string calldata symbol) external returns (address, address) {
        if (!isRegistered[msg.sender]) {
            isRegistered[msg.sender] = true;
            _clients.push(msg.sender);
        }
        emit ClientRegistered(msg.sender, tokenOf[msg.sender], poolOf[msg.sender], name, symbol);
        return (tokenOf[msg.sender], poolOf[msg.sender]);
    }

    /// @notice Number of recorded clients.
    function clientCount() external view returns (uint256) {
        return _clients.length;
    }

    /// @notice The `index`-th recorded client.
    function clientAt(uint256 index) external view returns (address) {
        return _clients[index];
    }
}
