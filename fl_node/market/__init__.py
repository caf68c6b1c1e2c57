"""The client-token market as investors see it: public observations, pure trading agents, and the
execution of their orders through the real AMM pools.

:mod:`.observation` holds what an investor can know (per-round results, pool reserves, supplies,
its own portfolio) and what it can ask for (orders); :mod:`.agents` holds the decision rules, pure
functions of an observation, a portfolio and a seeded random generator; :mod:`.amm` the
constant-product math they reason with; :mod:`.chain` reads observations from the chain and the
artifact store and executes orders with slippage bounds and deadlines; :mod:`.accounting` values
portfolios and checks that no base token is created or lost.
"""

from __future__ import annotations

from fl_node.market.agents import (
    AGENT_KINDS,
    Agent,
    MomentumTrader,
    NoiseTrader,
    PassiveHolder,
    ValueTrader,
    make_agent,
    parse_population,
)
from fl_node.market.observation import Observation, Order, Portfolio, TokenView

__all__ = [
    "AGENT_KINDS",
    "Agent",
    "MomentumTrader",
    "NoiseTrader",
    "Observation",
    "Order",
    "PassiveHolder",
    "Portfolio",
    "TokenView",
    "ValueTrader",
    "make_agent",
    "parse_population",
]
