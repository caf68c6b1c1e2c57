"""Splitting a round's reward budget by contribution (allocation, WallStreetFeds' first half).

Shares are computed exactly with :class:`fractions.Fraction` from the float contribution values
and floored to wei, so every machine derives the same integers from the same floats, and the sum
never exceeds the budget (the escrow would refuse the reservation). Dust left by flooring stays in
the escrow and returns to the sponsor.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from fractions import Fraction


def _finite(values: Sequence[float], what: str) -> list[float]:
    out: list[float] = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ValueError(f"{what}[{i}]={v!r} is not a real number")
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"{what}[{i}]={v!r} is not finite")
        out.append(f)
    return out


def _check_budget(budget: int) -> None:
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise ValueError(f"budget must be an int (wei), got {budget!r}")
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")


def allocate_rewards(values: Sequence[float], budget: int) -> list[int]:
    """Wei per client, proportional to ``max(value, 0)``, floored; ``sum <= budget``.

    Clients with a non-positive contribution get nothing (a harmful update is handled by the
    stake burn, not by a negative reward). All zeros when nobody contributed positively.
    """
    _check_budget(budget)
    positive = [max(Fraction(v), Fraction(0)) for v in _finite(values, "values")]
    total = sum(positive, Fraction(0))
    if total == 0:
        return [0] * len(positive)
    return [math.floor(budget * p / total) for p in positive]


def equal_split(n: int, budget: int) -> list[int]:
    """The equal-payout baseline: ``budget // n`` wei each (``[]`` for no clients)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    _check_budget(budget)
    if n == 0:
        return []
    return [budget // n] * n


def gini(values: Sequence[float]) -> float:
    """Gini coefficient of non-negative amounts: 0 when equal, ``(n-1)/n`` when one takes all.

    Used to report how concentrated a contribution method's rewards are. All-zero amounts count
    as equal (0.0).
    """
    xs = _finite(values, "values")
    if not xs:
        raise ValueError("gini of an empty sequence is undefined")
    if any(x < 0 for x in xs):
        raise ValueError("gini needs non-negative values")
    n = len(xs)
    total = math.fsum(xs)
    if total == 0:
        return 0.0
    ordered = sorted(xs)
    # Sum over pairs |x_i - x_j| / (2 n^2 mean), in its O(n log n) sorted form.
    weighted = math.fsum((2 * (i + 1) - n - 1) * x for i, x in enumerate(ordered))
    return weighted / (n * total)
