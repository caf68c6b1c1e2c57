"""The results Merkle tree must match OpenZeppelin's StandardMerkleTree and MerkleProof."""

from __future__ import annotations

import random

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from fl_node.settlement.merkle import LEAF_TYPES, MerkleTree, ResultLeaf, hash_pair
from fl_node.settlement.payout import INT256_MAX, INT256_MIN, UINT256_MAX

ALICE = "0x" + "11" * 20
BOB = "0x" + "Ab" * 20


def make_leaves(n: int) -> list[ResultLeaf]:
    return [
        ResultLeaf(
            task_id=1,
            round=3,
            client="0x" + f"{i + 1:040x}",
            score=i * 10**16 - 2 * 10**16,
            reward=i * 10**18,
        )
        for i in range(n)
    ]


def _word(value: int) -> bytes:
    """One ABI word by hand: big-endian 32 bytes, two's complement for negatives."""
    return (value % 2**256).to_bytes(32, "big")


def test_encode_matches_a_hand_made_abi_encoding() -> None:
    leaf = ResultLeaf(task_id=7, round=2, client=ALICE, score=-5, reward=123)
    expected = _word(7) + _word(2) + bytes(12) + bytes.fromhex("11" * 20) + _word(-5) + _word(123)
    assert leaf.encode() == expected
    assert len(expected) == 160
    assert leaf.hash() == keccak(keccak(expected))


@pytest.mark.parametrize(
    "values",
    [
        (0, 0, "0x" + "00" * 20, 0, 0),
        (UINT256_MAX, UINT256_MAX, "0x" + "ff" * 20, INT256_MAX, UINT256_MAX),
        (1, 1, ALICE, INT256_MIN, 0),
        (3, 999, BOB, -1, 10**18),
        *[
            (
                random.Random(i).randrange(2**64),
                random.Random(i + 100).randrange(2**32),
                "0x" + random.Random(i + 200).randbytes(20).hex(),
                random.Random(i + 300).randrange(INT256_MIN, INT256_MAX + 1),
                random.Random(i + 400).randrange(UINT256_MAX + 1),
            )
            for i in range(20)
        ],
    ],
)
def test_encode_is_eth_abi_s_encoding(values: tuple[int, int, str, int, int]) -> None:
    task_id, number, client, score, reward = values
    leaf = ResultLeaf(task_id, number, client, score, reward)
    reference = abi_encode(list(LEAF_TYPES), [task_id, number, client, score, reward])
    assert leaf.encode() == reference


def test_client_case_does_not_change_the_leaf() -> None:
    a = ResultLeaf(1, 1, BOB.lower(), 0, 0)
    b = ResultLeaf(1, 1, "0xaBAbAbaBaBAbAbaBaBAbAbaBaBAbAbaBaBAbAbaB", 0, 0)
    assert a.encode() == b.encode()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"task_id": -1},
        {"round": 2**256},
        {"reward": -1},
        {"score": 2**255},
        {"score": 1.5},
        {"client": "0x1234"},
        {"client": "not an address"},
    ],
)
def test_leaf_rejects_values_outside_their_abi_types(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"task_id": 1, "round": 1, "client": ALICE, "score": 0, "reward": 0}
    fields.update(kwargs)
    with pytest.raises(ValueError):
        ResultLeaf(**fields)  # type: ignore[arg-type]


def test_hash_pair_is_commutative_and_sorted() -> None:
    a, b = keccak(b"a"), keccak(b"b")
    lo, hi = sorted([a, b])
    assert hash_pair(a, b) == hash_pair(b, a) == keccak(lo + hi)


def test_two_leaf_root_by_hand() -> None:
    leaves = [
        ResultLeaf(task_id=1, round=0, client=ALICE, score=10**16, reward=5 * 10**18),
        ResultLeaf(task_id=1, round=0, client=BOB, score=-(10**16), reward=0),
    ]
    enc_alice = _word(1) + _word(0) + bytes(12) + bytes.fromhex("11" * 20)
    enc_alice += _word(10**16) + _word(5 * 10**18)
    enc_bob = _word(1) + _word(0) + bytes(12) + bytes.fromhex("ab" * 20)
    enc_bob += _word(-(10**16)) + _word(0)
    h1, h2 = keccak(keccak(enc_alice)), keccak(keccak(enc_bob))
    expected_root = keccak(min(h1, h2) + max(h1, h2))
    tree = MerkleTree.build(leaves)
    assert tree.root == expected_root
    assert tree.proof(leaves[0]) == [h2]
    assert tree.proof(leaves[1]) == [h1]


def test_three_leaf_layout_is_openzeppelins() -> None:
    """OZ: sorted hashes h0<h1<h2 at tree[4], tree[3], tree[2]; tree[1] = pair(tree[3], tree[4]);
    root = pair(tree[1], tree[2])."""
    leaves = make_leaves(3)
    h0, h1, h2 = sorted(leaf.hash() for leaf in leaves)
    tree = MerkleTree.build(leaves)
    assert tree.root == hash_pair(hash_pair(h1, h0), h2)
    assert tree.leaf_hashes == [h0, h1, h2]
    assert tree.proof_for(0) == [h1, h2]  # node 4: sibling 3, then parent 1's sibling 2
    assert tree.proof_for(2) == [hash_pair(h0, h1)]  # node 2: sibling 1


def test_single_leaf_root_is_its_hash_with_an_empty_proof() -> None:
    (leaf,) = make_leaves(1)
    tree = MerkleTree.build([leaf])
    assert tree.root == leaf.hash()
    assert tree.proof(leaf) == []
    assert MerkleTree.verify(tree.root, leaf.hash(), [])


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_every_proof_verifies(n: int) -> None:
    leaves = make_leaves(n)
    tree = MerkleTree.build(leaves)
    assert len(tree) == n
    for leaf in leaves:
        proof = tree.proof(leaf)
        assert MerkleTree.verify(tree.root, leaf.hash(), proof)
        assert tree.proof(leaf.hash()) == proof
    if n > 1:
        assert max(len(tree.proof(leaf)) for leaf in leaves) == (n - 1).bit_length()


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_tampered_leaf_or_proof_fails(n: int) -> None:
    leaves = make_leaves(n)
    tree = MerkleTree.build(leaves)
    leaf = leaves[n // 2]
    proof = tree.proof(leaf)
    # A client claiming a higher reward with its real proof.
    forged = ResultLeaf(leaf.task_id, leaf.round, leaf.client, leaf.score, leaf.reward + 1)
    assert not MerkleTree.verify(tree.root, forged.hash(), proof)
    # A flipped bit anywhere in the proof.
    for k in range(len(proof)):
        bad = list(proof)
        bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
        assert not MerkleTree.verify(tree.root, leaf.hash(), bad)
    # Dropping a proof element, or another leaf's proof.
    assert not MerkleTree.verify(tree.root, leaf.hash(), proof[:-1])
    other = leaves[0] if leaf != leaves[0] else leaves[1]
    if tree.proof(other) != proof:
        assert not MerkleTree.verify(tree.root, leaf.hash(), tree.proof(other))
    # Wrong root.
    assert not MerkleTree.verify(keccak(b"other"), leaf.hash(), proof)


def test_root_does_not_depend_on_leaf_order() -> None:
    leaves = make_leaves(5)
    assert MerkleTree.build(leaves).root == MerkleTree.build(list(reversed(leaves))).root
    assert MerkleTree.build(leaves).root != MerkleTree.build(leaves[:4]).root


def test_duplicate_leaves_are_allowed() -> None:
    (leaf,) = make_leaves(1)
    tree = MerkleTree.build([leaf, leaf])
    assert tree.root == hash_pair(leaf.hash(), leaf.hash())
    assert MerkleTree.verify(tree.root, leaf.hash(), tree.proof(leaf))


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="no leaves"):
        MerkleTree.build([])
    tree = MerkleTree.build(make_leaves(3))
    stranger = ResultLeaf(9, 9, ALICE, 0, 0)
    with pytest.raises(ValueError, match="leaf not in tree"):
        tree.proof(stranger)
    with pytest.raises(ValueError, match="out of range"):
        tree.proof_for(3)
    with pytest.raises(ValueError, match="32 bytes"):
        tree.proof(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleTree.verify(tree.root, b"x", [])
    with pytest.raises(TypeError):
        MerkleTree.build(["not a leaf"])  # type: ignore[list-item]
