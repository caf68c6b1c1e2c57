"""Stateful market campaign: random swaps both ways, liquidity in and out, donations and syncs,
dividend distributions, claims and harvests against one client's token and pool.

After every step: reserves equal balances unless a donation is pending; the value of an LP share
(k / S^2) never falls; the LP supply is the sum of the holders' shares; client and base token
supplies are conserved across every account and contract; dividends owed plus claimed never exceed
what was distributed, and the rounding dust left behind stays tiny. Every step's outcome is also
predicted exactly by a Python mirror of the pool's math.

Brownie 1.22.2 ships its ``state_machine`` helper compiled with mypyc, and the compiled class
refuses the subclass it builds (``TypeError: _BrownieStateMachine object expected``), so the
machine is a plain hypothesis ``RuleBasedStateMachine`` doing what that helper does: one chain
snapshot before the campaign, a revert to it at the start of every example. A test-only lens
contract reads the whole state in one call, which keeps the campaign fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from brownie import MarketLens, accounts, chain
from brownie.test import given, strategy
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.contracts.helpers import reverts
from tests.contracts.market import DEAD, FAR, FEE_BPS, MINIMUM_LIQUIDITY, WAD, amount_out

ACTORS = 4  # accounts[1] (the client, holding most tokens) and investors accounts[2..4]
ACTOR = strategy("uint8", max_value=ACTORS - 1)
BASE_AMOUNT = strategy("uint256", min_value=1, max_value=5_000 * WAD)
TOKEN_AMOUNT = strategy("uint256", min_value=1, max_value=60_000 * WAD)
PERCENT = strategy("uint8", min_value=1, max_value=100)
LENS_HEADER = 10  # MarketLens.HEADER: fields before the per-holder ones


@dataclass(frozen=True)
class Holding:
    base: int
    token: int
    lp: int
    dividend: int


@dataclass(frozen=True)
class MarketState:
    """Everything the invariants look at, read in one call through MarketLens."""

    reserves: tuple[int, int]
    balances: tuple[int, int]  # the pool's client-token and base balances
    lp_supply: int
    base_supply: int
    token_supply: int
    distributed: int
    claimed: int
    token_contract_base: int
    holdings: dict[str, Holding]


class MarketMachine(RuleBasedStateMachine):
    market = None  # set by the test before the campaign
    lens = None

    def __init__(self):
        super().__init__()
        chain.revert()  # every example starts from the campaign's snapshot
        market = self.market
        self.actors = list(accounts[1 : 1 + ACTORS])
        # every account and contract that can hold any of the three tokens in this campaign
        self.holders = [
            *accounts[:10],
            market.pool.address,
            market.token.address,
            market.registry.address,
            DEAD,
        ]
        first = self.read()
        self.base_supply, self.token_supply = first.base_supply, first.token_supply
        self.pending = False  # a donation not yet folded into the reserves
        self.steps = 0
        self.share_value = self._share_value(first)

    # -------------------------------------------------------------- helpers

    def read(self) -> MarketState:
        raw = [int(v) for v in self.lens.state(self.market.pool, self.holders)]
        header = LENS_HEADER
        holdings = {
            str(h): Holding(*raw[header + 4 * i : header + 4 * i + 4])
            for i, h in enumerate(self.holders)
        }
        return MarketState(
            reserves=(raw[0], raw[1]),
            balances=(raw[2], raw[3]),
            lp_supply=raw[4],
            base_supply=raw[5],
            token_supply=raw[6],
            distributed=raw[7],
            claimed=raw[8],
            token_contract_base=raw[9],
            holdings=holdings,
        )

    def of(self, state: MarketState, who) -> Holding:
        return state.holdings[str(who)]

    @staticmethod
    def _share_value(state: MarketState) -> tuple[int, int]:
        """(k, S^2), compared by cross-multiplication: the value of an LP share, squared.

        Measured on the reserves: a donation counts from the moment the pool folds it in (a sync
        or any other change), as in Uniswap v2. A swap with a donation pending is priced on the
        reserves, exactly as quoted, and the donation then joins them.
        """
        return state.reserves[0] * state.reserves[1], state.lp_supply * state.lp_supply

    # -------------------------------------------------------------- swaps

    @rule(actor=ACTOR, base_amount=BASE_AMOUNT)
    def buy(self, actor, base_amount):
        pool, who = self.market.pool, self.actors[actor]
        before = self.read()
        amount = min(base_amount, self.of(before, who).base)
        if amount == 0:
            return
        reserve_token, reserve_base = before.reserves
        expected = amount_out(amount, reserve_base, reserve_token, FEE_BPS)
        if expected == 0:
            with reverts("InsufficientOutput", 0, 0):
                pool.swapExactBaseForTokens(amount, 0, who, FAR, {"from": who})
            return
        pool.swapExactBaseForTokens(amount, expected, who, FAR, {"from": who})
        after = self.read()
        assert self.of(after, who).token - self.of(before, who).token == expected
        assert after.reserves[0] * after.reserves[1] >= reserve_token * reserve_base
        self.pending = False

    @rule(actor=ACTOR, token_amount=TOKEN_AMOUNT)
    def sell(self, actor, token_amount):
        pool, who = self.market.pool, self.actors[actor]
        before = self.read()
        amount = min(token_amount, self.of(before, who).token)
        if amount == 0:
            return
        reserve_token, reserve_base = before.reserves
        expected = amount_out(amount, reserve_token, reserve_base, FEE_BPS)
        if expected == 0:
            with reverts("InsufficientOutput", 0, 0):
                pool.swapExactTokensForBase(amount, 0, who, FAR, {"from": who})
            return
        pool.swapExactTokensForBase(amount, expected, who, FAR, {"from": who})
        after = self.read()
        assert self.of(after, who).base - self.of(before, who).base == expected
        assert after.reserves[0] * after.reserves[1] >= reserve_token * reserve_base
        self.pending = False

    # -------------------------------------------------------------- liquidity

    @rule(actor=ACTOR, token_amount=TOKEN_AMOUNT, base_amount=BASE_AMOUNT)
    def add(self, actor, token_amount, base_amount):
        pool, who = self.market.pool, self.actors[actor]
        before = self.read()
        tokens = min(token_amount, self.of(before, who).token)
        base = min(base_amount, self.of(before, who).base)
        if tokens == 0 or base == 0:
            return
        balance_token, balance_base = before.balances  # donations are folded in first
        supply = before.lp_supply
        base_optimal = tokens * balance_base // balance_token
        if base_optimal <= base:
            used = (tokens, base_optimal)
        else:
            used = (base * balance_token // balance_base, base)
        minted = min(used[0] * supply // balance_token, used[1] * supply // balance_base)
        if minted == 0:
            with reverts("InsufficientLiquidityMinted"):
                pool.addLiquidity(tokens, base, 0, 0, who, FAR, {"from": who})
            return
        pool.addLiquidity(tokens, base, *used, who, FAR, {"from": who})
        after = self.read()
        assert self.of(after, who).lp - self.of(before, who).lp == minted
        assert after.reserves == (balance_token + used[0], balance_base + used[1])
        self.pending = False

    @rule(actor=ACTOR, percent=PERCENT)
    def remove(self, actor, percent):
        pool, who = self.market.pool, self.actors[actor]
        before = self.read()
        liquidity = self.of(before, who).lp * percent // 100
        if liquidity == 0:
            return
        balance_token, balance_base = before.balances
        supply = before.lp_supply
        outs = (liquidity * balance_token // supply, liquidity * balance_base // supply)
        if outs == (0, 0):
            with reverts("InsufficientLiquidityBurned"):
                pool.removeLiquidity(liquidity, 0, 0, who, FAR, {"from": who})
            return
        pool.removeLiquidity(liquidity, *outs, who, FAR, {"from": who})
        after = self.read()
        got = (
            self.of(after, who).token - self.of(before, who).token,
            self.of(after, who).base - self.of(before, who).base,
        )
        assert got == outs
        self.pending = False

    # -------------------------------------------------------------- donations

    @rule(actor=ACTOR, base_amount=BASE_AMOUNT, donate_base=strategy("bool"))
    def donate(self, actor, base_amount, donate_base):
        who = self.actors[actor]
        holding = self.of(self.read(), who)
        asset = self.market.base if donate_base else self.market.token
        amount = min(base_amount, holding.base if donate_base else holding.token)
        if amount == 0:
            return
        asset.transfer(self.market.pool, amount, {"from": who})
        self.pending = True

    @rule()
    def sync(self):
        self.market.pool.sync({"from": accounts[0]})
        self.pending = False

    # -------------------------------------------------------------- dividends

    @rule(actor=ACTOR, base_amount=BASE_AMOUNT)
    def distribute(self, actor, base_amount):
        who = self.actors[actor]
        amount = min(base_amount // 5, self.of(self.read(), who).base)
        if amount == 0:
            return
        self.market.token.distribute(amount, {"from": who})

    @rule(actor=ACTOR)
    def claim(self, actor):
        who = self.actors[actor]
        before = self.of(self.read(), who)
        self.market.token.claimDividend({"from": who})
        after = self.of(self.read(), who)
        assert after.base - before.base == before.dividend
        assert after.dividend == 0

    @rule()
    def harvest(self):
        pool = self.market.pool
        before = self.read()
        owed = self.of(before, pool).dividend
        pool.harvestDividends({"from": accounts[0]})
        after = self.read()
        assert after.reserves == (before.balances[0], before.balances[1] + owed)
        self.pending = False

    # -------------------------------------------------------------- invariants

    @invariant()
    def holds(self):
        self.steps += 1
        state = self.read()
        if not self.pending:
            assert state.reserves == state.balances
        assert state.reserves[0] > 0 and state.reserves[1] > 0

        k, supply_squared = self._share_value(state)
        prev_k, prev_supply_squared = self.share_value
        assert k * prev_supply_squared >= prev_k * supply_squared, "LP share value fell"
        self.share_value = (k, supply_squared)

        holdings = state.holdings.values()
        assert state.lp_supply == sum(h.lp for h in holdings)
        assert state.holdings[DEAD].lp == MINIMUM_LIQUIDITY

        assert state.base_supply == self.base_supply
        assert sum(h.base for h in holdings) == self.base_supply
        assert state.token_supply == self.token_supply
        assert sum(h.token for h in holdings) == self.token_supply

        owed = sum(h.dividend for h in holdings)
        assert state.token_contract_base == state.distributed - state.claimed
        assert state.claimed + owed <= state.distributed
        # each holder loses under one wei per settlement to rounding
        assert state.distributed - state.claimed - owed <= self.steps * len(self.holders)


def test_market_state_machine(market):
    MarketMachine.market = market
    MarketMachine.lens = MarketLens.deploy({"from": accounts[0]})
    assert MarketMachine.lens.HEADER() == LENS_HEADER
    chain.snapshot()
    run_state_machine_as_test(MarketMachine)


@given(amount=strategy("uint256", min_value=1, max_value=10**30))
def test_quotes_follow_the_formula(market, amount):
    reserve_token, reserve_base = (int(r) for r in market.pool.getReserves())
    assert market.pool.quoteBaseForTokens(amount) == amount_out(amount, reserve_base, reserve_token)
    assert market.pool.quoteTokensForBase(amount) == amount_out(amount, reserve_token, reserve_base)
