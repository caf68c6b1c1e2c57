"""Stateful lending campaign: lenders deposit and withdraw, borrowers post and pull collateral,
borrow and repay (also for each other), a liquidator liquidates whatever is liquidatable, traders
move the pool's price both ways, dividends stream to the client token's holders and borrowers claim
theirs, keepers poke the oracle, and time passes, against the lending fixture (TokenLending owned
by the Timelock, one market).

Every step runs in the second of the latest block (time passes only in `wait`, or in the
`elapsed` before a step, which mines an empty block first), so the step's outcome is predicted from
the contract's own views at that second: a borrow of the headroom the TWAP leaves succeeds, one
without a valid TWAP reverts with NoValidPrice, a liquidation repays and seizes exactly what the
close factor, the bonus and the TWAP say, and writes off what is left once the collateral is gone.
LendingMirror repeats every debt and cash movement in integers.

After every step: base tokens are conserved exactly across every account, the pool, the client
token contract and the lending contract; the lending contract holds exactly its cash plus the
dividends it holds for borrowers; totalAssets == cash + totalDebt, and cash, debt, index, scaled
debt and written-off debt equal the mirror's; lenders' net deposits + interest - bad debt equal
totalAssets up to rounding (a wei or two per operation, never against the lenders by more); the
collateral the contract holds is the market's and the sum of the positions'; no position owes
without collateral (bad debt is never left standing); the dividends the positions can claim are
what the contract holds and is owed for them, to rounding.

As in test_market_invariants.py, the machine is a plain hypothesis RuleBasedStateMachine with a
chain snapshot taken before the campaign and reverted to at the start of every example.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from brownie import LendingLens, accounts, chain
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.contracts.helpers import reverts
from tests.contracts.lending import (
    BONUS_BPS,
    BORROWERS,
    BPS,
    CLOSE_FACTOR_BPS,
    LENDERS,
    LIQUIDATOR,
    Q112,
    RAY,
    WINDOW,
    LendingMirror,
)
from tests.contracts.market import FAR, MAX, WAD, at, latest, mine_at

LENS_HEADER = 14
TRADER = 6  # buys client tokens with base; the client (accounts[1]) sells them

BORROWER = st.sampled_from(BORROWERS)
LENDER = st.sampled_from(LENDERS)
PERCENT = st.integers(min_value=1, max_value=100)
ELAPSED = st.sampled_from([0, 0, 0, 1, 60, 900])
WAIT = st.sampled_from([1, 60, 900, WINDOW, 3 * WINDOW, 86_400, 30 * 86_400])
COLLATERAL = st.integers(min_value=1_000 * WAD, max_value=15_000 * WAD)


@dataclass(frozen=True)
class Position:
    collateral: int
    debt: int
    dividends: int


@dataclass(frozen=True)
class LendingState:
    cash: int
    total_debt: int
    total_assets: int
    index: int
    total_scaled: int
    dividends_held: int
    bad_debt: int
    share_supply: int
    base_supply: int
    lending_base: int
    lending_tokens: int
    owed_to_lending: int
    market_collateral: int
    market_debt: int
    base_balances: tuple[int, ...]
    positions: dict[int, Position]


class LendingMachine(RuleBasedStateMachine):
    env = None  # set by the test before the campaign
    lens = None
    seen: ClassVar[Counter] = Counter()  # outcomes over the whole campaign: it must meet each kind

    def __init__(self):
        super().__init__()
        chain.revert()
        env = self.env
        self.contract, self.token, self.pool, self.base = env.lending, env.token, env.pool, env.base
        self.holders = [
            *[str(a) for a in accounts[:10]],
            str(env.pool),
            str(env.token),
            str(env.lending),
            str(env.registry),
            str(env.timelock),
        ]
        self.mirror = LendingMirror(self.contract)
        for index in BORROWERS:
            self.mirror.scaled[(str(self.token), str(accounts[index]))] = 0
        first = self.read()
        self.base_supply = first.base_supply
        self.lender_net = first.total_assets  # deposits - withdrawals (the fixture's deposits)
        self.operations = 0  # operations that may round: bounds the ledger's dust
        self.harvests = 0

    # -------------------------------------------------------------- helpers

    def read(self) -> LendingState:
        raw = [
            int(v)
            for v in self.lens.state(
                self.contract,
                self.token,
                self.base,
                self.holders,
                [accounts[i] for i in BORROWERS],
            )
        ]
        at_positions = LENS_HEADER + len(self.holders)
        positions = {
            index: Position(*raw[at_positions + 3 * i : at_positions + 3 * i + 3])
            for i, index in enumerate(BORROWERS)
        }
        return LendingState(
            *raw[:LENS_HEADER],
            base_balances=tuple(raw[LENS_HEADER:at_positions]),
            positions=positions,
        )

    def step_time(self, elapsed: int) -> int:
        """Mine an empty block ``elapsed`` seconds on (if any) and pin the next transaction to the
        latest block's second, so views and the transaction agree. Returns that second."""
        if elapsed:
            mine_at(latest() + elapsed)
        now = latest()
        at(now)
        return now

    def twap(self) -> tuple[bool, int]:
        valid, price = self.contract.twapPrice(self.token)
        return bool(valid), int(price)

    def liquidity(self, borrower: int) -> tuple[bool, int, int, int, int]:
        values = self.contract.accountLiquidity(self.token, accounts[borrower])
        return (bool(values[0]), *(int(v) for v in values[1:]))

    def position(self, borrower: int) -> Position:
        return Position(*(int(v) for v in self.contract.positionOf(self.token, accounts[borrower])))

    # -------------------------------------------------------------- start

    @initialize(
        collateral=st.tuples(COLLATERAL, COLLATERAL, COLLATERAL),
        percents=st.tuples(PERCENT, PERCENT, PERCENT),
    )
    def open_positions(self, collateral, percents):
        """Every example starts with each borrower holding collateral and a loan of some share of
        its headroom (the TWAP is valid at the campaign's snapshot)."""
        for borrower, amount, percent in zip(BORROWERS, collateral, percents, strict=True):
            self.deposit_collateral(borrower, amount)
            self.borrow(borrower, percent, 0)

    # -------------------------------------------------------------- lenders

    @rule(lender=LENDER, amount=st.integers(min_value=1, max_value=50_000 * WAD), elapsed=ELAPSED)
    def lender_deposit(self, lender, amount, elapsed):
        who = accounts[lender]
        self.step_time(elapsed)
        expected = int(self.contract.previewDeposit(amount))
        tx = self.contract.deposit(amount, who, {"from": who})
        assert tx.return_value == expected
        self.mirror.deposit(amount, tx.timestamp)
        self.seen["lender deposit"] += 1
        self.lender_net += amount
        self.operations += 1

    @rule(lender=LENDER, percent=PERCENT, elapsed=ELAPSED)
    def lender_withdraw(self, lender, percent, elapsed):
        who = accounts[lender]
        self.step_time(elapsed)
        available = int(self.contract.maxWithdraw(who))
        amount = available * percent // 100
        if amount == 0:
            return
        expected = int(self.contract.previewWithdraw(amount))
        tx = self.contract.withdraw(amount, who, who, {"from": who})
        assert tx.return_value == expected
        self.mirror.withdraw(amount, tx.timestamp)
        self.seen["lender withdrawal"] += 1
        self.lender_net -= amount
        self.operations += 1
        at(latest())
        cash = int(self.contract.cash())
        with reverts("ERC4626ExceededMaxWithdraw"):
            self.contract.withdraw(cash + 1, who, who, {"from": who})

    # -------------------------------------------------------------- borrowers

    @rule(borrower=BORROWER, amount=st.integers(min_value=1, max_value=8_000 * WAD))
    def deposit_collateral(self, borrower, amount):
        who = accounts[borrower]
        amount = min(amount, int(self.token.balanceOf(who)))
        if amount == 0:
            return
        self.step_time(0)
        tx = self.contract.depositCollateral(self.token, amount, {"from": who})
        assert tx.events["CollateralDeposited"]["amount"] == amount
        self.harvests += 1

    @rule(borrower=BORROWER, percent=PERCENT, elapsed=ELAPSED)
    def withdraw_collateral(self, borrower, percent, elapsed):
        who = accounts[borrower]
        now = self.step_time(elapsed)
        position = self.position(borrower)
        amount = position.collateral * percent // 100
        if amount == 0:
            return
        if position.debt:
            valid, price = self.twap()
            if not valid:
                with reverts("NoValidPrice", self.token):
                    self.contract.withdrawCollateral(self.token, amount, who, {"from": who})
                self.seen["no price"] += 1
                return
            left = position.collateral - amount
            limit = left * price // Q112 * self.ltv // BPS
            if position.debt > limit:
                with reverts("Undercollateralized", position.debt, limit):
                    self.contract.withdrawCollateral(self.token, amount, who, {"from": who})
                self.seen["withdrawal refused"] += 1
                return
        tx = self.contract.withdrawCollateral(self.token, amount, who, {"from": who})
        self.mirror.accrue(now)
        assert tx.events["CollateralWithdrawn"]["amount"] == amount
        self.seen["collateral withdrawn"] += 1
        self.harvests += 1

    @rule(borrower=BORROWER, percent=PERCENT, elapsed=ELAPSED)
    def borrow(self, borrower, percent, elapsed):
        who = accounts[borrower]
        self.step_time(elapsed)
        valid, _, debt, borrow_limit, _ = self.liquidity(borrower)
        if not valid:
            with reverts("NoValidPrice", self.token):
                self.contract.borrow(self.token, 1, who, {"from": who})
            self.seen["no price"] += 1
            return
        # two wei below the headroom: the scaled debt is rounded up
        amount = max(0, borrow_limit - debt - 2) * percent // 100
        if amount == 0:
            return
        state = self.read()
        cap = int(self.contract.marketOf(self.token)[5])
        if amount > state.cash:
            with reverts("InsufficientCash", amount, state.cash):
                self.contract.borrow(self.token, amount, who, {"from": who})
            return
        if state.market_debt + amount > cap - 2:
            amount = cap - 2 - state.market_debt
            if amount <= 0:
                with reverts("BorrowCapExceeded"):
                    self.contract.borrow(self.token, 3, who, {"from": who})
                return
        tx = self.contract.borrow(self.token, amount, who, {"from": who})
        self.mirror.borrow(self.token, who, amount, tx.timestamp)
        self.seen["borrow"] += 1
        self.operations += 1

    @rule(
        payer=st.sampled_from([*BORROWERS, LIQUIDATOR]),
        borrower=BORROWER,
        percent=st.one_of(st.just(100), PERCENT),
    )
    def repay(self, payer, borrower, percent):
        who = accounts[payer]
        self.step_time(0)
        debt = self.position(borrower).debt
        if debt == 0:
            with reverts("NothingToRepay"):
                self.contract.repay(self.token, accounts[borrower], 1, {"from": who})
            return
        amount = MAX if percent == 100 else debt * percent // 100
        if amount == 0:
            return
        if amount < debt and amount * RAY // self.mirror.index_at(latest()) == 0:
            with reverts("RepayTooSmall", amount):
                self.contract.repay(self.token, accounts[borrower], amount, {"from": who})
            return
        tx = self.contract.repay(self.token, accounts[borrower], amount, {"from": who})
        paid = self.mirror.repay(self.token, accounts[borrower], amount, tx.timestamp)
        assert tx.return_value == paid == min(amount, debt)
        self.seen["repay in full" if paid == debt else "repay"] += 1
        self.operations += 1

    @rule(borrower=BORROWER, percent=PERCENT, elapsed=ELAPSED)
    def liquidate(self, borrower, percent, elapsed):
        who, victim = accounts[LIQUIDATOR], accounts[borrower]
        self.step_time(elapsed)
        valid, value, debt, _, liquidation_limit = self.liquidity(borrower)
        if not valid:
            with reverts("NoValidPrice", self.token):
                self.contract.liquidate(self.token, victim, MAX, {"from": who})
            return
        if debt == 0 or debt <= liquidation_limit:
            with reverts("NotLiquidatable", debt, liquidation_limit):
                self.contract.liquidate(self.token, victim, MAX, {"from": who})
            self.seen["not liquidatable"] += 1
            return
        _, price = self.twap()
        collateral = self.position(borrower).collateral
        max_repay = MAX if percent == 100 else debt * percent // 100
        repaid = min(max_repay, debt * CLOSE_FACTOR_BPS // BPS)
        with_bonus = repaid * (BPS + BONUS_BPS) // BPS
        seized = collateral if price == 0 else min(collateral, with_bonus * Q112 // price)
        if seized == collateral:
            repaid = min(repaid, collateral * price // Q112 * BPS // (BPS + BONUS_BPS))
        if repaid == 0 and seized == 0:
            with reverts("NothingToLiquidate"):
                self.contract.liquidate(self.token, victim, max_repay, {"from": who})
            return
        tx = self.contract.liquidate(self.token, victim, max_repay, {"from": who})
        assert tuple(int(v) for v in tx.return_value) == (repaid, seized)
        written = self.mirror.liquidate(
            self.token, victim, repaid, collateral - seized, tx.timestamp
        )
        self.seen["liquidation"] += 1
        if written:
            assert tx.events["BadDebtWrittenOff"]["amount"] == written
            self.seen["bad debt"] += 1
        else:
            assert "BadDebtWrittenOff" not in tx.events
        assert value >= 0
        self.operations += 2
        self.harvests += 1

    # -------------------------------------------------------------- the market and time

    @rule(amount=st.integers(min_value=1, max_value=60_000 * WAD))
    def sell_tokens(self, amount):
        client = self.env.client
        amount = min(amount, int(self.token.balanceOf(client)))
        if amount == 0:
            return
        self.step_time(0)
        self.pool.swapExactTokensForBase(amount, 0, client, FAR, {"from": client})

    @rule(amount=st.integers(min_value=10_000 * WAD, max_value=400_000 * WAD))
    def crash(self, amount):
        """The client dumps tokens, the low price holds for two windows (a keeper pokes), and the
        liquidator goes through every position."""
        self.sell_tokens(amount)
        for _ in range(4):
            self.poke()
            mine_at(latest() + WINDOW // 2)
        for borrower in BORROWERS:
            self.liquidate(borrower, 100, 0)

    @rule(amount=st.integers(min_value=1, max_value=5_000 * WAD))
    def buy_tokens(self, amount):
        trader = accounts[TRADER]
        self.step_time(0)
        if int(self.pool.quoteBaseForTokens(amount)) == 0:
            return
        self.pool.swapExactBaseForTokens(amount, 0, trader, FAR, {"from": trader})

    @rule(seconds=WAIT, poke=st.booleans())
    def wait(self, seconds, poke):
        mine_at(latest() + seconds)
        if poke:
            self.poke()

    @rule()
    def keep_oracle_warm(self):
        """A keeper pokes at each half window for one window: the TWAP is valid afterwards."""
        for _ in range(2):
            self.poke()
            mine_at(latest() + WINDOW // 2)
        self.poke()

    @rule()
    def poke(self):
        self.step_time(0)
        self.contract.pokeOracle(self.token, {"from": accounts[0]})

    @rule(amount=st.integers(min_value=1, max_value=20_000 * WAD))
    def distribute(self, amount):
        self.step_time(0)
        self.token.distribute(amount, {"from": self.env.client})

    @rule(borrower=BORROWER, elapsed=ELAPSED)
    def claim_dividends(self, borrower, elapsed):
        who = accounts[borrower]
        self.step_time(elapsed)
        pending = self.position(borrower).dividends
        tx = self.contract.claimDividends(self.token, {"from": who})
        assert tx.return_value == pending
        if pending:
            self.seen["dividends claimed"] += 1
        self.harvests += 1

    # -------------------------------------------------------------- invariants

    @property
    def ltv(self) -> int:
        return int(self.contract.marketOf(self.token)[3])

    @invariant()
    def holds(self):
        state = self.read()
        mirror = self.mirror
        # base tokens: conserved, and the lending contract holds its cash and the dividends
        assert state.base_supply == self.base_supply
        assert sum(state.base_balances) == self.base_supply
        assert state.lending_base == state.cash + state.dividends_held
        # vault accounting, against the mirror
        assert state.total_assets == state.cash + state.total_debt
        now = latest()
        assert state.index == mirror.index_at(now)
        assert state.cash == mirror.cash
        assert state.total_scaled == mirror.total_scaled
        assert state.total_debt == mirror.total_debt(mirror.index_at(now))
        assert state.bad_debt == mirror.written_off
        pending_interest = mirror.total_debt(mirror.index_at(now)) - mirror.total_debt()
        ledger = self.lender_net + mirror.interest + pending_interest - state.bad_debt
        dust = state.total_assets - ledger
        assert -2 * self.operations <= dust <= 2 * self.operations, f"ledger dust {dust}"
        # collateral: the contract holds the market's, which is the positions'
        positions = state.positions.values()
        assert state.lending_tokens == state.market_collateral
        assert state.market_collateral == sum(p.collateral for p in positions)
        # every debt is backed by collateral: bad debt is written off, never left standing
        for position in positions:
            assert position.debt == 0 or position.collateral > 0
        debts = sum(p.debt for p in positions)
        assert state.total_debt <= debts <= state.total_debt + len(BORROWERS)
        assert state.market_debt == state.total_debt
        # dividends: claimable by positions == held + owed to the contract, to rounding
        claimable = sum(p.dividends for p in positions)
        slack = state.dividends_held + state.owed_to_lending - claimable
        assert 0 <= slack <= 2 * self.harvests + len(BORROWERS) + 1, f"dividend slack {slack}"


def test_lending_state_machine(lending):
    LendingMachine.env = lending
    LendingMachine.lens = LendingLens.deploy({"from": accounts[0]})
    assert LendingMachine.lens.HEADER() == LENS_HEADER
    # keep the oracle warm at the snapshot: examples start with a valid TWAP
    lending.lending.pokeOracle(lending.token, {"from": accounts[0]})
    chain.snapshot()
    phases = [phase for phase in settings().phases if phase is not Phase.target]
    run_state_machine_as_test(
        LendingMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            phases=phases,
            database=None,
        ),
    )
    seen = LendingMachine.seen
    print(dict(seen))
    for outcome in (
        "lender deposit",
        "lender withdrawal",
        "borrow",
        "repay",
        "repay in full",
        "liquidation",
        "not liquidatable",
        "no price",
        "withdrawal refused",
        "collateral withdrawn",
        "dividends claimed",
    ):
        assert seen[outcome] > 0, f"the campaign never met: {outcome}"
