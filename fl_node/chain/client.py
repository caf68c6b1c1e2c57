"""Chain access for nodes, aggregators and tools: web3.py only, no Brownie.

:class:`ChainClient` connects to an RPC (checking the chain id against the deployment), builds
contract objects from the deployment file, and sends signed transactions robustly: it keeps the
nonce, estimates gas with a margin, prices it by a :class:`~fl_node.chain.fees.FeePolicy`, waits
for the receipt (and for ``confirmations`` blocks on top of it), sends a transaction that is not
mined in time again with the same nonce and higher fees, retries when the connection drops
(resending the same signed bytes, so a retry can never double-spend), and turns reverts into
:class:`TxReverted` errors that name the contract's custom error and its arguments.

Connection failures are retried by a :class:`RetryPolicy`: a bounded number of times for one-shot
commands (then one clear error), for ever with capped back-off for daemons, which log when the
connection drops and when it comes back. An RPC that answers an HTTP error that no retry can fix
(a wrong URL or provider key) and a read of an address without code (a reset chain, a deployment
file of another chain) are clear errors at once.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, cast

import requests
from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import BlockIdentifier, Nonce, RPCEndpoint, TxParams, Wei

from fl_node.addresses import checksummed
from fl_node.chain.abicodec import NotEncodable, abi_type, codec_of
from fl_node.chain.calls import Bound, FunctionCall
from fl_node.chain.deployments import Deployment
from fl_node.chain.fees import (
    DEV_CHAIN_IDS,
    NO_CAPS,
    FeePolicy,
    Fees,
    bumped,
    default_confirmations,
    eip1559_fees,
    legacy_fees,
)
from fl_node.chain.receipts import format_receipt
from fl_node.chain.retry import RetryPolicy, RpcHttpError, shown_url
from fl_node.chain.signing import sign
from fl_node.chain.transport import KeepAliveHTTPProvider
from fl_node.errors import ChainError

T = TypeVar("T")


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
                types = [abi_type(i) for i in item.get("inputs", [])]
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


def _revert_data(exc: Exception) -> str | None:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return data
    return None


#: Receipt polling: first and longest interval in seconds (a local chain mines at once; a public
#: one every few seconds).
RECEIPT_POLL = (0.0005, 0.25)
#: Polling for the blocks that confirm a receipt.
CONFIRMATION_POLL = (0.25, 2.0)
#: EIP-7966's send that answers with the receipt once the transaction is mined (Anvil has it).
SYNC_SEND = "eth_sendRawTransactionSync"
#: EIP-7966's error code: the transaction was accepted but not mined within the node's wait.
SYNC_NOT_MINED = 4
#: JSON-RPC's error code of a method the node does not have.
METHOD_NOT_FOUND = -32601
#: Blocks of a :class:`BlockProducer` a transaction waits for before its receipt is polled for as
#: after a plain send (a block full of others' transactions leaves it for the next).
PRODUCED_BLOCKS = 20
#: Call shapes whose last gas estimate a chain client keeps (see ChainClient._checked_hint).
GAS_HINTS = 256


@dataclass(frozen=True)
class _Sent:
    """One signed transaction of a nonce (the first, or a replacement with higher fees)."""

    tx_hash: HexBytes
    tx: dict[str, Any]
    fees: Fees


def http_session(url: str) -> requests.Session:
    """A session for one RPC URL that reads the environment's proxy, CA bundle and netrc
    settings for it once: requests otherwise scans the whole environment on every request."""
    session = requests.Session()
    found = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies = dict(found.get("proxies") or {})
    session.verify = found.get("verify", True)
    session.auth = requests.utils.get_netrc_auth(url)
    session.trust_env = False
    return session


class BlockProducer(Protocol):
    """Who mines the blocks of a chain this process runs, for the threads it schedules (see
    :class:`fl_node.simulation.lockstep.Lockstep`)."""

    def takes_next_send(self) -> bool:
        """Called before the calling thread broadcasts a transaction: whether the producer
        mines it (the chain then mines nothing by itself until the producer says so)."""
        ...

    def wait_mined(self, tx_hash: str) -> Mapping[str, Any] | None:
        """Block the calling thread until the producer has mined a block; the receipt of
        ``tx_hash`` (hex, JSON-RPC's form) when the producer read that block's and it is there
        (None: ask the chain)."""
        ...

    def block_epoch(self) -> Hashable | None:
        """For the calling thread, a value that stays the same while the latest block does
        (None when the producer cannot tell): fees and reads of the latest block asked under
        one value are asked of the chain once."""
        ...

    def gather(self, asks: Sequence[tuple[str, list[Any]]]) -> list[Any] | None:
        """For a thread the producer schedules, the JSON-RPC answers (each a ``result`` or an
        ``error``) of read requests ``asks``, asked together with the reads of the other
        threads it schedules (one batch for all) before its next block; None for any other
        thread (which asks the chain itself)."""
        ...


class ChainClient:
    """A connection to one chain and one deployment of the suite.

    ``fees`` caps what transactions pay per gas; ``confirmations`` is how many blocks must follow
    a transaction's block before :meth:`send` returns (default: none on local development
    chains, :data:`~fl_node.chain.fees.PUBLIC_CONFIRMATIONS` elsewhere); a transaction not mined
    within ``receipt_timeout`` seconds is sent again with higher fees, up to ``max_replacements``
    times.
    """

    def __init__(
        self,
        rpc_url: str,
        deployment: Deployment | None = None,
        *,
        timeout: float = 30.0,
        receipt_timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        fees: FeePolicy = NO_CAPS,
        confirmations: int | None = None,
        max_replacements: int = 3,
    ):
        self.rpc_url = rpc_url
        self.retry = retry or RetryPolicy()
        self.retry.where = f"the RPC at {shown_url(rpc_url)}"
        self.receipt_timeout = receipt_timeout
        self.fee_policy = fees
        self.max_replacements = max_replacements
        self.log: Callable[[str], None] | None = None
        session = http_session(rpc_url)
        # One kept-alive connection per thread to a plain-HTTP node (see .transport).
        self.provider = KeepAliveHTTPProvider(
            rpc_url,
            session,
            request_kwargs={"timeout": timeout},
            exception_retry_configuration=None,
            # web3's validation middleware asks for the chain id before every call and
            # transaction (twice per contract read): an endpoint's chain id does not change,
            # so it is asked once and checked against the deployment file below.
            cache_allowed_requests=True,
            cacheable_requests={RPCEndpoint("eth_chainId")},
        )
        self.w3 = Web3(self.provider)
        self.deployment = deployment
        self.gas = GasMeter()
        #: Seconds each thread, or each greenlet of a lockstep's steps, spent sending
        #: transactions and waiting for their receipts (not waiting for a
        #: :attr:`block_producer`'s other steps): see :attr:`tx_seconds`.
        self._tx: ContextVar[float] = ContextVar(f"tx-seconds-{id(self)}", default=0.0)
        self._sending: ContextVar[bool] = ContextVar(f"sending-{id(self)}", default=False)
        self._nonces: dict[str, int] = {}
        self._contracts: dict[tuple[str, str], Contract] = {}
        self._names: dict[str, str] = {}
        shown = shown_url(rpc_url)
        try:
            self.chain_id = self.retry.run("connect", lambda: int(self.w3.eth.chain_id))
        except RpcHttpError:
            raise
        except ChainError as exc:
            raise ChainError(
                f"cannot reach the chain at {shown}: is the node running and the URL right? ({exc})"
            ) from exc
        except (ValueError, Web3RPCError) as exc:
            raise ChainError(f"{shown} is not an Ethereum JSON-RPC endpoint ({exc})") from exc
        if deployment is not None and deployment.chain_id != self.chain_id:
            raise ChainError(
                f"wrong chain: {shown} is chain id {self.chain_id} but the deployment file is "
                f"for chain id {deployment.chain_id}; point --rpc at the right network or use "
                "that network's deployment file"
            )
        if confirmations is not None and confirmations < 0:
            raise ChainError(f"confirmations must be >= 0, got {confirmations}")
        if confirmations is None:
            confirmations = default_confirmations(self.chain_id, self._client_version())
        self.confirmations = confirmations
        #: Send with :data:`SYNC_SEND` (one request instead of a send and receipt polls): for a
        #: chain that mines each transaction at once (an automining Anvil this process runs);
        #: on a chain that mines on a timer the request waits for the block. Off until set; it
        #: turns itself off on a node that lacks the method.
        self.sync_send = False
        #: Mines the transactions of the threads it schedules (an in-process runtime's, which
        #: mines every transaction of a pass of its daemons in one block): such a thread
        #: broadcasts, waits for the producer's block and reads its receipt. None: the chain
        #: mines by itself.
        self.block_producer: BlockProducer | None = None
        self._epoch_fees: tuple[Hashable, Fees] | None = None  # see BlockProducer.block_epoch
        # answers of the latest block read in the current epoch, by request (see _latest_reads)
        self._epoch_reads: tuple[Hashable, dict[str, Any]] | None = None
        self._gas_hints: dict[tuple[str, str, int], int] = {}  # see _checked_hint
        self.decoder = ErrorDecoder(
            [rec.abi for rec in deployment.contracts.values()] if deployment else []
        )

    @property
    def tx_seconds(self) -> float:
        """Wall seconds the calling thread (or lockstep step) spent sending transactions and
        waiting for their receipts (a daemon reads it before and after its own sends)."""
        return self._tx.get()

    def _add_tx_seconds(self, seconds: float) -> None:
        self._tx.set(self._tx.get() + seconds)

    def _timed_send(self, send: Callable[[], T]) -> T:
        """``send()``, its wall seconds added to :attr:`tx_seconds` (less its waits for a block
        producer's other threads)."""
        started = time.perf_counter()
        token = self._sending.set(True)
        try:
            return send()
        finally:
            self._sending.reset(token)
            self._add_tx_seconds(time.perf_counter() - started)

    def _client_version(self) -> str:
        """The node's name and version (``web3_clientVersion``); empty if it does not say."""
        if self.chain_id in DEV_CHAIN_IDS:
            return ""  # no need to ask
        try:
            return str(self.retry.run("client version", lambda: self.w3.client_version))
        except (Web3RPCError, ValueError):
            return ""

    def keep_trying(self, log: Callable[[str], None], max_delay: float = 10.0) -> None:
        """Daemon mode: wait out connection outages of any length (retrying with back-off up
        to ``max_delay`` s), logging when the connection drops and when it comes back, and
        transaction replacements."""
        self.retry = RetryPolicy.forever(log, max_delay)
        self.retry.where = f"the RPC at {shown_url(self.rpc_url)}"
        self.log = log

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

    def action_name(self, fn: Bound) -> str:
        """``Contract.function``: how gas and errors are labelled."""
        return f"{self._names.get(str(fn.address), 'contract')}.{fn.fn_name}"

    # -- reads -------------------------------------------------------------------------------
    def call(self, fn: Bound, block: BlockIdentifier = "latest") -> Any:
        """A view's value, decoded as web3's ``fn.call`` would (see :mod:`.abicodec`)."""
        action = self.action_name(fn)
        try:
            data = self._call_data(fn)
        except NotEncodable:
            return self._web3_call(action, fn, block)
        ask = ("eth_call", [{"to": fn.address, "data": data}, _block(block)])
        known = self._latest_reads([ask]) if ask[1][1] == "latest" else None
        if known is None:
            return self._decoded(fn, self._rpc(action, *ask))
        if isinstance(known[0], _RawRevert):
            raise self._raw_reverted(action, known[0])
        return self._decoded(fn, known[0])

    def call_many(self, fns: Sequence[Bound], block: BlockIdentifier = "latest") -> list[Any]:
        """Several views in one JSON-RPC batch (one round trip), each decoded as :meth:`call`
        decodes it; a revert of any raises its :class:`TxReverted`. From a node that refuses
        the batch (or an error answer in it), the views are read one by one."""
        return self._views(fns, block, [])[0]

    def call_many_timed(self, fns: Sequence[Bound]) -> tuple[list[Any], int]:
        """:meth:`call_many` at the latest block, with the latest block's timestamp, in the same
        round trip."""
        values, extra = self._views(fns, "latest", [("eth_getBlockByNumber", ["latest", False])])
        return values, int(extra[0]["timestamp"], 16)

    def _views(
        self,
        fns: Sequence[Bound],
        block: BlockIdentifier,
        extra: list[tuple[str, list[Any]]],
    ) -> tuple[list[Any], list[Any]]:
        try:
            datas = [self._call_data(fn) for fn in fns]
        except NotEncodable:
            return [self.call(fn, block) for fn in fns], self.batch("batched reads", extra)
        tag = _block(block)
        calls = [{"to": fn.address, "data": data} for fn, data in zip(fns, datas, strict=True)]
        asks = [("eth_call", [c, tag]) for c in calls] + extra
        try:
            answers = self._latest_reads(asks) if tag == "latest" else None
            if answers is None:
                answers = self.batch("batched views", asks)
        except (Web3RPCError, RpcHttpError):  # a node or gateway that takes no batches
            values = [self.call(fn, block) for fn in fns]
            return values, [self._rpc("batched reads", m, p) for m, p in extra]
        out = []
        for fn, answer in zip(fns, answers[: len(fns)], strict=True):
            if isinstance(answer, _RawRevert):
                raise self._raw_reverted(self.action_name(fn), answer)
            out.append(self._decoded(fn, answer))
        return out, answers[len(fns) :]

    def _latest_reads(self, asks: Sequence[tuple[str, list[Any]]]) -> list[Any] | None:
        """Answers of read requests of the latest block, for a thread whose block producer says
        the latest block has not changed since an earlier read (:meth:`BlockProducer.block_epoch`):
        what was asked in this epoch already (many simulated clients read the same task and
        round) is answered from memory, the rest in one batch. None without an epoch."""
        epoch = self.block_producer.block_epoch() if self.block_producer is not None else None
        if epoch is None:
            return None
        if self._epoch_reads is None or self._epoch_reads[0] != epoch:
            self._epoch_reads = (epoch, {})
        known = self._epoch_reads[1]
        keys = [json.dumps([method, params], sort_keys=True) for method, params in asks]
        missing = {k: ask for k, ask in zip(keys, asks, strict=True) if k not in known}
        if missing:
            fetched = self.batch("batched views", list(missing.values()))
            known.update(zip(missing, fetched, strict=True))
        return [known[k] for k in keys]

    def _decoded(self, fn: Bound, result: str) -> Any:
        """An ``eth_call`` result decoded as web3 would; a clear error when it cannot be."""
        raw = HexBytes(result)
        try:
            if not raw and codec_of(fn).outputs:
                raise DecodingError("empty return data")
            return codec_of(fn).decode(bytes(raw))
        except DecodingError:
            raise self.bad_output(self.action_name(fn), str(fn.address)) from None

    def batch(self, action: str, requests_: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Raw JSON-RPC read requests in one batch; each one's ``result``, or a
        :class:`_RawRevert` in its place when it reverted (any other error answer is raised)."""
        if not requests_:
            return []

        def post() -> list[Any]:
            return [_result_or_revert(answer) for answer in self._answers(requests_)]

        return self.retry.run(action, post)

    def answers(self, requests_: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """The JSON-RPC answers (each a ``result`` or an ``error``, as the node gave it) of raw
        requests ``requests_``, in order, in one batch; Web3RPCError when the node refuses the
        batch as a whole. No retries: for a block producer that gathers its threads' reads
        (:meth:`BlockProducer.gather`), whose threads retry on their own."""
        if not requests_:
            return []
        body = json.dumps(
            [
                {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
                for i, (method, params) in enumerate(requests_)
            ]
        ).encode()
        answers = json.loads(self.provider.post(body))
        if not isinstance(answers, list):  # the node refused the batch as a whole
            error = answers.get("error") if isinstance(answers, dict) else answers
            raise Web3RPCError(f"batch refused: {error}")
        by_id = {a.get("id"): a for a in answers if isinstance(a, Mapping)}
        return [by_id.get(i) for i in range(len(requests_))]

    def _answers(self, requests_: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """The answers of read requests: gathered with other threads' by the block producer
        when it schedules this one, else asked now (one request, or one batch)."""
        producer = self.block_producer
        started = time.perf_counter()
        gathered = producer.gather(requests_) if producer is not None else None
        if gathered is not None:
            if self._sending.get():  # waiting for the other threads is not this send's time
                self._add_tx_seconds(started - time.perf_counter())
            return gathered
        if len(requests_) == 1:
            return [self.provider.request(*requests_[0])]
        return self.answers(requests_)

    def _raw_reverted(self, action: str, revert: _RawRevert) -> TxReverted:
        if revert.data is None:
            return TxReverted(action, revert.message or "revert")
        name, args = self.decoder.decode(revert.data)
        return TxReverted(action, name, args, raw=revert.data)

    def _web3_call(self, action: str, fn: Bound, block: BlockIdentifier) -> Any:
        if isinstance(fn, FunctionCall):
            fn = fn.web3()
        try:
            return self.retry.run(action, lambda: fn.call(block_identifier=block))
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self._reverted(action, exc) from None
        except BadFunctionCallOutput:
            raise self.bad_output(action, str(fn.address)) from None

    @staticmethod
    def _call_data(fn: Bound) -> str:
        """``fn``'s call data by its cached codec; :class:`NotEncodable` when web3 must encode."""
        if fn.kwargs:
            raise NotEncodable("keyword arguments")
        return codec_of(fn).encode(tuple(fn.args or ()))

    @classmethod
    def call_data(cls, fn: Bound) -> bytes:
        """``fn``'s call data (a call to put in a ``multicall``)."""
        try:
            return bytes.fromhex(cls._call_data(fn)[2:])
        except NotEncodable:
            web3_fn = fn.web3() if isinstance(fn, FunctionCall) else fn
            return bytes.fromhex(str(web3_fn._encode_transaction_data())[2:])

    def request(self, method: str, params: list[Any] | None = None) -> Any:
        """One raw JSON-RPC request over this client's connection (``evm_mine`` and the like on
        a chain this process runs), asked at once; its ``result``."""
        return self._rpc(method, method, params or [], read=False)

    def _rpc(self, action: str, method: str, params: list[Any], read: bool = True) -> Any:
        """One JSON-RPC request straight to the provider (no formatters); its ``result``. A
        ``read`` is gathered with other threads' under a block producer (:meth:`_answers`).

        A revert becomes :class:`TxReverted` naming the custom error; any other error answer
        is raised as web3 raises it (so a rate limit is retried like any request)."""

        def request() -> Any:
            asked = (
                self._answers([(method, params)])[0]
                if read
                else self.provider.request(method, params)
            )
            answer = _result_or_revert(asked)
            if isinstance(answer, _RawRevert):
                raise answer
            return answer

        try:
            return self.retry.run(action, request)
        except _RawRevert as revert:
            raise self._raw_reverted(action, revert) from None

    def bad_output(self, action: str, address: str) -> ChainError:
        """The clear error of a read whose answer cannot be decoded: no code at ``address`` (a
        chain reset without its state, or a deployment file of another chain), or other code."""
        checksummed = to_checksum_address(address)
        code = self.retry.run("get code", lambda: self.w3.eth.get_code(checksummed))
        if not code:
            return ChainError(
                f"no contract at {checksummed} on this chain: the chain was reset or the "
                "deployment file is for another chain; deploy again"
            )
        return ChainError(
            f"{action}: the contract at {checksummed} answered something its ABI in the "
            "deployment file cannot decode: the deployment file does not match this chain's "
            "contracts; deploy again or use the right deployment file"
        )

    def block_number(self) -> int:
        return int(self._rpc("block number", "eth_blockNumber", []), 16)

    def forget_nonce(self, address: str) -> None:
        """Ask the chain for ``address``'s next nonce before its next transaction: another
        process may have sent from the same key since this client last did."""
        self._nonces.pop(to_checksum_address(address), None)

    def timestamp(self, block: BlockIdentifier = "latest") -> int:
        if isinstance(block, (int, str)) and not (isinstance(block, str) and len(block) == 66):
            found = self._rpc("block", "eth_getBlockByNumber", [_block(block), False])
            if found is not None:
                return int(found["timestamp"], 16)
        return int(self.retry.run("block", lambda: self.w3.eth.get_block(block))["timestamp"])

    def balance_eth(self, address: str) -> int:
        checksummed = cast(ChecksumAddress, address)  # web3 itself rejects a bad address
        return int(self.retry.run("balance", lambda: self.w3.eth.get_balance(checksummed)))

    # -- writes ------------------------------------------------------------------------------
    def send(
        self,
        fn: Bound | ContractConstructor,
        signer: LocalAccount,
        *,
        gas: int | None = None,
        value: int = 0,
        label: str | None = None,
    ) -> TxResult:
        """Sign, send and wait for ``fn`` (a function call or a constructor).

        Raises :class:`TxReverted` naming the custom error when the chain refuses it.
        """
        return self._timed_send(lambda: self._send(fn, signer, gas=gas, value=value, label=label))

    def _send(
        self,
        fn: Bound | ContractConstructor,
        signer: LocalAccount,
        *,
        gas: int | None,
        value: int,
        label: str | None,
    ) -> TxResult:
        action = label or self.action_name(fn)  # type: ignore[arg-type]
        sender = signer.address
        if isinstance(fn, (ContractFunction, FunctionCall)):
            try:
                data = self._call_data(fn)
            except NotEncodable:
                fn = fn.web3() if isinstance(fn, FunctionCall) else fn
            else:
                return self._send_data(action, signer, str(fn.address), data, gas, value)
        params: TxParams = {"from": sender, "value": Wei(value), "chainId": self.chain_id}
        if gas is None:
            try:
                estimate = self.retry.run(
                    action, lambda: fn.estimate_gas(params, block_identifier=self._estimate_on)
                )
            except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
                raise self._reverted(action, exc) from None
            gas = _with_margin(int(estimate))
        params["gas"] = gas
        fees = self.fees()
        params.update(cast(TxParams, fees.as_params()))
        for _ in range(3):
            params["nonce"] = Nonce(self._next_nonce(sender))
            tx = self.retry.run(action, lambda: fn.build_transaction(params))
            try:
                return self._transact(action, signer, dict(tx), fees)
            except _NonceTooLow:
                self._nonces.pop(sender, None)
        raise ChainError(f"{action}: could not find a usable nonce for {sender}")

    def _send_data(
        self, action: str, signer: LocalAccount, to: str, data: str, gas: int | None, value: int
    ) -> TxResult:
        """:meth:`_send` of a call whose data is encoded already: estimated, built and priced
        without web3's contract layer."""
        call = {"from": signer.address, "to": to, "data": data, "value": hex(value)}
        gas, fees = self._gas_and_fees(action, call, gas)
        fields = {"to": to, "data": data, "value": value}
        return self._send_fields(action, signer, fields, gas, fees)

    @property
    def _estimate_on(self) -> BlockIdentifier:
        """The block gas is estimated on: the pending one, except under a block producer, whose
        pass leaves many senders' transactions pending at once (each independent of the others,
        and each estimate would rebuild the pending block from all of them)."""
        return "latest" if self.block_producer is not None else "pending"

    def _gas_and_fees(self, action: str, call: dict[str, Any], gas: int | None) -> tuple[int, Fees]:
        """The gas limit (estimated with a margin unless given) and the fees of a call, asked in
        one JSON-RPC batch; one request at a time when the node refuses a part of it (no
        ``eth_maxPriorityFeePerGas``, a chain without EIP-1559). Under a block producer, fees
        read since its last block are used again."""
        if gas is None:
            gas = self._checked_hint(action, call)
        epoch = self.block_producer.block_epoch() if self.block_producer is not None else None
        if epoch is not None and self._epoch_fees is not None and self._epoch_fees[0] == epoch:
            return (gas if gas is not None else self._estimated(action, call)), self._epoch_fees[1]
        gas, fees = self._gas_and_fresh_fees(action, call, gas)
        if epoch is not None:
            self._epoch_fees = (epoch, fees)
        return gas, fees

    def _checked_hint(self, action: str, call: dict[str, Any]) -> int | None:
        """The gas limit the last estimate of a call of the same shape gave (the same contract,
        function and length of data: a daemon's commit of every round), if ``call`` runs within
        it now: one ``eth_call`` at that limit, a single run of the call where an estimate runs
        it several times. It proves what the estimate would (no revert, enough gas), on the same
        block; None (estimate) when there is no such limit or the call does not run within it."""
        hint = self._gas_hints.get(_shape(call))
        if hint is None:
            return None
        asked = [{**call, "gas": hex(hint)}, self._estimate_on]
        answer = self.retry.run(action, lambda: self._answers([("eth_call", asked)])[0])
        return hint if _error_of(answer) is None else None

    def _estimated(self, action: str, call: dict[str, Any]) -> int:
        """``call``'s gas limit from an estimate alone (kept for its shape): a revert raises its
        :class:`TxReverted`."""
        estimate = self._rpc(action, "eth_estimateGas", [call, self._estimate_on])
        return self._hint(call, _with_margin(int(estimate, 16)))

    def _hint(self, call: dict[str, Any], gas: int) -> int:
        """Keep ``gas`` (an estimate with its margin) for the next call of ``call``'s shape."""
        if len(self._gas_hints) >= GAS_HINTS:
            self._gas_hints.clear()
        self._gas_hints[_shape(call)] = gas
        return gas

    def _gas_and_fresh_fees(
        self, action: str, call: dict[str, Any], gas: int | None
    ) -> tuple[int, Fees]:
        asks: list[tuple[str, list[Any]]] = [
            ("eth_getBlockByNumber", ["latest", False]),
            ("eth_maxPriorityFeePerGas", []),
        ]
        if gas is None:
            asks.append(("eth_estimateGas", [call, self._estimate_on]))
        try:
            answers: list[Any] | None = self.batch(action, asks)
        except (Web3RPCError, RpcHttpError):  # a node or gateway that takes no batches
            answers = None
        if answers is not None and gas is None:
            if isinstance(answers[2], _RawRevert):
                raise self._raw_reverted(action, answers[2])
            gas = self._hint(call, _with_margin(int(answers[2], 16)))
        if gas is None:
            gas = self._estimated(action, call)
        if answers is None or not isinstance(answers[0], Mapping):
            return gas, self.fees()
        return gas, self._fees_of(answers[0], answers[1] if isinstance(answers[1], str) else None)

    def _send_fields(
        self,
        action: str,
        signer: LocalAccount,
        fields: dict[str, Any],
        gas: int,
        fees: Fees | None = None,
    ) -> TxResult:
        """Price (unless ``fees`` are given), number and send a transaction of ``fields`` (``to``,
        ``value``, ``data``), taking a fresh nonce when another process of the same key used the
        one this client expected."""
        sender = signer.address
        fees = fees or self.fees()
        for _ in range(3):
            tx: dict[str, Any] = {
                "from": sender,
                **fields,
                "to": checksummed(fields["to"]),
                "gas": gas,
                "chainId": self.chain_id,
                "nonce": self._next_nonce(sender),
                **fees.as_params(),
            }
            try:
                return self._transact(action, signer, tx, fees)
            except _NonceTooLow:
                self._nonces.pop(sender, None)
        raise ChainError(f"{action}: could not find a usable nonce for {sender}")

    def transfer_eth(self, signer: LocalAccount, to: str, value: int) -> TxResult:
        """Send ``value`` wei of the chain's native currency (gas money) to ``to``."""
        return self._timed_send(
            lambda: self._send_fields("ETH transfer", signer, {"to": to, "value": value}, 21_000)
        )

    def fees(self) -> Fees:
        """What a transaction sent now pays per gas: the fee policy applied to the chain's ask
        (EIP-1559 from the latest base fee and the node's suggested tip, or a legacy price)."""
        return self._fees_of(self._rpc("block", "eth_getBlockByNumber", ["latest", False]))

    def _fees_of(self, block: Mapping[str, Any], tip: str | None = None) -> Fees:
        """:meth:`fees` from the latest block (JSON-RPC's fields) and the node's suggested tip
        when already asked (hex); what is missing is asked now."""
        base = block.get("baseFeePerGas")
        if base is None:
            gas_price = int(self._rpc("gas price", "eth_gasPrice", []), 16)
            return legacy_fees(gas_price, self.fee_policy)
        try:
            asked = (
                tip
                if tip is not None
                else self._rpc("priority fee", "eth_maxPriorityFeePerGas", [])
            )
            tip_wei = int(asked, 16)
        except (Web3RPCError, ValueError, TxReverted):
            tip_wei = 10**9
        return eip1559_fees(int(base, 16), tip_wei, self.fee_policy)

    def _next_nonce(self, sender: ChecksumAddress) -> int:
        if sender not in self._nonces:
            count = self._rpc("nonce", "eth_getTransactionCount", [sender, "pending"])
            self._nonces[sender] = int(count, 16)
        return self._nonces[sender]

    def _broadcast(self, action: str, raw: bytes, tx_hash: bytes) -> HexBytes:
        params = ["0x" + bytes(raw).hex()]

        def attempt() -> HexBytes:
            answer = self.provider.request("eth_sendRawTransaction", params)
            error = _error_of(answer)
            if error is None:
                return HexBytes(answer["result"])
            return self._refused(action, error, tx_hash)

        return self.retry.run(action, attempt)

    def _submit(self, action: str, raw: bytes, tx_hash: bytes) -> tuple[HexBytes, Any | None]:
        """Broadcast ``raw``; with :attr:`sync_send` or a :attr:`block_producer` scheduling this
        thread, also its receipt (None: not mined within the wait: poll for it as after a plain
        send)."""
        producer = self.block_producer
        if producer is not None and producer.takes_next_send():
            return self._produced(action, producer, self._broadcast(action, raw, tx_hash))
        if not self.sync_send:
            return self._broadcast(action, raw, tx_hash), None
        params = ["0x" + bytes(raw).hex()]
        answer = self.retry.run(action, lambda: self.provider.request(SYNC_SEND, params))
        refusal = _error_of(answer)
        if refusal is None:
            return HexBytes(tx_hash), format_receipt(answer["result"])
        error = answer.get("error") if isinstance(answer, Mapping) else None
        code = error.get("code") if isinstance(error, Mapping) else None
        if code == METHOD_NOT_FOUND:
            self.sync_send = False  # a node without it: send and poll from now on
            return self._broadcast(action, raw, tx_hash), None
        if code == SYNC_NOT_MINED or "timeout" in str(refusal).lower():
            return HexBytes(tx_hash), None  # accepted, not mined yet
        return self.retry.run(action, lambda: self._refused(action, refusal, tx_hash)), None

    def _produced(
        self, action: str, producer: BlockProducer, tx_hash: HexBytes
    ) -> tuple[HexBytes, Any | None]:
        """Wait for ``producer``'s blocks until one holds the broadcast ``tx_hash`` (a full block
        leaves it for the next), and return its receipt; the time spent waiting is not this
        thread's transaction time."""
        hash_hex = "0x" + bytes(tx_hash).hex()
        for _ in range(PRODUCED_BLOCKS):
            waited = time.perf_counter()
            receipt = producer.wait_mined(hash_hex)
            self._add_tx_seconds(waited - time.perf_counter())
            if receipt is None:
                receipt = self._rpc(action, "eth_getTransactionReceipt", [hash_hex])
            if receipt is not None:
                return tx_hash, format_receipt(receipt)
        return tx_hash, None

    def _refused(self, action: str, exc: Web3RPCError, tx_hash: bytes) -> HexBytes:
        """What the node's refusal ``exc`` of a transaction means: its hash when the node has
        the transaction already, else the error to raise."""
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
            raise ChainError(f"{action}: the sender has too little ETH for gas ({exc})") from exc
        if "underpriced" in text:
            raise _Underpriced() from exc
        raise ChainError(f"{action}: the node rejected the transaction ({exc})") from exc

    def _transact(
        self, action: str, signer: LocalAccount, tx: dict[str, Any], fees: Fees
    ) -> TxResult:
        """Sign and broadcast ``tx`` (its nonce included), wait until it is mined and confirmed
        (replacing it if needed), and return what it did; raises :class:`_NonceTooLow` when the
        nonce was taken before it was sent."""
        nonce = int(tx["nonce"])
        raw, hashed = sign(signer, tx)
        try:
            tx_hash, mined = self._submit(action, raw, hashed)
        except _Underpriced as exc:
            raise ChainError(
                f"{action}: the node refused the fees ({fees.per_gas / 1e9:g} gwei per gas) as "
                f"too low ({exc.__cause__}): another transaction of this key with the same nonce "
                "is pending, or the fee cap is below what the node accepts"
            ) from exc
        self._nonces[signer.address] = nonce + 1
        receipt = self._mined(action, signer, [_Sent(tx_hash, tx, fees)], mined)
        if receipt["status"] != 1:
            raise self._replay_revert(action, cast(TxParams, tx), int(receipt["blockNumber"]))
        gas_used = int(receipt["gasUsed"])
        self.gas.record(action, gas_used)
        return TxResult(
            action=action,
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=gas_used,
            receipt=receipt,
        )

    def _mined(
        self, action: str, signer: LocalAccount, sent: list[_Sent], receipt: Any | None = None
    ) -> Any:
        """The receipt of one of ``sent`` (transactions of one nonce) once it is mined and
        confirmed (``receipt``: the one the send answered with). Whenever none is mined within
        the receipt timeout, the transaction is sent again with higher fees (up to
        ``max_replacements`` times)."""
        waits = 0
        while True:
            if receipt is None:
                receipt = self._receipt_within(action, sent, self.receipt_timeout)
            if receipt is None:
                waits += 1
                self._unmined(action, signer, sent, waits)
                continue
            confirmed = self._confirmed(action, receipt)
            if confirmed is not None:
                return confirmed
            # Its block left the chain (a reorganization): wait for it to be mined again.
            receipt = None

    def _receipt_within(self, action: str, sent: list[_Sent], timeout: float) -> Any | None:
        deadline = time.monotonic() + timeout
        delay = RECEIPT_POLL[0]
        while True:
            for item in reversed(sent):
                receipt = self._receipt(action, item.tx_hash)
                if receipt is not None:
                    return receipt
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(delay, left))
            delay = min(delay * 1.5, RECEIPT_POLL[1])

    def _receipt(self, action: str, tx_hash: HexBytes) -> Any | None:
        def get() -> Any | None:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                return None

        return self.retry.run(action, get)

    def _confirmed(self, action: str, receipt: Any) -> Any | None:
        """``receipt`` read again once ``confirmations`` blocks follow its block; None when its
        block is no longer on the chain."""
        delay = CONFIRMATION_POLL[0]
        while self.confirmations > 0:
            if self.block_number() < int(receipt["blockNumber"]) + self.confirmations:
                time.sleep(delay)
                delay = min(delay * 1.5, CONFIRMATION_POLL[1])
                continue
            again = self._receipt(action, HexBytes(receipt["transactionHash"]))
            if again is None or again["blockHash"] == receipt["blockHash"]:
                return again
            receipt = again  # mined again in another block: count from there
        return receipt

    def _unmined(self, action: str, signer: LocalAccount, sent: list[_Sent], waits: int) -> None:
        """None of ``sent`` was mined in time: find out why, and send a replacement with higher
        fees when the nonce is still free (a dropped or underpriced transaction)."""
        last = sent[-1]
        nonce = int(last.tx["nonce"])
        sender = signer.address
        mined = int(
            self.retry.run("nonce", lambda: self.w3.eth.get_transaction_count(sender, "latest"))
        )
        waited = f"{waits * self.receipt_timeout:.0f} s"
        if mined > nonce:
            if any(self._receipt(action, item.tx_hash) is not None for item in sent):
                return  # mined just now: the next poll returns it
            raise ChainError(
                f"{action}: another transaction of {sender} took its nonce {nonce} (is this key "
                "used by another process?); it was not mined: check the state and try again"
            )
        if waits > self.max_replacements:
            raise ChainError(
                f"{action}: transaction 0x{bytes(last.tx_hash).hex()} was not mined within "
                f"{waited} (fees {last.fees.per_gas / 1e9:g} gwei per gas): the network may be "
                "congested or the fee cap too low; the command can be run again"
            )
        fees = bumped(last.fees, self.fees(), self.fee_policy)
        if fees is None:
            self._say(
                f"{action}: not mined within {waited}; the fee caps leave no room for a "
                "replacement, waiting longer"
            )
            return
        tx = {**last.tx, **fees.as_params()}
        raw, hashed = sign(signer, tx)
        try:
            tx_hash = self._broadcast(action, raw, hashed)
        except (_NonceTooLow, _Underpriced):
            return  # the original got mined meanwhile, or the node wants more: wait and see
        sent.append(_Sent(tx_hash, tx, fees))
        self._say(
            f"{action}: not mined within {waited}; sent again with nonce {nonce} and fees "
            f"raised to {fees.per_gas / 1e9:g} gwei per gas"
        )

    def _say(self, message: str) -> None:
        if self.log is not None:
            self.log(message)

    def _replay_revert(self, action: str, tx: TxParams, block: int) -> ChainError:
        """Why a mined transaction reverted, found by replaying it as a call: on the state
        before its block, then on the state after it (a transaction earlier in the same block,
        say a keeper's, may have changed what it depended on)."""
        fields: dict[str, Any] = dict(tx)
        call = cast(
            TxParams, {k: fields[k] for k in ("from", "to", "data", "value", "gas") if k in fields}
        )
        for at in (block - 1, block):
            try:
                self.w3.eth.call(call, block_identifier=at)
            except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
                return self._reverted(action, exc)
            except Exception:  # the replay itself failed: report what we know
                break
        return TxReverted(action, f"reverted in block {block}")

    def _reverted(self, action: str, exc: Exception) -> TxReverted:
        data = _revert_data(exc)
        if data is None:
            return TxReverted(action, str(getattr(exc, "message", exc) or "revert"))
        name, args = self.decoder.decode(data)
        return TxReverted(action, name, args, raw=data)


class _RawRevert(Exception):
    def __init__(self, data: str | None, message: str):
        self.data = data
        self.message = message


def _shape(call: dict[str, Any]) -> tuple[str, str, int]:
    """What calls whose gas is alike share: the contract, the function, the length of the data."""
    data = str(call.get("data", ""))
    return str(call["to"]).lower(), data[:10], len(data)


def _with_margin(estimate: int) -> int:
    """A gas limit from an estimate: a quarter more and 20k, for state that moves meanwhile."""
    return estimate * 5 // 4 + 20_000


def _result_or_revert(response: Any) -> Any:
    """A JSON-RPC answer's ``result``; a :class:`_RawRevert` (returned, not raised) when the call
    reverted; any other error answer raised as web3 raises it (a rate limit is then retried)."""
    failure = _error_of(response)
    if failure is None:
        return response.get("result")
    error = response.get("error") if isinstance(response, Mapping) else None
    if isinstance(error, Mapping):
        message = str(error.get("message", ""))
        data = _error_data(error)
        if data is not None or "revert" in message.lower():
            return _RawRevert(data, message)
    raise failure


def _error_of(answer: Any) -> Web3RPCError | None:
    """A JSON-RPC answer's error, as web3 would raise it (None: the answer has a result)."""
    if not isinstance(answer, Mapping):
        return Web3RPCError(f"no answer to the request ({answer!r})")
    error = answer.get("error")
    if error is None:
        return None
    message = str(error.get("message", "")) if isinstance(error, Mapping) else str(error)
    return Web3RPCError(message or str(error), rpc_response=dict(answer))  # type: ignore[arg-type]


def _error_data(error: Mapping[str, Any]) -> str | None:
    """The revert data of a JSON-RPC error answer (nodes nest it differently)."""
    data = error.get("data")
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return data
    return None


def _block(block: BlockIdentifier) -> Any:
    """A block identifier as JSON-RPC takes it (numbers in hex)."""
    if isinstance(block, int):
        return hex(block)
    if isinstance(block, bytes):
        return "0x" + block.hex()
    return block


class _NonceTooLow(Exception):
    pass


class _Underpriced(Exception):
    pass
