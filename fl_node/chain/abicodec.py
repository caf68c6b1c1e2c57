"""Call data and return values of contract functions, encoded once per function's ABI.

web3.py finds a bound function's ABI element again on every ``call``, ``estimate_gas`` and
``build_transaction`` by validating the contract's whole ABI (the 4-byte selector of every function
of the contract, each time) and runs its formatter stack around the request: about 6 ms of Python
per read here, where Anvil answers in a fraction of one. :func:`codec_of` keeps, per function ABI,
the selector and the input and output types, so a call is encoded with ``eth_abi`` directly and
its result decoded and normalized as web3 does it (addresses checksummed; arrays as lists, structs
as tuples, several outputs as a list, one output as itself).

Anything this codec cannot encode the way web3 would (a hex string where bytes are expected, an
ENS name) raises :class:`NotEncodable`, and the caller takes web3's own path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from eth_abi.grammar import ABIType, TupleType, parse
from eth_utils import to_checksum_address


class NotEncodable(Exception):
    """The arguments need web3's own normalization (hex strings for bytes, ENS names...)."""


def abi_type(item: dict[str, Any]) -> str:
    """An ABI input's or output's canonical type (``(uint256,address)[]`` for a struct array)."""
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in item.get("components", []))
        return f"({inner}){kind[5:]}"
    return kind


@cache
def _parsed(type_str: str) -> ABIType:
    return parse(type_str)


def normalized(kind: ABIType, value: Any) -> Any:
    """``value`` decoded as ``kind``, shaped as web3 returns it: addresses checksummed, arrays as
    lists, structs as tuples."""
    if kind.is_array:
        item = kind.item_type
        return [normalized(item, v) for v in value]
    if isinstance(kind, TupleType):
        return tuple(normalized(c, v) for c, v in zip(kind.components, value, strict=True))
    if kind.to_type_str() == "address":
        return to_checksum_address(value)
    return value


@dataclass(frozen=True)
class FunctionCodec:
    """One function's selector and its input and output types."""

    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def encode(self, args: tuple[Any, ...]) -> str:
        """The call data (hex) of a call with ``args``; :class:`NotEncodable` if web3 must
        normalize them first."""
        for kind, arg in zip(self.inputs, args, strict=False):
            if isinstance(arg, str) and kind != "string" and kind != "address":
                raise NotEncodable(f"{kind} given as text")
        try:
            return "0x" + (self.selector + abi_encode(self.inputs, args)).hex()
        except (EncodingError, TypeError, ValueError, OverflowError) as exc:
            raise NotEncodable(str(exc)) from exc

    def decode(self, data: bytes) -> Any:
        """The return value as web3's ``call`` gives it (raises ``eth_abi``'s DecodingError)."""
        values = abi_decode(self.outputs, data)
        out = [normalized(_parsed(t), v) for t, v in zip(self.outputs, values, strict=True)]
        return out[0] if len(out) == 1 else out


_CODECS: dict[int, tuple[dict[str, Any], FunctionCodec]] = {}


def codec_of(fn: Any) -> FunctionCodec:
    """The codec of a bound web3 ``ContractFunction`` (by its ABI element; computed once)."""
    element: dict[str, Any] = fn.abi
    hit = _CODECS.get(id(element))
    if hit is not None and hit[0] is element:
        return hit[1]
    codec = FunctionCodec(
        selector=bytes.fromhex(str(fn.selector)[2:]),
        inputs=tuple(abi_type(i) for i in element.get("inputs", [])),
        outputs=tuple(abi_type(o) for o in element.get("outputs", [])),
    )
    _CODECS[id(element)] = (element, codec)  # the element is kept: its id is not reused
    return codec
