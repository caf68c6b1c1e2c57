"""The Python mirror of the settlement agrees with the contracts exactly.

``fl_node.settlement.payout.stake_payout`` against ``Federation.stakePayout`` to the wei on many
random inputs (both signs, the clip on both sides, payout factors below one, truncation), result
leaves against ``Federation.resultLeaf``, and proofs of ``fl_node.settlement.merkle`` against
OpenZeppelin's ``MerkleProof`` for trees of every size up to 17 leaves.
"""

from __future__ import annotations

import random

import pytest
from brownie import Federation, MerkleProbe, accounts

from fl_node.settlement.merkle import MerkleTree, ResultLeaf
from fl_node.settlement.payout import stake_payout

WAD = 10**18


@pytest.fixture(scope="module")
def federation():  # type: ignore[no-untyped-def]
    # Only pure functions are called: any non-zero addresses do for the wiring.
    dummy = accounts[5].address
    return Federation.deploy(dummy, dummy, dummy, accounts[0], {"from": accounts[0]})


@pytest.fixture(scope="module")
def probe():  # type: ignore[no-untyped-def]
    return MerkleProbe.deploy({"from": accounts[0]})


def _cases(rng: random.Random, n: int):  # type: ignore[no-untyped-def]
    for _ in range(n):
        stake = rng.choice([1, 7, WAD, rng.randrange(1, 10**6) * WAD, rng.randrange(1, 2**96)])
        score = rng.choice(
            [0, 1, -1, rng.randrange(-3 * WAD, 3 * WAD), rng.randrange(-(10**15), 10**15),
             -(10**18) * 1000, rng.randrange(-(2**120), 2**120)]
        )  # fmt: skip
        total = rng.choice([stake, stake * rng.randrange(1, 50), rng.randrange(1, 2**100)])
        threshold = rng.choice([1, 10**3 * WAD, rng.randrange(1, 2**100)])
        cap = rng.choice([0, WAD // 20, WAD, rng.randrange(0, WAD + 1)])
        yield stake, score, total, threshold, cap


def test_stake_payout_agrees_to_the_wei(federation) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20261127)
    cases = list(_cases(rng, 300))
    signs = set()
    for stake, score, total, threshold, cap in cases:
        expected = stake_payout(stake, score, total, threshold, cap)
        assert federation.stakePayout(stake, score, total, threshold, cap) == expected, (
            stake,
            score,
            total,
            threshold,
            cap,
        )
        signs.add((expected > 0) - (expected < 0))
    assert signs == {-1, 0, 1}  # the sample covered pays, burns and zeros


def test_result_leaves_agree(federation) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    for _ in range(50):
        leaf = ResultLeaf(
            task_id=rng.randrange(1, 2**64),
            round=rng.randrange(1, 2**32),
            client=accounts[rng.randrange(10)].address,
            score=rng.randrange(-(2**200), 2**200),
            reward=rng.randrange(0, 2**200),
        )
        expected = federation.resultLeaf(
            leaf.task_id, leaf.round, leaf.client, leaf.score, leaf.reward
        )
        assert bytes(expected) == leaf.hash()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8, 13, 17])
def test_every_proof_verifies_on_chain(probe, size: int) -> None:  # type: ignore[no-untyped-def]
    leaves = [
        ResultLeaf(1, 2, accounts[i % 10].address, (i - 3) * 10**16, i * 10**18)
        for i in range(size)
    ]
    tree = MerkleTree.build(leaves)
    for leaf in leaves:
        proof = tree.proof(leaf)
        assert probe.verify(proof, tree.root, leaf.hash())
    if size > 1:
        forged = ResultLeaf(1, 2, leaves[0].client, leaves[0].score + 1, leaves[0].reward)
        assert not probe.verify(tree.proof(leaves[0]), tree.root, forged.hash())
