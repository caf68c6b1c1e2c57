"""The Python mirror of ``Federation.stakePayout`` must agree with Solidity to the wei: the exact
rational payout, rounded toward zero once."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fl_node.errors import ConfigError
from fl_node.settlement.payout import (
    INT256_MAX,
    INT256_MIN,
    UINT256_MAX,
    WAD,
    from_wad,
    payout_factor,
    stake_payout,
    to_wad,
)

CAP = 5 * 10**16  # 0.05
MAX_AT_RISK = 2**128 - 1  # the contract refuses commits that would hold more


# -- payout_factor ----------------------------------------------------------------------------
def test_factor_is_one_at_or_below_threshold() -> None:
    assert payout_factor(0, 100) == 1
    assert payout_factor(100, 100) == 1
    assert payout_factor(99, 100) == 1


def test_factor_is_the_exact_ratio_above_threshold() -> None:
    assert payout_factor(200, 100) == Fraction(1, 2)
    assert payout_factor(300, 100) == Fraction(1, 3)  # not 0.333...3 rounded


def test_factor_rejects_values_outside_uint256() -> None:
    with pytest.raises(ValueError, match="uint256"):
        payout_factor(-1, 100)
    with pytest.raises(ValueError, match="uint256"):
        payout_factor(1, 2**256)
    with pytest.raises(TypeError):
        payout_factor(1.5, 100)  # type: ignore[arg-type]


# -- stake_payout: hand-computed cases ---------------------------------------------------------
def test_positive_score_within_cap() -> None:
    # stake 1000 tokens, score 0.02, factor 1: 1000e18 * 0.02 = 20e18
    assert stake_payout(1000 * WAD, 2 * 10**16, 10, 100, CAP) == 20 * WAD


def test_score_clipped_at_plus_cap() -> None:
    assert stake_payout(1000 * WAD, 3 * 10**17, 10, 100, CAP) == 50 * WAD


def test_score_clipped_at_minus_cap() -> None:
    assert stake_payout(1000 * WAD, -(10**18), 10, 100, CAP) == -50 * WAD


def test_factor_below_one_scales_the_score() -> None:
    # total at risk is 4x the threshold: factor 0.25; raw = 0.04 * 0.25 = 0.01
    assert stake_payout(100 * WAD, 4 * 10**16, 400, 100, CAP) == WAD
    # clipping happens after scaling: 0.4 * 0.25 = 0.1 is clipped to 0.05
    assert stake_payout(100 * WAD, 4 * 10**17, 400, 100, CAP) == 5 * WAD


def test_one_rounding_step_where_the_old_formula_rounded_three_times() -> None:
    # factor 1/3: the exact payout is stake * 0.03 / 3 = 1e18 * 0.01 wei, exactly; rounding the
    # factor first (333333333333333333) and the raw score next lost wei against the payee.
    stake, score = 10**18, 3 * 10**16
    assert stake_payout(stake, score, 3 * WAD, WAD, CAP) == 10**16
    old_factor = WAD * WAD // (3 * WAD)
    old = stake * (score * old_factor // WAD) // WAD
    assert old < 10**16


def test_negative_payout_truncates_toward_zero() -> None:
    # stake 3 wei, score -0.5, cap 1: exact -1.5 -> -1 (floor would give -2)
    assert stake_payout(3, -(WAD // 2), 0, 1, WAD) == -1
    assert stake_payout(3, WAD // 2, 0, 1, WAD) == 1


def test_a_score_exactly_at_the_clip_is_clipped_and_just_below_is_not() -> None:
    # factor 1/2: a score of 2 * cap scales exactly to the cap
    assert stake_payout(WAD, 2 * CAP, 2, 1, CAP) == CAP
    assert stake_payout(WAD, 2 * CAP - 2, 2, 1, CAP) == CAP - 1


def test_zero_stake_and_zero_score_pay_nothing() -> None:
    assert stake_payout(0, CAP, 0, 1, CAP) == 0
    assert stake_payout(1000 * WAD, 0, 0, 1, CAP) == 0


def test_zero_cap_pays_nothing() -> None:
    assert stake_payout(1000 * WAD, WAD, 0, 1, 0) == 0
    assert stake_payout(1000 * WAD, -WAD, 0, 1, 0) == 0


def test_stake_payout_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="stake"):
        stake_payout(-1, 0, 0, 1, CAP)
    with pytest.raises(ValueError, match="score"):
        stake_payout(1, INT256_MIN - 1, 0, 1, CAP)
    with pytest.raises(ValueError, match="cap"):
        stake_payout(1, 0, 0, 1, -1)
    with pytest.raises(TypeError):
        stake_payout(1, 0.5, 0, 1, CAP)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        stake_payout(True, 0, 0, 1, CAP)


def test_stake_payout_overflow_raises_like_a_revert() -> None:
    with pytest.raises(OverflowError):  # cap * totalAtRisk overflows uint256
        stake_payout(1, WAD, UINT256_MAX, 1, WAD)
    with pytest.raises(OverflowError):  # the payout itself does not fit int256
        stake_payout(UINT256_MAX, WAD, 0, 1, WAD)
    with pytest.raises(OverflowError):  # totalAtRisk * WAD overflows in the unclipped case
        stake_payout(1, 1, 2**250, 1, WAD)


# -- the exact rational -----------------------------------------------------------------------
def _exact(stake: int, score: int, total: int, threshold: int, cap: int) -> Fraction:
    factor = Fraction(1) if total <= threshold else Fraction(threshold, total)
    clipped = min(abs(score) * factor, Fraction(cap))
    value = stake * clipped / WAD
    return -value if score < 0 else value


@given(
    stake=st.integers(0, 10**30),
    score=st.one_of(st.integers(-(10**20), 10**20), st.integers(INT256_MIN + 1, INT256_MAX)),
    total=st.one_of(st.integers(0, 10**30), st.integers(0, MAX_AT_RISK)),
    threshold=st.integers(0, 10**30),
    cap=st.integers(0, WAD),
)
def test_stake_payout_is_the_exact_rational_rounded_toward_zero_once(
    stake: int, score: int, total: int, threshold: int, cap: int
) -> None:
    payout = stake_payout(stake, score, total, threshold, cap)
    exact = _exact(stake, score, total, threshold, cap)
    assert payout == (math.floor(exact) if exact >= 0 else math.ceil(exact))
    assert abs(Fraction(payout) - exact) < 1  # within one wei
    assert abs(payout) <= stake * cap // WAD  # never beyond the clip


@given(stake=st.integers(0, 10**30), score=st.integers(-(10**20), 10**20))
def test_payout_is_odd_in_the_score(stake: int, score: int) -> None:
    """Rounding toward zero makes burning and paying symmetric."""
    assert stake_payout(stake, -score, 7, 3, CAP) == -stake_payout(stake, score, 7, 3, CAP)


# -- to_wad / from_wad ------------------------------------------------------------------------
def test_to_wad_is_exact() -> None:
    assert to_wad(1.0) == WAD
    assert to_wad(0.5) == WAD // 2
    assert to_wad(-0.05) == round(Fraction(-0.05) * WAD)
    # 0.1 is 0.1000000000000000055511151231257827... as a double: the exact WAD keeps that
    assert to_wad(0.1) == 100_000_000_000_000_006
    assert to_wad(0.1) != int(0.1 * 1e18)  # the naive path rounds twice and differs
    assert to_wad(3) == 3 * WAD


def test_to_wad_rounds_exact_halves_to_even() -> None:
    # WAD = 2**18 * 5**18, so y = (2k+1) / 2**19 is exactly m/2 wei with m = (2k+1) * 5**18 odd:
    # a true tie between two wei amounts, which must go to the even one (both signs).
    for k in range(4):
        y = (2 * k + 1) / 2**19
        m = (2 * k + 1) * 5**18
        assert Fraction(y) * WAD == Fraction(m, 2)
        low, high = (m - 1) // 2, (m + 1) // 2
        expected = low if low % 2 == 0 else high
        assert to_wad(y) == expected
        assert to_wad(-y) == -expected
    # Not a tie: rounds to nearest.
    assert to_wad(1 / 2**20) == round(Fraction(5**18, 4))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_to_wad_rejects_non_finite(bad: float) -> None:
    with pytest.raises(ConfigError, match="not finite"):
        to_wad(bad)


def test_to_wad_rejects_non_numbers_and_huge_values() -> None:
    with pytest.raises(ConfigError):
        to_wad("0.5")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        to_wad(True)
    with pytest.raises(ConfigError, match="too large"):
        to_wad(1e60)


def test_to_wad_accepts_numpy_floats() -> None:
    np = pytest.importorskip("numpy")
    assert to_wad(np.float64(0.25)) == WAD // 4
    assert to_wad(np.float32(0.25)) == WAD // 4


def test_from_wad_round_trips() -> None:
    assert from_wad(WAD) == 1.0
    assert from_wad(-5 * 10**16) == -0.05
    with pytest.raises(TypeError):
        from_wad(1.0)  # type: ignore[arg-type]


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_from_wad_of_to_wad_is_within_half_a_wei(x: float) -> None:
    assert abs(Fraction(to_wad(x), WAD) - Fraction(x)) <= Fraction(1, 2 * WAD)
    assert from_wad(to_wad(x)) == pytest.approx(x, abs=1e-18)
