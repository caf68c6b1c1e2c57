"""The audit catches a dishonest aggregator, and tells a tampered store apart from it.

Three real client processes commit to round 1 of the ``tiny`` task; the test plays the aggregator
itself. Before it posts, one client's upload is overwritten and another's deleted: each client
uploads it again (it keeps its evidence in place until the post). The test computes the round
honestly, then posts the root of a results table with one score raised. The audit must call that
score and the root posted numbers wrong (and nothing about the honest model hash), exit 1, and a
client challenges the round through the CLI. After a revealed update is then altered (or deleted)
in the store, the audit must call it evidence altered (or missing), mark the numbers that depend
on it unverified rather than wrong, and exit 3.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from fl_node.artifacts.store import ArtifactStore
from fl_node.cli import main
from fl_node.configs import load_config
from fl_node.federation.audit import audit_round
from fl_node.federation.context import TaskContext
from fl_node.federation.engine import compute_round
from fl_node.federation.inputs import round_inputs
from fl_node.federation.protocol import FederationApi, Phase, hex32
from fl_node.federation.storage import fetch_results, publish_results
from fl_node.simulation.localfed import FIRST_CLIENT, LocalFederation
from tests.federation.helpers import open_first_round, post_results, wait_for_reveals


@pytest.fixture(scope="module")
def dishonest_round(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    config = load_config("tiny")
    config = config.replace(federation=dataclasses.replace(config.federation, challenge_window=600))
    fed = LocalFederation(config, tmp_path_factory.mktemp("audit"))
    try:
        fed.setup(say=lambda _m: None)
        fed.start_processes(aggregator=False)
        api = FederationApi(fed.client, fed.task_id)
        opened = open_first_round(fed, api)
        wait_for_reveals(fed, api, 1, 3)
        store = ArtifactStore(fed.config.store)
        restored = _damage_and_wait_for_repair(fed, api)
        ctx = TaskContext(fed.config)
        honest = compute_round(round_inputs(api, store, 1, opened), ctx)
        victim = honest.results.rows[0]
        rows = tuple(
            dataclasses.replace(r, score=r.score + 10**17) if r is victim else r
            for r in honest.results.rows
        )
        forged = dataclasses.replace(honest.results, rows=rows)
        store.put(honest.model_blob, owner=fed.aggregator.address)
        root = publish_results(store, forged, owner=fed.aggregator.address)
        post_results(fed, api, 1, honest.model_hash, root, forged)
        yield fed, api, store, ctx, victim, restored
    finally:
        fed.stop()


def _blob_path(fed: LocalFederation, client: str, update_hash: bytes) -> Path:
    return fed.run_dir / "store" / "participants" / client / "blobs" / hex32(update_hash)[2:]


def _damage_and_wait_for_repair(fed: LocalFederation, api: FederationApi) -> dict[str, float]:
    """Overwrite one revealed upload and delete another before the post; seconds until each
    client had uploaded its update again."""
    first, second = list(api.reveals(1).values())[:2]
    damaged = {
        first.client: _blob_path(fed, first.client, first.update_hash),
        second.client: _blob_path(fed, second.client, second.update_hash),
    }
    originals = {who: path.read_bytes() for who, path in damaged.items()}
    damaged[first.client].write_bytes(b"overwritten by someone else")
    damaged[second.client].unlink()
    start, restored = time.monotonic(), {}
    while len(restored) < 2 and time.monotonic() - start < 60:
        for who, path in damaged.items():
            if who not in restored and path.is_file() and path.read_bytes() == originals[who]:
                restored[who] = time.monotonic() - start
        time.sleep(0.2)
    return restored


def _bad(checks):  # type: ignore[no-untyped-def]
    return {c.item for c in checks if not c.ok}


def _argv(fed: LocalFederation) -> list[str]:
    return [
        "audit", "--rpc", fed.chain.rpc_url, "--deployment", str(fed.deployment_path),
        "--config", str(fed.config_path), "--task", str(fed.task_id), "--round", "1",
    ]  # fmt: skip


def test_clients_upload_a_damaged_update_again_before_the_post(dishonest_round) -> None:  # type: ignore[no-untyped-def]
    *_rest, restored = dishonest_round
    assert len(restored) == 2, restored  # both the overwritten and the deleted one
    assert max(restored.values()) < 15  # re-checked every few seconds


def test_audit_flags_the_forged_score_and_root(dishonest_round) -> None:  # type: ignore[no-untyped-def]
    fed, api, store, ctx, victim, _restored = dishonest_round
    checks = audit_round(api, store, ctx, 1, fed.deployment.block_number)
    bad = _bad(checks)
    assert bad == {"results root", f"score of {victim.client[:10]}"}
    assert {c.status for c in checks if not c.ok} == {"wrong"}
    assert any(c.item == "global model hash" and c.ok for c in checks)
    evidence = [c for c in checks if c.kind == "evidence"]
    assert len(evidence) == 6 and all(c.ok for c in evidence)  # parent, 3 updates, model, table


def test_audit_command_exits_non_zero(dishonest_round, capsys) -> None:  # type: ignore[no-untyped-def]
    fed, *_rest = dishonest_round
    assert main(_argv(fed)) == 1
    out = capsys.readouterr().out
    assert "WRONG" in out and "round 1: posted numbers wrong: results root, score of" in out
    assert "2 posted number(s) wrong, 0 evidence item(s) missing or altered" in out
    assert "evidence missing" not in out


def test_a_client_challenges_the_round(dishonest_round, capsys) -> None:  # type: ignore[no-untyped-def]
    fed, api, *_rest = dishonest_round
    argv = [
        "challenge", "--rpc", fed.chain.rpc_url, "--deployment", str(fed.deployment_path),
        "--task", str(fed.task_id), "--round", "1", "--dev-account", str(FIRST_CLIENT),
    ]  # fmt: skip
    assert main(argv) == 0
    assert api.round(1).phase == Phase.CHALLENGED
    # a second challenge of a held round is refused with the contract's reason
    argv[-1] = str(FIRST_CLIENT + 1)
    assert main(argv) == 2
    assert "WrongPhase" in capsys.readouterr().err


def test_a_tampered_store_is_missing_evidence_not_a_wrong_post(dishonest_round, capsys) -> None:  # type: ignore[no-untyped-def]
    fed, api, store, ctx, _victim, _restored = dishonest_round
    assert api.round(1).phase == Phase.CHALLENGED  # past the post: nobody repairs it any more
    # An update the aggregate used (the free-rider's was excluded, so tampering with it would
    # not change the model); chain order of commits varies with timing, so pick by the table.
    table = fetch_results(store, api.round(1).results_root, owner=fed.aggregator.address)
    reveal = next(r for r in api.reveals(1).values() if table.row(r.client).included)
    path = _blob_path(fed, reveal.client, reveal.update_hash)
    original = path.read_bytes()
    path.write_bytes(original[:-8] + b"\x00" * 8)
    checks = audit_round(api, store, ctx, 1, fed.deployment.block_number)
    status = {c.item: c.status for c in checks}
    assert status[f"update of {reveal.client[:10]}"] == "altered"
    # without that update the aggregate differs: unverified, not the aggregator's fault
    assert status["global model hash"] == "unverified"
    assert "wrong" not in status.values()
    assert main(_argv(fed)) == 3
    out = capsys.readouterr().out
    assert (
        f"round 1: evidence missing or altered in the store: update of {reveal.client[:10]} "
        "(altered)" in out
    )
    assert "do not show that the aggregator posted wrong numbers" in out
    assert "posted numbers wrong" not in out and "0 posted number(s) wrong" in out
    path.unlink()
    status = {
        c.item: c.status for c in audit_round(api, store, ctx, 1, fed.deployment.block_number)
    }
    assert status[f"update of {reveal.client[:10]}"] == "missing"
    assert main(_argv(fed)) == 3
    assert f"update of {reveal.client[:10]} (missing)" in capsys.readouterr().out
    path.write_bytes(original)
