"""Shared fixtures and models of the pool oracle and TokenLending tests.

- :class:`OracleModel` is ClientPool's price accumulator in Python (UniswapV2Pair._update): on the
  first reserve change of a block each cumulative grows by the price of the reserves stored before
  it, UQ112x112 and rounded down, times the seconds since the last update, modulo 2**256. It
  follows the chain through the pool's ``Sync`` events.
- :class:`RateModel` and :class:`LendingMirror` repeat TokenLending's integer arithmetic: the
  kink utilization rate, the borrow index (RAY), scaled debts rounded up, the vault's cash and the
  ERC-4626 conversions with the virtual offset.
- :func:`same_block` mines several transactions in one block (Anvil's automine off meanwhile).
- :func:`make_lending` builds the ``lending`` fixture of conftest.py: the market fixture's client
  token listed in a TokenLending whose owner is a Timelock, lenders funded, a valid TWAP.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace

from brownie import Timelock, accounts, chain, web3

from tests.contracts.market import MAX, WAD, ZERO, at, key, latest, mine_at

Q112 = 2**112
MOD = 2**256
RAY = 10**27
BPS = 10_000
YEAR = 365 * 24 * 3600
DIVIDEND_PRECISION = 10**27  # TokenLending's reward-per-collateral scale
DECIMALS_OFFSET = 6  # TokenLending._decimalsOffset(): virtual shares against the inflation attack

# The fixture's parameters
WINDOW = 1800  # TWAP window: 30 minutes
TIMELOCK_DELAY = 2 * 24 * 3600
LTV_BPS = 5_000
THRESHOLD_BPS = 7_500
CLOSE_FACTOR_BPS = 5_000
BONUS_BPS = 800
BORROW_CAP = 50_000 * WAD
# kink model: 2 % a year at zero utilization, +18 % up to the 80 % kink, +300 % beyond it
BASE_RATE = 2 * WAD // 100 // YEAR
SLOPE1 = 18 * WAD // 100 // YEAR
SLOPE2 = 300 * WAD // 100 // YEAR
KINK = 80 * WAD // 100
LENDER_DEPOSIT = 100_000 * WAD

LENDERS = (7, 8)  # accounts that fund the vault
BORROWERS = (2, 3, 4)  # investors of the market fixture (accounts 2..4), who hold client tokens
LIQUIDATOR = 9


def uq112(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` as UQ112x112, rounded down; saturated as the pool does."""
    if numerator // denominator >= 2**144:
        return MOD - 1
    return numerator * Q112 // denominator


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# ------------------------------------------------------------------ the pool's oracle


class OracleModel:
    """ClientPool's cumulative prices, following the pool's Sync events."""

    def __init__(self, pool):
        self.pool = key(pool)
        self.base_cum = int(pool.basePerTokenCumulativeLast())
        self.token_cum = int(pool.tokenPerBaseCumulativeLast())
        self.last = int(pool.blockTimestampLast())
        reserves = pool.getReserves()
        self.reserve_token, self.reserve_base = int(reserves[0]), int(reserves[1])

    def update(self, now: int, reserve_token: int, reserve_base: int) -> None:
        if now != self.last:
            if self.reserve_token and self.reserve_base:
                elapsed = now - self.last
                self.base_cum = (
                    self.base_cum + uq112(self.reserve_base, self.reserve_token) * elapsed
                ) % MOD
                self.token_cum = (
                    self.token_cum + uq112(self.reserve_token, self.reserve_base) * elapsed
                ) % MOD
            self.last = now
        self.reserve_token, self.reserve_base = reserve_token, reserve_base

    def apply(self, tx) -> None:
        """Every Sync of the pool in ``tx``, in order."""
        for event in tx.events:
            if event.name == "Sync" and key(event.address) == self.pool:
                self.update(
                    int(tx.timestamp), int(event["reserveToken"]), int(event["reserveBase"])
                )

    def current(self, now: int) -> tuple[int, int, int]:
        """currentCumulativePrices() at ``now``."""
        base_cum, token_cum = self.base_cum, self.token_cum
        if now != self.last and self.reserve_token and self.reserve_base:
            elapsed = now - self.last
            base_cum = (base_cum + uq112(self.reserve_base, self.reserve_token) * elapsed) % MOD
            token_cum = (token_cum + uq112(self.reserve_token, self.reserve_base) * elapsed) % MOD
        return base_cum, token_cum, now


# ------------------------------------------------------------------ blocks


def rpc(method: str, params: list) -> object:
    response = web3.provider.make_request(method, params)
    assert "error" not in response, response
    return response.get("result")


def same_block(*calls, timestamp: int | None = None, gas: int = 3_000_000):
    """Send each ``(fn, *args, tx_params)`` without mining, then mine them all in one block (at
    ``timestamp`` if given). Returns the receipts; a reverted one has status 0."""
    rpc("evm_setAutomine", [False])
    try:
        pending = []
        for fn, *args in calls:
            params = dict(args.pop()) if args and isinstance(args[-1], dict) else {}
            params.setdefault("gas_limit", gas)
            params.setdefault("allow_revert", True)
            params["required_confs"] = 0
            pending.append(fn(*args, params))
        if timestamp is None:
            rpc("evm_mine", [])
        else:
            rpc("evm_mine", [int(timestamp)])
    finally:
        rpc("evm_setAutomine", [True])
    for tx in pending:
        tx.wait(1)
    assert len({tx.block_number for tx in pending}) == 1, "not mined in one block"
    return pending


# ------------------------------------------------------------------ the lending contract


@dataclass(frozen=True)
class RateModel:
    base: int = BASE_RATE
    slope1: int = SLOPE1
    slope2: int = SLOPE2
    kink: int = KINK

    def rate(self, cash: int, debt: int) -> int:
        """Borrow rate per second (WAD) at the utilization debt / (cash + debt)."""
        total = cash + debt
        utilization = debt * WAD // total if total else 0
        rate = self.base + min(utilization, self.kink) * self.slope1 // WAD
        if utilization > self.kink:
            rate += (utilization - self.kink) * self.slope2 // WAD
        return rate


class LendingMirror:
    """TokenLending's debt and vault arithmetic, exactly: the index grows by
    ``index * rate * dt / WAD`` (rounded down) on the first action of every second with debt,
    debts are ``ceil(scaled * index / RAY)``."""

    def __init__(self, lending, rates: RateModel | None = None):
        self.rates = rates or RateModel()
        self.index = int(lending.borrowIndex())
        self.last = int(lending.lastAccrual())
        self.cash = int(lending.cash())
        self.total_scaled = int(lending.totalScaledDebt())
        self.scaled: dict[tuple[str, str], int] = defaultdict(int)
        self.written_off = int(lending.badDebt())
        self.interest = 0  # growth of the total debt by accrual

    def total_debt(self, index: int | None = None) -> int:
        return ceil_div(self.total_scaled * (self.index if index is None else index), RAY)

    def index_at(self, now: int) -> int:
        if now <= self.last or self.total_scaled == 0:
            return self.index
        rate = self.rates.rate(self.cash, self.total_debt())
        return self.index + self.index * rate * (now - self.last) // WAD

    def accrue(self, now: int) -> None:
        new = self.index_at(now)
        self.interest += self.total_debt(new) - self.total_debt()
        self.index = new
        self.last = max(self.last, now)

    def debt_of(self, token, borrower, now: int | None = None) -> int:
        index = self.index if now is None else self.index_at(now)
        return ceil_div(self.scaled[(key(token), key(borrower))] * index, RAY)

    def total_assets(self, now: int | None = None) -> int:
        index = self.index if now is None else self.index_at(now)
        return self.cash + self.total_debt(index)

    # -- actions at ``now`` (accrual first, as the contract)

    def borrow(self, token, borrower, amount: int, now: int) -> None:
        self.accrue(now)
        shares = ceil_div(amount * RAY, self.index)
        self.scaled[(key(token), key(borrower))] += shares
        self.total_scaled += shares
        self.cash -= amount

    def repay(self, token, borrower, amount: int, now: int) -> int:
        """Returns what is paid (at most the debt; MAX pays the debt)."""
        self.accrue(now)
        position = (key(token), key(borrower))
        debt = ceil_div(self.scaled[position] * self.index, RAY)
        if amount >= debt:
            shares, paid = self.scaled[position], debt
        else:
            shares, paid = amount * RAY // self.index, amount
        self.scaled[position] -= shares
        self.total_scaled -= shares
        self.cash += paid
        return paid

    def liquidate(self, token, borrower, repaid: int, collateral_left: int, now: int) -> int:
        """A liquidation that repaid ``repaid`` and left ``collateral_left``; returns the debt
        written off (all that is left once the collateral is gone)."""
        self.accrue(now)
        position = (key(token), key(borrower))
        scaled = self.scaled[position]
        debt = ceil_div(scaled * self.index, RAY)
        shares = scaled if repaid >= debt else repaid * RAY // self.index
        left = scaled - shares
        written = 0
        if collateral_left == 0 and left:
            written = ceil_div(left * self.index, RAY)
            shares += left
        self.scaled[position] -= shares
        self.total_scaled -= shares
        self.cash += repaid
        self.written_off += written
        return written

    def deposit(self, assets: int, now: int) -> None:
        self.accrue(now)
        self.cash += assets

    def withdraw(self, assets: int, now: int) -> None:
        self.accrue(now)
        self.cash -= assets


def shares_for(assets: int, total_assets: int, supply: int, up: bool = False) -> int:
    """OpenZeppelin ERC4626._convertToShares with the virtual offset."""
    numerator = assets * (supply + 10**DECIMALS_OFFSET)
    denominator = total_assets + 1
    return ceil_div(numerator, denominator) if up else numerator // denominator


def assets_for(shares: int, total_assets: int, supply: int, up: bool = False) -> int:
    """OpenZeppelin ERC4626._convertToAssets with the virtual offset."""
    numerator = shares * (total_assets + 1)
    denominator = supply + 10**DECIMALS_OFFSET
    return ceil_div(numerator, denominator) if up else numerator // denominator


# ------------------------------------------------------------------ the timelock


def timelock_call(timelock, target, data: str, delay: int = TIMELOCK_DELAY, proposer=None):
    """Schedule ``data`` on ``target`` through ``timelock``, let the delay pass, execute it."""
    proposer = proposer or accounts[0]
    salt = "0x" + chain.height.to_bytes(32, "big").hex()
    predecessor = "0x" + "00" * 32
    timelock.schedule(target, 0, data, predecessor, salt, delay, {"from": proposer})
    mine_at(latest() + delay)
    return timelock.execute(target, 0, data, predecessor, salt, {"from": proposer})


def deploy_lending(base, owner, window: int = WINDOW, rates: RateModel | None = None):
    from brownie import TokenLending

    rates = rates or RateModel()
    return TokenLending.deploy(
        base,
        owner,
        window,
        CLOSE_FACTOR_BPS,
        BONUS_BPS,
        [rates.base, rates.slope1, rates.slope2, rates.kink],
        {"from": accounts[0]},
    )


def warm_oracle(lending, token) -> None:
    """Observations old enough for a valid TWAP: a poke, then a window later another one."""
    lending.pokeOracle(token, {"from": accounts[0]})
    mine_at(latest() + WINDOW // 2)
    lending.pokeOracle(token, {"from": accounts[0]})
    mine_at(latest() + WINDOW // 2)
    lending.pokeOracle(token, {"from": accounts[0]})


def make_timelock():
    """The governor: accounts[0] proposes, anyone executes, TIMELOCK_DELAY between them."""
    return Timelock.deploy(TIMELOCK_DELAY, [accounts[0]], [ZERO], {"from": accounts[0]})


def make_lending(market, owner, list_through=None, window: int = WINDOW):
    """TokenLending owned by ``owner``, the market's token listed (LTV 50 %, threshold 75 %,
    cap 50k; through a scheduled call of ``list_through``, a Timelock, when given), lenders
    (accounts 7 and 8) with 100k each in the vault, borrowers (accounts 2..4) holding 20k client
    tokens each, every actor approved, and observations a window old, so the TWAP is valid."""
    base, token, pool, client = market.base, market.token, market.pool, market.client
    contract = deploy_lending(base, owner, window)
    args = (token, pool, LTV_BPS, THRESHOLD_BPS, BORROW_CAP, True)
    if list_through is not None:
        timelock_call(list_through, contract, contract.setMarket.encode_input(*args))
    else:
        contract.setMarket(*args, {"from": owner})
    for index in LENDERS:
        base.approve(contract, MAX, {"from": accounts[index]})
        contract.deposit(LENDER_DEPOSIT, accounts[index], {"from": accounts[index]})
    for index in BORROWERS:
        token.transfer(accounts[index], 20_000 * WAD, {"from": client})
        token.approve(contract, MAX, {"from": accounts[index]})
        base.approve(contract, MAX, {"from": accounts[index]})
    for index in (LIQUIDATOR, 6):
        base.approve(contract, MAX, {"from": accounts[index]})
        base.approve(pool, MAX, {"from": accounts[index]})
        token.approve(pool, MAX, {"from": accounts[index]})
    warm_oracle(contract, token)
    return SimpleNamespace(
        lending=contract,
        timelock=list_through,
        base=base,
        token=token,
        pool=pool,
        client=client,
        registry=market.registry,
    )


def at_next(seconds: int = 1) -> int:
    """Pin the next transaction ``seconds`` after the latest block; returns its timestamp."""
    now = latest() + seconds
    at(now)
    return now
