"""What a client must hold before it joins a task, checked before its first transaction.

A client that joins without the base tokens for its stake holds a seat that every round waits
for until its commit window ends. So before registering or joining, the node checks that the
wallet (with what is already free in the vault) covers the join bond, one round's stake and the
market offering of its registration, and that it has the ETH to pay the gas of all that and of
one round; otherwise it stops with one error that says what it has and what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from fl_node.config import format_units
from fl_node.errors import ChainError
from fl_node.federation.protocol import FederationApi

#: Gas of each set-up step and of one round (commit, reveal, claim), rounded up from what they
#: measure (``make bench-gas``): the ETH check asks for this much at the current fee.
SETUP_GAS = {
    "register": 600_000,
    "register with a market": 850_000,
    "approvals": 100_000,
    "deposit": 110_000,
    "join": 140_000,
}
ROUND_GAS = 330_000


@dataclass(frozen=True)
class JoinNeeds:
    """Base tokens (smallest unit) and gas a client needs to join a task and play one round."""

    join_bond: int
    stake: int
    offering: int
    free_stake: int
    gas: int

    @property
    def base(self) -> int:
        """Base tokens the wallet must hold (what is free in the vault already counts)."""
        return max(0, self.join_bond + self.stake + self.offering - self.free_stake)


def join_needs(
    join_bond: int, stake: int, offering: int, free_stake: int, registering: bool
) -> JoinNeeds:
    steps = ["approvals", "deposit", "join"]
    if registering:
        steps.append("register with a market" if offering > 0 else "register")
    gas = sum(SETUP_GAS[s] for s in steps) + ROUND_GAS
    return JoinNeeds(join_bond, stake, offering, free_stake, gas)


def shortfalls(needs: JoinNeeds, wallet: int, eth: int, gas_price: int, decimals: int) -> list[str]:
    """What is missing, as phrases for one error (empty: enough of everything)."""
    out = []
    if wallet < needs.base:

        def fmt(amount: int) -> str:
            return format_units(amount, decimals)

        parts = [f"the join bond {fmt(needs.join_bond)}", f"one round's stake {fmt(needs.stake)}"]
        if needs.offering:
            parts.append(f"its market offering {fmt(needs.offering)}")
        free = f" (and {fmt(needs.free_stake)} free stake)" if needs.free_stake else ""
        out.append(
            f"it holds {fmt(wallet)} base tokens{free} but needs {fmt(needs.base)} "
            f"({' + '.join(parts)}): get {fmt(needs.base - wallet)} more base tokens"
        )
    eth_needed = needs.gas * gas_price
    if eth < eth_needed:
        out.append(
            f"it holds {format_units(eth, 18)} ETH but needs about {format_units(eth_needed, 18)} "
            f"ETH for gas ({needs.gas:,} gas to register, join and play one round at "
            f"{format_units(gas_price, 9)} gwei): send it ETH"
        )
    return out


def check_join_funds(
    api: FederationApi, me: str, stake: int, offering: int, registering: bool
) -> None:
    """Raise a ChainError naming what ``me`` holds and needs when it cannot join ``api``'s task
    (its join bond, one round's ``stake``, the ``offering`` of its registration, and the gas)."""
    params = api.params()
    needs = join_needs(params.join_bond, stake, offering, api.free_stake(me), registering)
    missing = shortfalls(
        needs,
        wallet=api.base_balance(me),
        eth=api.client.balance_eth(me),
        gas_price=api.client.fees().per_gas,
        decimals=api.decimals,
    )
    if missing:
        raise ChainError(
            f"{me} cannot join task {api.task_id}: "
            + "; and ".join(missing)
            + " before starting the node"
        )
