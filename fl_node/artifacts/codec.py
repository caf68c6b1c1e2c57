"""The FLW1 weight format: one canonical byte string per set of tensors.

Layout::

    b"FLW1" | uint32 big-endian header length | header (canonical JSON) | tensor data

The header is ``{"meta": {...}, "tensors": [{"dtype": "float32", "name": ..., "shape": [...]}]}``
with the tensors sorted by name; the data is every tensor's float32 little-endian C-order bytes,
in header order. Because the JSON is canonical (sorted keys, no spaces, UTF-8) and the tensors are
cast and ordered before writing, equal tensors give equal bytes on any machine, and the keccak-256
of the blob identifies its content. Decoding accepts only that canonical form, so one set of
tensors has exactly one valid blob (and so one hash), and it rejects anything malformed with a
reason a participant can act on.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from eth_utils import keccak as _eth_keccak

from fl_node.errors import ArtifactError

if TYPE_CHECKING:
    from fl_node.training.params import ParamSpec

MAGIC = b"FLW1"
DTYPE = "float32"
_LE_F32 = np.dtype("<f4")
_HEADER_LEN = struct.Struct(">I")
#: Upper bound on the JSON header: far above any real model's, and it stops a hostile length
#: field from making the decoder look for gigabytes.
MAX_HEADER_BYTES = 16 * 1024 * 1024


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, no NaN/Infinity: the one byte form every machine agrees on."""
    try:
        text = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"value is not canonical JSON: {exc}") from exc
    return text.encode("utf-8")


def keccak(data: bytes) -> bytes:
    """Keccak-256 (Ethereum's hash, not NIST SHA3-256): what the contracts compare with."""
    return bytes(_eth_keccak(primitive=bytes(data)))


def hash_hex(data: bytes) -> str:
    """``"0x"`` + the 64 lowercase hex digits of ``keccak(data)``."""
    return "0x" + keccak(data).hex()


def hash_json(obj: Any) -> str:
    """The hash of an object's canonical JSON (spec hashes published on-chain)."""
    return hash_hex(canonical_json(obj))


def _as_float32(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and other non-arrays
        raise ArtifactError(f"tensor {name!r} is not an array: {exc}") from exc
    if arr.dtype.kind not in "fiub":
        raise ArtifactError(f"tensor {name!r} has non-numeric dtype {arr.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):  # overflow becomes Inf, rejected below
        out = np.array(arr, dtype=_LE_F32, order="C")  # (np.ascontiguousarray turns 0-d into 1-d)
    if not np.isfinite(out).all():
        raise ArtifactError(f"tensor {name!r} contains NaN or Inf values")
    return out


def encode_weights(weights: Mapping[str, Any], meta: dict[str, Any] | None = None) -> bytes:
    """Serialize ``weights`` (name -> array) with JSON ``meta`` into the canonical FLW1 blob."""
    if not isinstance(weights, Mapping):
        raise ArtifactError(f"weights must be a mapping of name -> array, not {type(weights)}")
    meta = {} if meta is None else meta
    if not isinstance(meta, dict):
        raise ArtifactError(f"meta must be a JSON object (dict), not {type(meta).__name__}")
    entries = []
    chunks = []
    for name in sorted(weights):
        if not isinstance(name, str) or not name:
            raise ArtifactError(f"tensor names must be non-empty strings, got {name!r}")
        arr = _as_float32(name, weights[name])
        entries.append({"dtype": DTYPE, "name": name, "shape": [int(s) for s in arr.shape]})
        chunks.append(arr.tobytes(order="C"))
    try:
        header = canonical_json({"meta": meta, "tensors": entries})
    except ArtifactError as exc:
        raise ArtifactError(f"meta is not JSON-serializable: {exc}") from exc
    return b"".join([MAGIC, _HEADER_LEN.pack(len(header)), header, *chunks])


def _parse_header(raw: bytes) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...]]]]:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"bad header JSON: {exc}") from exc
    if not isinstance(header, dict) or set(header) != {"meta", "tensors"}:
        raise ArtifactError("bad header: expected exactly the keys 'meta' and 'tensors'")
    meta, tensors = header["meta"], header["tensors"]
    if not isinstance(meta, dict):
        raise ArtifactError("bad header: 'meta' must be a JSON object")
    if not isinstance(tensors, list):
        raise ArtifactError("bad header: 'tensors' must be a list")
    layout: list[tuple[str, tuple[int, ...]]] = []
    for entry in tensors:
        if not isinstance(entry, dict) or set(entry) != {"dtype", "name", "shape"}:
            raise ArtifactError("bad header: each tensor needs exactly 'name', 'shape', 'dtype'")
        name, shape, dtype = entry["name"], entry["shape"], entry["dtype"]
        if dtype != DTYPE:
            raise ArtifactError(f"bad header: tensor {name!r} has dtype {dtype!r}, not float32")
        if not isinstance(name, str) or not name:
            raise ArtifactError(f"bad header: tensor name {name!r} is not a non-empty string")
        if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            raise ArtifactError(f"bad header: tensor {name!r} has an invalid shape {shape!r}")
        layout.append((name, tuple(shape)))
    names = [n for n, _ in layout]
    if names != sorted(set(names)):
        raise ArtifactError("bad header: tensor names must be unique and sorted")
    if canonical_json(header) != raw:
        raise ArtifactError("bad header: JSON is not in canonical form")
    return meta, layout


def decode_weights(
    blob: bytes, expected: ParamSpec | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Parse and validate an FLW1 blob; returns (weights as float32 arrays, meta).

    With ``expected`` the tensor names and shapes must be exactly the model's.
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise ArtifactError(f"a weights blob must be bytes, not {type(blob).__name__}")
    data = bytes(blob)
    if data[:4] != MAGIC:
        raise ArtifactError(f"bad magic {data[:4]!r}: not an FLW1 weights blob")
    if len(data) < 8:
        raise ArtifactError("truncated header: the blob ends inside the header length field")
    (hlen,) = _HEADER_LEN.unpack_from(data, 4)
    if hlen > MAX_HEADER_BYTES:
        raise ArtifactError(f"header length {hlen} exceeds the {MAX_HEADER_BYTES}-byte limit")
    end = 8 + hlen
    if len(data) < end:
        raise ArtifactError(
            f"truncated header: {hlen} header bytes announced, {len(data) - 8} present"
        )
    meta, layout = _parse_header(data[8:end])
    if expected is not None:
        expected.check_shapes(dict(layout), "tensor names")
    need = sum(math.prod(shape) for _, shape in layout) * 4
    have = len(data) - end
    if have < need:
        raise ArtifactError(f"truncated tensor data: {need} bytes expected, {have} present")
    if have > need:
        raise ArtifactError(f"extra bytes after the tensor data: {have - need} unexpected bytes")
    weights: dict[str, np.ndarray] = {}
    offset = end
    for name, shape in layout:
        count = math.prod(shape)
        arr = np.frombuffer(data, dtype=_LE_F32, count=count, offset=offset)
        offset += count * 4
        if not np.isfinite(arr).all():
            raise ArtifactError(f"tensor {name!r} contains NaN or Inf values")
        weights[name] = arr.astype(np.float32).reshape(shape)
    return weights, meta
