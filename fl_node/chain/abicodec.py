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

Return values made only of static types (integers, booleans, addresses, fixed bytes, and structs
and fixed-size arrays of them: most views here) are read word by word, with the checks ``eth_abi``
makes on each word; anything else, and any word those checks refuse, goes through ``eth_abi``
(which then raises its own error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from eth_abi.grammar import ABIType, BasicType, TupleType, parse
from eth_utils import keccak

from fl_node.addresses import checksummed as to_checksum_address


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


class _Refused(Exception):
    """A word the static reader does not take as it is: ``eth_abi`` decodes (and judges) it."""


#: Reads one static value from a buffer at a word offset; returns the value and the next offset.
_Reader = Callable[[bytes, int], tuple[Any, int]]


def _uint_reader(bits: int) -> _Reader:
    limit = 1 << bits

    def read(data: bytes, at: int) -> tuple[Any, int]:
        value = int.from_bytes(data[at : at + 32], "big")
        if value >= limit:
            raise _Refused
        return value, at + 32

    return read


def _int_reader(bits: int) -> _Reader:
    low, high = -(1 << (bits - 1)), 1 << (bits - 1)

    def read(data: bytes, at: int) -> tuple[Any, int]:
        value = int.from_bytes(data[at : at + 32], "big", signed=True)
        if not low <= value < high:
            raise _Refused
        return value, at + 32

    return read


def _bool(data: bytes, at: int) -> tuple[Any, int]:
    value = int.from_bytes(data[at : at + 32], "big")
    if value > 1:
        raise _Refused
    return value == 1, at + 32


def _address(data: bytes, at: int) -> tuple[Any, int]:
    word = data[at : at + 32]
    if any(word[:12]):
        raise _Refused
    return to_checksum_address("0x" + word[12:].hex()), at + 32


def _bytes_reader(size: int) -> _Reader:
    def read(data: bytes, at: int) -> tuple[Any, int]:
        word = data[at : at + 32]
        if any(word[size:]):
            raise _Refused
        return word[:size], at + 32

    return read


def _sequence_reader(readers: list[_Reader], shape: Callable[[list[Any]], Any]) -> _Reader:
    def read(data: bytes, at: int) -> tuple[Any, int]:
        values = []
        for reader in readers:
            value, at = reader(data, at)
            values.append(value)
        return shape(values), at

    return read


def _static_reader(kind: ABIType) -> tuple[_Reader, int] | None:
    """A word-by-word reader of ``kind`` shaped as :func:`normalized` gives it, and the bytes it
    reads; None when ``kind`` has a dynamic part or a type this reader leaves to ``eth_abi``."""
    if kind.is_array:
        dims: tuple[int, ...] = tuple(kind.arrlist[-1]) if kind.arrlist else ()
        item = _static_reader(kind.item_type) if dims else None  # () : a dynamic array
        if item is None:
            return None
        length = dims[0]
        return _sequence_reader([item[0]] * length, list), item[1] * length
    if isinstance(kind, TupleType):
        parts = [_static_reader(c) for c in kind.components]
        if any(p is None for p in parts):
            return None
        known = [p for p in parts if p is not None]
        return _sequence_reader([r for r, _ in known], tuple), sum(n for _, n in known)
    reader = _word_reader(kind) if isinstance(kind, BasicType) else None
    return None if reader is None else (reader, 32)


def _word_reader(kind: BasicType) -> _Reader | None:
    if kind.base == "uint" and kind.sub:
        return _uint_reader(int(kind.sub))
    if kind.base == "int" and kind.sub:
        return _int_reader(int(kind.sub))
    if kind.base == "bool":
        return _bool
    if kind.base == "address":
        return _address
    if kind.base == "bytes" and kind.sub:
        return _bytes_reader(int(kind.sub))
    return None


@cache
def _outputs_reader(outputs: tuple[str, ...]) -> tuple[_Reader, int] | None:
    """One reader for all of a function's outputs (a list of them) and the bytes it reads, or
    None."""
    return _static_reader(parse(f"({','.join(outputs)})"))


def static_decode(outputs: tuple[str, ...], data: bytes) -> list[Any] | None:
    """``outputs`` read from ``data`` word by word, normalized; None when they have a dynamic
    part, ``data`` is short, or a word needs ``eth_abi``'s judgement."""
    found = _outputs_reader(outputs)
    if found is None or len(data) < found[1]:
        return None
    try:
        values, _ = found[0](data, 0)
    except _Refused:
        return None
    return list(values)


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
        normalize them first. Views a daemon reads on every step have the same arguments each
        time: the data of hashable arguments is kept."""
        try:
            return _encoded(self, args)
        except TypeError:  # unhashable arguments (a list): encoded afresh
            return self._encode(args)

    def _encode(self, args: tuple[Any, ...]) -> str:
        for kind, arg in zip(self.inputs, args, strict=False):
            if isinstance(arg, str) and kind != "string" and kind != "address":
                raise NotEncodable(f"{kind} given as text")
        try:
            return "0x" + (self.selector + abi_encode(self.inputs, args)).hex()
        except (EncodingError, TypeError, ValueError, OverflowError) as exc:
            raise NotEncodable(str(exc)) from exc

    def decode(self, data: bytes) -> Any:
        """The return value as web3's ``call`` gives it (raises ``eth_abi``'s DecodingError)."""
        out = decode_values(self.outputs, data)
        return out[0] if len(out) == 1 else out


@lru_cache(maxsize=4096)
def _encoded(codec: FunctionCodec, args: tuple[Any, ...]) -> str:
    return codec._encode(args)


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


def decode_values(types: tuple[str, ...], data: bytes) -> list[Any]:
    """``types`` decoded from ``data`` as web3 returns them (word by word when static; raises
    ``eth_abi``'s DecodingError)."""
    out = static_decode(types, data)
    if out is None:
        values = abi_decode(types, data)
        out = [normalized(_parsed(t), v) for t, v in zip(types, values, strict=True)]
    return out


@dataclass(frozen=True)
class EventCodec:
    """One event's name, signature topic and inputs: the indexed ones come from the log's
    topics (a dynamic type's topic is its hash, kept as bytes), the rest from its data."""

    name: str
    topic: bytes
    inputs: tuple[tuple[str, str, bool], ...]  # (name, type, indexed)

    @classmethod
    def of(cls, element: dict[str, Any]) -> EventCodec:
        inputs = tuple(
            (str(i["name"]), abi_type(i), bool(i.get("indexed"))) for i in element["inputs"]
        )
        signature = f"{element['name']}({','.join(t for _, t, _ in inputs)})"
        return cls(str(element["name"]), keccak(text=signature), inputs)

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        """The event's arguments by name, as web3 decodes them; ``ValueError`` when the topics
        do not fit (the same signature with other indexing) and ``eth_abi``'s DecodingError
        when the data does not."""
        indexed = [(n, t) for n, t, i in self.inputs if i]
        if len(topics) != 1 + len(indexed):
            raise ValueError(
                f"{self.name} has {len(indexed)} indexed arguments, the log {len(topics) - 1}"
            )
        args: dict[str, Any] = {}
        for (name, kind), topic in zip(indexed, topics[1:], strict=True):
            dynamic = _parsed(kind).is_dynamic
            args[name] = bytes(topic) if dynamic else decode_values((kind,), bytes(topic))[0]
        plain = [(n, t) for n, t, i in self.inputs if not i]
        values = decode_values(tuple(t for _, t in plain), data) if plain else []
        args.update(zip((n for n, _ in plain), values, strict=True))
        return {name: args[name] for name, _, _ in self.inputs}
