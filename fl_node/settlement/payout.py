"""Numerai-style stake payout, equal to the wei to ``Federation.stakePayout`` in Solidity.

The payout is the exact rational ``stake * clip(score * factor, -cap, cap) / WAD`` with
``factor = min(1, threshold / totalAtRisk)``, rounded toward zero once (so it is within one wei of
the exact value, and never rounded twice against the payee). The contract computes it with 256-bit
integers in three cases::

    totalAtRisk <= threshold:                      stake * min(|score|, cap) / WAD
    |score| * threshold >= cap * totalAtRisk:     stake * cap / WAD                   (clipped)
    otherwise:                                    stake * |score| * threshold / (totalAtRisk * WAD)

and gives the result the sign of the score. Inputs outside their Solidity types, and intermediate
products the contract computes with checked arithmetic that would overflow (where it reverts),
raise instead of silently differing. The aggregator posts scores, the contract pays from them: any
disagreement of even one wei would make the off-chain totals and the escrow's accounting drift,
hence integers everywhere and exact conversions.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

from fl_node.errors import ConfigError

WAD = 10**18
"""Fixed-point unit: 1.0 is ``WAD``."""

UINT256_MAX = 2**256 - 1
INT256_MIN = -(2**255)
INT256_MAX = 2**255 - 1


def _check_uint256(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= UINT256_MAX:
        raise ValueError(f"{name}={value} is outside uint256")


def _check_int256(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not INT256_MIN <= value <= INT256_MAX:
        raise ValueError(f"{name}={value} is outside int256")


def payout_factor(total_at_risk: int, threshold: int) -> Fraction:
    """``min(1, threshold / total_at_risk)`` exactly: when more is staked than the threshold,
    every payout shrinks pro rata so the round's total exposure stays bounded (Numerai's payout
    factor)."""
    _check_uint256("total_at_risk", total_at_risk)
    _check_uint256("threshold", threshold)
    if total_at_risk <= threshold:
        return Fraction(1)
    return Fraction(threshold, total_at_risk)


def _uint256_product(what: str, a: int, b: int) -> int:
    """A checked uint256 multiplication: the contract reverts (panic 0x11) where it overflows."""
    product = a * b
    if product > UINT256_MAX:
        raise OverflowError(f"{what} overflows uint256: the contract would revert")
    return product


def stake_payout(stake: int, score: int, total_at_risk: int, threshold: int, cap: int) -> int:
    """Stake payout in wei (negative: burned), exactly as ``Federation.stakePayout``.

    ``score`` and ``cap`` are WAD fixed point (``cap = 0.05e18`` clips at +-5% of the stake).
    """
    _check_uint256("stake", stake)
    _check_int256("score", score)
    _check_uint256("total_at_risk", total_at_risk)
    _check_uint256("threshold", threshold)
    _check_uint256("cap", cap)
    a = abs(score)
    if total_at_risk <= threshold:
        magnitude = stake * min(a, cap) // WAD
    else:
        limit = _uint256_product("cap * total_at_risk", cap, total_at_risk)
        if a * threshold >= limit:
            magnitude = stake * cap // WAD
        else:
            denominator = _uint256_product("total_at_risk * WAD", total_at_risk, WAD)
            magnitude = stake * (a * threshold) // denominator
    if magnitude > INT256_MAX:
        raise OverflowError("the payout does not fit int256: the contract would revert")
    return -magnitude if score < 0 else magnitude


def to_wad(x: float) -> int:
    """The WAD integer nearest to ``x`` (exact: ``Fraction(x) * WAD``, ties to even).

    Exactness matters because the aggregator and every auditor must derive the same integer
    score from the same float; going through ``x * 1e18`` would round twice.
    """
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise ConfigError(f"cannot convert {x!r} to WAD: expected a real number")
    if isinstance(x, numbers.Integral):
        exact = Fraction(int(x))
    else:
        f = float(x)
        if not math.isfinite(f):
            raise ConfigError(f"cannot convert {x!r} to WAD: value is not finite")
        exact = Fraction(f)
    value = round(exact * WAD)  # Fraction.__round__ rounds half to even
    if not INT256_MIN <= value <= INT256_MAX:
        raise ConfigError(f"{x!r} is too large for a WAD int256")
    return value


def from_wad(v: int) -> float:
    """The float nearest to ``v / WAD`` (correctly rounded)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"from_wad expects an int, got {type(v).__name__}")
    return float(Fraction(int(v), WAD))
