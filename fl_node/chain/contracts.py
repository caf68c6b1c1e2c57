"""Typed bindings of the suite's contracts: where Python names their functions.

One small class per contract the Python code uses (the Federation's is
:class:`fl_node.federation.protocol.FederationApi`, built on the helpers here; only the deploy
sequence and the gas bench, which measures individual calls, use raw functions):

- views are methods returning Python values; a view with several outputs is decoded by the ABI's
  output names (never by tuple position) into a frozen dataclass: ``StakeVault.stake_of`` gives a
  :class:`StakeRecord`, ``ClientPool.reserves`` :class:`Reserves`, ``RewardEscrow.budget_of``
  :class:`Budget`;
- ``read_*`` methods return the same views as :class:`Read` objects, not made yet, for
  :func:`batch_call` (one JSON-RPC batch at one block, each result decoded like the method's);
- writes are methods that send through :meth:`ChainClient.send` and return its :class:`TxResult`;
- every approval goes through one helper, :meth:`Erc20.ensure_allowance`, which approves only when
  the current allowance is short; the calls that pull base tokens (``StakeVault.deposit``,
  ``RewardEscrow.fund``, ``ClientRegistry.register_with_offering``) use it themselves.

Amounts stay integers in each token's smallest unit; :attr:`Erc20.decimals` is read from the token
(never assumed), and :meth:`Erc20.units` / :meth:`Erc20.format` convert whole tokens.

``.address`` and ``.functions`` of every binding are the contract's own: ``.functions`` is the raw
escape hatch for code that measures individual calls (the gas bench) and for older callers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Any, ClassVar, Generic, TypeVar

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction, ContractFunctions
from web3.types import BlockIdentifier

from fl_node.chain.client import ChainClient, TxResult
from fl_node.config import format_units, to_units
from fl_node.errors import ChainError, ConfigError

T = TypeVar("T")
V = TypeVar("V")

#: An allowance nobody can exhaust (for accounts that trade often and approve once).
MAX_UINT = 2**256 - 1
ZERO_ADDRESS = "0x" + "0" * 40


# -- decoding by name --------------------------------------------------------------------------
@lru_cache(maxsize=1024)
def snake(name: str) -> str:
    """``unlockTime`` -> ``unlock_time``: Solidity's names as Python's (each name worked out
    once: every read of a struct names all its fields)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def named_outputs(fn: ContractFunction, raw: Any) -> dict[str, Any]:
    """A view's result by output name: a returned struct's fields, or the named outputs."""
    outputs = fn.abi.get("outputs", [])
    if len(outputs) == 1 and outputs[0]["type"] == "tuple":
        names = [c["name"] for c in outputs[0].get("components", [])]
    else:
        names = [o["name"] for o in outputs]
        raw = raw if len(outputs) > 1 else (raw,)
    if any(not name for name in names):
        raise ChainError(f"{fn.fn_name} has unnamed outputs: it cannot be decoded by name")
    return dict(zip(names, raw, strict=True))


def view_of(cls: type[V], values: dict[str, Any], **aliases: str) -> V:
    """The dataclass ``cls`` from a view's named outputs: camelCase output names map to the
    snake_case fields (``aliases`` renames outputs: ``reserveToken="token"``); bytes become
    ``bytes``. Every field must be an output: a changed ABI fails here, not by misplacing values."""
    named = {
        aliases.get(k, snake(k)): (bytes(v) if isinstance(v, (bytes, bytearray)) else v)
        for k, v in values.items()
    }
    wanted = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    missing = [name for name in wanted if name not in named]
    if missing:
        raise ChainError(
            f"{cls.__name__}: the view returned {sorted(values)}, without {missing} "
            "(does the deployment's ABI match this version of fl-node?)"
        )
    return cls(**{name: named[name] for name in wanted})


def as_int(raw: Any) -> int:
    return int(raw)


def as_bool(raw: Any) -> bool:
    return bool(raw)


def as_str(raw: Any) -> str:
    return str(raw)


def as_address(raw: Any) -> str | None:
    """A checksummed address; None for the zero address (nothing there)."""
    return None if int(str(raw), 16) == 0 else str(to_checksum_address(str(raw)))


@dataclass(frozen=True)
class Read(Generic[T]):
    """One view call, not made yet, and how its result decodes.

    ``get(block)`` makes it on its own; :func:`batch_call` makes many in one JSON-RPC batch.
    """

    client: ChainClient
    fn: ContractFunction
    decode: Callable[[Any], T]

    def get(self, block: BlockIdentifier = "latest") -> T:
        return self.decode(self.client.call(self.fn, block))


def batch_call(
    client: ChainClient, reads: Sequence[Read[Any]], block: BlockIdentifier = "latest"
) -> list[Any]:
    """Many views in one JSON-RPC batch, all at ``block``, each decoded as its :class:`Read`
    says: one round trip instead of one per call (a market snapshot reads hundreds)."""
    if not reads:
        return []
    w3 = reads[0].fn.w3  # the connection the views are bound to (it must be the one batching)
    if any(r.fn.w3 is not w3 for r in reads):
        raise ConfigError("batch_call needs views of contracts of one connection")

    def run() -> list[Any]:
        with w3.batch_requests() as batch:
            for r in reads:
                batch.add(r.fn.call(block_identifier=block))
            return list(batch.execute())

    raw = client.retry.run("batched calls", run)
    return [r.decode(value) for r, value in zip(reads, raw, strict=True)]


# -- what views return -------------------------------------------------------------------------
@dataclass(frozen=True)
class StakeRecord:
    """``StakeVault.stakeOf``: an account's stake, in the base token's smallest unit."""

    balance: int  # everything staked
    locked: int  # locked by rounds and task seats
    pending: int  # requested for withdrawal
    unlock_time: int  # when ``pending`` becomes withdrawable (0: nothing pending)

    @property
    def free(self) -> int:
        """What can be locked or requested now (``StakeVault.freeStake``)."""
        return self.balance - self.locked - self.pending


@dataclass(frozen=True)
class Reserves:
    """``ClientPool.getReserves``: the pool's client tokens and base tokens (smallest units)."""

    token: int
    base: int

    @property
    def listed(self) -> bool:
        """Whether both sides hold liquidity (the pool can be traded)."""
        return self.token > 0 and self.base > 0


@dataclass(frozen=True)
class Budget:
    """``RewardEscrow.budgetOf``: a task's escrowed budget."""

    unreleased: int  # funded and not reserved
    owed: int  # reserved by posted rounds and not paid yet


# -- bindings ----------------------------------------------------------------------------------
class Binding:
    """One contract of the deployment (``address`` for clones: client tokens and pools)."""

    #: The contract's name in the deployment file (whose ABI is used).
    contract_name: ClassVar[str] = ""

    def __init__(
        self,
        client: ChainClient,
        address: str | None = None,
        *,
        name: str | None = None,
        contract: Contract | None = None,
    ):
        self.client = client
        self.name = name or self.contract_name
        self.contract = contract if contract is not None else client.contract(self.name, address)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} at {self.address}>"

    @property
    def address(self) -> ChecksumAddress:
        return self.contract.address

    @property
    def functions(self) -> ContractFunctions:
        """The raw functions (for measuring individual calls, or what has no method yet)."""
        return self.contract.functions

    def _read(self, fn: ContractFunction, decode: Callable[[Any], T]) -> Read[T]:
        return Read(self.client, fn, decode)

    def _struct(self, fn: ContractFunction, cls: type[V], **aliases: str) -> Read[V]:
        return Read(self.client, fn, lambda raw: view_of(cls, named_outputs(fn, raw), **aliases))

    def _send(self, fn: ContractFunction, signer: LocalAccount, gas: int | None = None) -> TxResult:
        return self.client.send(fn, signer, gas=gas)


class Erc20(Binding):
    """An ERC-20 token. The ABI is the dev token's, a superset of ERC-20."""

    contract_name = "DevToken"

    @cached_property
    def decimals(self) -> int:
        """The token's decimals, read once (18 for most tokens, 6 for USDC-like ones)."""
        return self.read_decimals().get()

    @property
    def unit(self) -> int:
        """One whole token in the smallest unit."""
        return int(10**self.decimals)

    def units(self, amount: float | Decimal | str) -> int:
        """``amount`` whole tokens in the smallest unit (exact for decimal text)."""
        return to_units(amount, self.decimals)

    def format(self, value: int) -> str:
        """An amount in the smallest unit as whole tokens, as short text."""
        return format_units(value, self.decimals)

    def whole(self, value: int) -> float:
        """An amount in the smallest unit as a float of whole tokens (for figures, not money)."""
        return value / self.unit

    # views
    def read_decimals(self) -> Read[int]:
        return self._read(self.contract.functions.decimals(), as_int)

    def read_symbol(self) -> Read[str]:
        return self._read(self.contract.functions.symbol(), as_str)

    def read_total_supply(self) -> Read[int]:
        return self._read(self.contract.functions.totalSupply(), as_int)

    def read_balance_of(self, account: str) -> Read[int]:
        return self._read(self.contract.functions.balanceOf(account), as_int)

    def symbol(self) -> str:
        return self.read_symbol().get()

    def total_supply(self, block: BlockIdentifier = "latest") -> int:
        return self.read_total_supply().get(block)

    def balance_of(self, account: str, block: BlockIdentifier = "latest") -> int:
        return self.read_balance_of(account).get(block)

    def allowance(self, owner: str, spender: str, block: BlockIdentifier = "latest") -> int:
        return self._read(self.contract.functions.allowance(owner, spender), as_int).get(block)

    # writes
    def ensure_allowance(
        self, signer: LocalAccount, spender: str, amount: int, *, approve: int | None = None
    ) -> TxResult | None:
        """Let ``spender`` pull ``amount`` of ``signer``'s tokens: approves only when the current
        allowance is short, exactly ``amount`` unless ``approve`` says more (an account that
        trades often approves once, ``approve=MAX_UINT``). The one place anything is approved."""
        if amount <= 0:
            return None
        if self.allowance(signer.address, spender) >= amount:
            return None
        value = amount if approve is None else max(approve, amount)
        return self._send(self.contract.functions.approve(spender, value), signer)

    def transfer(self, signer: LocalAccount, to: str, amount: int) -> TxResult:
        return self._send(self.contract.functions.transfer(to_checksum_address(to), amount), signer)


class BaseToken(Erc20):
    """The deployment's base token (stakes, bonds, budgets, rewards): its ``DevToken`` on local
    chains, an existing ERC-20 (``BaseToken``) on public networks."""

    def __init__(self, client: ChainClient, *, contract: Contract | None = None):
        name = client.deployment.base_token if client.deployment is not None else "DevToken"
        super().__init__(client, name=name, contract=contract)

    @property
    def mintable(self) -> bool:
        return self.name == "DevToken"

    def mint(self, signer: LocalAccount, to: str, amount: int) -> TxResult:
        """Mint dev base tokens (the dev token's minter only)."""
        if not self.mintable:
            raise ConfigError(
                "this deployment uses an existing ERC-20 as base token: it cannot mint"
            )
        return self._send(self.contract.functions.mint(to_checksum_address(to), amount), signer)


class ClientToken(Erc20):
    """A client's token (a clone): an ERC-20 that streams dividends to its holders."""

    contract_name = "ClientToken"

    def read_dividend_of(self, holder: str) -> Read[int]:
        return self._read(self.contract.functions.dividendOf(holder), as_int)

    def dividend_of(self, holder: str, block: BlockIdentifier = "latest") -> int:
        """Base tokens (smallest unit) ``holder`` can claim now."""
        return self.read_dividend_of(holder).get(block)

    def claim_dividend(self, signer: LocalAccount) -> TxResult:
        return self._send(self.contract.functions.claimDividend(), signer)


class ClientPool(Erc20):
    """A client's pool (a clone) of its token against the base token; the ERC-20 is its LP share.

    Swaps pull the input asset: approve the pool first (:meth:`Erc20.ensure_allowance`).
    """

    contract_name = "ClientPool"
    #: ``price()`` is base (smallest unit) per 10**18 smallest units of client token.
    PRICE_SCALE: ClassVar[int] = 10**18

    def read_reserves(self) -> Read[Reserves]:
        return self._struct(
            self.contract.functions.getReserves(),
            Reserves,
            reserveToken="token",
            reserveBase="base",
        )

    def read_price(self) -> Read[int]:
        return self._read(self.contract.functions.price(), as_int)

    def reserves(self, block: BlockIdentifier = "latest") -> Reserves:
        return self.read_reserves().get(block)

    def price(self, block: BlockIdentifier = "latest") -> int:
        """Marginal price: base (smallest unit) per ``PRICE_SCALE`` smallest units of token."""
        return self.read_price().get(block)

    def quote_base_for_tokens(self, base_in: int, block: BlockIdentifier = "latest") -> int:
        fn = self.contract.functions.quoteBaseForTokens(base_in)
        return self._read(fn, as_int).get(block)

    def quote_tokens_for_base(self, tokens_in: int, block: BlockIdentifier = "latest") -> int:
        fn = self.contract.functions.quoteTokensForBase(tokens_in)
        return self._read(fn, as_int).get(block)

    def swap_exact_base_for_tokens(
        self, signer: LocalAccount, base_in: int, min_out: int, to: str, deadline: int
    ) -> TxResult:
        fn = self.contract.functions.swapExactBaseForTokens(base_in, min_out, to, deadline)
        return self._send(fn, signer)

    def swap_exact_tokens_for_base(
        self, signer: LocalAccount, tokens_in: int, min_out: int, to: str, deadline: int
    ) -> TxResult:
        fn = self.contract.functions.swapExactTokensForBase(tokens_in, min_out, to, deadline)
        return self._send(fn, signer)

    def harvest_dividends(self, signer: LocalAccount) -> TxResult:
        """Fold the pool's own dividends into its base reserve (anyone may call it)."""
        return self._send(self.contract.functions.harvestDividends(), signer)


class _PullsBase(Binding):
    """A contract that pulls base tokens from its callers (approved through the helper)."""

    def __init__(self, client: ChainClient, *, base: BaseToken | None = None):
        super().__init__(client)
        self.base = base if base is not None else BaseToken(client)


class StakeVault(_PullsBase):
    """Where clients' stakes sit; rounds lock, release and burn them."""

    contract_name = "StakeVault"

    def read_stake_of(self, account: str) -> Read[StakeRecord]:
        return self._struct(self.contract.functions.stakeOf(account), StakeRecord)

    def stake_of(self, account: str, block: BlockIdentifier = "latest") -> StakeRecord:
        return self.read_stake_of(account).get(block)

    def free_stake(self, account: str, block: BlockIdentifier = "latest") -> int:
        return self._read(self.contract.functions.freeStake(account), as_int).get(block)

    def total_burned(self, block: BlockIdentifier = "latest") -> int:
        return self._read(self.contract.functions.totalBurned(), as_int).get(block)

    def deposit(self, signer: LocalAccount, amount: int) -> TxResult:
        """Stake ``amount`` base tokens (approving the vault for what is short first)."""
        self.base.ensure_allowance(signer, self.address, amount)
        return self._send(self.contract.functions.deposit(amount), signer)

    def request_withdrawal(self, signer: LocalAccount, amount: int) -> TxResult:
        return self._send(self.contract.functions.requestWithdrawal(amount), signer)

    def cancel_withdrawal(self, signer: LocalAccount) -> TxResult:
        return self._send(self.contract.functions.cancelWithdrawal(), signer)

    def withdraw(self, signer: LocalAccount) -> TxResult:
        return self._send(self.contract.functions.withdraw(), signer)


class RewardEscrow(_PullsBase):
    """Tasks' reward budgets; pays rewards and stake payouts for the Federation."""

    contract_name = "RewardEscrow"

    def budget_of(self, task_id: int, block: BlockIdentifier = "latest") -> Budget:
        return self._struct(self.contract.functions.budgetOf(task_id), Budget).get(block)

    def total_held(self, block: BlockIdentifier = "latest") -> int:
        return self._read(self.contract.functions.totalHeld(), as_int).get(block)

    def is_closed(self, task_id: int, block: BlockIdentifier = "latest") -> bool:
        return self._read(self.contract.functions.isClosed(task_id), as_bool).get(block)

    def fund(self, signer: LocalAccount, task_id: int, amount: int) -> TxResult:
        """Escrow ``amount`` base tokens for ``task_id`` (approving what is short first)."""
        self.base.ensure_allowance(signer, self.address, amount)
        return self._send(self.contract.functions.fund(task_id, amount), signer)


class ClientRegistry(_PullsBase):
    """Clients, their tokens and their pools."""

    contract_name = "ClientRegistry"

    def is_registered(self, client: str, block: BlockIdentifier = "latest") -> bool:
        return self._read(self.contract.functions.isRegistered(client), as_bool).get(block)

    def token_of(self, client: str, block: BlockIdentifier = "latest") -> str | None:
        """Address of ``client``'s token; None before it registers."""
        return self._read(self.contract.functions.tokenOf(client), as_address).get(block)

    def pool_of(self, client: str, block: BlockIdentifier = "latest") -> str | None:
        """Address of ``client``'s pool; None before it registers."""
        return self._read(self.contract.functions.poolOf(client), as_address).get(block)

    def token(self, client: str) -> ClientToken | None:
        address = self.token_of(client)
        return None if address is None else ClientToken(self.client, address)

    def pool(self, client: str) -> ClientPool | None:
        address = self.pool_of(client)
        return None if address is None else ClientPool(self.client, address)

    def fee_bps(self) -> int:
        """Swap fee of every pool, in basis points."""
        return self._read(self.contract.functions.feeBps(), as_int).get()

    def client_count(self, block: BlockIdentifier = "latest") -> int:
        return self._read(self.contract.functions.clientCount(), as_int).get(block)

    def register(self, signer: LocalAccount, name: str, symbol: str) -> TxResult:
        return self._send(self.contract.functions.register(name, symbol), signer)

    def register_with_offering(
        self, signer: LocalAccount, name: str, symbol: str, tokens: int, base_amount: int
    ) -> TxResult:
        """Register and open the client's market: ``tokens`` of its new tokens against
        ``base_amount`` base tokens seed its pool (approving the registry first)."""
        self.base.ensure_allowance(signer, self.address, base_amount)
        fn = self.contract.functions.registerWithOffering(name, symbol, tokens, base_amount)
        return self._send(fn, signer)


@dataclass(frozen=True)
class TwapPrice:
    """``TokenLending.twapPrice``: a market's time-weighted price now."""

    valid: bool  # an observation one to two windows old exists
    price: int  # base units per client-token unit, UQ112x112 (0 when not valid)

    def value(self, tokens: int) -> int:
        """What ``tokens`` (smallest units) are worth at this price, in base units (rounded
        down, as the contract values collateral)."""
        return tokens * self.price // TokenLending.Q112


@dataclass(frozen=True)
class LendingPosition:
    """``TokenLending.positionOf``: a borrower's position in one market now."""

    collateral: int  # client tokens deposited
    debt: int  # base units owed, interest included (rounded up)
    dividends: int  # base-unit dividends its collateral earned, not claimed


@dataclass(frozen=True)
class Liquidity:
    """``TokenLending.accountLiquidity``: a position's limits at the current TWAP."""

    valid: bool  # a valid TWAP exists (the other values but ``debt`` are 0 when not)
    value: int  # collateral value in base units
    debt: int
    borrow_limit: int  # value * LTV: the most it may owe after a borrow or a withdrawal
    liquidation_limit: int  # value * threshold: above it anyone may liquidate

    @property
    def liquidatable(self) -> bool:
        return self.valid and self.debt > self.liquidation_limit

    @property
    def headroom(self) -> int:
        """Base units it may still borrow (0 without a valid price)."""
        return max(0, self.borrow_limit - self.debt) if self.valid else 0


@dataclass(frozen=True)
class LendingMarket:
    """``TokenLending.marketOf``: a market's configuration and totals."""

    pool: str
    listed: bool
    enabled: bool
    ltv_bps: int
    threshold_bps: int
    borrow_cap: int
    debt: int  # what the market's positions owe now
    collateral: int  # client tokens deposited in it


class TokenLending(_PullsBase):
    """Base tokens lent against client tokens: the lenders' ERC-4626 vault (its shares are an
    ERC-20), borrowers' collateral valued at a TWAP of each client's pool, liquidation by anyone.

    Markets are listed by the owner (the suite's Timelock): :meth:`encode_set_market` gives the
    call data to schedule. Calls that pull tokens (``deposit``, ``deposit_collateral``,
    ``repay``, ``liquidate``) approve what is short first, through :meth:`Erc20.ensure_allowance`.
    """

    contract_name = "TokenLending"
    #: Scale of ``twapPrice`` (UQ112x112) and of the borrow index (RAY).
    Q112: ClassVar[int] = 2**112
    RAY: ClassVar[int] = 10**27

    # views
    def read_twap_price(self, token: str) -> Read[TwapPrice]:
        return self._struct(self.contract.functions.twapPrice(token), TwapPrice)

    def read_position_of(self, token: str, borrower: str) -> Read[LendingPosition]:
        return self._struct(self.contract.functions.positionOf(token, borrower), LendingPosition)

    def read_account_liquidity(self, token: str, borrower: str) -> Read[Liquidity]:
        fn = self.contract.functions.accountLiquidity(token, borrower)
        return self._struct(fn, Liquidity)

    def read_market_of(self, token: str) -> Read[LendingMarket]:
        return self._struct(self.contract.functions.marketOf(token), LendingMarket)

    def read_total_assets(self) -> Read[int]:
        return self._read(self.contract.functions.totalAssets(), as_int)

    def read_total_debt(self) -> Read[int]:
        return self._read(self.contract.functions.totalDebt(), as_int)

    def read_cash(self) -> Read[int]:
        return self._read(self.contract.functions.cash(), as_int)

    def read_borrow_index(self) -> Read[int]:
        return self._read(self.contract.functions.borrowIndex(), as_int)

    def twap_price(self, token: str, block: BlockIdentifier = "latest") -> TwapPrice:
        return self.read_twap_price(token).get(block)

    def position_of(
        self, token: str, borrower: str, block: BlockIdentifier = "latest"
    ) -> LendingPosition:
        return self.read_position_of(token, borrower).get(block)

    def account_liquidity(
        self, token: str, borrower: str, block: BlockIdentifier = "latest"
    ) -> Liquidity:
        return self.read_account_liquidity(token, borrower).get(block)

    def market_of(self, token: str, block: BlockIdentifier = "latest") -> LendingMarket:
        return self.read_market_of(token).get(block)

    def total_assets(self, block: BlockIdentifier = "latest") -> int:
        """The vault's assets: its cash plus what borrowers owe now."""
        return self.read_total_assets().get(block)

    def total_debt(self, block: BlockIdentifier = "latest") -> int:
        return self.read_total_debt().get(block)

    def cash(self, block: BlockIdentifier = "latest") -> int:
        return self.read_cash().get(block)

    def borrow_index(self, block: BlockIdentifier = "latest") -> int:
        """The borrow index (scale :attr:`RAY`), interest up to now included."""
        return self.read_borrow_index().get(block)

    def bad_debt(self, block: BlockIdentifier = "latest") -> int:
        return self._read(self.contract.functions.badDebt(), as_int).get(block)

    def dividends_held(self, block: BlockIdentifier = "latest") -> int:
        return self._read(self.contract.functions.dividendsHeld(), as_int).get(block)

    def twap_window(self, block: BlockIdentifier = "latest") -> int:
        return self._read(self.contract.functions.twapWindow(), as_int).get(block)

    def shares_of(self, holder: str, block: BlockIdentifier = "latest") -> int:
        """Vault shares ``holder`` owns (the ERC-20 balance)."""
        return self._read(self.contract.functions.balanceOf(holder), as_int).get(block)

    def max_withdraw(self, holder: str, block: BlockIdentifier = "latest") -> int:
        return self._read(self.contract.functions.maxWithdraw(holder), as_int).get(block)

    def encode_set_market(
        self,
        token: str,
        pool: str,
        ltv_bps: int,
        threshold_bps: int,
        borrow_cap: int,
        enabled: bool = True,
    ) -> str:
        """Call data of ``setMarket`` (owner only: schedule it through the Timelock)."""
        args = [
            to_checksum_address(token),
            to_checksum_address(pool),
            ltv_bps,
            threshold_bps,
            borrow_cap,
            enabled,
        ]
        return str(self.contract.encode_abi("setMarket", args=args))

    # writes: lenders
    def deposit(self, signer: LocalAccount, assets: int, receiver: str | None = None) -> TxResult:
        """Lend ``assets`` base units: vault shares to ``receiver`` (default: the signer)."""
        self.base.ensure_allowance(signer, self.address, assets)
        to = to_checksum_address(receiver or signer.address)
        return self._send(self.contract.functions.deposit(assets, to), signer)

    def withdraw(self, signer: LocalAccount, assets: int, receiver: str | None = None) -> TxResult:
        """Take ``assets`` base units of the signer's out of the vault (at most its cash)."""
        to = to_checksum_address(receiver or signer.address)
        fn = self.contract.functions.withdraw(assets, to, signer.address)
        return self._send(fn, signer)

    # writes: borrowers, liquidators, keepers
    def deposit_collateral(self, signer: LocalAccount, token: str, amount: int) -> TxResult:
        """Post ``amount`` of the client token ``token`` as the signer's collateral."""
        ClientToken(self.client, token).ensure_allowance(signer, self.address, amount)
        fn = self.contract.functions.depositCollateral(to_checksum_address(token), amount)
        return self._send(fn, signer)

    def withdraw_collateral(
        self, signer: LocalAccount, token: str, amount: int, to: str | None = None
    ) -> TxResult:
        fn = self.contract.functions.withdrawCollateral(
            to_checksum_address(token), amount, to_checksum_address(to or signer.address)
        )
        return self._send(fn, signer)

    def borrow(
        self, signer: LocalAccount, token: str, amount: int, to: str | None = None
    ) -> TxResult:
        """Borrow ``amount`` base units against the signer's collateral in ``token``'s market."""
        fn = self.contract.functions.borrow(
            to_checksum_address(token), amount, to_checksum_address(to or signer.address)
        )
        return self._send(fn, signer)

    def repay(self, signer: LocalAccount, token: str, borrower: str, amount: int) -> TxResult:
        """Pay up to ``amount`` of ``borrower``'s debt (anything at or above the debt pays it
        all; the contract pulls only what it takes)."""
        self.base.ensure_allowance(signer, self.address, amount)
        fn = self.contract.functions.repay(
            to_checksum_address(token), to_checksum_address(borrower), amount
        )
        return self._send(fn, signer)

    def liquidate(
        self, signer: LocalAccount, token: str, borrower: str, max_repay: int
    ) -> TxResult:
        """Repay up to ``max_repay`` (at most the close factor of the debt) of a position past
        its liquidation threshold, for its collateral plus the bonus."""
        self.base.ensure_allowance(signer, self.address, max_repay)
        fn = self.contract.functions.liquidate(
            to_checksum_address(token), to_checksum_address(borrower), max_repay
        )
        return self._send(fn, signer)

    def poke_oracle(self, signer: LocalAccount, token: str) -> TxResult:
        """Record an observation of ``token``'s pool if one is due (anyone may)."""
        return self._send(self.contract.functions.pokeOracle(to_checksum_address(token)), signer)

    def claim_dividends(self, signer: LocalAccount, token: str) -> TxResult:
        fn = self.contract.functions.claimDividends(to_checksum_address(token))
        return self._send(fn, signer)
