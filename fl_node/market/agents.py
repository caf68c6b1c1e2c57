"""Investor agents: pure decision rules over public market data.

Every agent is a frozen dataclass of parameters with one method,
``decide(observation, portfolio, rng) -> list[Order]``: no chain, no clock, no hidden state, so
the same inputs always give the same orders (the random generator is seeded by the caller per
investor and round). What an agent remembers between rounds is what the chain remembers: its own
holdings and the public history in the observation.

- :class:`ValueTrader` prices a token by the discounted reward flow it expects to reach token
  holders (buyback and dividend modes: the client's rewards; direct mode: nothing), buys below
  that value and sells above it;
- :class:`MomentumTrader` buys what has risen over its lookback and sells what has fallen;
- :class:`NoiseTrader` trades random tokens in random directions and sizes;
- :class:`PassiveHolder` buys an equal-weight basket once and holds it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from fl_node.errors import ConfigError
from fl_node.market.amm import base_to_reach, tokens_to_reach
from fl_node.market.observation import Observation, Order, Portfolio, TokenView

#: Smallest trade worth a transaction, in base tokens (or client tokens for a sell).
MIN_TRADE = 1e-3


class Agent(Protocol):
    kind: str

    def decide(
        self, obs: Observation, portfolio: Portfolio, rng: np.random.Generator
    ) -> list[Order]: ...


def _fraction(name: str, value: float, *, allow_zero: bool = False) -> None:
    low_ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and low_ok and value <= 1):
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        raise ConfigError(f"{name} must be within {bound}, got {value!r}")


def annuity(discount: float, periods: int | None) -> float:
    """Present value of 1 per round for ``periods`` rounds starting next round (``None``: for
    ever, ``d / (1 - d)``)."""
    if periods is None:
        return discount / (1.0 - discount)
    return sum(discount**k for k in range(1, max(0, periods) + 1))


@dataclass(frozen=True)
class ValueTrader:
    """Buys tokens priced below their fundamental value and sells those above it.

    Fundamental value per token = expected reward per round to token holders x annuity / supply.
    The expected reward is the mean of the client's last ``window`` rewards (0 in direct mode,
    where rewards go to the client and not to holders). ``horizon=None`` values the flow as a
    perpetuity (the client keeps earning after this task); an integer caps it at that many
    rounds and at the task's remaining rounds. Trades stop at ``margin`` around the value, move the
    price at most to the value, put at most ``max_trade`` of the cash into one token per round
    and keep each position below ``max_position`` of the portfolio's value.
    """

    discount: float = 0.95
    horizon: int | None = None
    window: int = 5
    margin: float = 0.1
    max_trade: float = 0.25
    max_position: float = 0.4
    kind: str = "value"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.discount) and 0 < self.discount < 1):
            raise ConfigError(f"discount must be within (0, 1), got {self.discount!r}")
        if self.horizon is not None and self.horizon < 1:
            raise ConfigError(f"horizon must be >= 1 round or None, got {self.horizon!r}")
        if self.window < 1:
            raise ConfigError(f"window must be >= 1 round, got {self.window!r}")
        _fraction("margin", self.margin, allow_zero=True)
        _fraction("max_trade", self.max_trade)
        _fraction("max_position", self.max_position)

    def expected_reward(self, token: TokenView) -> float:
        recent = token.rewards[-self.window :]
        return float(np.mean(recent)) if recent else 0.0

    def fair_value(self, token: TokenView, obs: Observation) -> float:
        """Base tokens per client token that the expected reward flow is worth to a holder."""
        if obs.mode == "direct" or token.supply <= 0:
            return 0.0
        periods = None if self.horizon is None else min(self.horizon, obs.remaining_rounds)
        return self.expected_reward(token) * annuity(self.discount, periods) / token.supply

    def decide(
        self, obs: Observation, portfolio: Portfolio, rng: np.random.Generator
    ) -> list[Order]:
        if obs.round == 0:
            return []  # no results yet: nothing to value
        sells: list[Order] = []
        buys: list[tuple[float, TokenView, float]] = []
        for token in obs.listed():
            value, price = self.fair_value(token, obs), token.price
            held = portfolio.holding(token.client)
            if price > value * (1 + self.margin):
                amount = min(held, tokens_to_reach(value, token.reserve_token, token.reserve_base))
                if amount > MIN_TRADE:
                    note = f"price above value {value:.3g}"
                    sells.append(Order(token.client, "sell", amount, note))
            elif price < value * (1 - self.margin):
                buys.append((value / price, token, value))
        buys.sort(key=lambda b: (-b[0], b[1].client.lower()))
        wealth = portfolio.value(obs)
        cash = portfolio.cash
        orders = list(sells)
        for _ratio, token, value in buys:
            room = self.max_position * wealth - portfolio.holding(token.client) * token.price
            spend = min(
                base_to_reach(value, token.reserve_token, token.reserve_base),
                self.max_trade * portfolio.cash,
                room,
                cash,
            )
            if spend > MIN_TRADE:
                orders.append(Order(token.client, "buy", spend, f"price below value {value:.3g}"))
                cash -= spend
        return orders


@dataclass(frozen=True)
class MomentumTrader:
    """Buys the ``top_k`` tokens whose price rose more than ``threshold`` over the last
    ``lookback`` observations (``trade_fraction`` of the cash, split evenly) and sells every
    holding whose price fell more than ``threshold``."""

    lookback: int = 2
    threshold: float = 0.05
    trade_fraction: float = 0.3
    top_k: int = 3
    kind: str = "momentum"

    def __post_init__(self) -> None:
        if self.lookback < 1:
            raise ConfigError(f"lookback must be >= 1 observation, got {self.lookback!r}")
        if not (math.isfinite(self.threshold) and self.threshold >= 0):
            raise ConfigError(f"threshold must be >= 0, got {self.threshold!r}")
        _fraction("trade_fraction", self.trade_fraction)
        if self.top_k < 1:
            raise ConfigError(f"top_k must be >= 1, got {self.top_k!r}")

    def trend(self, token: TokenView) -> float | None:
        """Relative price change over the lookback; None without enough history."""
        if len(token.price_history) < self.lookback:
            return None
        then = token.price_history[-self.lookback]
        return token.price / then - 1.0 if then > 0 else None

    def decide(
        self, obs: Observation, portfolio: Portfolio, rng: np.random.Generator
    ) -> list[Order]:
        orders: list[Order] = []
        rising: list[tuple[float, TokenView]] = []
        for token in obs.listed():
            trend = self.trend(token)
            if trend is None:
                continue
            held = portfolio.holding(token.client)
            if trend < -self.threshold and held > MIN_TRADE:
                orders.append(Order(token.client, "sell", held, f"trend {trend:+.1%}"))
            elif trend > self.threshold:
                rising.append((trend, token))
        rising.sort(key=lambda r: (-r[0], r[1].client.lower()))
        chosen = rising[: self.top_k]
        if chosen:
            each = self.trade_fraction * portfolio.cash / len(chosen)
            if each > MIN_TRADE:
                orders += [Order(t.client, "buy", each, f"trend {r:+.1%}") for r, t in chosen]
        return orders


@dataclass(frozen=True)
class NoiseTrader:
    """Trades ``trades_per_round`` random tokens: a fair coin picks the side (a sell without a
    holding becomes a buy); a buy spends up to ``max_fraction`` of the cash, a sell gives up to
    all of the holding. The same number of random draws every round, whatever the portfolio, so
    one investor's stream of decisions does not depend on another's fills."""

    trades_per_round: int = 2
    max_fraction: float = 0.1
    kind: str = "noise"

    def __post_init__(self) -> None:
        if self.trades_per_round < 1:
            raise ConfigError(f"trades_per_round must be >= 1, got {self.trades_per_round!r}")
        _fraction("max_fraction", self.max_fraction)

    def decide(
        self, obs: Observation, portfolio: Portfolio, rng: np.random.Generator
    ) -> list[Order]:
        tokens = obs.listed()
        if not tokens:
            return []
        k = min(self.trades_per_round, len(tokens))
        picks = rng.choice(len(tokens), size=k, replace=False)
        coins = rng.random(k)
        sizes = rng.random(k)
        orders: list[Order] = []
        cash = portfolio.cash
        for pick, coin, size in zip(picks, coins, sizes, strict=True):
            token = tokens[int(pick)]
            held = portfolio.holding(token.client)
            if coin < 0.5 and held > MIN_TRADE:
                orders.append(Order(token.client, "sell", held * max(size, 0.05), "noise"))
                continue
            spend = self.max_fraction * portfolio.cash * max(size, 0.05)
            if MIN_TRADE < spend <= cash:
                orders.append(Order(token.client, "buy", spend, "noise"))
                cash -= spend
        return orders


@dataclass(frozen=True)
class PassiveHolder:
    """Puts ``invest_fraction`` of its cash into an equal-weight basket of every listed token the
    first time it sees a market, then holds: it never sells."""

    invest_fraction: float = 0.9
    kind: str = "passive"

    def __post_init__(self) -> None:
        _fraction("invest_fraction", self.invest_fraction)

    def decide(
        self, obs: Observation, portfolio: Portfolio, rng: np.random.Generator
    ) -> list[Order]:
        tokens = obs.listed()
        if not tokens or any(v > 0 for v in portfolio.holdings.values()):
            return []
        each = self.invest_fraction * portfolio.cash / len(tokens)
        if each <= MIN_TRADE:
            return []
        return [Order(t.client, "buy", each, "basket") for t in tokens]


AGENT_KINDS: dict[str, type[Any]] = {
    "value": ValueTrader,
    "momentum": MomentumTrader,
    "noise": NoiseTrader,
    "passive": PassiveHolder,
}


def make_agent(kind: str, **params: Any) -> Agent:
    """An agent of ``kind`` (see :data:`AGENT_KINDS`) with ``params`` over its defaults."""
    if kind not in AGENT_KINDS:
        raise ConfigError(
            f"unknown investor kind {kind!r}; choose from {', '.join(sorted(AGENT_KINDS))}"
        )
    try:
        agent: Agent = AGENT_KINDS[kind](**params)
    except TypeError as exc:
        raise ConfigError(f"{kind} investor: bad parameters {sorted(params)} ({exc})") from None
    return agent


def parse_population(text: str) -> list[str]:
    """``"value=2,momentum=1,noise"`` -> ``["value", "value", "momentum", "noise"]``."""
    kinds: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, count_text = part.partition("=")
        name = name.strip()
        if name not in AGENT_KINDS:
            raise ConfigError(
                f"unknown investor kind {name!r} in {text!r}; choose from "
                f"{', '.join(sorted(AGENT_KINDS))}"
            )
        try:
            count = int(count_text) if count_text else 1
        except ValueError:
            raise ConfigError(
                f"investor count {count_text!r} in {text!r} is not an integer"
            ) from None
        if count < 0:
            raise ConfigError(f"investor count of {name} must be >= 0, got {count}")
        kinds += [name] * count
    return kinds


def population_names(kinds: Sequence[str]) -> list[str]:
    """Readable, unique names: ``value-1``, ``value-2``, ``noise-1`` ..."""
    seen: dict[str, int] = {}
    names = []
    for kind in kinds:
        seen[kind] = seen.get(kind, 0) + 1
        names.append(f"{kind}-{seen[kind]}")
    return names
