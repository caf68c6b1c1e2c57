"""Investors trading client tokens beside a running federation, from the orchestrating process.

:class:`MarketSession` is hooked into the federation's wait loop (``on_tick``). After every
finalized round, once every reward of that round has been claimed (so buybacks and dividends are
in the prices), it takes a snapshot of the market, lets each investor decide on what it sees and
executes its orders through the pools, then snapshots again. A first session runs as soon as
every client has opened its market, before any result exists (the passive holders buy then).

A session starts only while no claim can be in flight (in a round's commit or reveal phase, or
once every finalized round is fully claimed): a buyback claim quotes the pool and bounds its swap
by that quote, and a trade landing between the two would make the client's claim revert. The
sessions are sequenced by the protocol's own state, not by pausing anything: with the in-process
runtime the hook runs between the daemons' steps, so the federation does not move during a
session, and :meth:`MarketSession.gate` holds the aggregator from the moment a round is seen
finalized until its session is over, so every finalized round gets exactly one session. With the
federation's roles as separate processes they run on, and each order waits for a quiet moment.

Each investor is a dev account after the clients' (``LocalChain(accounts=...)`` is raised to
cover them), funded with its budget in base tokens minted by the deployer. Its decisions are
seeded per (seed, investor, session), so a rerun of the same config gives the same orders.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from eth_account.signers.local import LocalAccount

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import ChainClient
from fl_node.chain.contracts import BaseToken, ClientPool
from fl_node.chain.keys import account_from_key
from fl_node.errors import ConfigError
from fl_node.federation.context import derive_seed
from fl_node.federation.protocol import Phase, TaskStatus
from fl_node.market.accounting import holdings_of
from fl_node.market.agents import Agent, make_agent, population_names
from fl_node.market.chain import Fill, MarketReader, PoolState, Trader, batch_call
from fl_node.simulation.localfed import DEPLOYER, FIRST_CLIENT, LocalFederation, Progress
from fl_node.toolchain.localchain import dev_private_keys

#: The population of ``fl-node simulate`` unless told otherwise.
DEFAULT_POPULATION = ("value", "value", "momentum", "noise", "noise", "passive")


@dataclass
class Investor:
    name: str
    agent: Agent
    account: LocalAccount
    budget: float
    trader: Trader | None = None
    dividends: int = 0  # dividends claimed over the run, in the base token's smallest unit

    @property
    def address(self) -> str:
        return str(self.account.address)


@dataclass
class MarketSession:
    """The investors of one local federation and the market's history over the run."""

    fed: LocalFederation
    kinds: Sequence[str]
    budget: float = 1_000.0
    seed: int = 0
    tolerance_bps: int = 100
    claim_wait: float = 60.0  # seconds to wait for a round's claims before trading anyway
    concurrent: bool = False  # the federation runs on during a session (separate processes)
    say: Callable[[str], None] = print
    agent_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Called as ``(session, finalized)`` once the investors' orders of a session are executed,
    #: before its closing snapshot: the clients' own trades (their funding policy) go there.
    after_trades: Callable[[int, int], None] | None = None
    investors: list[Investor] = field(init=False, default_factory=list)
    snapshots: list[dict[str, Any]] = field(init=False, default_factory=list)
    fills: list[Fill] = field(init=False, default_factory=list)
    price_history: dict[str, list[float]] = field(init=False, default_factory=dict)
    sessions_done: int = field(init=False, default=0)
    last_round_traded: int = field(init=False, default=-1)
    minted: int = field(init=False, default=0)
    _reader: MarketReader | None = field(init=False, default=None)
    _client: ChainClient | None = field(init=False, default=None)
    _waiting_since: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.budget <= 0 and self.kinds:
            raise ConfigError(f"the investor budget must be > 0 base tokens, got {self.budget}")
        first = FIRST_CLIENT + self.fed.n_clients
        needed = first + len(self.kinds)
        # Anvil funds (with ETH for gas) only the accounts it is told to create.
        self.fed.chain.accounts = max(self.fed.chain.accounts, needed)
        keys = dev_private_keys(needed)
        for j, (kind, name) in enumerate(
            zip(self.kinds, population_names(self.kinds), strict=True)
        ):
            agent = make_agent(kind, **self.agent_params.get(kind, {}))
            self.investors.append(
                Investor(name, agent, account_from_key(keys[first + j]), self.budget)
            )

    # -- set-up ---------------------------------------------------------------------------------
    def fund(self) -> None:
        """Mint each investor's budget (after ``fed.setup()``, before the processes start)."""
        fed = self.fed
        base = BaseToken(fed.client)
        for investor in self.investors:
            amount = base.units(investor.budget)
            base.mint(fed.accounts[DEPLOYER], investor.address, amount)
            self.minted += amount
        # A client of its own: its gas meter then counts the investors' transactions only.
        self._client = ChainClient(fed.chain.rpc_url, fed.deployment)
        clients = [a.address for a in fed.client_accounts]
        self._reader = MarketReader(
            self._client, fed.task_id, ArtifactStore(fed.config.store), clients
        )
        for investor in self.investors:
            investor.trader = Trader(self._reader, investor.account, self.tolerance_bps)
        if self.investors:
            self.say(
                f"{len(self.investors)} investors funded with {self.budget:g} base tokens each"
            )

    @property
    def reader(self) -> MarketReader:
        if self._reader is None:
            raise ConfigError("the market session is not funded yet: call fund() after setup()")
        return self._reader

    @property
    def investor_gas(self) -> int:
        return 0 if self._client is None else self._client.gas.total

    # -- when to trade --------------------------------------------------------------------------
    def quiet(self) -> bool:
        """True when no reward claim can be in flight (see the module's docstring)."""
        api = self.reader.api
        state = api.state()
        current = state.current_round
        infos = [api.round(n) for n in range(max(1, current - 1), current + 1)]
        for info in infos:
            if info.phase == Phase.FINALIZED and info.reward_left > 0:  # rewards left to claim
                return False
        if state.status != TaskStatus.ACTIVE or current == 0:
            return True
        return infos[-1].phase in (Phase.COMMIT, Phase.REVEAL, Phase.FINALIZED, Phase.ABORTED)

    def on_tick(self, progress: Progress) -> None:
        """The runtime's hook: trade once per newly finalized round, when quiet."""
        target = progress.finalized
        if target <= self.last_round_traded:
            return
        if target == 0 and not self.reader.all_listed():
            return
        if not self.quiet():
            if self._waiting_since is None:
                self._waiting_since = time.monotonic()
            if not self._waited_enough():
                return
            self.say(f"claims of round {target} still pending after {self.claim_wait:.0f} s")
        self._waiting_since = None
        self.trade(target)

    def gate(self) -> bool:
        """Whether the aggregator may take its next step: not while a finalized round awaits its
        session (so no round finalizes before the previous one's session has run)."""
        return self.fed.progress().finalized <= max(self.last_round_traded, 0)

    def _waited_enough(self) -> bool:
        return (
            self._waiting_since is not None
            and time.monotonic() - self._waiting_since >= self.claim_wait
        )

    def finish(self, finalized: int) -> None:
        """After every process exited: the last session, if the last round was not traded on."""
        if finalized > self.last_round_traded:
            self.trade(finalized)

    # -- a session ------------------------------------------------------------------------------
    def trade(self, finalized: int) -> None:
        started = time.monotonic()
        session = self.sessions_done
        obs, states = self.reader.observe(finalized, self.price_history)
        self._snapshot(session, finalized, "before", states)
        order = np.random.default_rng(derive_seed(self.seed, "investor-order", session))
        for k in order.permutation(len(self.investors)):
            investor = self.investors[int(k)]
            trader = investor.trader
            assert trader is not None
            if obs.mode == "dividend":
                investor.dividends += trader.claim_dividends()
            portfolio = trader.portfolio()
            rng = np.random.default_rng(derive_seed(self.seed, "investor", investor.name, session))
            for order_ in investor.agent.decide(obs, portfolio, rng):
                if self.concurrent:
                    self._wait_until_quiet()
                self.fills.append(trader.execute(order_, session, finalized))
        if obs.mode == "dividend":
            self._harvest(states)
        if self.after_trades is not None:
            self.after_trades(session, finalized)
        _obs, after = self.reader.observe(finalized, self.price_history)
        self._snapshot(session, finalized, "after", after)
        for who, state in after.items():
            self.price_history.setdefault(who, []).append(state.price_whole)
        self.sessions_done += 1
        self.last_round_traded = finalized
        filled = sum(1 for f in self.fills if f.session == session and f.status == "filled")
        self.say(
            f"market session {session} after round {finalized}: {filled} trades filled "
            f"({time.monotonic() - started:.1f} s)"
        )

    def _wait_until_quiet(self) -> None:
        deadline = time.monotonic() + self.claim_wait
        while not self.quiet() and time.monotonic() < deadline:
            time.sleep(0.1)

    def _harvest(self, states: dict[str, PoolState]) -> None:
        """Fold each pool's own dividends into its base reserve (a keeper's public call)."""
        keeper = self.fed.accounts[DEPLOYER]
        owed = batch_call(
            self.reader.client,
            [self.reader.token(who).read_dividend_of(s.pool) for who, s in states.items()],
        )
        for who, amount in zip(states, owed, strict=True):
            if amount > 0:  # sent by the deployer's client: not counted as investors' gas
                pool = self.reader.pool(who)
                ClientPool(self.fed.client, pool.address).harvest_dividends(keeper)

    def _snapshot(
        self, session: int, finalized: int, when: str, states: dict[str, PoolState]
    ) -> None:
        client = self.reader.client
        block = client.block_number()
        names = {
            a.address.lower(): self.fed.config.client(i).name or f"client-{i}"
            for i, a in enumerate(self.fed.client_accounts)
        }
        labelled = {names[a.address.lower()]: a.address for a in self.fed.client_accounts}
        clients = holdings_of(self.reader, labelled, states, block)
        investors = holdings_of(
            self.reader, {i.name: i.address for i in self.investors}, states, block
        )
        self.snapshots.append(
            {
                "session": session,
                "round": finalized,
                "when": when,
                "block": block,
                "pools": {
                    names[who.lower()]: {
                        "client": who,
                        "symbol": s.symbol,
                        "pool": s.pool,
                        "reserve_token": str(s.reserve_token),
                        "reserve_base": str(s.reserve_base),
                        "price_wei": str(s.price),
                        "price": s.price_whole,
                        "supply": s.supply / 10**s.token_decimals,
                    }
                    for who, s in states.items()
                },
                "clients": {k: v.to_json() for k, v in clients.items()},
                "investors": {k: v.to_json() for k, v in investors.items()},
            }
        )
