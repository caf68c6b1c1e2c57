"""The chain client's own signing of EIP-1559 calls is byte for byte eth-account's."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from fl_node.chain import signing
from fl_node.chain.signing import sign

UINT = st.integers(min_value=0, max_value=2**256 - 1)
SMALL = st.integers(min_value=0, max_value=2**64 - 1)
KEYS = st.integers(min_value=1, max_value=2**256 - 2**32 * 977 - 2).map(
    lambda k: k.to_bytes(32, "big")
)


def _eth_account(signer: LocalAccount, tx: dict[str, Any]) -> tuple[bytes, bytes]:
    signed = signer.sign_transaction(tx)  # type: ignore[arg-type]
    return bytes(signed.raw_transaction), bytes(signed.hash)


@settings(max_examples=150, deadline=None)
@given(
    key=KEYS,
    chain_id=st.integers(min_value=1, max_value=2**63),
    nonce=SMALL,
    gas=st.integers(min_value=21_000, max_value=2**63),
    tip=UINT,
    extra=UINT,
    to=st.binary(min_size=20, max_size=20),
    value=UINT,
    data=st.binary(max_size=600),
    as_text=st.booleans(),
)
def test_a_dynamic_fee_call_is_signed_as_eth_account_signs_it(
    key: bytes,
    chain_id: int,
    nonce: int,
    gas: int,
    tip: int,
    extra: int,
    to: bytes,
    value: int,
    data: bytes,
    as_text: bool,
) -> None:
    signer = Account.from_key(key)
    tx = {
        "from": signer.address,
        "to": to_checksum_address(to),
        "data": "0x" + data.hex() if as_text else data,
        "value": value,
        "gas": gas,
        "chainId": chain_id,
        "nonce": nonce,
        "maxPriorityFeePerGas": tip,
        "maxFeePerGas": min(tip + extra, 2**256 - 1),
    }
    assert signing._plain_dynamic_fee(signer, tx)
    assert sign(signer, tx) == _eth_account(signer, tx)


def _call(signer: LocalAccount, **changes: Any) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "from": signer.address,
        "to": to_checksum_address(b"\x01" * 20),
        "data": "0x1234",
        "value": 0,
        "gas": 50_000,
        "chainId": 31337,
        "nonce": 0,
        "maxPriorityFeePerGas": 10**9,
        "maxFeePerGas": 3 * 10**9,
    }
    tx.update(changes)
    return {k: v for k, v in tx.items() if v is not None}


@pytest.mark.parametrize(
    "changes",
    [
        {"maxFeePerGas": None, "maxPriorityFeePerGas": None, "gasPrice": 10**9},  # legacy
        {"to": None, "data": "0x6000"},  # a contract creation
        {"accessList": [], "type": 2},  # fields of another shape
    ],
)
def test_other_shapes_are_signed_by_eth_account(changes: dict[str, Any]) -> None:
    signer = Account.create()
    tx = _call(signer, **changes)
    assert not signing._plain_dynamic_fee(signer, tx)
    assert sign(signer, tx) == _eth_account(signer, tx)


@pytest.mark.parametrize(
    "changes",
    [
        {"from": to_checksum_address(b"\x02" * 20)},  # not the signer
        {"data": "0xzz"},  # not hex
        {"nonce": -1},
    ],
)
def test_a_bad_transaction_gets_eth_accounts_error(changes: dict[str, Any]) -> None:
    signer = Account.create()
    tx = _call(signer, **changes)
    with pytest.raises(Exception) as ours:
        sign(signer, tx)
    with pytest.raises(Exception) as theirs:
        _eth_account(signer, tx)
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    ("item", "encoded"),
    [
        (b"dog", "83646f67"),
        (b"", "80"),
        (b"\x0f", "0f"),
        (b"\x80", "8180"),
        (0, "80"),
        (15, "0f"),
        (1024, "820400"),
        (
            b"Lorem ipsum dolor sit amet, consectetur adipisicing elit",
            "b838" + (b"Lorem ipsum dolor sit amet, consectetur adipisicing elit".hex()),
        ),
        (b"\xaa" * 1024, "b90400" + "aa" * 1024),
    ],
)
def test_rlp_items_are_the_specifications_examples(item: bytes | int, encoded: str) -> None:
    got = signing._rlp_int(item) if isinstance(item, int) else signing._rlp_bytes(item)
    assert got.hex() == encoded


def test_rlp_lists_are_the_specifications_examples() -> None:
    cat, dog = signing._rlp_bytes(b"cat"), signing._rlp_bytes(b"dog")
    assert signing._rlp_list([]).hex() == "c0"
    assert signing._rlp_list([cat, dog]).hex() == "c88363617483646f67"
    long = signing._rlp_list([signing._rlp_bytes(b"\x01" * 60)])
    assert long.hex() == "f83e" + "b83c" + "01" * 60  # a payload of 62 bytes: a long list
