"""A transaction receipt as a node sends it (JSON, hex strings), in the shape web3's
``get_transaction_receipt`` returns: numbers as ints, hashes and data as bytes, addresses
checksummed, attribute access. Used where the receipt comes with the send itself
(``eth_sendRawTransactionSync``) rather than through web3."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hexbytes import HexBytes
from web3.datastructures import AttributeDict

from fl_node.addresses import checksummed


def quantity(value: Any) -> int:
    """A JSON-RPC quantity (hex text), or a number as web3 gives it, as an int."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _log(raw: Mapping[str, Any]) -> AttributeDict[str, Any]:
    return AttributeDict(_formatted(raw, _LOG_FIELDS))


_LOG_FIELDS: dict[str, Callable[[Any], Any]] = {
    "blockHash": HexBytes,
    "blockNumber": quantity,
    "transactionIndex": quantity,
    "transactionHash": HexBytes,
    "logIndex": quantity,
    "address": checksummed,
    "topics": lambda topics: [HexBytes(t) for t in topics],
    "data": HexBytes,
}

_RECEIPT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "blockHash": HexBytes,
    "blockNumber": quantity,
    "transactionIndex": quantity,
    "transactionHash": HexBytes,
    "cumulativeGasUsed": quantity,
    "status": quantity,
    "gasUsed": quantity,
    "contractAddress": checksummed,
    "logs": lambda logs: [_log(log) for log in logs],
    "logsBloom": HexBytes,
    "from": checksummed,
    "to": checksummed,
    "effectiveGasPrice": quantity,
    "type": quantity,
    "blobGasPrice": quantity,
    "blobGasUsed": quantity,
}


def _formatted(raw: Mapping[str, Any], fields: dict[str, Callable[[Any], Any]]) -> dict[str, Any]:
    """``raw`` with each known field converted (None stays None); other fields as they are."""
    return {
        key: value if value is None or key not in fields else fields[key](value)
        for key, value in raw.items()
    }


def format_receipt(raw: Mapping[str, Any]) -> AttributeDict[str, Any]:
    """The receipt ``raw`` (a JSON-RPC result) as web3 returns receipts."""
    return AttributeDict(_formatted(raw, _RECEIPT_FIELDS))
