"""The cached ABI codec encodes and decodes exactly as web3.py does."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector
from web3._utils.abi import map_abi_data
from web3._utils.normalizers import BASE_RETURN_NORMALIZERS

from fl_node.chain.abicodec import FunctionCodec, NotEncodable, abi_type, codec_of

A = "0x" + "ab" * 20
B = "0x" + "cd" * 20

STRUCT = {
    "type": "tuple",
    "components": [
        {"name": "stake", "type": "uint256"},
        {"name": "owner", "type": "address"},
        {"name": "hash", "type": "bytes32"},
        {"name": "peers", "type": "address[]"},
    ],
}


def _fn(inputs: list[dict], outputs: list[dict], name: str = "f") -> SimpleNamespace:
    element = {"type": "function", "name": name, "inputs": inputs, "outputs": outputs}
    signature = f"{name}({','.join(abi_type(i) for i in inputs)})"
    selector = "0x" + function_signature_to_4byte_selector(signature).hex()
    return SimpleNamespace(abi=element, selector=selector, args=(), kwargs={})


def test_abi_types_of_structs_and_arrays_are_canonical() -> None:
    assert abi_type(STRUCT) == "(uint256,address,bytes32,address[])"
    assert abi_type({**STRUCT, "type": "tuple[2]"}) == "(uint256,address,bytes32,address[])[2]"
    assert abi_type({"type": "uint8"}) == "uint8"


@pytest.mark.parametrize(
    ("outputs", "values"),
    [
        ([STRUCT], [(5, A, b"\x01" * 32, [A, B])]),
        ([{"type": "uint256[]"}, {"type": "address"}], [[1, 2, 3], B]),
        ([{"type": "string"}], ["client token"]),
        ([{"type": "bool"}, {"type": "int256"}], [True, -7]),
        ([{"type": "tuple[]", "components": STRUCT["components"]}], [[(1, A, b"\x02" * 32, [])]]),
    ],
)
def test_decoding_matches_web3s_normalized_result(outputs: list[dict], values: list) -> None:
    codec = codec_of(_fn([], outputs))
    types = list(codec.outputs)
    data = encode(types, values)
    web3_style = map_abi_data(BASE_RETURN_NORMALIZERS, types, decode(types, data))
    expected = web3_style[0] if len(web3_style) == 1 else web3_style
    got = codec.decode(data)
    assert got == expected
    assert type(got) is type(expected)  # lists for arrays and several outputs, tuples for structs


def test_encoding_is_selector_and_abi_encoded_arguments() -> None:
    fn = _fn([{"type": "address"}, {"type": "uint256"}], [], "transfer")
    data = codec_of(fn).encode((B, 10))
    assert data == "0xa9059cbb" + encode(["address", "uint256"], [B, 10]).hex()


@pytest.mark.parametrize(
    ("kind", "arg"),
    [("bytes32", "0x" + "11" * 32), ("uint256", "12"), ("uint8", 256), ("address", "alice.eth")],
)
def test_arguments_web3_would_normalize_first_are_not_encoded(kind: str, arg: object) -> None:
    codec = FunctionCodec(b"\x00" * 4, (kind,), ())
    with pytest.raises(NotEncodable):
        codec.encode((arg,))


def test_one_codec_per_abi_element() -> None:
    fn = _fn([{"type": "uint256"}], [{"type": "uint256"}])
    assert codec_of(fn) is codec_of(SimpleNamespace(**vars(fn)))
    other = _fn([{"type": "uint256"}], [{"type": "uint256"}])  # equal, but another element
    assert codec_of(other) is not codec_of(fn)


STATIC = [
    "uint256", "uint8", "uint64", "int256", "int8", "int128", "bool", "address", "bytes32",
    "bytes4", "(uint256,address,bool)", "uint256[3]", "(uint8,bytes4)[2]", "(uint256,(bool,int8))",
]  # fmt: skip


def _eth_abi_view(types: tuple[str, ...], data: bytes) -> list | None:
    """What eth_abi decodes and web3 normalizes, or None where eth_abi refuses the data."""
    from eth_abi.exceptions import DecodingError

    try:
        values = decode(list(types), data)
    except DecodingError:
        return None
    return list(map_abi_data(BASE_RETURN_NORMALIZERS, list(types), values))


@pytest.mark.parametrize("kind", STATIC)
def test_static_reader_matches_eth_abi_on_encoded_values_and_on_any_words(kind: str) -> None:
    """Every static type: values eth_abi encodes read back as eth_abi reads them, and words no
    encoder wrote (out of range, dirty padding, a bool of 2, short data) are either read as eth_abi
    reads them or left to it (None), never read otherwise."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from fl_node.chain.abicodec import static_decode

    types = (kind, "uint256")
    special = st.sampled_from(
        [0, 1, 2, 255, 256, 2**63, 2**127, 2**160 - 1, 2**160, 2**255, 2**256 - 1]
    )
    word = st.one_of(special, st.integers(0, 2**256 - 1)).map(lambda v: v.to_bytes(32, "big"))

    @settings(max_examples=150, deadline=None)
    @given(st.lists(word, min_size=0, max_size=9))
    def check(ws: list[bytes]) -> None:
        data = b"".join(ws)
        expected = _eth_abi_view(types, data)
        got = static_decode(types, data)
        if got is not None:
            assert expected is not None, f"read what eth_abi refuses: {data.hex()}"
            assert got == expected and [type(v) for v in got] == [type(v) for v in expected]

    check()


def test_static_reader_takes_every_canonical_encoding_and_leaves_dynamic_types() -> None:
    from fl_node.chain.abicodec import static_decode

    types = ("(uint256,address,bool)", "int8", "bytes4", "uint256[2]")
    values = [(7, B, True), -3, b"\x01\x02\x03\x04", [1, 2]]
    data = encode(list(types), values)
    assert static_decode(types, data) == _eth_abi_view(types, data)
    assert static_decode(types, data + b"\x00" * 32) == _eth_abi_view(types, data)  # extra bytes
    assert static_decode(types, data[:-1]) is None  # short: eth_abi says why
    assert static_decode(("uint256[]",), encode(["uint256[]"], [[1]])) is None
    assert static_decode(("string",), encode(["string"], ["x"])) is None
