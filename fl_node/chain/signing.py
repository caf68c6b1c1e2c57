"""Signing the transactions the chain client sends.

eth-account signs a transaction in about 0.3 ms, most of it spent validating and converting the
dictionary through several layers of formatters. Almost every transaction fl-node sends has the
same shape: an EIP-1559 (type 2) call to a contract with no access list. :func:`sign` serializes
that shape directly (RLP of the fields, keccak, a recoverable secp256k1 signature from
libsecp256k1 through coincurve, the same deterministic RFC 6979 signature eth-account makes) in
about a fifth of the time, and hands anything else (legacy gas prices, contract creations, other
fields) to eth-account unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

import coincurve
import rlp
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
        tx["chainId"],
        tx["nonce"],
        tx["maxPriorityFeePerGas"],
        tx["maxFeePerGas"],
        tx["gas"],
        _raw(tx["to"], 20),
        tx.get("value", 0),
        _raw(tx.get("data", b"")),
        [],  # the access list
    ]
    digest = keccak(DYNAMIC_FEE_TYPE + rlp.encode(fields))
    signature = _private_key(key).sign_recoverable(digest, hasher=None)  # r || s || v
    r, s, v = signature[:32], signature[32:64], signature[64]
    raw = DYNAMIC_FEE_TYPE + rlp.encode([*fields, v, int.from_bytes(r), int.from_bytes(s)])
    return raw, keccak(raw)


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
