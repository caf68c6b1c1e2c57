"""Off-chain mirrors the federation tests check the contracts against: the stake-payout formula
and OpenZeppelin StandardMerkleTree results trees (sorted-pair keccak, double-hashed leaves).

Written from the formulas in the contracts' specification, independently of the contracts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

WAD = 10**18


def stake_payout(stake: int, score: int, total_at_risk: int, threshold: int, cap: int) -> int:
    """``Federation.stakePayout`` as specified: the exact rational
    ``stake * clip(score * min(1, threshold / total_at_risk), -cap, cap) / WAD``, rounded toward
    zero once."""
    factor = Fraction(1) if total_at_risk <= threshold else Fraction(threshold, total_at_risk)
    clipped = min(abs(score) * factor, Fraction(cap))
    magnitude = math.floor(stake * clipped / WAD)
    return -magnitude if score < 0 else magnitude


def commitment_hash(
    task_id: int, round_: int, client: str, update_hash: bytes, salt: bytes
) -> bytes:
    """``Federation.commitmentHash``: what a client commits to hide its update until the reveal."""
    encoded = encode(
        ["uint256", "uint256", "address", "bytes32", "bytes32"],
        [task_id, round_, to_checksum_address(str(client)), update_hash, salt],
    )
    return keccak(encoded)


def leaf_hash(task_id: int, round_: int, client: str, score: int, reward: int) -> bytes:
    encoded = encode(
        ["uint256", "uint256", "address", "int256", "uint256"],
        [task_id, round_, to_checksum_address(str(client)), score, reward],
    )
    return keccak(keccak(encoded))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class MerkleTree:
    """OZ StandardMerkleTree layout: sorted leaves stored from the end of a complete binary tree."""

    def __init__(self, leaves: list[bytes]):
        if not leaves:
            raise ValueError("no leaves")
        ordered = sorted(leaves)
        size = 2 * len(ordered) - 1
        self.nodes: list[bytes] = [b""] * size
        for i, leaf in enumerate(ordered):
            self.nodes[size - 1 - i] = leaf
        for i in range(size - len(ordered) - 1, -1, -1):
            self.nodes[i] = hash_pair(self.nodes[2 * i + 1], self.nodes[2 * i + 2])

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def proof(self, leaf: bytes) -> list[bytes]:
        index = len(self.nodes) - 1 - self.nodes[::-1].index(leaf)
        path = []
        while index > 0:
            sibling = index + 1 if index % 2 == 1 else index - 1
            path.append(self.nodes[sibling])
            index = (index - 1) // 2
        return path


def verify(root: bytes, leaf: bytes, proof: list[bytes]) -> bool:
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root


@dataclass
class Entry:
    client: str
    score: int
    reward: int
    stake: int


@dataclass
class Results:
    """One round's posted results and what the contract must pay for them."""

    task_id: int
    round: int
    entries: list[Entry]
    threshold: int
    cap: int
    tree: MerkleTree = field(init=False)

    def __post_init__(self) -> None:
        self.tree = MerkleTree([self.leaf(e) for e in self.entries])

    def leaf(self, entry: Entry) -> bytes:
        return leaf_hash(self.task_id, self.round, entry.client, entry.score, entry.reward)

    def entry(self, client) -> Entry:
        return next(e for e in self.entries if str(e.client) == str(client))

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def total_at_risk(self) -> int:
        return sum(e.stake for e in self.entries)

    @property
    def total_reward(self) -> int:
        return sum(e.reward for e in self.entries)

    def payout(self, client) -> int:
        e = self.entry(client)
        return stake_payout(e.stake, e.score, self.total_at_risk, self.threshold, self.cap)

    @property
    def total_payout(self) -> int:
        return sum(max(0, self.payout(e.client)) for e in self.entries)

    def proof(self, client) -> list[bytes]:
        return self.tree.proof(self.leaf(self.entry(client)))

    def claim_args(self, client) -> tuple[int, int, list[bytes]]:
        e = self.entry(client)
        return e.score, e.reward, self.proof(client)
