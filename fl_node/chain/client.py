"""Chain access for nodes, aggregators and tools: web3.py only, no Brownie.

:class:`ChainClient` connects to an RPC (checking the chain id against the deployment), builds
contract objects from the deployment file, and sends signed transactions robustly: it keeps the
nonce, estimates gas with a margin, waits for the receipt, retries when the connection drops
(resending the same signed bytes, so a retry can never double-spend), and turns reverts into
:class:`TxReverted` errors that name the contract's custom error and its arguments.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, cast

import requests
from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_account.types import TransactionDictType
from eth_typing import ChecksumAddress
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import BlockIdentifier, Nonce, TxParams, Wei

from fl_node.chain.deployments import Deployment
from fl_node.errors import ChainError

T = TypeVar("T")

#: Exceptions that mean "the connection dropped", not "the chain said no".
TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionError,
    TimeoutError,
)


class TxReverted(ChainError):
    """A transaction or call reverted; ``error`` is the custom error's name when known."""

    def __init__(self, action: str, error: str, args: tuple[Any, ...] = (), raw: str = ""):
        self.action = action
        self.error = error
        self.args_ = args
        self.raw = raw
        shown = ", ".join(_show(a) for a in args)
        super().__init__(f"{action} reverted: {error}({shown})")


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


@dataclass(frozen=True)
class TxResult:
    """What a mined transaction did."""

    action: str
    tx_hash: str
    block_number: int
    gas_used: int
    receipt: Any


@dataclass
class GasMeter:
    """Gas used by this process's transactions, by action (``Federation.commit`` ...)."""

    by_action: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def record(self, action: str, gas: int) -> None:
        self.by_action[action].append(gas)

    @property
    def total(self) -> int:
        return sum(sum(v) for v in self.by_action.values())

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            action: {"calls": len(v), "total": sum(v), "mean": sum(v) / len(v)}
            for action, v in sorted(self.by_action.items())
        }


class ErrorDecoder:
    """Decodes revert data into ``(ErrorName, args)`` using every ABI of a deployment."""

    _BUILTIN: ClassVar[dict[bytes, tuple[str, list[str]]]] = {
        bytes.fromhex("08c379a0"): ("Error", ["string"]),
        bytes.fromhex("4e487b71"): ("Panic", ["uint256"]),
    }

    def __init__(self, abis: Iterable[list[dict[str, Any]]]):
        self.errors: dict[bytes, tuple[str, list[str]]] = dict(self._BUILTIN)
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [_abi_type(i) for i in item.get("inputs", [])]
                selector = function_signature_to_4byte_selector(
                    f"{item['name']}({','.join(types)})"
                )
                self.errors[selector] = (item["name"], types)

    def decode(self, data: str | bytes | None) -> tuple[str, tuple[Any, ...]]:
        raw = HexBytes(data or b"")
        if len(raw) < 4:
            return ("revert without a reason", ())
        known = self.errors.get(bytes(raw[:4]))
        if known is None:
            return (f"unknown error 0x{bytes(raw[:4]).hex()}", ())
        name, types = known
        try:
            return (name, tuple(abi_decode(types, bytes(raw[4:]))))
        except Exception:  # malformed arguments: still name the error
            return (name, ())


def _abi_type(item: dict[str, Any]) -> str:
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item.get("components", []))
        return f"({inner}){kind[5:]}"
    return kind


def _revert_data(exc: Exception) -> str | None:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return data
    return None


@dataclass
class RetryPolicy:
    attempts: int = 6
    first_delay: float = 0.25
    max_delay: float = 5.0

    def run(self, what: str, fn: Callable[[], T]) -> T:
        delay = self.first_delay
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except TRANSIENT as exc:
                if attempt == self.attempts:
                    raise ChainError(
                        f"{what}: the RPC connection keeps failing after {attempt} attempts ({exc})"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, self.max_delay)
        raise AssertionError("unreachable")


class ChainClient:
    """A connection to one chain and one deployment of the suite."""

    def __init__(
        self,
        rpc_url: str,
        deployment: Deployment | None = None,
        *,
        timeout: float = 30.0,
        receipt_timeout: float = 120.0,
        retry: RetryPolicy | None = None,
    ):
        self.rpc_url = rpc_url
        self.retry = retry or RetryPolicy()
        self.receipt_timeout = receipt_timeout
        self.w3 = Web3(
            Web3.HTTPProvider(
                rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
            )
        )
        self.deployment = deployment
        self.gas = GasMeter()
        self.tx_seconds = 0.0  # wall time spent sending transactions and waiting for receipts
        self._nonces: dict[str, int] = {}
        self._contracts: dict[tuple[str, str], Contract] = {}
        self._names: dict[str, str] = {}
        try:
            self.chain_id = self.retry.run("connect", lambda: int(self.w3.eth.chain_id))
        except ChainError as exc:
            raise ChainError(
                f"cannot reach the chain at {rpc_url}: is the node running and the URL right? "
                f"({exc})"
            ) from exc
        except (ValueError, Web3RPCError) as exc:
            raise ChainError(f"{rpc_url} is not an Ethereum JSON-RPC endpoint ({exc})") from exc
        if deployment is not None and deployment.chain_id != self.chain_id:
            raise ChainError(
                f"wrong chain: {rpc_url} is chain id {self.chain_id} but the deployment file is "
                f"for chain id {deployment.chain_id}; point --rpc at the right network or use "
                "that network's deployment file"
            )
        self.decoder = ErrorDecoder(
            [rec.abi for rec in deployment.contracts.values()] if deployment else []
        )

    # -- contracts -------------------------------------------------------------------------
    def contract(self, name: str, address: str | None = None) -> Contract:
        """A contract of the deployment by name; ``address`` for clones (tokens, pools)."""
        if self.deployment is None:
            raise ChainError("no deployment loaded: pass the deployment file")
        addr = to_checksum_address(address or self.deployment.address(name))
        key = (name, addr)
        if key not in self._contracts:
            self._contracts[key] = self.w3.eth.contract(address=addr, abi=self.deployment.abi(name))
            self._names[addr] = name
        return self._contracts[key]

    def action_name(self, fn: ContractFunction) -> str:
        """``Contract.function``: how gas and errors are labelled."""
        return f"{self._names.get(str(fn.address), 'contract')}.{fn.fn_name}"

    # -- reads -------------------------------------------------------------------------------
    def call(self, fn: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        action = self.action_name(fn)
        try:
            return self.retry.run(action, lambda: fn.call(block_identifier=block))
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self._reverted(action, exc) from None

    def block_number(self) -> int:
        return int(self.retry.run("block number", lambda: self.w3.eth.block_number))

    def timestamp(self, block: BlockIdentifier = "latest") -> int:
        return int(self.retry.run("block", lambda: self.w3.eth.get_block(block))["timestamp"])

    def balance_eth(self, address: str) -> int:
        checksummed = cast(ChecksumAddress, address)  # web3 itself rejects a bad address
        return int(self.retry.run("balance", lambda: self.w3.eth.get_balance(checksummed)))

    # -- writes ------------------------------------------------------------------------------
    def send(
        self,
        fn: ContractFunction | ContractConstructor,
        signer: LocalAccount,
        *,
        gas: int | None = None,
        value: int = 0,
        label: str | None = None,
    ) -> TxResult:
        """Sign, send and wait for ``fn`` (a function call or a constructor).

        Raises :class:`TxReverted` naming the custom error when the chain refuses it.
        """
        started = time.perf_counter()
        try:
            return self._send(fn, signer, gas=gas, value=value, label=label)
        finally:
            self.tx_seconds += time.perf_counter() - started

    def _send(
        self,
        fn: ContractFunction | ContractConstructor,
        signer: LocalAccount,
        *,
        gas: int | None,
        value: int,
        label: str | None,
    ) -> TxResult:
        action = label or self.action_name(fn)  # type: ignore[arg-type]
        sender = signer.address
        params: TxParams = {"from": sender, "value": Wei(value), "chainId": self.chain_id}
        if gas is None:
            try:
                estimate = self.retry.run(
                    action, lambda: fn.estimate_gas(params, block_identifier="pending")
                )
            except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
                raise self._reverted(action, exc) from None
            gas = int(estimate * 1.25) + 20_000
        params["gas"] = gas
        params.update(self._fees())
        for _ in range(3):
            nonce = self._next_nonce(sender)
            params["nonce"] = Nonce(nonce)
            tx = self.retry.run(action, lambda: fn.build_transaction(params))
            # web3's TxParams and eth-account's transaction dict describe the same mapping.
            signed = signer.sign_transaction(cast(TransactionDictType, tx))
            try:
                tx_hash = self._broadcast(action, signed.raw_transaction, signed.hash)
            except _NonceTooLow:
                self._nonces.pop(sender, None)
                continue
            self._nonces[sender] = nonce + 1
            return self._await(action, tx_hash, tx)
        raise ChainError(f"{action}: could not find a usable nonce for {sender}")

    def transfer_eth(self, signer: LocalAccount, to: str, value: int) -> TxResult:
        """Send ``value`` wei of the chain's native currency (gas money) to ``to``."""
        action = "ETH transfer"
        started = time.perf_counter()
        try:
            sender = signer.address
            params: TxParams = {
                "from": sender,
                "to": to_checksum_address(to),
                "value": Wei(value),
                "gas": 21_000,
                "chainId": self.chain_id,
            }
            params.update(self._fees())
            nonce = self._next_nonce(sender)
            params["nonce"] = Nonce(nonce)
            signed = signer.sign_transaction(cast(TransactionDictType, params))
            tx_hash = self._broadcast(action, signed.raw_transaction, signed.hash)
            self._nonces[sender] = nonce + 1
            return self._await(action, tx_hash, params)
        finally:
            self.tx_seconds += time.perf_counter() - started

    def _fees(self) -> TxParams:
        block = self.retry.run("block", lambda: self.w3.eth.get_block("latest"))
        base = block.get("baseFeePerGas")
        if base is None:
            gas_price = int(self.retry.run("gas price", lambda: self.w3.eth.gas_price))
            return {"gasPrice": Wei(gas_price)}
        try:
            tip = int(self.retry.run("priority fee", lambda: self.w3.eth.max_priority_fee))
        except (Web3RPCError, ValueError):
            tip = 10**9
        tip = min(tip, 2 * 10**9) if base == 0 else tip
        return {"maxFeePerGas": Wei(int(base) * 2 + tip), "maxPriorityFeePerGas": Wei(tip)}

    def _next_nonce(self, sender: ChecksumAddress) -> int:
        if sender not in self._nonces:
            self._nonces[sender] = int(
                self.retry.run(
                    "nonce", lambda: self.w3.eth.get_transaction_count(sender, "pending")
                )
            )
        return self._nonces[sender]

    def _broadcast(self, action: str, raw: bytes, tx_hash: bytes) -> HexBytes:
        def attempt() -> HexBytes:
            try:
                return HexBytes(self.w3.eth.send_raw_transaction(raw))
            except Web3RPCError as exc:
                text = str(exc).lower()
                if "already known" in text or "already imported" in text:
                    return HexBytes(tx_hash)  # a retry of bytes the node already has
                if "nonce too low" in text:
                    # Either our earlier attempt got through (the hash is mined) or the nonce
                    # moved under us: tell the two apart by the hash.
                    try:
                        self.w3.eth.get_transaction(HexBytes(tx_hash))
                        return HexBytes(tx_hash)
                    except TransactionNotFound:
                        raise _NonceTooLow() from exc
                if "insufficient funds" in text:
                    raise ChainError(
                        f"{action}: the sender has too little ETH for gas ({exc})"
                    ) from exc
                raise ChainError(f"{action}: the node rejected the transaction ({exc})") from exc

        return self.retry.run(action, attempt)

    def _await(self, action: str, tx_hash: HexBytes, tx: TxParams) -> TxResult:
        try:
            receipt = self.retry.run(
                action,
                lambda: self.w3.eth.wait_for_transaction_receipt(
                    tx_hash, timeout=self.receipt_timeout, poll_latency=0.05
                ),
            )
        except TimeExhausted as exc:
            raise ChainError(
                f"{action}: transaction {tx_hash.hex()} was not mined within "
                f"{self.receipt_timeout:.0f} s"
            ) from exc
        if receipt["status"] != 1:
            raise self._replay_revert(action, tx, int(receipt["blockNumber"]))
        gas_used = int(receipt["gasUsed"])
        self.gas.record(action, gas_used)
        return TxResult(
            action=action,
            tx_hash="0x" + bytes(tx_hash).hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=gas_used,
            receipt=receipt,
        )

    def _replay_revert(self, action: str, tx: TxParams, block: int) -> ChainError:
        fields: dict[str, Any] = dict(tx)
        call = cast(
            TxParams, {k: fields[k] for k in ("from", "to", "data", "value", "gas") if k in fields}
        )
        try:
            self.w3.eth.call(call, block_identifier=block - 1)
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            return self._reverted(action, exc)
        except Exception:  # the replay itself failed: report what we know
            pass
        return TxReverted(action, f"reverted in block {block}")

    def _reverted(self, action: str, exc: Exception) -> TxReverted:
        data = _revert_data(exc)
        if data is None:
            return TxReverted(action, str(getattr(exc, "message", exc) or "revert"))
        name, args = self.decoder.decode(data)
        return TxReverted(action, name, args, raw=data)


class _NonceTooLow(Exception):
    pass
