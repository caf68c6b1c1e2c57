"""A commitment's hash and salt are keccak of the ABI encoding of their values, as the contract
(``commitmentHash``) and eth_abi make it, and refuse what eth_abi refuses."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from fl_node.federation.protocol import commit_salt, commitment_hash

UINT = st.integers(min_value=0, max_value=2**256 - 1)
ADDRESS = st.binary(min_size=20, max_size=20).map(to_checksum_address)
WORD = st.binary(min_size=32, max_size=32)


@settings(max_examples=100, deadline=None)
@given(task=UINT, number=UINT, client=ADDRESS, update=WORD, salt=WORD, lower=st.booleans())
def test_the_commitment_hash_is_keccak_of_the_abi_words(task, number, client, update, salt, lower):
    expected = keccak(
        encode(
            ["uint256", "uint256", "address", "bytes32", "bytes32"],
            [task, number, client, update, salt],
        )
    )
    shown = client.lower() if lower else client
    assert commitment_hash(task, number, shown, update, salt) == expected


@settings(max_examples=50, deadline=None)
@given(chain=UINT, federation=ADDRESS, task=UINT, number=UINT)
def test_the_salt_is_keccak_of_the_key_and_the_abi_words(chain, federation, task, number):
    signer = Account.from_key(b"\x07" * 32)
    words = encode(["uint256", "address", "uint256", "uint256"], [chain, federation, task, number])
    expected = keccak(b"fl-node/commit-salt/v1" + bytes(signer.key) + words)
    assert commit_salt(signer, chain, federation, task, number) == expected


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((-1, 1, "0x" + "11" * 20, b"\x00" * 32, b"\x00" * 32), OverflowError),
        ((2**256, 1, "0x" + "11" * 20, b"\x00" * 32, b"\x00" * 32), OverflowError),
        ((True, 1, "0x" + "11" * 20, b"\x00" * 32, b"\x00" * 32), TypeError),
        ((1, 1, "0x1234", b"\x00" * 32, b"\x00" * 32), ValueError),
        ((1, 1, "0x" + "11" * 20, b"\x00" * 31, b"\x00" * 32), ValueError),
        ((1, 1, "0x" + "11" * 20, b"\x00" * 32, b"\x00" * 33), ValueError),
    ],
)
def test_values_that_are_no_abi_word_are_refused(args, error):
    with pytest.raises(error):
        commitment_hash(*args)
