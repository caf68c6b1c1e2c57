"""Numerai-style stake payout, bit-exact with ``Federation.stakePayout`` in Solidity.

The contract computes, with 256-bit integers and WAD (1e18) fixed point::

    factor  = totalAtRisk <= threshold ? WAD : threshold * WAD / totalAtRisk   // uint256
    raw     = score * int(factor) / int(WAD)                                    // int256
    clipped = max(-cap, min(cap, raw))
    payout  = int(stake) * clipped / int(WAD)                                   // int256

Solidity's signed division truncates toward zero while Python's ``//`` floors, so every division
here goes through :func:`sdiv`. Inputs outside their Solidity types, and intermediate results that
would overflow (where the contract reverts with a panic), raise instead of silently differing.
The aggregator posts scores, the contract pays from them: any disagreement of even one wei makes
claims fail or the escrow's accounting drift, hence integers everywhere and exact conversions.
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


def _int256_result(what: str, value: int) -> int:
    """The contract reverts (panic 0x11) where a checked int256 operation overflows."""
    if not INT256_MIN <= value <= INT256_MAX:
        raise OverflowError(f"{what} overflows int256: the contract would revert")
    return value


def sdiv(a: int, b: int) -> int:
    """Integer division truncating toward zero, as Solidity's ``/`` on signed integers.

    ``sdiv(-7, 2) == -3`` where Python's ``-7 // 2 == -4``.
    """
    if b == 0:
        raise ZeroDivisionError("division by zero (the contract would revert)")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def payout_factor(total_at_risk: int, threshold: int) -> int:
    """``min(1, threshold / total_at_risk)`` in WAD, rounded down as the contract's uint256 math.

    When more is staked than the threshold, every payout shrinks pro rata so the round's total
    exposure stays bounded (Numerai's payout factor).
    """
    _check_uint256("total_at_risk", total_at_risk)
    _check_uint256("threshold", threshold)
    if total_at_risk <= threshold:
        return WAD
    product = threshold * WAD
    if product > UINT256_MAX:
        raise OverflowError("threshold * WAD overflows uint256: the contract would revert")
    return product // total_at_risk  # both non-negative: floor == truncation


def stake_payout(stake: int, score: int, total_at_risk: int, threshold: int, cap: int) -> int:
    """Stake payout in wei (negative: burned), exactly as ``Federation.stakePayout``.

    ``score`` and ``cap`` are WAD fixed point (``cap = 0.05e18`` clips at +-5% of the stake).
    """
    _check_uint256("stake", stake)
    _check_int256("score", score)
    _check_uint256("cap", cap)
    if stake > INT256_MAX:
        raise ValueError(f"stake={stake} does not fit int256")
    if cap > INT256_MAX:
        raise ValueError(f"cap={cap} does not fit int256")
    factor = payout_factor(total_at_risk, threshold)
    raw = sdiv(_int256_result("score * factor", score * factor), WAD)
    clipped = max(-cap, min(cap, raw))
    return sdiv(_int256_result("stake * clipped", stake * clipped), WAD)


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
