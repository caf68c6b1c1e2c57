"""What an investor can see and what it can ask for.

Everything in an :class:`Observation` is public: per-round rewards, scores and stakes come from
the results tables stored under the on-chain Merkle roots, reserves and supplies from the token
and pool contracts, and the price history from earlier observations (the pools' ``Sync`` events
carry the same numbers). Amounts are in whole base tokens or client tokens (floats, not wei):
agents reason about prices, and the executor converts orders to wei and clamps them to what the
investor really holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from fl_node.errors import ConfigError

MODES = ("direct", "buyback", "dividend")
SIDES = ("buy", "sell")


@dataclass(frozen=True)
class TokenView:
    """One client's token and pool, and the client's public track record.

    ``rewards``, ``scores`` and ``stakes`` have one entry per finalized round (0 when the client
    did not commit); ``price_history`` holds the prices seen at earlier observations, oldest
    first, without the current one.
    """

    client: str
    symbol: str
    reserve_token: float
    reserve_base: float
    supply: float
    rewards: tuple[float, ...] = ()
    scores: tuple[float, ...] = ()
    stakes: tuple[float, ...] = ()
    price_history: tuple[float, ...] = ()

    @property
    def listed(self) -> bool:
        """Whether the pool has liquidity on both sides (it can be traded)."""
        return self.reserve_token > 0 and self.reserve_base > 0

    @property
    def price(self) -> float:
        """Marginal price in base tokens per client token: the pool's reserve ratio."""
        return self.reserve_base / self.reserve_token if self.reserve_token > 0 else 0.0


@dataclass(frozen=True)
class Observation:
    """The market after ``round`` finalized rounds (0: before the first) of ``rounds_total``."""

    round: int
    rounds_total: int
    mode: str
    fee_bps: int
    tokens: tuple[TokenView, ...]

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown distribution mode {self.mode!r}; one of {MODES}")
        if not 0 <= self.round <= self.rounds_total:
            raise ConfigError(f"round {self.round} is outside 0..{self.rounds_total}")
        if not 0 <= self.fee_bps < 10_000:
            raise ConfigError(f"fee_bps must be within [0, 10000), got {self.fee_bps}")

    @property
    def remaining_rounds(self) -> int:
        return self.rounds_total - self.round

    def token(self, client: str) -> TokenView:
        wanted = client.lower()
        for view in self.tokens:
            if view.client.lower() == wanted:
                return view
        raise KeyError(client)

    def listed(self) -> list[TokenView]:
        """Tradeable tokens in a canonical order (by client address): decisions must not depend
        on the order the reader happened to list them in."""
        return sorted((t for t in self.tokens if t.listed), key=lambda t: t.client.lower())


@dataclass(frozen=True)
class Portfolio:
    """An investor's base tokens and client-token holdings (by client address)."""

    cash: float
    holdings: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not math.isfinite(self.cash) or self.cash < 0:
            raise ConfigError(f"cash must be finite and >= 0, got {self.cash!r}")
        for client, amount in self.holdings.items():
            if not math.isfinite(amount) or amount < 0:
                raise ConfigError(f"holding of {client} must be finite and >= 0, got {amount!r}")

    def holding(self, client: str) -> float:
        wanted = client.lower()
        return sum(v for k, v in self.holdings.items() if k.lower() == wanted)

    def value(self, obs: Observation) -> float:
        """Mark-to-market wealth: cash plus holdings at the pools' marginal prices."""
        return self.cash + sum(self.holding(t.client) * t.price for t in obs.tokens)


@dataclass(frozen=True)
class Order:
    """Swap ``amount`` on ``client``'s pool: base tokens in for a buy, client tokens in for a
    sell. The executor bounds the output by the pool's quote minus its slippage tolerance."""

    client: str
    side: str
    amount: float
    note: str = ""

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ConfigError(f"order side must be 'buy' or 'sell', got {self.side!r}")
        if not math.isfinite(self.amount) or self.amount <= 0:
            raise ConfigError(f"order amount must be finite and > 0, got {self.amount!r}")
