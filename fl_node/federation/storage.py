"""Results tables in the artifact store, addressed by their on-chain Merkle root."""

from __future__ import annotations

from fl_node.artifacts.store import ArtifactStore
from fl_node.federation.protocol import hex32
from fl_node.federation.results import RoundResults


def results_name(root: bytes) -> str:
    return f"results-{hex32(root)[2:]}.json"


def publish_results(store: ArtifactStore, results: RoundResults) -> bytes:
    """Store the table under its Merkle root; returns the root (what goes on-chain)."""
    root = results.root
    store.put_named(results_name(root), results.to_bytes())
    return root


def fetch_results(store: ArtifactStore, root: bytes) -> RoundResults:
    """The table posted under ``root``, checked to hash to it (ArtifactError otherwise)."""
    return RoundResults.from_bytes(store.get_named(results_name(root)), expected_root=root)
