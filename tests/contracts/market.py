"""Constants and small helpers shared by the market tests (client token, pool, registry), and two
Python models of ClientToken's dividend stream:

- :class:`DividendMirror` repeats the contract's integer arithmetic step by step (reward per token
  scaled by 1e27, floor rounding, carried remainders), so tests can expect exact wei amounts. It
  follows the chain by replaying the token's events of each transaction (:meth:`apply`).
- :class:`IdealStream` is the exact rational stream the contract approximates: every holder earns
  rate * balance / supply per second. Tests compare the contract to it within a stated bound, so
  the mirror and the contract cannot agree on a wrong formula unnoticed.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from brownie import ClientPool, ClientToken, accounts, chain, web3

WAD = 10**18
SUPPLY = 1_000_000 * WAD  # client tokens minted at registration
FEE_BPS = 30
FUNDING = 1_000_000 * WAD  # base tokens minted to each of the first ten accounts
SEED_TOKENS = 100_000 * WAD  # the seeded pool: 100k tokens against 10k base (price 0.1)
SEED_BASE = 10_000 * WAD
CLIENT_HOLDING = SUPPLY - SEED_TOKENS  # the client's tokens once the pool is seeded
MINIMUM_LIQUIDITY = 1000
DEAD = "0x000000000000000000000000000000000000dEaD"
ZERO = "0x" + "00" * 20
FAR = 2**64  # a deadline that never expires
MAX = 2**256 - 1
PRECISION = 10**27  # ClientToken.dividendPerToken scale
DIVIDEND_DURATION = 7 * 24 * 3600  # every distribution streams over a week

POOL_OPS = ("Swap", "LiquidityAdded", "LiquidityRemoved", "DividendsHarvested")


def register(registry, client, name: str = "Client One", symbol: str = "C1"):
    """Register ``client`` and return its token and pool as Brownie contracts."""
    registry.register(name, symbol, {"from": client})
    return ClientToken.at(registry.tokenOf(client)), ClientPool.at(registry.poolOf(client))


def fresh_clone(cloner, implementation, container):
    """An uninitialized clone of ``implementation`` as a ``container`` (ClientToken/ClientPool)."""
    tx = cloner.clone(implementation, {"from": accounts[0]})
    return container.at(tx.events["Cloned"]["instance"])


def amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int = FEE_BPS) -> int:
    """Uniswap v2 output with the fee on the input (the pool's formula, in Python)."""
    if reserve_in == 0 or reserve_out == 0:
        return 0
    in_with_fee = amount_in * (10_000 - fee_bps)
    return in_with_fee * reserve_out // (reserve_in * 10_000 + in_with_fee)


def ints(values) -> tuple[int, ...]:
    """A tuple return value as plain ints (Brownie's tuples refuse to compare to int tuples)."""
    return tuple(int(v) for v in values)


# ------------------------------------------------------------------ time


def latest() -> int:
    """Timestamp of the latest block: the time every view (eth_call) is evaluated at."""
    return int(chain[-1].timestamp)


def at(timestamp: int) -> None:
    """The next transaction is mined in a block with exactly this timestamp (Anvil allows the same
    timestamp as the latest block, never an earlier one)."""
    response = web3.provider.make_request("evm_setNextBlockTimestamp", [int(timestamp)])
    assert "error" not in response, response


def mine_at(timestamp: int) -> None:
    """Mine an empty block at ``timestamp``, so views see that time."""
    chain.mine(timestamp=int(timestamp))
    assert latest() == timestamp


def key(account) -> str:
    """An address as the checksummed string events carry."""
    return web3.to_checksum_address(str(getattr(account, "address", account)))


# ------------------------------------------------------------------ dividend models


class DividendMirror:
    """ClientToken's dividend accumulator in Python, rounding exactly as the contract does.

    Holds balances, the stream (rate scaled by 1e27, period end, last accrual, carried
    remainders) and each holder's paid/owed entries. ``settlements`` counts the holder settlements
    (each may drop a remainder below one wei for good); ``dust_bound`` turns it into the bound on
    the conservation dust.
    """

    def __init__(self, duration: int, token, pool=None, balances=None):
        self.duration = duration
        self.token = key(token)
        self.pool = key(pool) if pool is not None else None
        self.balances: dict[str, int] = defaultdict(int)
        for holder, amount in (balances or {}).items():
            self.balances[key(holder)] = int(amount)
        self.per_token = 0
        self.rate = 0
        self.finish = 0
        self.last = 0
        self.carry = 0
        self.stream_dust = 0
        self.distributed = 0
        self.claimed = 0
        self.paid: dict[str, int] = defaultdict(int)
        self.owed: dict[str, int] = defaultdict(int)
        self.settlements = 0

    @property
    def supply(self) -> int:
        return sum(self.balances.values())

    def _accrued(self, now: int) -> tuple[int, int]:
        until = min(now, self.finish)
        if until <= self.last:
            return self.per_token, self.carry
        released = self.rate * (until - self.last) + self.carry
        supply = self.supply
        if supply == 0:
            return self.per_token, released
        increment = released // supply
        return self.per_token + increment, released - increment * supply

    def _accrue(self, now: int) -> None:
        until = min(now, self.finish)
        if until <= self.last:
            return
        self.per_token, self.carry = self._accrued(now)
        self.last = until

    def _pending(self, holder: str, per_token: int) -> int:
        return self.balances[holder] * (per_token - self.paid[holder]) // PRECISION

    def _settle(self, holder: str) -> None:
        self.owed[holder] += self._pending(holder, self.per_token)
        self.paid[holder] = self.per_token
        self.settlements += 1

    # -- actions, at the block timestamp ``now``

    def move(self, sender, receiver, value: int, now: int) -> None:
        """A transfer; ``None`` (or the zero address) as sender mints, as receiver burns."""
        sender = None if sender is None or str(sender) == ZERO else key(sender)
        receiver = None if receiver is None or str(receiver) == ZERO else key(receiver)
        self._accrue(now)
        if sender is not None:
            self._settle(sender)
        if receiver is not None and receiver != sender:
            self._settle(receiver)
        if sender is not None:
            self.balances[sender] -= value
            assert self.balances[sender] >= 0
        if receiver is not None:
            self.balances[receiver] += value

    def distribute(self, amount: int, now: int) -> None:
        self._accrue(now)
        self.distributed += amount
        pool = amount * PRECISION + self.stream_dust
        if now < self.finish:
            pool += self.rate * (self.finish - now)
        self.rate = pool // self.duration
        self.stream_dust = pool - self.rate * self.duration
        self.last = now
        self.finish = now + self.duration

    def claim(self, holder, now: int) -> int:
        holder = key(holder)
        self._accrue(now)
        self._settle(holder)
        amount = self.owed[holder]
        self.owed[holder] = 0
        self.claimed += amount
        return amount

    # -- views, at ``now``

    def dividend_of(self, holder, now: int) -> int:
        holder = key(holder)
        per_token, _ = self._accrued(now)
        return self.owed[holder] + self._pending(holder, per_token)

    def unallocated(self, now: int) -> int:
        _, carry = self._accrued(now)
        streaming = self.rate * (self.finish - now) if now < self.finish else 0
        return (streaming + carry + self.stream_dust) // PRECISION

    def dust_bound(self) -> int:
        """Upper bound of distributed - claimed - sum(dividendOf) - unallocated(): below one wei per
        settlement (the remainder of the floor in `_pending`, which is not carried), one per holder
        with tokens (the floor of its view) and one for the floor of `unallocated()`."""
        holding = sum(1 for balance in self.balances.values() if balance > 0)
        return self.settlements + holding + 1

    # -- following the chain

    def apply(self, tx) -> None:
        """Replay a mined transaction from its events: the token's transfers, claims and
        distributions, plus the settlements that emit nothing (a pool operation's harvest that
        claimed zero, a direct claim of zero)."""
        now = int(tx.timestamp)
        events = list(tx.events)
        claimed = {
            key(e["holder"])
            for e in events
            if e.name == "DividendClaimed" and key(e.address) == self.token
        }
        pool_op = self.pool is not None and any(
            e.name in POOL_OPS and key(e.address) == self.pool for e in events
        )
        if pool_op and self.pool not in claimed:
            assert self.claim(self.pool, now) == 0  # the harvest ran and claimed nothing
        for e in events:
            if key(e.address) != self.token:
                continue
            if e.name == "Transfer":
                self.move(e["from"], e["to"], int(e["value"]), now)
            elif e.name == "DividendClaimed":
                assert self.claim(e["holder"], now) == e["amount"], "claim differs from the mirror"
            elif e.name == "DividendDistributed":
                self.distribute(int(e["amount"]), now)
        if tx.receiver is not None and key(tx.receiver) == self.token and not claimed:
            if tx.fn_name == "claimDividend":
                assert self.claim(tx.sender, now) == 0
            elif tx.fn_name == "claimDividendFor":
                holder = ClientToken.at(self.token).claimDividendFor.decode_input(tx.input)[0]
                assert self.claim(holder, now) == 0


class IdealStream:
    """The exact stream, in rationals: each distribution (with what is left of the running stream)
    flows at a constant rate until ``duration`` seconds after it, and every holder earns
    rate * balance / supply each second. Nothing is rounded."""

    def __init__(self, duration: int, balances=None):
        self.duration = duration
        self.balances: dict[str, int] = defaultdict(int)
        for holder, amount in (balances or {}).items():
            self.balances[key(holder)] = int(amount)
        self.rate = Fraction(0)
        self.finish = 0
        self.last = 0
        self.earned: dict[str, Fraction] = defaultdict(Fraction)
        self.stranded = Fraction(0)  # streamed while no token existed

    def advance(self, now: int) -> None:
        until = min(now, self.finish)
        if until > self.last:
            released = self.rate * (until - self.last)
            supply = sum(self.balances.values())
            if supply == 0:
                self.stranded += released
            else:
                for holder, balance in self.balances.items():
                    self.earned[holder] += released * balance / supply
        self.last = max(self.last, now)

    def distribute(self, amount: int, now: int) -> None:
        self.advance(now)
        rest = self.rate * (self.finish - now) if now < self.finish else Fraction(0)
        self.rate = (amount + rest) / self.duration
        self.finish = now + self.duration

    def move(self, sender, receiver, value: int, now: int) -> None:
        self.advance(now)
        if sender is not None:
            self.balances[key(sender)] -= value
        if receiver is not None:
            self.balances[key(receiver)] += value

    def earned_by(self, holder, now: int) -> Fraction:
        self.advance(now)
        return self.earned[key(holder)]


def dividend_dust(token, holders) -> int:
    """distributed - claimed - sum(dividendOf) - unallocated(), at the latest block."""
    owed = sum(int(token.dividendOf(h)) for h in holders)
    return (
        int(token.totalDistributed()) - int(token.totalClaimed()) - owed - int(token.unallocated())
    )


def assert_dividends_conserved(token, holders, bound: int) -> int:
    """The conservation identity: totalDistributed == totalClaimed + sum(dividendOf) +
    unallocated() + dust with 0 <= dust <= bound; never more claimed than distributed. Returns the
    dust."""
    assert int(token.totalClaimed()) <= int(token.totalDistributed())
    dust = dividend_dust(token, holders)
    assert 0 <= dust <= bound, f"dividend dust {dust} outside [0, {bound}]"
    return dust


def assert_matches_mirror(token, mirror: DividendMirror, holders, base=None) -> int:
    """At the latest block: every view of the token's stream equals the mirror's, the base the
    token holds (given ``base``) is what was distributed and not claimed, and the conservation
    identity holds within the mirror's dust bound. ``holders`` must list every holder with a
    dividend. Returns the dust."""
    now = latest()
    for holder in holders:
        assert token.dividendOf(holder) == mirror.dividend_of(holder, now), f"dividendOf {holder}"
    assert token.unallocated() == mirror.unallocated(now)
    assert token.totalDistributed() == mirror.distributed
    assert token.totalClaimed() == mirror.claimed
    assert token.totalSupply() == mirror.supply
    assert token.rewardRate() == mirror.rate
    assert token.periodFinish() == mirror.finish
    assert token.lastAccrual() == mirror.last
    assert token.dividendPerToken() == mirror.per_token
    if base is not None:
        assert base.balanceOf(token) == mirror.distributed - mirror.claimed
    return assert_dividends_conserved(token, holders, mirror.dust_bound())


def market_holders(market) -> list:
    """Every account that can hold the market fixture's client token in these tests."""
    return [market.client, market.pool, *accounts[2:10], market.registry]


def follow(market, mirror: DividendMirror, tx) -> int:
    """Feed a mined transaction of the market fixture to the mirror, then check every dividend
    view and the conservation identity (see assert_matches_mirror). Returns the dust."""
    mirror.apply(tx)
    return assert_matches_mirror(market.token, mirror, market_holders(market), market.base)
