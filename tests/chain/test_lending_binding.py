"""The TokenLending binding against the suite on Anvil: a market listed through the timelock
(scheduled by the local governor, executed after its delay), a lender's deposit, collateral, the
oracle poked and a window waited, a borrow, interest, a repayment, a liquidation after a fall, and
every view decoded by name. The base token has 6 decimals, so no amount assumes 18."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from fl_node.chain.client import ChainClient, TxReverted
from fl_node.chain.contracts import (
    BaseToken,
    ClientPool,
    ClientRegistry,
    ClientToken,
    LendingMarket,
    LendingPosition,
    Liquidity,
    TokenLending,
    TwapPrice,
)
from fl_node.chain.deploy import SuiteConfig, deploy_suite, local_governor
from fl_node.chain.keys import account_from_key
from fl_node.simulation.localfed import AnvilClock
from fl_node.toolchain.build import compile_contracts
from fl_node.toolchain.localchain import LocalChain, dev_private_keys

DECIMALS = 6
UNIT = 10**DECIMALS
TOKEN = 10**18  # client tokens have 18 decimals
WINDOW = SuiteConfig().lending_twap_window
DELAY = 60  # the timelock's delay on local chains
LTV, THRESHOLD = 5_000, 7_500
ZERO32 = b"\x00" * 32


@dataclass
class Env:
    client: ChainClient
    clock: AnvilClock
    lending: TokenLending
    base: BaseToken
    token: ClientToken
    pool: ClientPool
    borrower: LocalAccount
    lender: LocalAccount
    liquidator: LocalAccount
    trader: LocalAccount


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    build = compile_contracts()
    keys = [account_from_key(k) for k in dev_private_keys(6)]
    with LocalChain(accounts=6) as chain:
        deployment = deploy_suite(
            ChainClient(chain.rpc_url), keys[0], build, SuiteConfig(base_decimals=DECIMALS)
        )
        client = ChainClient(chain.rpc_url, deployment)
        base = BaseToken(client)
        for account in keys[1:]:
            base.mint(keys[0], account.address, 10_000 * UNIT)
        borrower = keys[1]
        registry = ClientRegistry(client)
        registry.register_with_offering(borrower, "Borrower", "BRW", 200_000 * TOKEN, 100 * UNIT)
        token, pool = registry.token(borrower.address), registry.pool(borrower.address)
        assert token is not None and pool is not None
        yield Env(
            client=client,
            clock=AnvilClock(chain.rpc_url),
            lending=TokenLending(client),
            base=base,
            token=token,
            pool=pool,
            borrower=borrower,
            lender=keys[2],
            liquidator=keys[3],
            trader=keys[4],
        )


def _list_market(env: Env) -> None:
    """The governor schedules setMarket in one batch; it runs only after the delay."""
    timelock = env.client.contract("Timelock")
    data = env.lending.encode_set_market(
        env.token.address, env.pool.address, LTV, THRESHOLD, 1_000 * UNIT
    )
    args = ([env.lending.address], [0], [data], ZERO32, b"\x01" * 32)
    governor = local_governor()
    env.client.send(timelock.functions.scheduleBatch(*args, DELAY), governor)
    with pytest.raises(TxReverted, match="TimelockUnexpectedOperationState"):
        env.client.send(timelock.functions.executeBatch(*args), governor)
    env.clock.advance(DELAY + 1)
    env.client.send(timelock.functions.executeBatch(*args), env.trader)  # anyone executes


def test_a_market_is_listed_only_through_the_timelock(env: Env) -> None:
    lending, token = env.lending, env.token.address
    assert not lending.market_of(token).listed
    with pytest.raises(TxReverted, match="MarketNotListed"):
        lending.twap_price(token)
    direct = lending.functions.setMarket(token, env.pool.address, LTV, THRESHOLD, 1, True)
    with pytest.raises(TxReverted, match="OwnableUnauthorizedAccount"):
        env.client.send(direct, env.borrower)
    _list_market(env)
    market = lending.market_of(token)
    assert market == LendingMarket(
        pool=env.pool.address,
        listed=True,
        enabled=True,
        ltv_bps=LTV,
        threshold_bps=THRESHOLD,
        borrow_cap=1_000 * UNIT,
        debt=0,
        collateral=0,
    )
    # Listing records the first observation; a price needs one a window old.
    assert lending.twap_price(token) == TwapPrice(valid=False, price=0)


def test_a_lender_deposits_and_a_borrower_waits_a_window_then_borrows(env: Env) -> None:
    lending, token, who = env.lending, env.token.address, env.borrower
    lending.deposit(env.lender, 1_000 * UNIT)
    assert lending.total_assets() == lending.cash() == 1_000 * UNIT
    assert lending.shares_of(env.lender.address) > 0
    assert lending.max_withdraw(env.lender.address) == 1_000 * UNIT
    collateral = 100_000 * TOKEN
    lending.deposit_collateral(who, token, collateral)
    assert lending.position_of(token, who.address) == LendingPosition(collateral, 0, 0)
    with pytest.raises(TxReverted, match="NoValidPrice"):
        lending.borrow(who, token, 1 * UNIT)
    lending.poke_oracle(env.liquidator, token)  # anyone keeps the oracle
    env.clock.advance(WINDOW)
    lending.poke_oracle(env.liquidator, token)
    twap = lending.twap_price(token)
    reserves = env.pool.reserves()
    assert twap.valid and twap.price == reserves.base * TokenLending.Q112 // reserves.token
    liquidity = lending.account_liquidity(token, who.address)
    value = twap.value(collateral)
    assert 50 * UNIT - 1 <= value <= 50 * UNIT  # 100k tokens at 100 base per 200k, rounded down
    limits = value * LTV // 10_000, value * THRESHOLD // 10_000
    assert liquidity == Liquidity(True, value, 0, *limits)
    assert liquidity.headroom == liquidity.borrow_limit and not liquidity.liquidatable
    with pytest.raises(TxReverted, match="Undercollateralized"):
        lending.borrow(who, token, liquidity.borrow_limit + 1)
    before = env.base.balance_of(who.address)
    amount = 20 * UNIT
    lending.borrow(who, token, amount)
    assert env.base.balance_of(who.address) == before + amount
    position = lending.position_of(token, who.address)
    assert position.collateral == collateral and amount <= position.debt <= amount + 1
    assert lending.cash() == 980 * UNIT
    assert lending.market_of(token).debt == position.debt
    # Interest: the index grows, the debt with it, and the lenders' assets by as much.
    index = lending.borrow_index()
    env.clock.advance(30 * 86_400)
    assert lending.borrow_index() > index
    grown = lending.position_of(token, who.address).debt
    assert grown > position.debt
    assert lending.total_assets() == lending.cash() + lending.total_debt()
    # Repay everything (the contract pulls the debt, not the margin), then take the tokens back.
    lending.repay(who, token, who.address, grown + UNIT)
    assert lending.position_of(token, who.address).debt == 0
    assert lending.cash() > 1_000 * UNIT  # the interest went to the lenders
    assert lending.total_debt() == 0 and lending.total_assets() == lending.cash()
    with pytest.raises(TxReverted, match="NothingToRepay"):
        lending.repay(who, token, who.address, 1)
    lending.withdraw_collateral(who, token, collateral)
    assert lending.position_of(token, who.address).collateral == 0


def test_a_fall_makes_a_position_liquidatable_by_anyone(env: Env) -> None:
    lending, token, who = env.lending, env.token.address, env.borrower
    collateral = 100_000 * TOKEN
    lending.deposit_collateral(who, token, collateral)
    lending.poke_oracle(env.liquidator, token)
    env.clock.advance(WINDOW)
    lending.poke_oracle(env.liquidator, token)
    limit = lending.account_liquidity(token, who.address).borrow_limit
    lending.borrow(who, token, limit * 9 // 10)
    # The client dumps tokens: the spot price halves and more; the average follows a window on.
    dump = 100_000 * TOKEN
    env.token.ensure_allowance(who, env.pool.address, dump)
    env.pool.swap_exact_tokens_for_base(who, dump, 0, who.address, env.client.timestamp() + 600)
    assert not lending.account_liquidity(token, who.address).liquidatable
    with pytest.raises(TxReverted, match="NotLiquidatable"):
        lending.liquidate(env.liquidator, token, who.address, 1_000 * UNIT)
    env.clock.advance(WINDOW // 2)
    lending.poke_oracle(env.liquidator, token)
    env.clock.advance(WINDOW)
    lending.poke_oracle(env.liquidator, token)
    state = lending.account_liquidity(token, who.address)
    assert state.liquidatable
    before = env.token.balance_of(env.liquidator.address)
    lending.liquidate(env.liquidator, token, who.address, state.debt)
    after = lending.position_of(token, who.address)
    assert after.debt < state.debt and after.collateral < collateral
    seized = env.token.balance_of(env.liquidator.address) - before
    assert seized == collateral - after.collateral > 0
    assert lending.total_assets() == lending.cash() + lending.total_debt()
