"""Borrowing to buy quality: simulated clients borrow base tokens against their own client tokens.

In the funded federation of :mod:`fl_node.simulation.investment` a client raises base tokens only
by selling its treasury after each round, so its labels (the simulation's "compute": the resource
its money buys) come a round at a time. Here a client can also borrow up front from the suite's
:class:`~fl_node.chain.contracts.TokenLending`, with part of its treasury as collateral valued at
the lending contract's time-weighted price of its pool, and buy labels at once.

The set-up, as a deployment would do it:

- the governor (the local governor dev account, the Timelock's proposer) schedules, in one
  ``scheduleBatch``, ``setMarket`` for every client's token (its pool, ``ltv_bps``,
  ``threshold_bps``, ``borrow_cap``, enabled) as soon as every client has opened its market; the
  batch is executed once its delay has passed, at the first session after round 1 (listing
  records each market's first observation; the simulation then moves the chain's clock one TWAP
  window on and pokes, so every market has a valid price);
- a lender (a dev account) deposits ``lender_deposit`` base tokens in the vault (ERC-4626);
- a liquidator (a dev account, anyone in the contract's eyes) holds ``liquidator_funds`` base
  tokens to repay the debts it liquidates; it also keeps the oracle (pokes every market).

Each market session after a finalized round (after the investors' trades; the aggregator is held
meanwhile, so moving the chain's clock opens or closes no window) runs, in order:

1. *prices*: the keeper pokes every market; a market without a valid TWAP waits a window;
2. *liquidations*: every position whose debt exceeds its liquidation limit (threshold x value at
   the TWAP) is liquidated by the liquidator (up to the close factor, repeated while the position
   stays liquidatable; the liquidator keeps the collateral it seizes);
3. *repayment from income*: every indebted client pays its debt with the base tokens it holds
   above its stake's reserve (what the round paid it: its stake payout, the Numerai-style reward
   in base tokens, and what is left of earlier sales);
4. *the loan* (at the first session after listing only): every client with unlabelled data posts
   ``collateral_share_bps`` of its treasury and borrows ``borrow_share_bps`` of its borrowing
   limit (LTV x collateral value at the TWAP: the safety margin below its LTV), at most what its
   remaining labels cost;
5. *funding* (:class:`~fl_node.simulation.investment.FundingDesk`, unchanged): while it has
   unlabelled data a client sells part of its free treasury and spends everything above its
   reserve, the loan included, on labels;
6. *repayment from sales*: a client whose labels are all bought and who still owes sells the same
   share of its free treasury (the buybacks of its rewards lift that price) and pays its debt;
7. the chain's clock moves one TWAP window on and the keeper pokes again, so the next session's
   average price covers what happened since this one.

So the loan is a bridge to quality: labels first, debt after. A client whose data turns out good
earns buybacks that lift its token, finishes its labels and repays from its sales; a bad one earns
nothing, keeps selling its treasury for labels, its price falls, and once its position passes the
threshold the liquidator takes collateral. ``walk_away`` names clients that, at the session after
their loan, sell their whole free treasury and never repay (a scenario for tests and what-ifs).

Nothing here is part of the node: the lending contract and its binding are the deployment's; this
module is the simulated clients' policy and the simulated lender, governor and liquidator.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from fl_node.chain.client import TxReverted
from fl_node.chain.contracts import BaseToken, TokenLending, batch_call
from fl_node.chain.deploy import local_governor
from fl_node.chain.events import EventLog
from fl_node.chain.keys import account_from_key
from fl_node.errors import ConfigError
from fl_node.market.chain import Fill, Trader
from fl_node.market.observation import Order
from fl_node.simulation.investment import FundingDesk, InvestmentSettings
from fl_node.simulation.localfed import DEPLOYER, AnvilClock, LocalFederation
from fl_node.simulation.resources import (
    labels_affordable,
    purchase_cost,
    spendable,
    stake_reserve,
    tokens_to_sell,
)
from fl_node.toolchain.localchain import dev_private_keys

Say = Callable[[str], None]
BPS = 10_000
#: The lending events a run's report reads back from the chain.
LENDING_EVENTS = ("Borrowed", "Repaid", "Liquidated", "BadDebtWrittenOff")
#: Most liquidations of one position in one session (each repays at most the close factor).
MAX_LIQUIDATIONS = 8


@dataclass(frozen=True)
class BorrowingSettings:
    """The lending market the governor lists, its lender and liquidator, and the clients'
    borrowing policy (see the module's docstring)."""

    collateral_share_bps: int = 5_000  # of its treasury a client posts as collateral
    borrow_share_bps: int = 9_000  # of its borrowing limit it borrows (the safety margin)
    ltv_bps: int = 5_000  # the markets' loan-to-value limit
    threshold_bps: int = 7_500  # the markets' liquidation threshold
    borrow_cap: float = 1_000.0  # base tokens a market's positions may owe together
    lender_deposit: float = 5_000.0  # base tokens the lender puts in the vault
    liquidator_funds: float = 2_000.0  # base tokens the liquidator holds to repay debts
    twap_window: int = 300  # seconds the collateral's average price spans (the least allowed)
    walk_away: tuple[str, ...] = ()  # clients that dump their free treasury after their loan

    def check(self) -> BorrowingSettings:
        for name, value, low in (
            ("collateral share", self.collateral_share_bps, 1),
            ("borrowed share of the limit", self.borrow_share_bps, 1),
        ):
            if not low <= value <= BPS:
                raise ConfigError(f"the {name} must be within (0, 10000] bps, got {value!r}")
        if not 0 < self.ltv_bps < self.threshold_bps < BPS:
            raise ConfigError(
                f"the markets need 0 < LTV < threshold < 10000 bps, got LTV {self.ltv_bps} and "
                f"threshold {self.threshold_bps}"
            )
        for name, amount in (
            ("borrow cap", self.borrow_cap),
            ("lender's deposit", self.lender_deposit),
            ("liquidator's funds", self.liquidator_funds),
        ):
            if not 0 < amount < 1e12:
                raise ConfigError(f"the {name} must be > 0 base tokens, got {amount!r}")
        if not 300 <= self.twap_window <= 86_400:
            raise ConfigError(
                f"the TWAP window must be between 300 s and 1 day, got {self.twap_window!r}"
            )
        return self


@dataclass
class Loan:
    """One client's borrowing over a run, in base units (client tokens for collateral)."""

    collateral: int = 0  # posted
    borrowed: int = 0
    repaid: int = 0  # by the client
    repaid_by_liquidator: int = 0
    seized: int = 0  # collateral the liquidator took
    liquidations: int = 0
    written_off: int = 0
    borrowed_round: int | None = None
    price_at_loan: float | None = None  # TWAP when it borrowed (base per whole token)
    walked_away: bool = False


@dataclass
class BorrowingDesk:
    """Lending beside one funded local federation: the governor's listing, the lender, the
    liquidator and keeper, and the clients' borrowing policy."""

    fed: LocalFederation
    settings: BorrowingSettings
    funding: FundingDesk
    lender_index: int  # dev accounts
    liquidator_index: int
    tolerance_bps: int = 100
    say: Say = print
    loans: dict[str, Loan] = field(init=False, default_factory=dict)
    history: list[dict[str, Any]] = field(init=False, default_factory=list)
    fills: list[Fill] = field(init=False, default_factory=list)
    minted: int = field(init=False, default=0)
    deposited: int = field(init=False, default=0)
    listed_round: int | None = field(init=False, default=None)
    _batch: tuple[Any, ...] | None = field(init=False, default=None)
    _lending: TokenLending | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.settings.check()
        keys = dev_private_keys(max(self.lender_index, self.liquidator_index) + 1)
        self.lender: LocalAccount = account_from_key(keys[self.lender_index])
        self.liquidator: LocalAccount = account_from_key(keys[self.liquidator_index])
        self.governor = local_governor()
        self.fed.chain.accounts = max(
            self.fed.chain.accounts, self.lender_index + 1, self.liquidator_index + 1
        )
        # The markets' oracle window is part of the deployment.
        self.fed.suite = dataclasses.replace(
            self.fed.suite, lending_twap_window=self.settings.twap_window
        )
        unknown = [n for n in self.settings.walk_away if n not in self.funding.names]
        if unknown:
            raise ConfigError(
                f"walk_away names {unknown}, not clients of the task "
                f"({', '.join(self.funding.names)})"
            )
        self.loans = {name: Loan() for name in self.funding.names}

    # -- set-up ---------------------------------------------------------------------------------
    @property
    def lending(self) -> TokenLending:
        if self._lending is None:
            raise ConfigError("the borrowing desk has not started: call fund() after setup()")
        return self._lending

    @property
    def base(self) -> BaseToken:
        return self.lending.base

    def fund(self) -> None:
        """Mint the lender's and the liquidator's base tokens and fill the vault (after
        ``fed.setup()``)."""
        fed = self.fed
        self._lending = TokenLending(fed.client)
        base = self.base
        deposit = base.units(self.settings.lender_deposit)
        funds = base.units(self.settings.liquidator_funds)
        base.mint(fed.accounts[DEPLOYER], self.lender.address, deposit)
        base.mint(fed.accounts[DEPLOYER], self.liquidator.address, funds)
        self.minted = deposit + funds
        self.lending.deposit(self.lender, deposit)
        self.deposited = deposit
        self.say(
            f"lender {self.lender.address} deposited {self.settings.lender_deposit:g} base tokens "
            f"in the lending vault; liquidator {self.liquidator.address} holds "
            f"{self.settings.liquidator_funds:g}"
        )

    @property
    def clock(self) -> AnvilClock:
        return AnvilClock(self.fed.chain.rpc_url)

    def _clients(self) -> list[tuple[str, LocalAccount]]:
        return list(zip(self.funding.names, self.fed.client_accounts, strict=True))

    def token_of(self, account: LocalAccount) -> str:
        return str(self.funding.reader.token(str(account.address)).address)

    # -- governance -----------------------------------------------------------------------------
    def _schedule(self) -> None:
        """The governor schedules every client's market in one batch."""
        reader = self.funding.reader
        cap = self.base.units(self.settings.borrow_cap)
        payloads = []
        for _name, account in self._clients():
            token, pool = reader.token(account.address), reader.pool(account.address)
            payloads.append(
                self.lending.encode_set_market(
                    token.address,
                    pool.address,
                    self.settings.ltv_bps,
                    self.settings.threshold_bps,
                    cap,
                    True,
                )
            )
        targets = [self.lending.address] * len(payloads)
        salt = keccak(text=f"fl-node simulation: lending markets of task {self.fed.task_id}")
        self._batch = (targets, [0] * len(payloads), payloads, b"\x00" * 32, salt)
        timelock = self.fed.client.contract("Timelock")
        delay = int(timelock.functions.getMinDelay().call())
        self.fed.client.send(timelock.functions.scheduleBatch(*self._batch, delay), self.governor)
        self.say(f"governor scheduled {len(payloads)} lending markets ({delay} s timelock delay)")

    def _execute(self, finalized: int) -> None:
        """Execute the batch once its delay has passed, then wait a window for valid prices."""
        assert self._batch is not None
        client = self.fed.client
        timelock = client.contract("Timelock")
        op = timelock.functions.hashOperationBatch(*self._batch).call()
        ready = int(timelock.functions.getTimestamp(op).call())
        now = client.timestamp()
        if now < ready:
            self.clock.advance(ready - now)
        client.send(timelock.functions.executeBatch(*self._batch), self.governor)
        self.listed_round = finalized
        self.clock.advance(self.settings.twap_window)
        self._poke_all()
        self.say(f"lending markets listed after round {finalized}; prices valid a window later")

    # -- the oracle -----------------------------------------------------------------------------
    def _tokens(self) -> list[str]:
        return [self.token_of(a) for _n, a in self._clients()]

    def _poke_all(self) -> None:
        for token in self._tokens():
            self.lending.poke_oracle(self.liquidator, token)

    def _keep_prices(self) -> None:
        """Poke every market; if one still has no valid average, wait a window and poke again."""
        self._poke_all()
        reads = [self.lending.read_twap_price(t) for t in self._tokens()]
        prices = batch_call(self.fed.client, reads)
        if not all(p.valid for p in prices):
            self.clock.advance(self.settings.twap_window)
            self._poke_all()

    # -- the session ----------------------------------------------------------------------------
    def act(self, session: int, finalized: int) -> None:
        """The market session's hook (after the investors' trades): see the module docstring."""
        if self._batch is None:
            self._schedule()
        if finalized < 1:
            self.funding.act(session, finalized)
            return
        if self.listed_round is None:
            self._execute(finalized)
        entry: dict[str, Any] = {"round": finalized, "session": session, "clients": {}}
        rows = {name: {"liquidated": "0", "seized": "0", "repaid": "0"} for name in self.loans}
        self._keep_prices()
        self._liquidate(rows)
        self._repay(rows, only_done=False)
        if finalized == self.listed_round:
            self._borrow(finalized, rows)
        self._walk_away(session, finalized)
        labelling = {n: self.funding.ledgers[n].remaining > 0 for n in self.loans}
        self.funding.act(session, finalized)
        self._sell_to_repay(session, finalized, labelling)
        self._repay(rows, only_done=True)
        self.clock.advance(self.settings.twap_window)
        self._poke_all()
        positions = self._positions()
        for name, (position, liquidity) in positions.items():
            rows[name]["debt"] = str(position.debt)
            rows[name]["collateral"] = str(position.collateral)
            rows[name]["valid"] = liquidity.valid
            rows[name]["collateral_value"] = str(liquidity.value)
            rows[name]["liquidation_limit"] = str(liquidity.liquidation_limit)
        entry["clients"] = rows
        entry["vault"] = {
            "cash": str(self.lending.cash()),
            "total_debt": str(self.lending.total_debt()),
        }
        self.history.append(entry)
        owed = sum(int(r["debt"]) for r in rows.values())
        self.say(f"lending after round {finalized}: {self.base.format(owed)} base tokens owed")

    def _positions(self) -> dict[str, tuple[Any, Any]]:
        reads: list[Any] = []
        for _name, account in self._clients():
            token, who = self.token_of(account), str(account.address)
            reads += [
                self.lending.read_position_of(token, who),
                self.lending.read_account_liquidity(token, who),
            ]
        values = iter(batch_call(self.fed.client, reads))
        return {name: (next(values), next(values)) for name, _a in self._clients()}

    def _reserve(self, who: str) -> int:
        api = self.funding.reader.api
        config = self.fed.config
        stake = config.units(config.federation.stake, api.decimals)
        return stake_reserve(stake, api.free_stake(who), config.federation.payout_cap)

    # -- the steps ------------------------------------------------------------------------------
    def _liquidate(self, rows: dict[str, dict[str, Any]]) -> None:
        lending, base = self.lending, self.base
        for name, account in self._clients():
            token, who = self.token_of(account), str(account.address)
            loan = self.loans[name]
            for _ in range(MAX_LIQUIDATIONS):
                state = lending.account_liquidity(token, who)
                if not state.liquidatable:
                    break
                wallet = base.balance_of(self.liquidator.address)
                if wallet == 0:
                    self.say(f"the liquidator has no base tokens left to liquidate {name}")
                    break
                held = self.funding.reader.token(who).balance_of(self.liquidator.address)
                bad_before = lending.bad_debt()
                try:
                    lending.liquidate(self.liquidator, token, who, min(state.debt, wallet))
                except TxReverted as exc:  # the position moved between the read and the call
                    self.say(f"liquidating {name} was refused: {exc.error}")
                    break
                paid = wallet - base.balance_of(self.liquidator.address)
                seized = self.funding.reader.token(who).balance_of(self.liquidator.address) - held
                loan.repaid_by_liquidator += paid
                loan.seized += seized
                loan.written_off += lending.bad_debt() - bad_before
                loan.liquidations += 1
                rows[name]["liquidated"] = str(int(rows[name]["liquidated"]) + paid)
                rows[name]["seized"] = str(int(rows[name]["seized"]) + seized)
                self.say(
                    f"{name} liquidated: {base.format(paid)} of its debt repaid for "
                    f"{seized / 10**18:,.0f} of its tokens"
                )

    def _repay(self, rows: dict[str, dict[str, Any]], only_done: bool) -> None:
        """Each indebted client pays what it holds above its stake's reserve (only those whose
        labels are all bought when ``only_done``)."""
        lending, base = self.lending, self.base
        for name, account in self._clients():
            loan = self.loans[name]
            if loan.walked_away or (only_done and self.funding.ledgers[name].remaining > 0):
                continue
            token, who = self.token_of(account), str(account.address)
            debt = lending.position_of(token, who).debt
            if debt == 0:
                continue
            wallet = base.balance_of(who)
            amount = min(spendable(wallet, self._reserve(who)), debt + debt // 1_000 + 1)
            if amount <= 0:
                continue
            try:
                lending.repay(account, token, who, amount)
            except TxReverted as exc:
                if exc.error != "RepayTooSmall":
                    raise
                continue
            paid = wallet - base.balance_of(who)
            loan.repaid += paid
            rows[name]["repaid"] = str(int(rows[name]["repaid"]) + paid)

    def _borrow(self, finalized: int, rows: dict[str, dict[str, Any]]) -> None:
        lending, base, s = self.lending, self.base, self.settings
        label_price = base.units(self.funding.settings.label_price)
        for name, account in self._clients():
            ledger = self.funding.ledgers[name]
            if ledger.remaining == 0:
                continue
            who = str(account.address)
            token = self.funding.reader.token(who)
            post = token.balance_of(who) * s.collateral_share_bps // BPS
            if post == 0:
                continue
            lending.deposit_collateral(account, token.address, post)
            state = lending.account_liquidity(token.address, who)
            wanted = state.borrow_limit * s.borrow_share_bps // BPS - state.debt
            market = lending.market_of(token.address)
            amount = min(
                wanted,
                purchase_cost(ledger.remaining, label_price),
                market.borrow_cap - market.debt,
                lending.cash(),
            )
            loan = self.loans[name]
            loan.collateral += post
            if amount <= 0:
                continue
            lending.borrow(account, token.address, amount)
            loan.borrowed += amount
            loan.borrowed_round = finalized
            price = lending.twap_price(token.address)
            loan.price_at_loan = price.value(10**token.decimals) / base.unit
            rows[name]["borrowed"] = str(amount)
            labels = labels_affordable(amount, label_price, ledger.remaining)
            self.say(
                f"{name} posted {post / 10**token.decimals:,.0f} tokens and borrowed "
                f"{base.format(amount)} base tokens (about {labels} labels)"
            )

    def _walk_away(self, session: int, finalized: int) -> None:
        for name, account in self._clients():
            loan = self.loans[name]
            if name not in self.settings.walk_away or loan.walked_away:
                continue
            if loan.borrowed_round is None or loan.borrowed_round >= finalized:
                continue
            who = str(account.address)
            token = self.funding.reader.token(who)
            amount = token.balance_of(who)
            loan.walked_away = True
            if amount > 0:
                self._sell(account, amount, session, finalized, "walk-away")
            self.say(f"{name} walked away: sold its whole free treasury and stops repaying")

    def _sell_to_repay(self, session: int, finalized: int, labelling: dict[str, bool]) -> None:
        """Clients with their labels bought and a debt sell part of their free treasury (those
        that sold for labels this session do not sell twice)."""
        share = self.funding.settings.sell_share_bps
        for name, account in self._clients():
            loan = self.loans[name]
            if labelling[name] or loan.walked_away or self.funding.ledgers[name].remaining > 0:
                continue
            who = str(account.address)
            if self.lending.position_of(self.token_of(account), who).debt == 0:
                continue
            amount = tokens_to_sell(self.funding.reader.token(who).balance_of(who), share)
            if amount > 0:
                self._sell(account, amount, session, finalized, "repayment")

    def _sell(
        self, account: LocalAccount, amount: int, session: int, finalized: int, note: str
    ) -> None:
        who = str(account.address)
        token = self.funding.reader.token(who)
        trader = Trader(self.funding.reader, account, self.tolerance_bps)
        fill = trader.execute(
            Order(who, "sell", amount / token.unit, note=note), session, finalized
        )
        self.fills.append(fill)

    # -- figures --------------------------------------------------------------------------------
    def events(self) -> list[dict[str, Any]]:
        """The lending contract's Borrowed, Repaid, Liquidated and BadDebtWrittenOff events of
        the run, from the chain."""
        client = self.fed.client
        assert client.deployment is not None
        log = EventLog(client, ["TokenLending"])
        found = log.fetch(client.deployment.block_number, client.block_number(), LENDING_EVENTS)
        return [
            {
                "name": e.name,
                "block": e.block_number,
                **{k: (str(v) if isinstance(v, int) else v) for k, v in e.args.items()},
            }
            for e in found
        ]

    def summary(self, quality: dict[str, float]) -> dict[str, Any]:
        lending, base = self.lending, self.base
        whole = base.whole
        label_price = self.funding.settings.label_price
        events = self.events()
        reader = self.funding.reader
        states = reader.pool_states()
        positions = self._positions()
        clients: dict[str, Any] = {}
        for name, account in self._clients():
            who = str(account.address)
            loan = self.loans[name]
            position, liquidity = positions[name]
            on_chain = _event_totals(events, who)
            ledger = self.funding.ledgers[name]
            state = states.get(who)
            price = state.price_whole if state else None
            twap = lending.twap_price(self.token_of(account))
            token_unit = 10**18 if state is None else 10**state.token_decimals
            interest = (
                loan.repaid
                + loan.repaid_by_liquidator
                + loan.written_off
                + position.debt
                - loan.borrowed
            )
            clients[name] = {
                "address": who,
                "quality": quality[name],
                "collateral_posted": loan.collateral / token_unit,
                "borrowed": whole(loan.borrowed),
                "borrowed_round": loan.borrowed_round,
                "repaid": whole(loan.repaid),
                "repaid_by_liquidator": whole(loan.repaid_by_liquidator),
                "interest": whole(interest),
                "liquidated": loan.liquidations > 0,
                "liquidations": loan.liquidations,
                "collateral_seized": loan.seized / token_unit,
                "written_off": whole(loan.written_off),
                "outstanding": whole(position.debt),
                "collateral_left": position.collateral / token_unit,
                "walked_away": loan.walked_away,
                "labels_bought": ledger.labelled - ledger.start,
                "labels_from_loan": labels_affordable(
                    loan.borrowed, base.units(label_price), ledger.available
                ),
                "final_labels": ledger.labelled,
                "price_at_loan": loan.price_at_loan,
                "final_price": price,
                "final_twap": twap.value(token_unit) / base.unit if twap.valid else None,
                "final_ltv": (position.debt / liquidity.value if liquidity.value else None),
                "events_match": on_chain
                == {
                    "borrowed": loan.borrowed,
                    "repaid": loan.repaid,
                    "liquidated": loan.repaid_by_liquidator,
                    "seized": loan.seized,
                    "written_off": loan.written_off,
                },
                "debt_per_round": [h["clients"][name].get("debt") for h in self.history],
            }
        borrowed = sum(c.borrowed for c in self.loans.values())
        repaid = sum(c.repaid + c.repaid_by_liquidator for c in self.loans.values())
        cash, total_debt = lending.cash(), lending.total_debt()
        held = base.balance_of(lending.address)
        assets = lending.total_assets()
        mirror_cash = self.deposited + repaid - borrowed
        lender_assets = int(
            lending.functions.convertToAssets(lending.shares_of(self.lender.address)).call()
        )
        return {
            "settings": dataclasses.asdict(self.settings),
            "lender": self.lender.address,
            "liquidator": self.liquidator.address,
            "governor": self.governor.address,
            "listed_after_round": self.listed_round,
            "clients": clients,
            "vault": {
                "deposited": whole(self.deposited),
                "cash": whole(cash),
                "total_debt": whole(total_debt),
                "total_assets": whole(assets),
                "bad_debt": whole(lending.bad_debt()),
                "base_held": whole(held),
                "dividends_held": whole(lending.dividends_held()),
                "cash_matches_flows": cash == mirror_cash,
                "assets_are_cash_plus_debt": assets == cash + total_debt,
                "balance_is_cash_plus_dividends": held == cash + lending.dividends_held(),
                "debts_sum": sum(p.debt for p, _l in positions.values()),
                "lender_assets": whole(lender_assets),
                "lender_return": whole(lender_assets - self.deposited),
                # the same in base units (exact; strings: they exceed JSON's safe integers)
                "units": {
                    "deposited": str(self.deposited),
                    "cash": str(cash),
                    "total_debt": str(total_debt),
                    "total_assets": str(assets),
                    "bad_debt": str(lending.bad_debt()),
                    "base_held": str(held),
                    "dividends_held": str(lending.dividends_held()),
                },
            },
            "liquidator_tokens_value": whole(
                sum(
                    states[str(a.address)].base_value(
                        reader.token(str(a.address)).balance_of(self.liquidator.address)
                    )
                    for _n, a in self._clients()
                    if str(a.address) in states
                )
            ),
            "events": events,
            "history": self.history,
            "fills": [f.to_json() for f in self.fills],
        }


def _event_totals(events: list[dict[str, Any]], borrower: str) -> dict[str, int]:
    """Amounts of one borrower's lending events (base units; seized in token units)."""
    out = dict.fromkeys(("borrowed", "repaid", "liquidated", "seized", "written_off"), 0)
    for e in events:
        if str(e.get("borrower", "")).lower() != borrower.lower():
            continue
        if e["name"] == "Borrowed":
            out["borrowed"] += int(e["amount"])
        elif e["name"] == "Repaid":
            out["repaid"] += int(e["amount"])
        elif e["name"] == "Liquidated":
            out["liquidated"] += int(e["repaid"])
            out["seized"] += int(e["seized"])
        elif e["name"] == "BadDebtWrittenOff":
            out["written_off"] += int(e["amount"])
    return out


# -- the measurement ----------------------------------------------------------------------------
def run_borrowing_measurement(
    out: Path,
    rounds: int = 20,
    config: str | Path = "invest8",
    seed: int | None = None,
    investment: InvestmentSettings | None = None,
    borrowing: BorrowingSettings | None = None,
    investors: tuple[str, ...] | None = None,
    say: Say = print,
    on_tick: Callable[[int], None] | None = None,
    timeout: float = 3600.0,
    baseline: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """One funded federation whose clients also borrow (with the default investors unless
    ``investors`` says otherwise); returns the figures and their Markdown. ``baseline``: a run of
    the same federation without loans (a run of the investment measurement's ``runs``), shown
    beside it round by round."""
    from fl_node.configs import load_config
    from fl_node.simulation.experiment import SimulationSettings, run_simulation
    from fl_node.simulation.investors import DEFAULT_POPULATION

    investment = (investment or InvestmentSettings()).check()
    borrowing = (borrowing or BorrowingSettings()).check()
    population = DEFAULT_POPULATION if investors is None else investors
    base = load_config(config)
    settings = SimulationSettings.measurement(
        base,
        rounds=rounds,
        seed=seed,
        investors=population,
        timeout=timeout,
        investment=investment,
        borrowing=borrowing,
    )
    run_dir = out / f"{base.name}-borrowing-{time.strftime('%Y%m%d-%H%M%S')}"
    say(f"== borrowing: {run_dir}")

    def tick(progress: Any) -> None:
        if on_tick is not None:
            on_tick(progress.finalized)

    report = run_simulation(base, run_dir, settings, say=lambda m: say("  " + m), on_tick=tick)
    result = summarize_borrowing(run_dir, report)
    result |= {
        "rounds": rounds,
        "config": base.name,
        "investment_settings": dataclasses.asdict(investment),
    }
    if baseline is not None:
        result["baseline"] = {
            "label": baseline["label"],
            "run_dir": baseline.get("run_dir"),
            "test_accuracy_per_round": baseline["test_accuracy_per_round"],
            "final_labels": {n: c["final_labels"] for n, c in baseline["clients"].items()},
        }
    return result, borrowing_markdown(result)


def matching_baseline(
    investment_result: dict[str, Any],
    config: str,
    rounds: int,
    investment: InvestmentSettings,
    investors: tuple[str, ...],
) -> dict[str, Any] | None:
    """The run of an investment measurement (``results/investment.json``) that is this
    borrowing run without loans: same config, rounds, resource settings and investors."""
    from fl_node.simulation.investors import DEFAULT_POPULATION

    if (
        investment_result.get("config") != config
        or investment_result.get("rounds") != rounds
        or investment_result.get("settings") != dataclasses.asdict(investment)
    ):
        return None
    label = "with-investors" if investors == DEFAULT_POPULATION else "no-investors"
    if investors not in ((), DEFAULT_POPULATION):
        return None
    for run in investment_result.get("runs", []):
        if run.get("label") == label:
            return dict(run)
    return None


def summarize_borrowing(run_dir: Path, report: dict[str, Any]) -> dict[str, Any]:
    lending = report["borrowing"]
    inv = report["investment"]
    accuracy = [r["metrics"].get("test_accuracy") for r in report["rounds"]]
    clients = {}
    for name, c in lending["clients"].items():
        clients[name] = {
            **c,
            "raised": inv["clients"][name]["raised"],
            "spent": inv["clients"][name]["spent"],
        }
    vault = lending["vault"]
    return {
        "run_dir": str(run_dir),
        "investors": report["run"]["investors"],
        "settings": lending["settings"],
        "listed_after_round": lending["listed_after_round"],
        "test_accuracy_per_round": accuracy,
        "final_test_accuracy": report["final_metrics"].get("test_accuracy"),
        "clients": clients,
        "vault": vault,
        "liquidator_tokens_value": lending["liquidator_tokens_value"],
        "borrowed_total": sum(c["borrowed"] for c in clients.values()),
        "repaid_total": sum(c["repaid"] for c in clients.values()),
        "liquidated_clients": [n for n, c in clients.items() if c["liquidated"]],
        "outstanding_total": sum(c["outstanding"] for c in clients.values()),
        "labels_bought_total": sum(c["labels_bought"] for c in clients.values()),
        "events_match": all(c["events_match"] for c in clients.values()),
        "vendor_matches_spending": inv["vendor_matches_spending"],
        "conservation_ok": report["conservation"]["ok"],
        "vault_ok": vault["cash_matches_flows"]
        and vault["assets_are_cash_plus_debt"]
        and vault["balance_is_cash_plus_dividends"],
        "wall_seconds": report["run"]["wall_seconds"],
    }


def borrowing_markdown(result: dict[str, Any]) -> str:
    def num(value: float | None, fmt: str = "{:.2f}") -> str:
        return "n/a" if value is None else fmt.format(value)

    s, inv = result["settings"], result["investment_settings"]
    vault = result["vault"]
    lines = [
        f"Borrowing to buy labels, {result['rounds']} rounds (config `{result['config']}`, "
        f"investors: {', '.join(result['investors']) or 'none'}; labels, the compute a client "
        f"buys here, at {inv['label_price']:g} base tokens, {inv['start_fraction']:.0%} labelled "
        f"at the start, {inv['sell_share_bps'] / 100:g}% of the free treasury sold per round). "
        f"Markets listed by the timelock after round {result['listed_after_round']}: LTV "
        f"{s['ltv_bps'] / 100:g}%, liquidation threshold {s['threshold_bps'] / 100:g}%, cap "
        f"{s['borrow_cap']:g}, TWAP window {s['twap_window']} s. Each client posted "
        f"{s['collateral_share_bps'] / 100:g}% of its treasury and borrowed "
        f"{s['borrow_share_bps'] / 100:g}% of its limit at once, bought labels first and repaid "
        "from its stake payouts, then from its sales once its labels were bought; quality: clean "
        "1, label noise 1 - p, free-rider -1, poisoner -2.",
        "",
        "| client | quality | borrowed | repaid | interest | liquidated | collateral seized "
        "(tokens) | outstanding | labels bought (with the loan) | price at loan | final price "
        "|",
        "|---|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|",
    ]
    for name, c in result["clients"].items():
        liquidated = f"yes ({c['liquidations']})" if c["liquidated"] else "no"
        lines.append(
            f"| {name} | {c['quality']:.1f} | {c['borrowed']:.1f} | {c['repaid']:.1f} | "
            f"{c['interest']:.4f} | {liquidated} | {c['collateral_seized']:,.0f} | "
            f"{c['outstanding']:.1f} | {c['labels_bought']} ({c['labels_from_loan']}) | "
            f"{num(c['price_at_loan'], '{:.5f}')} | {num(c['final_price'], '{:.5f}')} |"
        )
    ok = "yes" if result["vault_ok"] else "NO"
    lines += [
        "",
        f"Test accuracy {num(result['final_test_accuracy'], '{:.3f}')} after the last round. "
        f"Borrowed {result['borrowed_total']:.1f}, repaid by the clients "
        f"{result['repaid_total']:.1f}, outstanding {result['outstanding_total']:.1f} base "
        f"tokens; liquidated: {', '.join(result['liquidated_clients']) or 'nobody'} (the "
        f"liquidator's seized tokens are worth {result['liquidator_tokens_value']:.1f} at the "
        f"final prices). Vault: deposited {vault['deposited']:.1f}, cash {vault['cash']:.1f} + "
        f"debt {vault['total_debt']:.1f} = assets {vault['total_assets']:.1f}, bad debt "
        f"{vault['bad_debt']:.1f}, lender's return {vault['lender_return']:+.4f}; cash equal to "
        f"deposits + repayments - loans and to the contract's balance: {ok}; every loan equal to "
        f"its on-chain events: {'yes' if result['events_match'] else 'NO'}; base tokens "
        f"conserved (lender, liquidator, vendor and the lending contract tracked): "
        f"{'yes' if result['conservation_ok'] else 'NO'}; wall time "
        f"{result['wall_seconds']:.0f} s.",
    ]
    baseline = result.get("baseline")
    if baseline:
        ours, theirs = result["test_accuracy_per_round"], baseline["test_accuracy_per_round"]

        def mean(values: list[float | None]) -> float | None:
            known = [v for v in values if v is not None]
            return sum(known) / len(known) if known else None

        lines += [
            "",
            f"Test accuracy per round against the same federation without loans (the "
            f"`{baseline['label']}` run of the investment measurement, `results/investment.json`); "
            f"mean over rounds {num(mean(ours), '{:.3f}')} against "
            f"{num(mean(theirs), '{:.3f}')}:",
            "",
            "| round | with loans | without loans |",
            "|---:|---:|---:|",
        ]
        for k in range(max(len(ours), len(theirs))):
            a = ours[k] if k < len(ours) else None
            b = theirs[k] if k < len(theirs) else None
            lines.append(f"| {k + 1} | {num(a, '{:.3f}')} | {num(b, '{:.3f}')} |")
    return "\n".join(lines)
