"""Calls bound without web3's contract layer encode exactly as web3's functions do; what they
cannot stand for (an overload, arguments only web3 normalizes) goes to web3."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.contract.contract import ContractFunction

from fl_node.chain.abicodec import codec_of
from fl_node.chain.calls import FunctionCall, bind
from fl_node.chain.client import ChainClient

ADDRESS = "0x" + "11" * 20
ABI = [
    {
        "type": "function",
        "name": "commit",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": "taskId", "type": "uint256"},
            {"name": "number", "type": "uint256"},
            {"name": "hash", "type": "bytes32"},
            {"name": "stake", "type": "uint256"},
        ],
        "outputs": [],
    },
    {
        "type": "function",
        "name": "post",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": "taskId", "type": "uint256"},
            {
                "name": "post",
                "type": "tuple",
                "components": [
                    {"name": "root", "type": "bytes32"},
                    {"name": "uri", "type": "string"},
                    {"name": "rows", "type": "uint256[]"},
                ],
            },
        ],
        "outputs": [],
    },
    {
        "type": "function",
        "name": "multicall",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "data", "type": "bytes[]"}],
        "outputs": [{"name": "results", "type": "bytes[]"}],
    },
    {
        "type": "function",
        "name": "pay",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}],
        "outputs": [],
    },
    {
        "type": "function",
        "name": "pay",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [],
    },
]


@pytest.fixture(scope="module")
def contract():
    return Web3().eth.contract(address=Web3.to_checksum_address(ADDRESS), abi=ABI)


def _web3_data(contract, name, *args) -> bytes:
    fn = getattr(contract.functions, name)(*args)
    return bytes.fromhex(str(fn._encode_transaction_data())[2:])


@settings(max_examples=60, deadline=None)
@given(
    task=st.integers(0, 2**256 - 1),
    number=st.integers(0, 2**256 - 1),
    hashed=st.binary(min_size=32, max_size=32),
    stake=st.integers(0, 2**256 - 1),
    uri=st.text(max_size=40),
    rows=st.lists(st.integers(0, 2**256 - 1), max_size=5),
)
def test_a_bound_call_encodes_as_web3_does(contract, task, number, hashed, stake, uri, rows):
    commit = bind(contract, "commit", task, number, hashed, stake)
    post = bind(contract, "post", task, (hashed, uri, rows))
    assert isinstance(commit, FunctionCall) and isinstance(post, FunctionCall)
    assert ChainClient.call_data(commit) == _web3_data(
        contract, "commit", task, number, hashed, stake
    )
    assert ChainClient.call_data(post) == _web3_data(contract, "post", task, (hashed, uri, rows))
    inner = [ChainClient.call_data(commit), ChainClient.call_data(post)]
    multicall = bind(contract, "multicall", inner)
    assert ChainClient.call_data(multicall) == _web3_data(contract, "multicall", inner)


def test_a_bound_call_stands_for_web3s_function(contract):
    call = bind(contract, "commit", 1, 2, b"\x01" * 32, 3)
    web3_fn = contract.functions.commit(1, 2, b"\x01" * 32, 3)
    assert isinstance(call, FunctionCall)
    assert (call.address, call.fn_name, call.args, call.kwargs) == (
        web3_fn.address,
        "commit",
        (1, 2, b"\x01" * 32, 3),
        {},
    )
    assert call.selector == web3_fn.selector
    assert codec_of(call).selector == codec_of(web3_fn).selector
    assert isinstance(call.web3(), ContractFunction) and call.web3().args == web3_fn.args


def test_an_overloaded_name_is_bound_by_web3(contract):
    fn = bind(contract, "pay", ADDRESS, 5)
    assert isinstance(fn, ContractFunction)
    assert fn.abi["inputs"][1]["name"] == "amount"  # web3 picked the overload by the arguments


def test_arguments_only_web3_normalizes_are_encoded_by_web3(contract):
    text_hash = "0x" + "ab" * 32  # bytes32 given as hex text: web3 takes it, the codec does not
    call = bind(contract, "commit", 1, 2, text_hash, 3)
    assert ChainClient.call_data(call) == _web3_data(contract, "commit", 1, 2, text_hash, 3)


def test_a_name_the_abi_lacks_is_web3s_error(contract):
    with pytest.raises(Exception, match="nope"):
        bind(contract, "nope", 1)


def test_wrong_arguments_are_web3s_error_where_the_call_is_encoded(contract):
    from web3.exceptions import MismatchedABI

    call = bind(contract, "commit", 1)  # bound as given: checked where it is encoded
    with pytest.raises(MismatchedABI, match="commit"):
        ChainClient.call_data(call)
