"""The market on a chain: observations read from public state, orders sent to the real pools.

:class:`MarketReader` builds an :class:`~fl_node.market.observation.Observation` from the
Federation (rounds, Merkle roots), the results tables in the artifact store (checked against
those roots), the registry, the client tokens and their pools: only what anyone can read.
Every read of one observation is pinned to one block, so the reserves, supplies and prices it
holds are a consistent picture of the chain. Contracts are read through their typed bindings
(:mod:`fl_node.chain.contracts`), amounts converted with each token's own decimals.

:class:`Trader` executes an investor's orders: for each one it asks the pool for a quote, sets
``minOut`` to the quote minus the slippage tolerance and the deadline a little ahead of the
chain's clock, approves the pool once, swaps, and records what was filled (or why the pool
refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.types import BlockIdentifier

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import ChainClient, TxReverted
from fl_node.chain.contracts import (
    MAX_UINT,
    ZERO_ADDRESS,
    BaseToken,
    ClientPool,
    ClientToken,
    Erc20,
    Read,
    batch_call,
)
from fl_node.config import MODES, to_units
from fl_node.errors import ConfigError
from fl_node.federation.protocol import FederationApi, Phase
from fl_node.federation.results import RoundResults
from fl_node.federation.storage import fetch_results
from fl_node.market.observation import Observation, Order, Portfolio, TokenView

__all__ = [
    "MAX_UINT",
    "SCORE_SCALE",
    "ZERO_ADDRESS",
    "Fill",
    "MarketReader",
    "PoolState",
    "Trader",
    "batch_call",
    "units_down",
]

#: Scores in results tables are fixed point with 18 decimals (1.0 is 10**18), whatever the base.
SCORE_SCALE = 10**18
MODE_NAMES = {v: k for k, v in MODES.items()}


def units_down(amount: float, decimals: int) -> int:
    """Whole tokens in the smallest unit of a token with ``decimals`` decimals, rounded down (an
    order never asks for more than it says)."""
    return max(0, to_units(amount, decimals))


@dataclass(frozen=True)
class PoolState:
    """A pool's reserves, on-chain price and token supply at one block, in smallest units (the
    price in base units per ``ClientPool.PRICE_SCALE`` token units), with both tokens'
    decimals to read them in whole tokens."""

    client: str
    token: str
    pool: str
    symbol: str
    reserve_token: int
    reserve_base: int
    price: int
    supply: int
    token_decimals: int
    base_decimals: int

    @property
    def price_whole(self) -> float:
        """The marginal price in whole base tokens per whole client token."""
        return (self.price * 10**self.token_decimals) / (
            ClientPool.PRICE_SCALE * 10**self.base_decimals
        )

    def base_value(self, tokens: int) -> int:
        """What ``tokens`` (smallest unit) are worth at the marginal price, in base units."""
        return tokens * self.price // ClientPool.PRICE_SCALE


class MarketReader:
    """Public market data of one task's clients (given by address, in the task's order)."""

    def __init__(
        self, client: ChainClient, task_id: int, store: ArtifactStore, clients: Sequence[str]
    ) -> None:
        self.client = client
        self.api = FederationApi(client, task_id)
        self.store = store
        self.clients = [str(to_checksum_address(c)) for c in clients]
        params = self.api.params()
        self.rounds_total = int(params.num_rounds)
        self.mode = MODE_NAMES[int(params.mode)]
        self.fee_bps = self.api.registry.fee_bps()
        self._markets: dict[str, tuple[ClientToken, ClientPool]] = {}
        self._symbols: dict[str, str] = {}
        self._tables: dict[int, RoundResults | None] = {}

    @property
    def base(self) -> BaseToken:
        return self.api.base

    # -- contracts ------------------------------------------------------------------------------
    def market(self, who: str) -> tuple[ClientToken, ClientPool] | None:
        """(token, pool) bindings of a registered client; None before it registers."""
        key = who.lower()
        if key not in self._markets:
            registry = self.api.registry
            token = registry.token_of(who)
            if token is None:
                return None
            pool = registry.pool_of(who)
            if pool is None:
                raise ConfigError(f"client {who} has a token but no pool in the registry")
            self._markets[key] = (ClientToken(self.client, token), ClientPool(self.client, pool))
        return self._markets[key]

    def addresses(self, who: str) -> tuple[str, str] | None:
        """(token, pool) addresses of a registered client; None before it registers."""
        found = self.market(who)
        return None if found is None else (str(found[0].address), str(found[1].address))

    def token(self, who: str) -> ClientToken:
        found = self.market(who)
        if found is None:
            raise ConfigError(f"client {who} has not registered: it has no token yet")
        return found[0]

    def pool(self, who: str) -> ClientPool:
        found = self.market(who)
        if found is None:
            raise ConfigError(f"client {who} has not registered: it has no pool yet")
        return found[1]

    def listed_clients(self) -> list[str]:
        """The clients that have registered (and so have a token and a pool)."""
        return [who for who in self.clients if self.market(who) is not None]

    def all_listed(self) -> bool:
        """Whether every client has registered and its pool has liquidity."""
        if any(self.market(who) is None for who in self.clients):
            return False
        reserves = batch_call(self.client, [self.pool(w).read_reserves() for w in self.clients])
        return all(r.listed for r in reserves)

    def pool_states(self, block: BlockIdentifier = "latest") -> dict[str, PoolState]:
        """Reserves, price and supply of every registered client's pool, read at one block."""
        listed = self.listed_clients()
        missing = [who for who in listed if who.lower() not in self._symbols]
        symbols = batch_call(self.client, [self.token(w).read_symbol() for w in missing])
        for who, symbol in zip(missing, symbols, strict=True):
            self._symbols[who.lower()] = symbol
        reads: list[Read[Any]] = []
        for who in listed:
            pool, token = self.pool(who), self.token(who)
            reads += [pool.read_reserves(), pool.read_price(), token.read_total_supply()]
        values = batch_call(self.client, reads, block)
        states = {}
        for k, who in enumerate(listed):
            reserves, price, supply = values[3 * k : 3 * k + 3]
            token, pool = self.token(who), self.pool(who)
            states[who] = PoolState(
                client=who,
                token=str(token.address),
                pool=str(pool.address),
                symbol=self._symbols[who.lower()],
                reserve_token=reserves.token,
                reserve_base=reserves.base,
                price=price,
                supply=supply,
                token_decimals=token.decimals,
                base_decimals=self.base.decimals,
            )
        return states

    # -- results --------------------------------------------------------------------------------
    def table(self, number: int) -> RoundResults | None:
        """The results table of a finalized round (None for an aborted or unfinished round)."""
        if number not in self._tables:
            info = self.api.round(number)
            if info.phase == Phase.FINALIZED:
                aggregator = self.api.params().aggregator
                self._tables[number] = fetch_results(
                    self.store, info.results_root, owner=aggregator
                )
            elif info.phase == Phase.ABORTED:
                self._tables[number] = None
            else:
                return None  # not final yet: ask again later
        return self._tables[number]

    def track_record(
        self, who: str, finalized: int
    ) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """(rewards, scores, stakes) of ``who`` in rounds 1..finalized (whole tokens; 0: absent)."""
        whole = self.base.whole
        rewards, scores, stakes = [], [], []
        for number in range(1, finalized + 1):
            table = self.table(number)
            try:
                row = table.row(who) if table is not None else None
            except KeyError:
                row = None
            rewards.append(whole(row.reward) if row else 0.0)
            scores.append(row.score / SCORE_SCALE if row else 0.0)
            stakes.append(whole(row.stake) if row else 0.0)
        return tuple(rewards), tuple(scores), tuple(stakes)

    # -- observations ---------------------------------------------------------------------------
    def observe(
        self,
        finalized: int,
        price_history: dict[str, list[float]] | None = None,
        block: int | None = None,
    ) -> tuple[Observation, dict[str, PoolState]]:
        """The market after ``finalized`` rounds, read at ``block`` (default: the latest)."""
        at = self.client.block_number() if block is None else block
        history = price_history or {}
        states = self.pool_states(at)
        views = []
        for who in self.clients:
            state = states.get(who)
            rewards, scores, stakes = self.track_record(who, finalized)
            if state is None:
                views.append(TokenView(who, "", 0.0, 0.0, 0.0, rewards, scores, stakes))
                continue
            token_unit = 10**state.token_decimals
            views.append(
                TokenView(
                    client=who,
                    symbol=state.symbol,
                    reserve_token=state.reserve_token / token_unit,
                    reserve_base=self.base.whole(state.reserve_base),
                    supply=state.supply / token_unit,
                    rewards=rewards,
                    scores=scores,
                    stakes=stakes,
                    price_history=tuple(history.get(who, [])),
                )
            )
        obs = Observation(
            round=finalized,
            rounds_total=self.rounds_total,
            mode=self.mode,
            fee_bps=self.fee_bps,
            tokens=tuple(views),
        )
        return obs, states


@dataclass(frozen=True)
class Fill:
    """What became of one order."""

    investor: str
    session: int
    round: int
    client: str
    side: str
    requested: float  # whole tokens in, as ordered
    amount_in: int  # smallest units actually offered (clamped to the balance)
    quote: int  # the pool's quote before the swap
    min_out: int
    amount_out: int  # smallest units received (0 unless filled)
    status: str  # filled | rejected | skipped
    error: str = ""
    gas: int = 0
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("amount_in", "quote", "min_out", "amount_out"):
            data[key] = str(data[key])  # token amounts exceed JSON's safe integers
        return data


@dataclass
class Trader:
    """Sends one investor's orders through the pools, with slippage bounds and deadlines."""

    reader: MarketReader
    signer: LocalAccount
    tolerance_bps: int = 100
    deadline_seconds: int = 300

    def __post_init__(self) -> None:
        if not 0 <= self.tolerance_bps < 10_000:
            raise ConfigError(
                f"slippage tolerance must be within [0, 10000) bps, got {self.tolerance_bps}"
            )
        if self.deadline_seconds < 1:
            raise ConfigError(f"the swap deadline must be >= 1 second, got {self.deadline_seconds}")

    @property
    def address(self) -> str:
        return str(self.signer.address)

    @property
    def base(self) -> BaseToken:
        return self.reader.base

    def portfolio(self) -> Portfolio:
        listed = self.reader.listed_clients()
        reads = [self.base.read_balance_of(self.address)]
        reads += [self.reader.token(w).read_balance_of(self.address) for w in listed]
        cash, *held = batch_call(self.reader.client, reads)
        holdings = {
            w: self.reader.token(w).whole(h) for w, h in zip(listed, held, strict=True) if h
        }
        return Portfolio(cash=self.base.whole(cash), holdings=holdings)

    def claim_dividends(self) -> int:
        """Claim the dividends this investor has accrued on every client token; base units."""
        tokens = [self.reader.token(w) for w in self.reader.listed_clients()]
        owed = batch_call(self.reader.client, [t.read_dividend_of(self.address) for t in tokens])
        total = 0
        for token, amount in zip(tokens, owed, strict=True):
            if amount > 0:
                token.claim_dividend(self.signer)
                total += amount
        return total

    def min_out(self, quote: int) -> int:
        return quote * (10_000 - self.tolerance_bps) // 10_000

    def execute(self, order: Order, session: int, round_number: int) -> Fill:
        pool, token = self.reader.pool(order.client), self.reader.token(order.client)
        buying = order.side == "buy"
        asset: Erc20 = self.base if buying else token
        received: Erc20 = token if buying else self.base
        held = asset.balance_of(self.address)
        amount = min(units_down(order.amount, asset.decimals), held)
        fill = Fill(
            investor=self.address,
            session=session,
            round=round_number,
            client=order.client,
            side=order.side,
            requested=order.amount,
            amount_in=amount,
            quote=0,
            min_out=0,
            amount_out=0,
            status="skipped",
            note=order.note,
        )
        if amount == 0:
            return replace(fill, error="nothing to trade")
        quote = pool.quote_base_for_tokens(amount) if buying else pool.quote_tokens_for_base(amount)
        bound = self.min_out(quote)
        if bound == 0:
            return replace(fill, quote=quote, error="the trade is too small to buy anything")
        # An investor trades often: approve the pool once, for good, the first time it is short.
        asset.ensure_allowance(self.signer, pool.address, amount, approve=MAX_UINT)
        before = received.balance_of(self.address)
        deadline = self.reader.api.now() + self.deadline_seconds
        swap = pool.swap_exact_base_for_tokens if buying else pool.swap_exact_tokens_for_base
        try:
            result = swap(self.signer, amount, bound, self.address, deadline)
        except TxReverted as exc:
            return replace(fill, quote=quote, min_out=bound, status="rejected", error=exc.error)
        after = received.balance_of(self.address)
        return replace(
            fill,
            quote=quote,
            min_out=bound,
            amount_out=after - before,
            status="filled",
            gas=result.gas_used,
        )
