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
