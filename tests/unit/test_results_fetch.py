"""A results table is read from its writer's prefix and checked against the posted root; the
check hashes every row, so the same bytes are checked once per process."""

from __future__ import annotations

import uuid

import pytest

from fl_node.artifacts.store import ArtifactAltered, ArtifactMissing, ArtifactStore
from fl_node.federation.results import ResultRow, RoundResults, sorted_rows
from fl_node.federation.storage import fetch_results, publish_results, results_name
from fl_node.settlement import merkle

AGGREGATOR = "0x" + "a1" * 20


def _row(i: int, reward: int) -> ResultRow:
    return ResultRow(
        client="0x" + f"{i:02x}" * 20,
        update_hash="0x" + "00" * 32,
        stake=10,
        included=True,
        reason="",
        num_samples=5,
        own=0.1,
        marginal=0.2,
        score=10**17 * i,
        payout=i,
        reward=reward,
    )


def _table(reward: int) -> RoundResults:
    rows = sorted_rows([_row(i, reward) for i in range(1, 6)])
    return RoundResults(task_id=1, round=2, parent_model_hash="0x", model_hash="0x", rows=rows)


def test_a_table_is_checked_once_per_process_and_an_altered_one_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = ArtifactStore(f"memory://results-{uuid.uuid4().hex}")
    table = _table(reward=uuid.uuid4().int % 10**9)  # bytes no other test checked
    root = publish_results(store, table, owner=AGGREGATOR)
    hashed: list[bytes] = []
    leaf_hash = merkle.ResultLeaf.hash
    monkeypatch.setattr(merkle.ResultLeaf, "hash", lambda s: hashed.append(b"") or leaf_hash(s))
    first = fetch_results(store, root, owner=AGGREGATOR)
    assert first == table and len(hashed) == len(table.rows)
    again = fetch_results(store, root, owner=AGGREGATOR)
    assert again is first and len(hashed) == len(table.rows)  # no row hashed again
    assert first.proof(first.rows[0].client)  # the kept table still proves a row
    altered = _table(reward=table.rows[0].reward + 1)
    store.put_named(results_name(root), altered.to_bytes(), owner=AGGREGATOR)
    for _ in range(2):  # a failed check keeps nothing: the next read checks again
        with pytest.raises(ArtifactAltered, match="does not hash to the posted root"):
            fetch_results(store, root, owner=AGGREGATOR)
    with pytest.raises(ArtifactMissing):
        fetch_results(store, b"\x01" * 32, owner=AGGREGATOR)
