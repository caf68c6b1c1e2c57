"""The Python mirrors of the settlement agree with the contracts exactly.

``fl_node.settlement.payout.stake_payout`` against ``Federation.stakePayout`` to the wei, and both
against ``tests.contracts.fed_math.stake_payout`` (the Fraction formula written from the spec) and
the exact rational itself: the contract pays the exact value rounded toward zero once, so within
one wei of it and never more. Random inputs (a seeded sample and hypothesis campaigns, up to
totals at ``MAX_AT_RISK``), the boundaries (score at the clip, total at the threshold, cap 0 and
WAD, negative scores, zero stake), and inputs where the contract's checked arithmetic reverts and
the mirror raises. Result leaves against ``Federation.resultLeaf``, and proofs of
``fl_node.settlement.merkle`` against OpenZeppelin's ``MerkleProof`` for trees of every size up to
17 leaves.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from brownie import MerkleProbe, accounts
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.core import given  # unwrapped: the examples are pure calls, no chain snapshots

from fl_node.settlement.merkle import MerkleTree, ResultLeaf
from fl_node.settlement.payout import stake_payout
from tests.contracts import fed_math
from tests.contracts.fed_fixtures import *  # noqa: F403
from tests.contracts.fed_fixtures import JOIN_BOND, STAKE, WAD, commit, open_round
from tests.contracts.helpers import reverts

MAX_AT_RISK = 2**128 - 1
INT256_MIN = -(2**255)
INT256_MAX = 2**255 - 1
UINT256_MAX = 2**256 - 1
CAP = 5 * WAD // 100

# stakePayout is pure: hypothesis draws as many examples as the profile allows (brownie-config,
# x8 with --run-slow), with no snapshot around each.
PURE = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def probe():  # type: ignore[no-untyped-def]
    return MerkleProbe.deploy({"from": accounts[0]})


def exact_payout(stake: int, score: int, total: int, threshold: int, cap: int) -> Fraction:
    """Unrounded: ``stake * clip(score * min(1, threshold / total), -cap, cap) / WAD``."""
    factor = Fraction(1) if total <= threshold else Fraction(threshold, total)
    clipped = max(Fraction(-cap), min(Fraction(cap), score * factor))
    return stake * clipped / WAD


def check_agreement(federation, stake, score, total, threshold, cap) -> int:  # type: ignore[no-untyped-def]
    """Contract == Python mirror == fed_math, within one wei of the exact rational and rounded
    toward zero; returns the payout."""
    args = (stake, score, total, threshold, cap)
    paid = federation.stakePayout(*args)
    assert paid == stake_payout(*args), args
    assert paid == fed_math.stake_payout(*args), args
    exact = exact_payout(*args)
    assert abs(exact - paid) < 1, args
    assert abs(paid) <= abs(exact), args  # toward zero: never more than the exact value
    assert paid == 0 or (paid > 0) == (exact > 0), args
    return paid


# ------------------------------------------------------------------------------ random inputs


def _cases(rng: random.Random, n: int):  # type: ignore[no-untyped-def]
    for _ in range(n):
        stake = rng.choice([0, 1, 7, WAD, rng.randrange(1, 10**6) * WAD, rng.randrange(1, 2**96)])
        score = rng.choice(
            [0, 1, -1, rng.randrange(-3 * WAD, 3 * WAD), rng.randrange(-(10**15), 10**15),
             -(10**18) * 1000, rng.randrange(-(2**120), 2**120), INT256_MIN, INT256_MAX]
        )  # fmt: skip
        total = rng.choice(
            [stake, stake * rng.randrange(1, 50), rng.randrange(1, 2**100),
             rng.randrange(MAX_AT_RISK - 2**80, MAX_AT_RISK + 1)]
        )  # fmt: skip
        threshold = rng.choice([0, 1, 10**3 * WAD, rng.randrange(1, 2**100), total, total + 1])
        cap = rng.choice([0, WAD // 20, WAD, rng.randrange(0, WAD + 1)])
        yield stake, score, total, threshold, cap


def test_stake_payout_agrees_to_the_wei(federation) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20261127)
    signs = set()
    for case in _cases(rng, 300):
        paid = check_agreement(federation, *case)
        signs.add((paid > 0) - (paid < 0))
    assert signs == {-1, 0, 1}  # the sample covered pays, burns and zeros


@PURE
@given(
    stake=st.one_of(st.integers(0, 10**30), st.integers(0, MAX_AT_RISK)),
    score=st.one_of(
        st.integers(-(10**20), 10**20),
        st.integers(-(10**16), 10**16),
        st.integers(INT256_MIN, INT256_MAX),
    ),
    total=st.one_of(st.integers(0, 10**32), st.integers(0, MAX_AT_RISK)),
    threshold=st.one_of(st.integers(0, 10**32), st.integers(0, UINT256_MAX)),
    cap=st.one_of(st.integers(0, WAD), st.sampled_from([0, CAP, WAD])),
)
def test_stake_payout_agrees_on_random_inputs(federation, stake, score, total, threshold, cap):
    check_agreement(federation, stake, score, total, threshold, cap)


@PURE
@given(
    data=st.data(),
    below=st.integers(0, 2**100),
    score=st.one_of(st.integers(-(10**20), 10**20), st.integers(INT256_MIN, INT256_MAX)),
    cap=st.one_of(st.integers(0, WAD), st.sampled_from([0, CAP, WAD])),
)
def test_stake_payout_agrees_near_max_at_risk(federation, data, below, score, cap):
    total = MAX_AT_RISK - below
    stake = data.draw(st.one_of(st.integers(0, total), st.integers(total - 2**64, total)))
    threshold = data.draw(
        st.one_of(
            st.integers(0, 10**30),
            st.integers(total - 2**64, total + 2**64),
            st.integers(0, UINT256_MAX),
        )
    )
    check_agreement(federation, stake, score, total, threshold, cap)


def test_max_at_risk_is_the_documented_bound(federation) -> None:  # type: ignore[no-untyped-def]
    assert federation.MAX_AT_RISK() == MAX_AT_RISK
    # the largest product the contract forms stays below 2**256 at the bound
    assert WAD * MAX_AT_RISK < 2**256


# --------------------------------------------------------------------------------- boundaries

STAKE_100 = 100 * WAD
THRESHOLD_100 = 100 * WAD

BOUNDARY_CASES = [
    # (stake, score, total, threshold, cap, expected)
    # score exactly at the clip, factor 1
    pytest.param(STAKE_100, CAP, 50 * WAD, THRESHOLD_100, CAP, 5 * WAD, id="at-clip"),
    pytest.param(STAKE_100, CAP + 1, 50 * WAD, THRESHOLD_100, CAP, 5 * WAD, id="above-clip"),
    pytest.param(STAKE_100, CAP - 1, 50 * WAD, THRESHOLD_100, CAP, 5 * WAD - 100, id="below-clip"),
    pytest.param(STAKE_100, -CAP, 50 * WAD, THRESHOLD_100, CAP, -5 * WAD, id="at-clip-neg"),
    pytest.param(STAKE_100, -CAP - 1, 50 * WAD, THRESHOLD_100, CAP, -5 * WAD, id="above-clip-neg"),
    pytest.param(
        STAKE_100, -CAP + 1, 50 * WAD, THRESHOLD_100, CAP, -5 * WAD + 100, id="below-clip-neg"
    ),
    # score * factor exactly at the clip, factor 1/4: |score| * threshold == cap * total
    pytest.param(
        STAKE_100, 4 * CAP, 4 * THRESHOLD_100, THRESHOLD_100, CAP, 5 * WAD, id="f-at-clip"
    ),
    pytest.param(
        STAKE_100,
        4 * CAP - 1,
        4 * THRESHOLD_100,
        THRESHOLD_100,
        CAP,
        5 * WAD - 25,
        id="f-below-clip",
    ),
    pytest.param(
        STAKE_100,
        -(4 * CAP - 1),
        4 * THRESHOLD_100,
        THRESHOLD_100,
        CAP,
        -(5 * WAD - 25),
        id="f-below-clip-neg",
    ),
    pytest.param(7, 4 * CAP - 1, 4 * THRESHOLD_100, THRESHOLD_100, CAP, 0, id="f-below-clip-tiny"),
    # totalAtRisk at the threshold (factor 1) and one above (factor threshold / (threshold + 1))
    pytest.param(STAKE_100, WAD // 100, THRESHOLD_100, THRESHOLD_100, CAP, WAD, id="total=thr"),
    pytest.param(
        STAKE_100,
        WAD // 100,
        THRESHOLD_100 + 1,
        THRESHOLD_100,
        CAP,
        WAD - 1,  # 1e38 / (1e20 + 1): the factor just below one costs a wei
        id="total=thr+1",
    ),
    pytest.param(
        STAKE_100,
        -(WAD // 100),
        THRESHOLD_100 + 1,
        THRESHOLD_100,
        CAP,
        -(WAD - 1),
        id="total=thr+1-neg",
    ),
    pytest.param(3, WAD, 1, 1, WAD, 3, id="tiny-total=thr"),
    pytest.param(3, WAD, 2, 1, WAD, 1, id="tiny-total=thr+1"),  # 1.5 truncates to 1
    pytest.param(3, -WAD, 2, 1, WAD, -1, id="tiny-total=thr+1-neg"),  # -1.5 truncates to -1
    # cap 0 pays nothing, cap WAD at most the stake
    pytest.param(STAKE_100, WAD, 50 * WAD, THRESHOLD_100, 0, 0, id="cap-0"),
    pytest.param(STAKE_100, -WAD, 500 * WAD, THRESHOLD_100, 0, 0, id="cap-0-neg-f"),
    pytest.param(STAKE_100, 3 * WAD, 50 * WAD, THRESHOLD_100, WAD, STAKE_100, id="cap-wad"),
    pytest.param(STAKE_100, INT256_MIN, 50 * WAD, THRESHOLD_100, WAD, -STAKE_100, id="cap-wad-min"),
    pytest.param(STAKE_100, INT256_MAX, 400 * WAD, THRESHOLD_100, WAD, STAKE_100, id="cap-wad-f"),
    pytest.param(STAKE_100, WAD, 400 * WAD, THRESHOLD_100, WAD, 25 * WAD, id="cap-wad-f-unclipped"),
    # negative scores truncate toward zero
    pytest.param(7, -WAD // 2, 0, 1, WAD, -3, id="neg-truncates"),
    pytest.param(WAD, -1, 3 * WAD, 2 * WAD, WAD, 0, id="neg-wei-to-zero"),
    pytest.param(WAD, -1, 3 * WAD, 0, WAD, 0, id="threshold-0"),
    # stake 0
    pytest.param(0, WAD, 50 * WAD, THRESHOLD_100, CAP, 0, id="stake-0"),
    pytest.param(0, INT256_MIN, MAX_AT_RISK, 1, WAD, 0, id="stake-0-max"),
    # totals at MAX_AT_RISK
    pytest.param(MAX_AT_RISK, WAD, MAX_AT_RISK, MAX_AT_RISK, WAD, MAX_AT_RISK, id="max-all"),
    pytest.param(
        MAX_AT_RISK, WAD, MAX_AT_RISK, MAX_AT_RISK - 1, WAD, MAX_AT_RISK - 1, id="max-thr-1"
    ),
    pytest.param(MAX_AT_RISK, -CAP, MAX_AT_RISK, 1, WAD, 0, id="max-thr-tiny"),  # -0.05 wei
    pytest.param(
        MAX_AT_RISK // 2,
        INT256_MAX,
        MAX_AT_RISK,
        THRESHOLD_100,
        CAP,
        MAX_AT_RISK // 2 * CAP // WAD,
        id="max-clipped",
    ),
    pytest.param(
        MAX_AT_RISK - 1,
        WAD // 3,
        MAX_AT_RISK,
        2**127,
        WAD,
        (MAX_AT_RISK - 1) * (WAD // 3) * 2**127 // (MAX_AT_RISK * WAD),
        id="max-factor-half",
    ),
]


@pytest.mark.parametrize("stake, score, total, threshold, cap, expected", BOUNDARY_CASES)
def test_stake_payout_boundaries(federation, stake, score, total, threshold, cap, expected):
    assert check_agreement(federation, stake, score, total, threshold, cap) == expected


def test_the_clip_boundary_is_exact_at_max_at_risk(federation) -> None:  # type: ignore[no-untyped-def]
    """|score| * threshold == cap * total exactly, with a total just below MAX_AT_RISK (a multiple
    of the threshold): clipped; one less: the unclipped branch, one wei (or less) below the clip."""
    total, threshold, cap = 2**128 - 2**64, 2**64, CAP
    stake = total - 12345
    assert total <= MAX_AT_RISK
    at = cap * total // threshold  # exact: total is a multiple of threshold
    assert at * threshold == cap * total
    clip = stake * cap // WAD
    assert check_agreement(federation, stake, at, total, threshold, cap) == clip
    assert check_agreement(federation, stake, -at, total, threshold, cap) == -clip
    below = check_agreement(federation, stake, at - 1, total, threshold, cap)
    assert below == stake * (at - 1) * threshold // (total * WAD)
    assert clip - 20 <= below < clip  # stake * threshold / (total * WAD) is about 18.4 wei


# --------------------------------------------------------------- outside the contract's domain


@pytest.mark.parametrize(
    "args, error",
    [
        pytest.param((1, 1, 2**255, 0, WAD), ("Integer overflow",), id="cap*total"),
        pytest.param((1, 1, 2**250, 1, 1), ("Integer overflow",), id="total*WAD"),
        pytest.param(
            (2**255, WAD, 0, 1, WAD), ("SafeCastOverflowedUintToInt", 2**255), id="int256-result"
        ),
    ],
)
def test_where_the_contract_reverts_the_mirror_raises(federation, args, error):
    with reverts(*error):
        federation.stakePayout(*args)
    with pytest.raises(OverflowError):
        stake_payout(*args)


# ------------------------------------------------------------------------------ round totals


def test_no_commitment_can_hold_more_than_its_128_bit_field(
    federation, vault, base, task, aggregator, sponsor, clients
):
    """A stake above MAX_AT_RISK (2**128 - 1) is refused: a commitment's stake is a uint128, so a
    larger one would be recorded truncated while the vault locks it in full. At the bound it is
    recorded and released exactly."""
    alice = clients[0]
    big = 2**128 + STAKE
    base.mint(alice, big, {"from": alice})
    vault.deposit(big, {"from": alice})
    round_ = open_round(federation, task, aggregator)
    with reverts("StakeTooHigh", big):
        commit(federation, task, round_, alice, stake=big)
    top = 2**128 - 1
    commit(federation, task, round_, alice, stake=top)
    assert federation.commitmentOf(task, round_, alice)["stake"] == top
    assert vault.stakeOf(alice)[1] == JOIN_BOND + top
    federation.cancelTask(task, {"from": sponsor})  # aborts the round in Commit
    federation.reclaimStake(task, round_, {"from": alice})
    federation.leaveTask(task, {"from": alice})
    assert vault.stakeOf(alice)[1] == 0


# ------------------------------------------------------------------------------------ Merkle


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
        assert leaf.hash() == fed_math.leaf_hash(
            leaf.task_id, leaf.round, leaf.client, leaf.score, leaf.reward
        )


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
