"""Who owns what, in base tokens: wealth of clients and investors, and conservation of the base.

Wealth counts everything an account could turn into base tokens at today's prices: its wallet,
its stake in the vault, client tokens at the pool's marginal price, liquidity shares at their
part of both reserves, and dividends accrued but not claimed. Conservation is checked against an
explicit list of every account and contract the run knows: if a base token ever reached an
address outside that list, or a stake burn were not accounted for, the sums would not close.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from eth_utils import to_checksum_address
from web3.types import BlockIdentifier

from fl_node.chain.client import ChainClient
from fl_node.chain.contracts import Read, StakeRecord
from fl_node.chain.events import EventLog
from fl_node.market.chain import ZERO_ADDRESS, MarketReader, PoolState, batch_call


@dataclass(frozen=True)
class Holdings:
    """An account's base-token position at one block (whole base tokens)."""

    base: float  # wallet balance
    stake: float  # everything it has in the stake vault (free, locked or pending)
    tokens: float  # value of the client tokens it holds, at the pools' marginal prices
    liquidity: float  # value of its LP shares: its part of both reserves
    dividends: float  # dividends accrued and not claimed yet

    @property
    def wealth(self) -> float:
        return self.base + self.stake + self.tokens + self.liquidity + self.dividends

    def to_json(self) -> dict[str, float]:
        return {**asdict(self), "wealth": self.wealth}


def holdings_of(
    reader: MarketReader,
    accounts: Mapping[str, str],
    states: Mapping[str, PoolState],
    block: BlockIdentifier,
) -> dict[str, Holdings]:
    """Each account's position (label -> address) across the base token, the vault and every
    client's token and pool, read in one batch at ``block``."""
    api = reader.api
    whole = api.base.whole  # base units to whole base tokens, by the token's own decimals
    owners = list(states)
    reads: list[Read[Any]] = [reader.pool(o).read_total_supply() for o in owners]
    for who in accounts.values():
        reads += [api.base.read_balance_of(who), api.vault.read_stake_of(who)]
        for owner in owners:
            token, pool = reader.token(owner), reader.pool(owner)
            reads += [token.read_balance_of(who), pool.read_balance_of(who)]
            reads.append(token.read_dividend_of(who))
    values = iter(batch_call(reader.client, reads, block))
    lp_supply = {o: int(next(values)) for o in owners}
    out = {}
    for label in accounts:
        base = int(next(values))
        stake: StakeRecord = next(values)
        tokens = liquidity = dividends = 0.0
        for owner in owners:
            state = states[owner]
            held, shares, owed = (int(next(values)) for _ in range(3))
            tokens += whole(state.base_value(held))
            if shares and lp_supply[owner]:
                # LP shares own their part of both reserves; the token side at the marginal price.
                both = state.reserve_base + state.base_value(state.reserve_token)
                liquidity += whole(shares * both // lp_supply[owner])
            dividends += whole(owed)
        out[label] = Holdings(whole(base), whole(stake.balance), tokens, liquidity, dividends)
    return out


@dataclass(frozen=True)
class Conservation:
    """Base tokens at the end of a run, accounted for (all in the base token's smallest unit)."""

    minted: int  # Transfer events from the zero address
    expected_minted: int  # what the run's set-up says it minted
    burned: int  # Transfer events to the zero address
    vault_burned: int  # the stake vault's own count of burned stake
    held_by_known: int  # sum of balances of every account and contract the run knows
    total_supply: int
    unknown_holders: tuple[str, ...]  # addresses that received base but are not in the list
    escrow_balance: int
    escrow_held: int  # the escrow's own bookkeeping (totalHeld)
    balances: dict[str, int]
    decimals: int  # of the base token: how to show these amounts in whole tokens

    @property
    def ok(self) -> bool:
        return (
            self.minted == self.expected_minted
            and self.held_by_known + self.burned == self.minted
            and self.burned == self.vault_burned
            and self.total_supply + self.burned == self.minted
            and not self.unknown_holders
            and self.escrow_balance == self.escrow_held
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["balances"] = {k: str(v) for k, v in self.balances.items()}
        for key in (
            "minted",
            "expected_minted",
            "burned",
            "vault_burned",
            "held_by_known",
            "total_supply",
            "escrow_balance",
            "escrow_held",
        ):
            data[key] = str(data[key])  # token amounts exceed JSON's safe integers
        data["ok"] = self.ok
        return data


def check_conservation(
    client: ChainClient,
    reader: MarketReader,
    known: Mapping[str, str],
    expected_minted: int,
    from_block: int,
) -> Conservation:
    """Balances of every account in ``known`` (label -> address) plus the suite's contracts and
    every client's token and pool, against the base token's mints and burns since ``from_block``."""
    assert client.deployment is not None
    api = reader.api
    labelled: dict[str, str] = {label: to_checksum_address(a) for label, a in known.items()}
    for name in ("Federation", "StakeVault", "RewardEscrow", "ClientRegistry"):
        labelled[name] = to_checksum_address(client.deployment.address(name))
    labelled["base token"] = to_checksum_address(api.base.address)
    for who in reader.clients:
        found = reader.addresses(who)
        if found is not None:
            labelled[f"token of {who[:10]}"] = found[0]
            labelled[f"pool of {who[:10]}"] = found[1]
    labelled["dead address"] = to_checksum_address("0x000000000000000000000000000000000000dEaD")
    block = client.block_number()
    held = batch_call(client, [api.base.read_balance_of(a) for a in labelled.values()], block)
    balances = {label: int(v) for label, v in zip(labelled, held, strict=True)}
    minted = burned = 0
    receivers: set[str] = set()
    log = EventLog(client, [client.deployment.base_token])
    for event in log.fetch(from_block, block, names=["Transfer"]):
        source, target, value = event.args["from"], event.args["to"], int(event.args["value"])
        if int(source, 16) == 0:
            minted += value
        if int(target, 16) == 0:
            burned += value
        else:
            receivers.add(to_checksum_address(target))
    known_addresses = set(labelled.values())
    escrow_balance = balances["RewardEscrow"]
    return Conservation(
        minted=minted,
        expected_minted=expected_minted,
        burned=burned,
        vault_burned=api.vault.total_burned(block),
        held_by_known=sum(balances.values()),
        total_supply=api.base.total_supply(block),
        unknown_holders=tuple(sorted(receivers - known_addresses - {ZERO_ADDRESS})),
        escrow_balance=escrow_balance,
        escrow_held=api.escrow.total_held(block),
        balances=balances,
        decimals=api.decimals,
    )


def sum_wealth(values: Iterable[Holdings]) -> float:
    return sum(h.wealth for h in values)
