"""Investor agents on fixed inputs: each rule's orders, sizes and refusals, and reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fl_node.errors import ConfigError
from fl_node.market import (
    MomentumTrader,
    NoiseTrader,
    Observation,
    Order,
    PassiveHolder,
    Portfolio,
    TokenView,
    ValueTrader,
    make_agent,
    parse_population,
)
from fl_node.market.agents import annuity, population_names
from fl_node.market.amm import amount_out, base_to_reach, tokens_to_reach

A, B, C = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40


def token(client: str, price: float = 0.001, depth: float = 500.0, **kw: object) -> TokenView:
    """A pool holding ``depth`` base tokens at ``price``; supply 1M tokens."""
    return TokenView(
        client=client,
        symbol=client[2:5].upper(),
        reserve_token=depth / price,
        reserve_base=depth,
        supply=1_000_000.0,
        **kw,  # type: ignore[arg-type]
    )


def obs(*tokens: TokenView, round_: int = 3, total: int = 20, mode: str = "buyback") -> Observation:
    return Observation(round=round_, rounds_total=total, mode=mode, fee_bps=30, tokens=tokens)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- AMM math ---------------------------------------------------------------------------------
def test_amount_out_matches_uniswap_v2_formula() -> None:
    # 10 in, fee 0.3 %: 9.97 * 1000 / (100 + 9.97)
    assert amount_out(10, 100, 1000, 30) == pytest.approx(9.97 * 1000 / 109.97)
    assert amount_out(10, 0, 1000, 30) == 0.0
    assert amount_out(0, 100, 1000, 30) == 0.0


def test_base_and_tokens_to_reach_a_target_price() -> None:
    rt, rb = 500_000.0, 500.0  # price 0.001
    spend = base_to_reach(0.004, rt, rb)  # 4x the price: sqrt(4) = 2x the base reserve
    assert spend == pytest.approx(500.0)
    k = rt * rb
    assert (rb + spend) ** 2 / k == pytest.approx(0.004)
    assert base_to_reach(0.0005, rt, rb) == 0.0  # already above: nothing to buy
    sell = tokens_to_reach(0.00025, rt, rb)  # a quarter of the price: twice the token reserve
    assert sell == pytest.approx(rt)
    assert tokens_to_reach(0.0, rt, rb) == math.inf
    assert tokens_to_reach(0.01, rt, rb) == 0.0


# -- value trader -----------------------------------------------------------------------------
def test_value_trader_values_the_reward_flow_per_token() -> None:
    trader = ValueTrader(discount=0.9, window=3)
    view = token(A, rewards=(0.0, 100.0, 200.0, 300.0))  # mean of the last 3: 200
    assert trader.expected_reward(view) == pytest.approx(200.0)
    assert trader.fair_value(view, obs(view)) == pytest.approx(200.0 * 9.0 / 1_000_000)
    # In direct mode the reward goes to the client, not to holders: worth nothing to them.
    assert trader.fair_value(view, obs(view, mode="direct")) == 0.0
    # A finite horizon is capped by the task's remaining rounds: 2 rounds left.
    capped = ValueTrader(discount=0.5, window=3, horizon=10)
    late = obs(view, round_=18, total=20)
    assert capped.fair_value(view, late) == pytest.approx(200.0 * (0.5 + 0.25) / 1_000_000)


def test_value_trader_buys_the_cheapest_relative_to_value_first() -> None:
    # Values: A 200*9/1e6 = 0.0018, B 100*9/1e6 = 0.0009, C 0 (no rewards); all priced 0.001.
    views = (
        token(A, rewards=(200.0,)),
        token(B, rewards=(100.0,)),
        token(C, rewards=(0.0,)),
    )
    trader = ValueTrader(discount=0.9, window=5, margin=0.05, max_trade=0.25, max_position=0.5)
    orders = trader.decide(obs(*views), Portfolio(cash=1000.0), rng())
    # Only A is cheap; B and C are dear but not held, so nothing is sold.
    assert [(o.client, o.side) for o in orders] == [(A, "buy")]
    # Capped by max_trade of the cash (250) and by the base that lifts A to its value.
    lift = base_to_reach(0.0018, views[0].reserve_token, views[0].reserve_base)
    assert orders[0].amount == pytest.approx(min(250.0, lift))


def test_value_trader_sells_overpriced_holdings_down_to_value_only() -> None:
    view = token(A, price=0.004, rewards=(100.0,))  # value 0.0009, price 0.004
    trader = ValueTrader(discount=0.9)
    few = trader.decide(obs(view), Portfolio(cash=0.0, holdings={A: 1000.0}), rng())
    assert few == [Order(A, "sell", 1000.0, few[0].note)]  # all of a small holding
    many = trader.decide(obs(view), Portfolio(cash=0.0, holdings={A: 10_000_000.0}), rng())
    assert many[0].amount == pytest.approx(
        tokens_to_reach(0.0009, view.reserve_token, view.reserve_base)
    )
    # Nothing held: nothing to sell, and never a buy of an overpriced token.
    assert trader.decide(obs(view), Portfolio(cash=100.0), rng()) == []


def test_value_trader_respects_the_position_limit_and_waits_for_results() -> None:
    view = token(A, rewards=(500.0,))  # value 0.0045 vs price 0.001: very cheap
    trader = ValueTrader(max_trade=1.0, max_position=0.3)
    # Wealth 1000 + 100k tokens at 0.001 = 1100; room 0.3*1100 - 100 = 230.
    orders = trader.decide(obs(view), Portfolio(cash=1000.0, holdings={A: 100_000.0}), rng())
    assert orders[0].amount == pytest.approx(230.0)
    assert trader.decide(obs(view, round_=0), Portfolio(cash=1000.0), rng()) == []


# -- momentum trader --------------------------------------------------------------------------
def test_momentum_buys_risers_and_sells_fallers() -> None:
    up = token(A, price=0.0012, price_history=(0.001, 0.0011))  # +20 % over 2
    flat = token(B, price=0.001, price_history=(0.001, 0.001))
    down = token(C, price=0.0008, price_history=(0.001, 0.0009))  # -20 %
    trader = MomentumTrader(lookback=2, threshold=0.05, trade_fraction=0.5, top_k=3)
    orders = trader.decide(obs(up, flat, down), Portfolio(cash=100.0, holdings={C: 50.0}), rng())
    assert [(o.client, o.side, o.amount) for o in orders] == [(C, "sell", 50.0), (A, "buy", 50.0)]


def test_momentum_needs_history_and_limits_to_top_k() -> None:
    young = token(A, price=0.002, price_history=(0.001,))
    trader = MomentumTrader(lookback=2)
    assert trader.decide(obs(young), Portfolio(cash=100.0), rng()) == []
    risers = [
        token(c, price=0.001 * (1 + g), price_history=(0.001, 0.001))
        for c, g in ((A, 0.1), (B, 0.3), (C, 0.2))
    ]
    top = MomentumTrader(lookback=2, top_k=2, trade_fraction=0.4)
    orders = top.decide(obs(*risers), Portfolio(cash=100.0), rng())
    assert [o.client for o in orders] == [B, C]
    assert all(o.amount == pytest.approx(20.0) for o in orders)


# -- noise trader -----------------------------------------------------------------------------
def test_noise_trader_is_reproducible_and_bounded() -> None:
    views = tuple(token(c) for c in (A, B, C))
    trader = NoiseTrader(trades_per_round=2, max_fraction=0.1)
    portfolio = Portfolio(cash=1000.0, holdings={A: 10.0, B: 10.0, C: 10.0})
    first = trader.decide(obs(*views), portfolio, rng(42))
    again = trader.decide(obs(*views), portfolio, rng(42))
    assert first == again and len(first) == 2
    assert len({o.client for o in first}) == 2  # two different tokens
    for order in first:
        limit = 100.0 if order.side == "buy" else 10.0
        assert 0 < order.amount <= limit
    other = [trader.decide(obs(*views), portfolio, rng(s)) for s in range(20)]
    assert len({tuple(o) for o in other}) > 1  # the seed matters
    assert {o.side for batch in other for o in batch} == {"buy", "sell"}


def test_noise_trader_without_holdings_only_buys() -> None:
    views = tuple(token(c) for c in (A, B, C))
    for seed in range(10):
        orders = NoiseTrader().decide(obs(*views), Portfolio(cash=50.0), rng(seed))
        assert all(o.side == "buy" for o in orders)
        assert sum(o.amount for o in orders) <= 50.0


# -- passive holder ---------------------------------------------------------------------------
def test_passive_holder_buys_an_equal_basket_once() -> None:
    views = (token(A), token(B), TokenView(C, "C", 0.0, 0.0, 1e6))  # C has no market
    holder = PassiveHolder(invest_fraction=0.9)
    orders = holder.decide(obs(*views, round_=0), Portfolio(cash=300.0), rng())
    assert [(o.client, o.side) for o in orders] == [(A, "buy"), (B, "buy")]
    assert all(o.amount == pytest.approx(135.0) for o in orders)
    held = Portfolio(cash=30.0, holdings={A: 1.0, B: 2.0})
    assert holder.decide(obs(*views), held, rng()) == []


# -- inputs a user can get wrong --------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("value", {"discount": 1.0}, "discount"),
        ("value", {"horizon": 0}, "horizon"),
        ("value", {"window": 0}, "window"),
        ("value", {"max_position": 1.5}, "max_position"),
        ("momentum", {"lookback": 0}, "lookback"),
        ("momentum", {"threshold": -0.1}, "threshold"),
        ("momentum", {"top_k": 0}, "top_k"),
        ("noise", {"trades_per_round": 0}, "trades_per_round"),
        ("noise", {"max_fraction": 0.0}, "max_fraction"),
        ("passive", {"invest_fraction": 2.0}, "invest_fraction"),
        ("passive", {"bogus": 1}, "bad parameters"),
        ("whale", {}, "unknown investor kind"),
    ],
)
def test_bad_agent_parameters_are_refused(kind: str, params: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=message):
        make_agent(kind, **params)


def test_bad_orders_observations_and_portfolios_are_refused() -> None:
    with pytest.raises(ConfigError, match="side"):
        Order(A, "short", 1.0)
    with pytest.raises(ConfigError, match="amount"):
        Order(A, "buy", 0.0)
    with pytest.raises(ConfigError, match="amount"):
        Order(A, "buy", math.nan)
    with pytest.raises(ConfigError, match="mode"):
        obs(token(A), mode="airdrop")
    with pytest.raises(ConfigError, match="round"):
        obs(token(A), round_=21, total=20)
    with pytest.raises(ConfigError, match="cash"):
        Portfolio(cash=-1.0)
    with pytest.raises(ConfigError, match="holding"):
        Portfolio(cash=1.0, holdings={A: -2.0})


def test_population_parsing() -> None:
    kinds = parse_population("value=2, momentum, noise=1,passive=0")
    assert kinds == ["value", "value", "momentum", "noise"]
    assert population_names(kinds) == ["value-1", "value-2", "momentum-1", "noise-1"]
    assert parse_population("") == []
    with pytest.raises(ConfigError, match="unknown investor kind"):
        parse_population("value=1,whale=2")
    with pytest.raises(ConfigError, match="not an integer"):
        parse_population("value=two")
    with pytest.raises(ConfigError, match=">= 0"):
        parse_population("value=-1")


def test_annuity_and_portfolio_value() -> None:
    assert annuity(0.9, None) == pytest.approx(9.0)
    assert annuity(0.5, 2) == pytest.approx(0.75)
    assert annuity(0.5, 0) == 0.0
    views = (token(A, price=0.002), token(B, price=0.001))
    p = Portfolio(cash=10.0, holdings={A.upper().replace("0X", "0x"): 1000.0, B: 500.0})
    assert p.value(obs(*views)) == pytest.approx(10.0 + 2.0 + 0.5)
