"""Reward allocation: proportional, exact, floored, never over budget."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fl_node.settlement.rewards import allocate_rewards, equal_split, gini


def test_proportional_shares_are_floored() -> None:
    assert allocate_rewards([1.0, 2.0], 10) == [3, 6]  # 3.33 -> 3, 6.67 -> 6
    assert allocate_rewards([1.0, 1.0, 2.0], 100) == [25, 25, 50]


def test_non_positive_values_get_nothing() -> None:
    assert allocate_rewards([-5.0, 0.0, 3.0, 1.0], 1000) == [0, 0, 750, 250]


def test_all_zero_without_positive_values() -> None:
    assert allocate_rewards([-1.0, 0.0, -0.5], 10**18) == [0, 0, 0]
    assert allocate_rewards([], 10**18) == []


def test_zero_budget_pays_nothing() -> None:
    assert allocate_rewards([1.0, 2.0], 0) == [0, 0]


def test_shares_use_the_exact_float_values() -> None:
    # 0.1 + 0.2 != 0.3 in binary; the exact fractions decide the floor.
    budget = 10**30
    got = allocate_rewards([0.1, 0.2], budget)
    total = Fraction(0.1) + Fraction(0.2)
    assert got == [
        math.floor(budget * Fraction(0.1) / total),
        math.floor(budget * Fraction(0.2) / total),
    ]


def test_accepts_numpy_values() -> None:
    np = pytest.importorskip("numpy")
    assert allocate_rewards(list(np.array([1.0, 3.0])), 8) == [2, 6]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="not finite"):
        allocate_rewards([1.0, bad], 10)


@pytest.mark.parametrize("budget", [-1, 1.5, True, "10"])
def test_bad_budget_is_rejected(budget: object) -> None:
    with pytest.raises(ValueError, match="budget"):
        allocate_rewards([1.0], budget)  # type: ignore[arg-type]


def test_non_numeric_value_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a real number"):
        allocate_rewards([1.0, "x"], 10)  # type: ignore[list-item]


# Dyadic rationals k / 1024: plenty of fractional floats, cheap for hypothesis to generate.
values_strategy = st.lists(st.integers(-(10**9), 10**9).map(lambda k: k / 1024), max_size=8)


@given(values=values_strategy, budget=st.integers(0, 10**30))
def test_allocation_invariants(values: list[float], budget: int) -> None:
    got = allocate_rewards(values, budget)
    assert len(got) == len(values)
    assert all(r >= 0 for r in got)
    assert sum(got) <= budget
    positive = [v for v in values if v > 0]
    if positive:
        # Flooring loses less than one wei per paid client.
        assert sum(got) > budget - len(positive)
    else:
        assert sum(got) == 0
    for v, r in zip(values, got, strict=True):
        if v <= 0:
            assert r == 0
    # Larger contributions never get less.
    for v1, r1 in zip(values, got, strict=True):
        for v2, r2 in zip(values, got, strict=True):
            if v1 >= v2:
                assert r1 >= r2
    assert allocate_rewards(values, budget) == got  # deterministic


def test_equal_split() -> None:
    assert equal_split(3, 10) == [3, 3, 3]
    assert equal_split(4, 8) == [2, 2, 2, 2]
    assert equal_split(0, 10) == []
    with pytest.raises(ValueError, match="n must"):
        equal_split(-1, 10)
    with pytest.raises(ValueError, match="budget"):
        equal_split(2, -10)


def test_gini_equal_is_zero() -> None:
    assert gini([5.0, 5.0, 5.0]) == 0.0
    assert gini([0.0, 0.0]) == 0.0
    assert gini([7.0]) == 0.0


def test_gini_concentrated_tends_to_one() -> None:
    assert gini([0.0, 0.0, 0.0, 1.0]) == pytest.approx(0.75)
    assert gini([0.0] * 99 + [1.0]) == pytest.approx(0.99)


def test_gini_matches_the_pairwise_definition() -> None:
    xs = [1.0, 2.0, 3.0, 10.0]
    n, mean = len(xs), sum(xs) / len(xs)
    pairwise = sum(abs(a - b) for a in xs for b in xs) / (2 * n * n * mean)
    assert gini(xs) == pytest.approx(pairwise)
    assert gini(list(reversed(xs))) == pytest.approx(pairwise)


def test_gini_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        gini([])
    with pytest.raises(ValueError, match="non-negative"):
        gini([1.0, -1.0])
    with pytest.raises(ValueError, match="not finite"):
        gini([1.0, float("nan")])
