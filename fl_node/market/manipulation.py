"""What it costs to move a client token's time-weighted price, at a pool's liquidity.

A lender reads a client token's price as a time-weighted average over a window (Uniswap v2's
oracle), never the spot price. To lift that average by a factor ``k`` for the whole window, an
attacker must lift the spot price by ``k`` with a buy and keep it there until the window is over.
Its costs, in base tokens:

- the fees of the round trip (buying in, selling out), if nobody trades against it;
- each time an arbitrageur brings the price back (sells the overpriced token into the pool), the
  attacker has to buy again, and loses what the arbitrageur wins:
  ``B * (k**(1/4) - k**(-1/4))**2`` for a fee-less pool with base reserve ``B``.

The first is the floor of a manipulation on a thin market with no arbitrageurs; the second is what
each defended block or trading session adds. Both are pure functions of the reserves (whole
tokens), so a report can print them for any pool.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fl_node.market.amm import BPS, amount_out


@dataclass(frozen=True)
class ManipulationCost:
    """The cost, in base tokens, of lifting a pool's price by ``factor`` for a window."""

    factor: float
    base_in: float  # the buy that lifts the spot price by ``factor``
    tokens_bought: float
    round_trip_fees: float  # lost buying in and selling back, with nobody trading against it
    per_arbitrage: float  # lost each time an arbitrageur restores the price

    def describe(self, window_seconds: int) -> str:
        return (
            f"lifting the {window_seconds // 60}-min average price by "
            f"{100 * (self.factor - 1):.0f} % takes a buy of {self.base_in:,.1f} base tokens held "
            f"for the whole window: {self.round_trip_fees:,.2f} in fees with nobody trading "
            f"against it, plus {self.per_arbitrage:,.2f} each time an arbitrageur restores the "
            "price"
        )


def buy_to_lift(factor: float, reserve_token: float, reserve_base: float, fee_bps: int) -> float:
    """Base tokens a buy must put in (fee included) so the pool's price ends ``factor`` times
    higher. The fee stays in the pool, so the answer is found by bisection on the exact swap."""
    if factor <= 1 or reserve_token <= 0 or reserve_base <= 0:
        return 0.0
    target = factor * reserve_base / reserve_token

    def price_after(base_in: float) -> float:
        out = amount_out(base_in, reserve_base, reserve_token, fee_bps)
        return (reserve_base + base_in) / (reserve_token - out)

    low, high = 0.0, reserve_base * (math.sqrt(factor) - 1) * BPS / max(1, BPS - fee_bps) + 1.0
    while price_after(high) < target:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if price_after(mid) < target:
            low = mid
        else:
            high = mid
    return high


def manipulation_cost(
    factor: float, reserve_token: float, reserve_base: float, fee_bps: int
) -> ManipulationCost:
    """Costs of lifting the pool's price by ``factor`` (> 1) and holding it (see module doc)."""
    if factor <= 1:
        raise ValueError(f"factor must be above 1, got {factor}")
    if reserve_token <= 0 or reserve_base <= 0:
        raise ValueError("the pool has no liquidity")
    base_in = buy_to_lift(factor, reserve_token, reserve_base, fee_bps)
    bought = amount_out(base_in, reserve_base, reserve_token, fee_bps)
    back = amount_out(bought, reserve_token - bought, reserve_base + base_in, fee_bps)
    quarter = factor**0.25
    return ManipulationCost(
        factor=factor,
        base_in=base_in,
        tokens_bought=bought,
        round_trip_fees=base_in - back,
        per_arbitrage=reserve_base * (quarter - 1 / quarter) ** 2,
    )
