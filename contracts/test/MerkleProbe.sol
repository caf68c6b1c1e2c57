// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title MerkleProbe
/// @notice Test-only: exposes OpenZeppelin's MerkleProof so the off-chain tree can be checked
/// against the exact verification the Federation uses.
contract MerkleProbe {
    /// @notice Whether `proof` proves `leaf` under `root` (OpenZeppelin sorted-pair hashing).
    /// @param proof Sibling hashes from the leaf up.
    /// @param root The tree's root.
    /// @param leaf The (double-hashed) leaf.
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf) external pure returns (bool) {
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
