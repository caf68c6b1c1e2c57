"""Merkle tree of per-round results, compatible with OpenZeppelin's StandardMerkleTree.

The aggregator posts only the root; each client later claims with its own leaf and proof, so the
aggregator's gas does not grow with the federation. The layout (double-hashed ABI-encoded leaves,
sorted leaf hashes stored as a complete binary tree in an array, sorted-pair hashing) is exactly
``@openzeppelin/merkle-tree``'s, so ``MerkleProof.verify`` on-chain accepts these proofs and
third-party tools produce the same root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils import is_address, keccak

from fl_node.settlement.payout import INT256_MAX, INT256_MIN, UINT256_MAX

LEAF_TYPES = ("uint256", "uint256", "address", "int256", "uint256")


def _uint(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT256_MAX:
        raise ValueError(f"{name} must be a uint256, got {value!r}")


@dataclass(frozen=True)
class ResultLeaf:
    """One client's result in a round: ``(taskId, round, client, int256 score, uint256 reward)``."""

    task_id: int
    round: int
    client: str
    score: int
    reward: int

    def __post_init__(self) -> None:
        _uint("task_id", self.task_id)
        _uint("round", self.round)
        _uint("reward", self.reward)
        if (
            isinstance(self.score, bool)
            or not isinstance(self.score, int)
            or not INT256_MIN <= self.score <= INT256_MAX
        ):
            raise ValueError(f"score must be an int256, got {self.score!r}")
        if not isinstance(self.client, str) or not is_address(self.client):
            raise ValueError(f"client must be a 0x-prefixed 20-byte address, got {self.client!r}")

    def encode(self) -> bytes:
        """``abi.encode(taskId, round, client, score, reward)``: five 32-byte words (the score in
        two's complement), written directly: every node rebuilds each round's tree to check it,
        so this runs clients x clients times a round in a simulation."""
        return b"".join(
            (
                self.task_id.to_bytes(32, "big"),
                self.round.to_bytes(32, "big"),
                bytes.fromhex(self.client[2:]).rjust(32, b"\0"),
                (self.score % 2**256).to_bytes(32, "big"),
                self.reward.to_bytes(32, "big"),
            )
        )

    def hash(self) -> bytes:
        """``keccak256(bytes.concat(keccak256(abi.encode(...))))``: the double hash rules out
        second-preimage attacks that pass an inner node off as a leaf."""
        return keccak(keccak(self.encode()))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's commutative node hash: keccak of the two children, smaller first."""
    return keccak(a + b) if a <= b else keccak(b + a)


def _check_hash(name: str, value: bytes) -> bytes:
    value = bytes(value)
    if len(value) != 32:
        raise ValueError(f"{name} must be 32 bytes, got {len(value)}")
    return value


class MerkleTree:
    """A built tree: ``tree[0]`` is the root, leaves sit at the end of the array in
    descending position of their sorted hash (``tree[len-1-i]`` = i-th smallest leaf hash)."""

    def __init__(self, nodes: Sequence[bytes], leaves: Sequence[ResultLeaf]) -> None:
        self._tree = [bytes(x) for x in nodes]
        self._leaves = tuple(leaves)

    @classmethod
    def build(cls, leaves: Sequence[ResultLeaf]) -> MerkleTree:
        """Build the tree of ``leaves`` (duplicates allowed, as OpenZeppelin allows them)."""
        leaves = list(leaves)
        if not leaves:
            raise ValueError("cannot build a Merkle tree with no leaves")
        for leaf in leaves:
            if not isinstance(leaf, ResultLeaf):
                raise TypeError(f"expected ResultLeaf, got {type(leaf).__name__}")
        hashes = sorted(leaf.hash() for leaf in leaves)
        size = 2 * len(hashes) - 1
        tree: list[bytes] = [b""] * size
        for i, h in enumerate(hashes):
            tree[size - 1 - i] = h
        for i in range(size - 1 - len(hashes), -1, -1):
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        return cls(tree, leaves)

    @property
    def root(self) -> bytes:
        return self._tree[0]

    @property
    def leaves(self) -> tuple[ResultLeaf, ...]:
        """The leaves in the order they were given."""
        return self._leaves

    @property
    def leaf_hashes(self) -> list[bytes]:
        """Leaf hashes in ascending (tree) order."""
        size = len(self._tree)
        return [self._tree[size - 1 - i] for i in range(len(self._leaves))]

    def __len__(self) -> int:
        return len(self._leaves)

    def proof_for(self, index: int) -> list[bytes]:
        """Proof of the ``index``-th leaf in ascending hash order (sibling hashes, leaf upward)."""
        n = len(self._leaves)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise ValueError(f"leaf index {index!r} out of range for {n} leaves")
        node = len(self._tree) - 1 - index
        proof = []
        while node > 0:
            sibling = node + 1 if node % 2 == 1 else node - 1
            proof.append(self._tree[sibling])
            node = (node - 1) // 2
        return proof

    def proof(self, leaf: ResultLeaf | bytes) -> list[bytes]:
        """Proof of a leaf, given as a :class:`ResultLeaf` or as its 32-byte hash."""
        target = leaf.hash() if isinstance(leaf, ResultLeaf) else _check_hash("leaf", leaf)
        hashes = self.leaf_hashes
        try:
            index = hashes.index(target)
        except ValueError:
            raise ValueError("leaf not in tree") from None
        return self.proof_for(index)

    @staticmethod
    def verify(root: bytes, leaf_hash: bytes, proof: Sequence[bytes]) -> bool:
        """OpenZeppelin ``MerkleProof.verify``: fold the proof with :func:`hash_pair`."""
        computed = _check_hash("leaf_hash", leaf_hash)
        for i, node in enumerate(proof):
            computed = hash_pair(computed, _check_hash(f"proof[{i}]", node))
        return computed == _check_hash("root", root)
