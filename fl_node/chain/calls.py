"""Contract calls bound to their arguments without web3's contract layer.

``contract.functions.commit(...)`` makes a web3 ``ContractFunction``: it copies the function and
finds its ABI element again by checking the arguments against every function of that name (about
50 us). A daemon makes several calls of new arguments every round (a commit, a claim, the
multicall carrying them, a reveal), and :class:`ChainClient` only needs a call's contract,
function and arguments to encode it. :func:`bind` makes a :class:`FunctionCall` from those, with
the function's ABI element found once per contract ABI; an overloaded name (which needs the
arguments to pick its element) gets web3's function as before. A call whose arguments only web3
can encode (text for bytes, an ENS name) becomes web3's function where it is encoded
(:meth:`FunctionCall.web3`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import keccak
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from fl_node.chain.abicodec import abi_type


@dataclass(frozen=True)
class FunctionCall:
    """``contract.fn_name(*args)``: what :class:`~fl_node.chain.client.ChainClient` reads of a
    web3 ``ContractFunction`` (its address, name, arguments, ABI element and selector)."""

    contract: Contract
    fn_name: str
    args: tuple[Any, ...]
    abi: dict[str, Any]

    @property
    def address(self) -> ChecksumAddress:
        return self.contract.address

    @property
    def kwargs(self) -> dict[str, Any]:
        return {}

    @property
    def selector(self) -> str:
        """The 4-byte selector, as web3 shows it (``0x`` and hex); :func:`codec_of` asks once per
        function."""
        types = ",".join(abi_type(i) for i in self.abi.get("inputs", []))
        return "0x" + keccak(text=f"{self.fn_name}({types})")[:4].hex()

    def web3(self) -> ContractFunction:
        """The same call as web3's ``ContractFunction`` (for what only web3 encodes)."""
        return getattr(self.contract.functions, self.fn_name)(*self.args)


#: A call as :class:`~fl_node.chain.client.ChainClient` takes it.
Bound = ContractFunction | FunctionCall


def bind(contract: Contract, name: str, *args: Any) -> Bound:
    """``contract``'s function ``name`` bound to ``args``: a :class:`FunctionCall` when ``name``
    names one function of the ABI, web3's ``ContractFunction`` otherwise (an overload, or no
    such function: web3 raises its own error)."""
    element = _unique_element(id(contract.abi), name, contract)
    if element is None:
        return getattr(contract.functions, name)(*args)
    return FunctionCall(contract, name, args, element)


def _unique_element(abi_id: int, name: str, contract: Contract) -> dict[str, Any] | None:
    key = (abi_id, name)
    hit = _ELEMENTS.get(key)
    if hit is not None and hit[0] is contract.abi:
        return hit[1]
    named = [e for e in contract.abi if e.get("type") == "function" and e.get("name") == name]
    element = dict(named[0]) if len(named) == 1 else None
    _ELEMENTS[key] = (contract.abi, element)  # the ABI is kept: its id is not reused
    return element


_ELEMENTS: dict[tuple[int, str], tuple[Any, dict[str, Any] | None]] = {}
