"""The federation's documents in the artifact store, each under the prefix of its writer.

The sponsor stores the task's initial model, the aggregator every later global model and each
round's results table (named by its on-chain Merkle root), and each client its own updates (see
:mod:`fl_node.artifacts.store` for the layout and the per-prefix credentials that protect it).
Readers look for a document only where its writer had to put it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from fl_node.artifacts.codec import keccak
from fl_node.artifacts.store import ArtifactAltered, ArtifactMissing, ArtifactStore
from fl_node.errors import ArtifactError
from fl_node.federation.protocol import FederationApi, hex32
from fl_node.federation.results import RoundResults


def results_name(root: bytes) -> str:
    return f"results-{hex32(root)[2:]}.json"


def publish_results(store: ArtifactStore, results: RoundResults, *, owner: str) -> bytes:
    """Store the table under ``owner``'s (the aggregator's) prefix and its Merkle root; returns
    the root (what goes on-chain)."""
    root = results.root
    store.put_named(results_name(root), results.to_bytes(), owner=owner)
    return root


def fetch_results(store: ArtifactStore, root: bytes, *, owner: str) -> RoundResults:
    """The table ``owner`` (the task's aggregator) posted under ``root``, checked to hash to it:
    ArtifactMissing when absent, ArtifactAltered when it does not hash to the root."""
    data = store.get_named(results_name(root), owner=owner)
    try:
        return _checked_table(data, bytes(root))
    except ArtifactMissing:
        raise
    except ArtifactError as exc:
        raise ArtifactAltered(f"the results table of {owner} in store {store.url}: {exc}") from None


@lru_cache(maxsize=16)
def _checked_table(data: bytes, root: bytes) -> RoundResults:
    """A table's bytes parsed and checked to hash to ``root``. Pure, so kept for the process's
    next reader of the same bytes: every client of an in-process federation reads the same
    table, and checking it hashes every row. (A table that fails raises, and nothing is kept.)"""
    return RoundResults.from_bytes(data, expected_root=root)


def model_owner(api: FederationApi, model_hash: bytes) -> str:
    """Who stores the model ``model_hash``: the sponsor the task's initial model, the aggregator
    every global model after it."""
    params = api.params()
    if bytes(model_hash) == bytes(params.initial_model_hash):
        return api.state().sponsor
    return params.aggregator


def fetch_model(store: ArtifactStore, api: FederationApi, model_hash: bytes) -> bytes:
    """The model blob ``model_hash`` from its writer's prefix, checked against the hash."""
    return store.get(hex32(model_hash), owner=model_owner(api, model_hash))


def keep_uploaded(
    store: ArtifactStore, blob: bytes, owner: str, say: Callable[[str], None] = print
) -> bool:
    """Check that ``owner``'s uploaded ``blob`` is still in the store, intact, and upload it again
    if it is missing or altered (True then): a client keeps its evidence in place until the
    aggregator has used it. Raises ArtifactError when the store cannot be read or written."""
    if not store.ensure(blob, owner=owner):
        return False
    say(f"the uploaded update {hex32(keccak(blob))[:10]} was missing or altered: uploaded again")
    return True


@dataclass
class UploadKeeper:
    """A client's check of its own uploads, at most once every ``every`` seconds a round."""

    store: ArtifactStore
    owner: str
    say: Callable[[str], None] = print
    every: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _due: dict[int, float] = field(default_factory=dict, init=False)

    def keep(self, number: int, blob: Callable[[], bytes]) -> bool:
        """:func:`keep_uploaded` for round ``number``'s update (``blob()`` makes its bytes) when
        the round's check is due; True when it uploaded it again."""
        now = self.clock()
        if now < self._due.get(number, now):
            return False
        self._due[number] = now + self.every
        return keep_uploaded(self.store, blob(), self.owner, self.say)
