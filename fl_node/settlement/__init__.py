"""Settlement math: the off-chain mirror of what the contracts compute.

``payout`` reproduces ``Federation.stakePayout`` to the wei, ``rewards`` splits a round's reward
budget by contribution, and ``merkle`` builds the OpenZeppelin-compatible Merkle tree of the
per-client results whose root the aggregator posts and whose proofs clients claim with. An auditor
uses the same functions to recompute a round and compare every posted number.
"""

from __future__ import annotations

from fl_node.settlement.merkle import MerkleTree, ResultLeaf, hash_pair
from fl_node.settlement.payout import (
    WAD,
    from_wad,
    payout_factor,
    stake_payout,
    to_wad,
)
from fl_node.settlement.rewards import allocate_rewards, equal_split, gini

__all__ = [
    "WAD",
    "MerkleTree",
    "ResultLeaf",
    "allocate_rewards",
    "equal_split",
    "from_wad",
    "gini",
    "hash_pair",
    "payout_factor",
    "stake_payout",
    "to_wad",
]
