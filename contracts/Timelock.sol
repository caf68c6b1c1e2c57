// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title Timelock
/// @notice The suite's governor: OpenZeppelin's TimelockController with no admin. It holds every
/// administrative power the suite has (naming the Federation's arbiter, the dev token's roles), and
/// any change it makes is scheduled in public for at least `minDelay` seconds first, so users see
/// it coming and can leave. It can never touch stakes or budgets: the vault and the escrow have no
/// admin at all.
contract Timelock is TimelockController {
    /// @param minDelay Seconds between scheduling and executing an operation.
    /// @param proposers Accounts that may schedule (and cancel) operations (a multisig, say).
    /// @param executors Accounts that may execute ready operations (include the zero address to let
    /// anyone execute).
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors)
        TimelockController(minDelay, proposers, executors, address(0))
    {}
}
