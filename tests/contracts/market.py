"""Constants and small helpers shared by the market tests (client token, pool, registry)."""

from __future__ import annotations

from brownie import ClientPool, ClientToken, accounts

WAD = 10**18
SUPPLY = 1_000_000 * WAD  # client tokens minted at registration
FEE_BPS = 30
FUNDING = 1_000_000 * WAD  # base tokens minted to each of the first ten accounts
SEED_TOKENS = 100_000 * WAD  # the seeded pool: 100k tokens against 10k base (price 0.1)
SEED_BASE = 10_000 * WAD
MINIMUM_LIQUIDITY = 1000
DEAD = "0x000000000000000000000000000000000000dEaD"
FAR = 2**64  # a deadline that never expires
MAX = 2**256 - 1
PRECISION = 10**27  # ClientToken.dividendPerToken scale


def register(registry, client, name: str = "Client One", symbol: str = "C1"):
    """Register ``client`` and return its token and pool as Brownie contracts."""
    registry.register(name, symbol, {"from": client})
    return ClientToken.at(registry.tokenOf(client)), ClientPool.at(registry.poolOf(client))


def fresh_clone(cloner, implementation, container):
    """An uninitialized clone of ``implementation`` as a ``container`` (ClientToken/ClientPool)."""
    tx = cloner.clone(implementation, {"from": accounts[0]})
    return container.at(tx.events["Cloned"]["instance"])


def amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int = FEE_BPS) -> int:
    """Uniswap v2 output with the fee on the input (the pool's formula, in Python)."""
    if reserve_in == 0 or reserve_out == 0:
        return 0
    in_with_fee = amount_in * (10_000 - fee_bps)
    return in_with_fee * reserve_out // (reserve_in * 10_000 + in_with_fee)


def ints(values) -> tuple[int, ...]:
    """A tuple return value as plain ints (Brownie's tuples refuse to compare to int tuples)."""
    return tuple(int(v) for v in values)
