"""Cost of moving a pool's time-weighted price, against the constant-product math by hand."""

from __future__ import annotations

import math

import pytest

from fl_node.market.amm import amount_out
from fl_node.market.manipulation import buy_to_lift, manipulation_cost

T, B = 500_000.0, 1_000.0  # the demo's pools: 500k client tokens against 1,000 base tokens


def test_without_fee_the_buy_is_the_square_root_formula() -> None:
    # Constant product: B' = B * sqrt(k) lifts the price B/T by k.
    assert buy_to_lift(1.5, T, B, 0) == pytest.approx(B * (math.sqrt(1.5) - 1), rel=1e-9)
    assert buy_to_lift(4.0, T, B, 0) == pytest.approx(B, rel=1e-9)


def test_with_a_fee_the_buy_lands_exactly_on_the_target_price() -> None:
    base_in = buy_to_lift(1.5, T, B, 30)
    out = amount_out(base_in, B, T, 30)
    assert (B + base_in) / (T - out) == pytest.approx(1.5 * B / T, rel=1e-9)
    assert base_in > B * (math.sqrt(1.5) - 1)  # part of the input is the fee


def test_no_lift_costs_nothing() -> None:
    assert buy_to_lift(1.0, T, B, 30) == 0.0
    assert buy_to_lift(0.5, T, B, 30) == 0.0


def test_costs_of_a_fifty_percent_lift_at_the_demo_liquidity() -> None:
    cost = manipulation_cost(1.5, T, B, 30)
    # Round trip: buy in, sell straight back; only fees are lost (about 0.3 % each way).
    assert 0.004 * cost.base_in < cost.round_trip_fees < 0.006 * cost.base_in
    # Each arbitrage restoring the price: B (k^1/4 - k^-1/4)^2 = 41.2 base tokens.
    assert cost.per_arbitrage == pytest.approx(41.24, abs=0.01)
    assert "30-min average price by 50 %" in cost.describe(1800)


def test_deeper_pools_cost_proportionally_more() -> None:
    small, large = manipulation_cost(2.0, T, B, 30), manipulation_cost(2.0, 10 * T, 10 * B, 30)
    assert large.base_in == pytest.approx(10 * small.base_in, rel=1e-6)
    assert large.per_arbitrage == pytest.approx(10 * small.per_arbitrage, rel=1e-9)


@pytest.mark.parametrize(("factor", "tokens", "base"), [(1.0, T, B), (0.9, T, B), (2.0, 0, B)])
def test_bad_inputs_are_refused(factor: float, tokens: float, base: float) -> None:
    with pytest.raises(ValueError):
        manipulation_cost(factor, tokens, base, 30)


def test_the_report_prices_the_thinnest_market() -> None:
    from fl_node.simulation.report import manipulation_line

    report = {
        "markets": {
            "alice": {"reserve_token": T, "reserve_base": 4 * B, "fee_bps": 30},
            "bob": {"reserve_token": T, "reserve_base": B, "fee_bps": 30},
            "empty": {"reserve_token": 0.0, "reserve_base": 0.0, "fee_bps": 30},
        }
    }
    line = manipulation_line(report, factor=1.5, window=1800)
    assert line is not None and "(bob, 1,000 base tokens deep)" in line
    assert "plus 41.24 each time" in line
    assert manipulation_line({"markets": {}}) is None
