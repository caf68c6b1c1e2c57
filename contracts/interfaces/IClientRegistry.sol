// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IClientRegistry
/// @notice Registers federation clients; each gets its own token and AMM pool (minimal-proxy clones).
interface IClientRegistry {
    event ClientRegistered(address indexed client, address indexed token, address indexed pool, string name, string symbol);

    function register(string calldata name, string calldata symbol) external returns (address token, address pool);

    function baseToken() external view returns (address);

    function isRegistered(address client) external view returns (bool);

    function tokenOf(address client) external view returns (address);

    function poolOf(address client) external view returns (address);

    function clientOf(address token) external view returns (address);

    function clientCount() external view returns (uint256);

    function clientAt(uint256 index) external view returns (address);
}
