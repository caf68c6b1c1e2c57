"""The market on a chain: observations read from public state, orders sent to the real pools.

:class:`MarketReader` builds an :class:`~fl_node.market.observation.Observation` from the
Federation (rounds, Merkle roots), the results tables in the artifact store (checked against
those roots), the registry, the client tokens and their pools: only what anyone can read.
Every read of one observation is pinned to one block, so the reserves, supplies and prices it
holds are a consistent picture of the chain.

:class:`Trader` executes an investor's orders: for each one it asks the pool for a quote, sets
``minOut`` to the quote minus the slippage tolerance and the deadline a little ahead of the
chain's clock, approves the pool once, swaps, and records what was filled (or why the pool
refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import BlockIdentifier

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import ChainClient, TxReverted
from fl_node.config import MODES
from fl_node.errors import ConfigError
from fl_node.federation.protocol import FederationApi, Phase
from fl_node.federation.results import RoundResults
from fl_node.federation.storage import fetch_results
from fl_node.market.observation import Observation, Order, Portfolio, TokenView

WAD = 10**18
MAX_UINT = 2**256 - 1
ZERO_ADDRESS = "0x" + "0" * 40
MODE_NAMES = {v: k for k, v in MODES.items()}


def batch_call(
    client: ChainClient, fns: Sequence[ContractFunction], block: BlockIdentifier = "latest"
) -> list[Any]:
    """Many read-only calls in one JSON-RPC batch, all at ``block``: one round trip instead of
    one per call (a market snapshot reads hundreds of balances)."""
    if not fns:
        return []

    w3 = fns[0].w3  # the connection the functions are bound to (it must be the one batching)
    if any(fn.w3 is not w3 for fn in fns):
        raise ConfigError("batch_call needs functions of contracts of one connection")

    def run() -> list[Any]:
        with w3.batch_requests() as batch:
            for fn in fns:
                batch.add(fn.call(block_identifier=block))
            return list(batch.execute())

    return client.retry.run("batched calls", run)


def to_wei(amount: float) -> int:
    """Whole tokens to wei, rounded down (an order never asks for more than it says)."""
    return max(0, int(amount * WAD))


@dataclass(frozen=True)
class PoolState:
    """A pool's reserves and on-chain price at one block (wei; price in base wei per 1e18)."""

    client: str
    token: str
    pool: str
    symbol: str
    reserve_token: int
    reserve_base: int
    price: int
    supply: int


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
        self.fee_bps = int(client.call(self.api.registry.functions.feeBps()))
        self._addresses: dict[str, tuple[str, str]] = {}
        self._symbols: dict[str, str] = {}
        self._tables: dict[int, RoundResults | None] = {}

    # -- contracts ------------------------------------------------------------------------------
    def addresses(self, who: str) -> tuple[str, str] | None:
        """(token, pool) of a registered client; None before it registers."""
        key = who.lower()
        if key not in self._addresses:
            token = self.client.call(self.api.registry.functions.tokenOf(who))
            if int(token, 16) == 0:
                return None
            pool = self.client.call(self.api.registry.functions.poolOf(who))
            self._addresses[key] = (to_checksum_address(token), to_checksum_address(pool))
        return self._addresses[key]

    def token(self, who: str) -> Contract:
        found = self.addresses(who)
        if found is None:
            raise ConfigError(f"client {who} has not registered: it has no token yet")
        return self.client.contract("ClientToken", found[0])

    def pool(self, who: str) -> Contract:
        found = self.addresses(who)
        if found is None:
            raise ConfigError(f"client {who} has not registered: it has no pool yet")
        return self.client.contract("ClientPool", found[1])

    def all_listed(self) -> bool:
        """Whether every client has registered and its pool has liquidity."""
        if any(self.addresses(who) is None for who in self.clients):
            return False
        reserves = batch_call(
            self.client, [self.pool(w).functions.getReserves() for w in self.clients]
        )
        return all(int(t) > 0 and int(b) > 0 for t, b in reserves)

    def pool_states(self, block: BlockIdentifier = "latest") -> dict[str, PoolState]:
        """Reserves, price and supply of every registered client's pool, read at one block."""
        listed = [who for who in self.clients if self.addresses(who) is not None]
        missing = [who for who in listed if who.lower() not in self._symbols]
        for who, symbol in zip(
            missing,
            batch_call(self.client, [self.token(w).functions.symbol() for w in missing]),
            strict=True,
        ):
            self._symbols[who.lower()] = str(symbol)
        fns: list[ContractFunction] = []
        for who in listed:
            pool, token = self.pool(who).functions, self.token(who).functions
            fns += [pool.getReserves(), pool.price(), token.totalSupply()]
        values = batch_call(self.client, fns, block)
        states = {}
        for k, who in enumerate(listed):
            (reserve_token, reserve_base), price, supply = values[3 * k : 3 * k + 3]
            token_address, pool_address = self._addresses[who.lower()]
            states[who] = PoolState(
                client=who,
                token=token_address,
                pool=pool_address,
                symbol=self._symbols[who.lower()],
                reserve_token=int(reserve_token),
                reserve_base=int(reserve_base),
                price=int(price),
                supply=int(supply),
            )
        return states

    # -- results --------------------------------------------------------------------------------
    def table(self, number: int) -> RoundResults | None:
        """The results table of a finalized round (None for an aborted or unfinished round)."""
        if number not in self._tables:
            info = self.api.round(number)
            if info.phase == Phase.FINALIZED:
                self._tables[number] = fetch_results(self.store, info.results_root)
            elif info.phase == Phase.ABORTED:
                self._tables[number] = None
            else:
                return None  # not final yet: ask again later
        return self._tables[number]

    def track_record(
        self, who: str, finalized: int
    ) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """(rewards, scores, stakes) of ``who`` in rounds 1..finalized (whole tokens; 0: absent)."""
        rewards, scores, stakes = [], [], []
        for number in range(1, finalized + 1):
            table = self.table(number)
            try:
                row = table.row(who) if table is not None else None
            except KeyError:
                row = None
            rewards.append(row.reward / WAD if row else 0.0)
            scores.append(row.score / WAD if row else 0.0)
            stakes.append(row.stake / WAD if row else 0.0)
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
            views.append(
                TokenView(
                    client=who,
                    symbol=state.symbol,
                    reserve_token=state.reserve_token / WAD,
                    reserve_base=state.reserve_base / WAD,
                    supply=state.supply / WAD,
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
    amount_in: int  # wei actually offered (clamped to the balance)
    quote: int  # the pool's quote before the swap
    min_out: int
    amount_out: int  # wei received (0 unless filled)
    status: str  # filled | rejected | skipped
    error: str = ""
    gas: int = 0
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("amount_in", "quote", "min_out", "amount_out"):
            data[key] = str(data[key])  # wei exceed JSON's safe integers
        return data


@dataclass
class Trader:
    """Sends one investor's orders through the pools, with slippage bounds and deadlines."""

    reader: MarketReader
    signer: LocalAccount
    tolerance_bps: int = 100
    deadline_seconds: int = 300
    _approved: set[str] = field(default_factory=set)

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
    def base(self) -> Contract:
        return self.reader.api.base

    def portfolio(self) -> Portfolio:
        listed = [w for w in self.reader.clients if self.reader.addresses(w) is not None]
        fns = [self.base.functions.balanceOf(self.address)]
        fns += [self.reader.token(w).functions.balanceOf(self.address) for w in listed]
        cash, *held = batch_call(self.reader.client, fns)
        holdings = {w: int(h) / WAD for w, h in zip(listed, held, strict=True) if int(h)}
        return Portfolio(cash=int(cash) / WAD, holdings=holdings)

    def claim_dividends(self) -> int:
        """Claim the dividends this investor has accrued on every client token; wei claimed."""
        listed = [w for w in self.reader.clients if self.reader.addresses(w) is not None]
        tokens = [self.reader.token(w) for w in listed]
        owed = batch_call(
            self.reader.client, [t.functions.dividendOf(self.address) for t in tokens]
        )
        total = 0
        for token, amount in zip(tokens, owed, strict=True):
            if int(amount) > 0:
                self.reader.client.send(token.functions.claimDividend(), self.signer)
                total += int(amount)
        return total

    def min_out(self, quote: int) -> int:
        return quote * (10_000 - self.tolerance_bps) // 10_000

    def _approve(self, asset: Contract, spender: str) -> None:
        key = f"{asset.address}:{spender}".lower()
        if key in self._approved:
            return
        client = self.reader.client
        if int(client.call(asset.functions.allowance(self.address, spender))) < MAX_UINT // 2:
            client.send(asset.functions.approve(spender, MAX_UINT), self.signer)
        self._approved.add(key)

    def execute(self, order: Order, session: int, round_number: int) -> Fill:
        client = self.reader.client
        pool, token = self.reader.pool(order.client), self.reader.token(order.client)
        buying = order.side == "buy"
        asset = self.base if buying else token
        held = int(client.call(asset.functions.balanceOf(self.address)))
        amount = min(to_wei(order.amount), held)
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
        quote_fn = (
            pool.functions.quoteBaseForTokens if buying else pool.functions.quoteTokensForBase
        )
        quote = int(client.call(quote_fn(amount)))
        bound = self.min_out(quote)
        if bound == 0:
            return replace(fill, quote=quote, error="the trade is too small to buy anything")
        self._approve(asset, pool.address)
        received_asset = token if buying else self.base
        before = int(client.call(received_asset.functions.balanceOf(self.address)))
        deadline = self.reader.api.now() + self.deadline_seconds
        swap = (
            pool.functions.swapExactBaseForTokens(amount, bound, self.address, deadline)
            if buying
            else pool.functions.swapExactTokensForBase(amount, bound, self.address, deadline)
        )
        try:
            result = client.send(swap, self.signer)
        except TxReverted as exc:
            return replace(fill, quote=quote, min_out=bound, status="rejected", error=exc.error)
        after = int(client.call(received_asset.functions.balanceOf(self.address)))
        return replace(
            fill,
            quote=quote,
            min_out=bound,
            amount_out=after - before,
            status="filled",
            gas=result.gas_used,
        )
