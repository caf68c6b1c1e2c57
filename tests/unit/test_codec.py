"""The FLW1 weight format: canonical bytes, stable hashes, and every rejection reason."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from fl_node.artifacts.codec import (
    MAGIC,
    canonical_json,
    decode_weights,
    encode_weights,
    hash_hex,
    hash_json,
    keccak,
)
from fl_node.errors import ArtifactError
from fl_node.training.params import ParamSpec

# keccak-256 of the empty string (Ethereum's, not NIST SHA3-256's a7ffc6f8...).
KECCAK_EMPTY = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def sample_weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "layer.weight": rng.normal(size=(3, 4)).astype(np.float32),
        "layer.bias": rng.normal(size=(3,)).astype(np.float32),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 2), dtype=np.float32),
    }


def blob_with_header(header: bytes, data: bytes = b"") -> bytes:
    return MAGIC + struct.pack(">I", len(header)) + header + data


# -- hashing and JSON ------------------------------------------------------------------------
def test_keccak_is_ethereum_keccak256() -> None:
    assert keccak(b"").hex() == KECCAK_EMPTY
    assert hash_hex(b"") == "0x" + KECCAK_EMPTY
    assert len(keccak(b"abc")) == 32


def test_canonical_json_sorts_keys_without_spaces_in_utf8() -> None:
    assert canonical_json({"b": 1, "a": [1, 2], "c": {"z": None, "y": "é"}}) == (
        '{"a":[1,2],"b":1,"c":{"y":"é","z":null}}'.encode()
    )
    assert hash_json({"b": 1, "a": 2}) == hash_hex(b'{"a":2,"b":1}')


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": {1, 2}}, {"x": np.int64(3)}])
def test_canonical_json_rejects_non_json(bad: object) -> None:
    with pytest.raises(ArtifactError, match="not canonical JSON"):
        canonical_json(bad)


# -- encoding --------------------------------------------------------------------------------
def test_golden_bytes_and_hash_from_the_format_spec() -> None:
    header = (
        b'{"meta":{"round":1},"tensors":['
        b'{"dtype":"float32","name":"a","shape":[1,1]},'
        b'{"dtype":"float32","name":"b","shape":[2]}]}'
    )
    expected = b"FLW1" + struct.pack(">I", len(header)) + header + struct.pack("<3f", 0.5, 1, -2)
    blob = encode_weights({"b": np.array([1.0, -2.0]), "a": np.array([[0.5]])}, {"round": 1})
    assert blob == expected
    # Pinned: the same tensors must hash the same on every machine and every release.
    assert hash_hex(blob) == "0xbb6bf5fc61b4d3999c71a92ddc35cfd6845210e73cd2b2e63e4dc31fa2493c96"


def test_round_trip_keeps_values_shapes_and_meta() -> None:
    weights = sample_weights()
    meta = {"kind": "update", "round": 3, "client": "0xabc", "num_samples": 17}
    decoded, got_meta = decode_weights(encode_weights(weights, meta))
    assert got_meta == meta
    assert list(decoded) == sorted(weights)
    for name, arr in weights.items():
        assert decoded[name].dtype == np.float32
        assert decoded[name].shape == arr.shape
        np.testing.assert_array_equal(decoded[name], arr)
    decoded["layer.bias"][0] = 99.0  # decoded arrays are writable copies


def test_re_encoding_is_byte_identical() -> None:
    weights = sample_weights()
    blob = encode_weights(weights, {"round": 1})
    decoded, meta = decode_weights(blob)
    assert encode_weights(decoded, meta) == blob
    # Dict order, float64 input and Fortran memory order do not change the bytes.
    shuffled = {k: weights[k] for k in reversed(list(weights))}
    shuffled["layer.weight"] = np.asfortranarray(weights["layer.weight"].astype(np.float64))
    assert encode_weights(shuffled, {"round": 1}) == blob
    assert encode_weights(weights) == encode_weights(weights, {})


def test_different_tensors_or_meta_give_different_hashes() -> None:
    weights = sample_weights()
    base = hash_hex(encode_weights(weights, {"round": 1}))
    assert hash_hex(encode_weights(weights, {"round": 2})) != base
    bumped = dict(weights, scalar=np.array(2.5000002, dtype=np.float32))
    assert hash_hex(encode_weights(bumped, {"round": 1})) != base


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_encode_rejects_non_finite(bad: float) -> None:
    with pytest.raises(ArtifactError, match="'w' contains NaN or Inf"):
        encode_weights({"w": np.array([1.0, bad])})


def test_encode_rejects_float64_overflowing_float32() -> None:
    with pytest.raises(ArtifactError, match="NaN or Inf"):
        encode_weights({"w": np.array([1e300])})


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        ({"x": float("nan")}, "meta is not JSON"),
        ({"x": object()}, "meta is not JSON"),
        ([1, 2], "meta must be a JSON object"),
    ],
)
def test_encode_rejects_bad_meta(meta: object, reason: str) -> None:
    with pytest.raises(ArtifactError, match=reason):
        encode_weights({"w": np.ones(2)}, meta)  # type: ignore[arg-type]


def test_encode_rejects_bad_tensors() -> None:
    with pytest.raises(ArtifactError, match="non-numeric dtype"):
        encode_weights({"w": np.array(["a", "b"])})
    with pytest.raises(ArtifactError, match="names must be non-empty strings"):
        encode_weights({"": np.ones(1)})
    with pytest.raises(ArtifactError, match="mapping"):
        encode_weights([np.ones(1)])  # type: ignore[arg-type]


# -- decoding rejections ---------------------------------------------------------------------
def test_decode_rejects_bad_magic() -> None:
    blob = encode_weights({"w": np.ones(2)})
    with pytest.raises(ArtifactError, match="bad magic"):
        decode_weights(b"FLW2" + blob[4:])
    with pytest.raises(ArtifactError, match="bad magic"):
        decode_weights(b"")


def test_decode_rejects_truncated_header() -> None:
    blob = encode_weights({"w": np.ones(2)})
    with pytest.raises(ArtifactError, match="truncated header"):
        decode_weights(blob[:6])
    hlen = struct.unpack(">I", blob[4:8])[0]
    with pytest.raises(ArtifactError, match="truncated header"):
        decode_weights(blob[: 8 + hlen - 1])
    with pytest.raises(ArtifactError, match="exceeds"):
        decode_weights(MAGIC + struct.pack(">I", 2**31) + b"{}")


def test_decode_rejects_truncated_or_extra_tensor_bytes() -> None:
    blob = encode_weights({"w": np.ones((2, 3))})
    with pytest.raises(ArtifactError, match="truncated tensor data: 24 bytes expected, 20"):
        decode_weights(blob[:-4])
    with pytest.raises(ArtifactError, match="extra bytes after the tensor data: 1"):
        decode_weights(blob + b"\x00")


def test_decode_rejects_bad_json() -> None:
    with pytest.raises(ArtifactError, match="bad header JSON"):
        decode_weights(blob_with_header(b"{not json"))
    with pytest.raises(ArtifactError, match="bad header JSON"):
        decode_weights(blob_with_header(b"\xff\xfe"))


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"tensors": []}, "exactly the keys"),
        ({"meta": [], "tensors": []}, "'meta' must be a JSON object"),
        ({"meta": {}, "tensors": {}}, "'tensors' must be a list"),
        ({"meta": {}, "tensors": [{"name": "w", "shape": [1]}]}, "exactly 'name', 'shape'"),
        (
            {"meta": {}, "tensors": [{"dtype": "float64", "name": "w", "shape": [1]}]},
            "not float32",
        ),
        (
            {"meta": {}, "tensors": [{"dtype": "float32", "name": "w", "shape": [-1]}]},
            "invalid shape",
        ),
        (
            {"meta": {}, "tensors": [{"dtype": "float32", "name": 5, "shape": [1]}]},
            "not a non-empty string",
        ),
        (
            {
                "meta": {},
                "tensors": [
                    {"dtype": "float32", "name": "b", "shape": [1]},
                    {"dtype": "float32", "name": "a", "shape": [1]},
                ],
            },
            "unique and sorted",
        ),
    ],
)
def test_decode_rejects_malformed_headers(header: dict, reason: str) -> None:
    with pytest.raises(ArtifactError, match=reason):
        decode_weights(blob_with_header(canonical_json(header), b"\x00" * 8))


def test_decode_rejects_non_canonical_header() -> None:
    """A second encoding of the same tensors would have a second hash: refuse it."""
    header = {"meta": {}, "tensors": [{"dtype": "float32", "name": "w", "shape": [1]}]}
    spaced = json.dumps(header, sort_keys=True).encode()
    with pytest.raises(ArtifactError, match="not in canonical form"):
        decode_weights(blob_with_header(spaced, struct.pack("<f", 1.0)))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_decode_rejects_non_finite_values(bad: float) -> None:
    blob = encode_weights({"w": np.zeros(3)})
    tampered = blob[:-4] + struct.pack("<f", bad)
    with pytest.raises(ArtifactError, match="'w' contains NaN or Inf"):
        decode_weights(tampered)


def test_decode_checks_names_and_shapes_against_the_expected_spec() -> None:
    weights = {"a": np.ones((2, 2)), "b": np.ones(3)}
    blob = encode_weights(weights)
    spec = ParamSpec.from_weights(weights)
    decoded, _ = decode_weights(blob, expected=spec)
    assert set(decoded) == {"a", "b"}
    with pytest.raises(ArtifactError, match=r"missing tensors \['c'\]"):
        decode_weights(blob, expected=ParamSpec(("a", "b", "c"), ((2, 2), (3,), (1,))))
    with pytest.raises(ArtifactError, match=r"unexpected tensors \['b'\]"):
        decode_weights(blob, expected=ParamSpec(("a",), ((2, 2),)))
    with pytest.raises(ArtifactError, match=r"'b' has shape \[3\] but the model expects \[1, 3\]"):
        decode_weights(blob, expected=ParamSpec(("a", "b"), ((2, 2), (1, 3))))


def test_decode_rejects_non_bytes() -> None:
    with pytest.raises(ArtifactError, match="must be bytes"):
        decode_weights("FLW1")  # type: ignore[arg-type]
