// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";

/// @title TestCloner
/// @notice TEST ONLY. Makes uninitialized minimal-proxy clones, to exercise initializers directly.
contract TestCloner {
    /// @notice A new clone of `implementation` was made at `instance`.
    event Cloned(address indexed implementation, address instance);

    /// @notice Clone `implementation` without initializing it.
    function clone(address implementation) external returns (address instance) {
        instance = Clones.clone(implementation);
        emit Cloned(implementation, instance);
    }
}
