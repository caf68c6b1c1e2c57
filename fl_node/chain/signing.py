"""Signing the transactions the chain client sends.

eth-account signs a transaction in about 0.3 ms, most of it spent validating and converting the
dictionary through several layers of formatters. Almost every transaction fl-node sends has the
same shape: an EIP-1559 (type 2) call to a contract with no access list. :func:`sign` serializes
that shape directly (RLP of the fields, written here for its two kinds of item, byte strings and
integers; keccak; a recoverable secp256k1 signature from libsecp256k1 through coincurve, the same
deterministic RFC 6979 signature eth-account makes) in about an eighth of the time, and hands
anything else (legacy gas prices, contract creations, other fields) to eth-account unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

import coincurve
from eth_account.signers.local import LocalAccount
from eth_account.types import TransactionDictType
from eth_utils import keccak

#: The fields of the shape signed here; anything else goes to eth-account.
DYNAMIC_FEE_FIELDS = frozenset(
    {"from", "to", "data", "value", "gas", "chainId", "nonce", "maxFeePerGas",
     "maxPriorityFeePerGas"}
)  # fmt: skip
DYNAMIC_FEE_TYPE = b"\x02"


def sign(signer: LocalAccount, tx: dict[str, Any]) -> tuple[bytes, bytes]:
    """``tx`` signed by ``signer``: the raw transaction and its hash."""
    if _plain_dynamic_fee(signer, tx):
        try:
            return _sign_dynamic_fee(bytes(signer.key), tx)
        except ValueError:
            pass  # not hex, or not an address: eth-account says what is wrong
    signed = signer.sign_transaction(cast(TransactionDictType, tx))
    return bytes(signed.raw_transaction), bytes(signed.hash)


def _plain_dynamic_fee(signer: LocalAccount, tx: dict[str, Any]) -> bool:
    if not DYNAMIC_FEE_FIELDS.issuperset(tx) or "maxFeePerGas" not in tx or not tx.get("to"):
        return False
    if "from" in tx and str(tx["from"]).lower() != signer.address.lower():
        return False  # eth-account says what is wrong
    numbers = ("gas", "chainId", "nonce", "maxFeePerGas", "maxPriorityFeePerGas")
    if not all(isinstance(tx.get(k), int) and tx[k] >= 0 for k in numbers):
        return False
    return isinstance(tx.get("value", 0), int) and tx.get("value", 0) >= 0


def _sign_dynamic_fee(key: bytes, tx: dict[str, Any]) -> tuple[bytes, bytes]:
    fields = [
        _rlp_int(tx["chainId"]),
        _rlp_int(tx["nonce"]),
        _rlp_int(tx["maxPriorityFeePerGas"]),
        _rlp_int(tx["maxFeePerGas"]),
        _rlp_int(tx["gas"]),
        _rlp_bytes(_raw(tx["to"], 20)),
        _rlp_int(tx.get("value", 0)),
        _rlp_bytes(_raw(tx.get("data", b""))),
        _rlp_list([]),  # the access list
    ]
    digest = keccak(DYNAMIC_FEE_TYPE + _rlp_list(fields))
    signature = _private_key(key).sign_recoverable(digest, hasher=None)  # r || s || v
    r, s, v = signature[:32], signature[32:64], signature[64]
    signed = [*fields, _rlp_int(v), _rlp_int(int.from_bytes(r)), _rlp_int(int.from_bytes(s))]
    raw = DYNAMIC_FEE_TYPE + _rlp_list(signed)
    return raw, keccak(raw)


def _rlp_bytes(data: bytes) -> bytes:
    """RLP of a byte string: a single byte below 0x80 is itself, anything else is prefixed by
    its length."""
    if len(data) == 1 and data[0] < 0x80:
        return data
    return _rlp_length(len(data), 0x80) + data


def _rlp_int(value: int) -> bytes:
    """RLP of a non-negative integer: its big-endian bytes without leading zeros (0 is empty)."""
    return _rlp_bytes(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _rlp_list(items: list[bytes]) -> bytes:
    """RLP of a list of items encoded already."""
    payload = b"".join(items)
    return _rlp_length(len(payload), 0xC0) + payload


def _rlp_length(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(size)]) + size


def _raw(value: str | bytes, size: int | None = None) -> bytes:
    """Hex text or bytes as bytes (``size``: the length it must have)."""
    if isinstance(value, str):
        data = bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
    else:
        data = bytes(value)
    if size is not None and len(data) != size:
        raise ValueError(f"expected {size} bytes, got {len(data)}")
    return data


@lru_cache(maxsize=256)
def _private_key(key: bytes) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(key)
