"""Model artifacts: a canonical byte format for weights, and a content-addressed store.

The same tensors give the same bytes on every machine, so the keccak-256 hash of a blob is what a
client commits on-chain and what the aggregator and any auditor check before using it. Each
participant writes under its own prefix of the store (see :mod:`fl_node.artifacts.store`).
"""

from fl_node.artifacts.codec import (
    MAGIC,
    canonical_json,
    decode_weights,
    encode_weights,
    hash_hex,
    hash_json,
    keccak,
)
from fl_node.artifacts.store import ArtifactAltered, ArtifactMissing, ArtifactStore

__all__ = [
    "MAGIC",
    "ArtifactAltered",
    "ArtifactMissing",
    "ArtifactStore",
    "canonical_json",
    "decode_weights",
    "encode_weights",
    "hash_hex",
    "hash_json",
    "keccak",
]
