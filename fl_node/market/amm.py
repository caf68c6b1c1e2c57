"""Constant-product (Uniswap v2) math in whole tokens, as the agents reason about the pools.

The contract's integer version is ``ClientPool.getAmountOut``; these float twins let an agent
size a trade before sending it. Fees are taken on the input, as on-chain.
"""

from __future__ import annotations

import math

BPS = 10_000


def amount_out(amount_in: float, reserve_in: float, reserve_out: float, fee_bps: int) -> float:
    """Output of an exact-input swap; 0 when a reserve is empty or the input is not positive."""
    if reserve_in <= 0 or reserve_out <= 0 or amount_in <= 0:
        return 0.0
    net = amount_in * (BPS - fee_bps) / BPS
    return net * reserve_out / (reserve_in + net)


def base_to_reach(target_price: float, reserve_token: float, reserve_base: float) -> float:
    """Base tokens a buy must put in to lift the marginal price to ``target_price`` (fee ignored:
    the fee stays in the pool and lifts the price a little more). 0 when the price is already
    there or the pool is empty."""
    if target_price <= 0 or reserve_token <= 0 or reserve_base <= 0:
        return 0.0
    needed = math.sqrt(reserve_token * reserve_base * target_price) - reserve_base
    return max(0.0, needed)


def tokens_to_reach(target_price: float, reserve_token: float, reserve_base: float) -> float:
    """Client tokens a sell must put in to lower the marginal price to ``target_price`` (fee
    ignored). ``inf`` for a target of 0 (no finite sale gets there); 0 when already there."""
    if reserve_token <= 0 or reserve_base <= 0:
        return 0.0
    if target_price <= 0:
        return math.inf
    needed = math.sqrt(reserve_token * reserve_base / target_price) - reserve_token
    return max(0.0, needed)
