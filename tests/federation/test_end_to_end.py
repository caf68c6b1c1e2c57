"""A short federation through the real contracts and real processes, and a crash in the middle.

Three clients (one noisy, one free-rider) and two rounds of the ``tiny`` config on an Anvil of
their own: the on-chain hashes must be those of the stored blobs, the lineage must chain, and a
run whose aggregator and one node are killed mid-way and restarted must end with the same final
model hash as an uninterrupted run with the same seed.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from pathlib import Path

import pytest

from fl_node.artifacts.codec import keccak
from fl_node.artifacts.store import ArtifactStore
from fl_node.configs import load_config
from fl_node.federation.protocol import FederationApi, Phase, TaskStatus, hex32
from fl_node.federation.storage import fetch_results
from fl_node.simulation.localfed import LocalFederation, Progress
from fl_node.simulation.report import write_report

TIMEOUT = 300.0


def _run(run_dir: Path, crash: bool = False) -> tuple[LocalFederation, dict]:  # type: ignore[type-arg]
    fed = LocalFederation(load_config("tiny"), run_dir)
    fed.setup(say=lambda _m: None)
    fed.start_processes()
    if crash:
        killed = {"aggregator": False, "node-1": False}

        def chaos(p: Progress) -> None:
            # Kill the aggregator once round 1 has commits, and node 1 once round 2 is open.
            info = FederationApi(fed.client, fed.task_id).round(p.round) if p.round else None
            if not killed["aggregator"] and info is not None and info.commits >= 1:
                fed.processes.children["aggregator"].kill(signal.SIGKILL)
                killed["aggregator"] = True
                time.sleep(1.0)
                fed.processes.children["aggregator"].start()
            if not killed["node-1"] and p.round >= 2:
                fed.processes.children["node-1"].kill(signal.SIGKILL)
                killed["node-1"] = True
                fed.processes.children["node-1"].start()

        fed.wait(timeout=TIMEOUT, on_tick=chaos)
        assert all(killed.values()), killed
        assert fed.processes.children["aggregator"].starts == 2
    else:
        fed.wait(timeout=TIMEOUT)
    report = write_report(fed.client, fed.run_dir, fed.config)
    return fed, report


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    fed, report = _run(tmp_path_factory.mktemp("clean"))
    yield fed, report
    fed.stop()


def test_hashes_on_chain_are_the_stored_blobs(clean_run) -> None:  # type: ignore[no-untyped-def]
    fed, report = clean_run
    api = FederationApi(fed.client, fed.task_id)
    store = ArtifactStore(fed.config.store)
    state = api.state()
    assert state.status == TaskStatus.COMPLETED
    assert state.current_round == 2
    parent = api.params().initial_model_hash
    # every document lies under the prefix of its writer: sponsor, aggregator, each client
    assert keccak(store.get(hex32(parent), owner=fed.sponsor.address)) == parent
    aggregator = fed.aggregator.address
    for number in (1, 2):
        info = api.round(number)
        assert info.phase == Phase.FINALIZED
        assert info.parent_model_hash == parent  # the lineage chains round to round
        assert keccak(store.get(hex32(info.model_hash), owner=aggregator)) == info.model_hash
        commits = api.commits(number)
        reveals = api.reveals(number)
        assert len(commits) == 3
        assert {c.client.lower() for c in commits} == set(reveals)  # everyone revealed
        for commit in commits:
            revealed = reveals[commit.client.lower()]
            blob = store.get(hex32(revealed.update_hash), owner=commit.client)
            assert keccak(blob) == revealed.update_hash
            # the commitment sealed exactly that update (with the client's secret salt)
            assert commit.commit_hash != revealed.update_hash
            # every commitment was settled (burn enforced or claimed)
            assert api.commitment(number, commit.client).settled
        table = fetch_results(store, info.results_root, owner=aggregator)
        assert {r.client.lower() for r in table.rows} == {c.client.lower() for c in commits}
        parent = info.model_hash
    assert state.latest_model_hash == parent
    assert report["latest_model_hash"] == hex32(parent)


def test_report_scores_the_clients_by_quality(clean_run) -> None:  # type: ignore[no-untyped-def]
    _fed, report = clean_run
    totals = report["totals"]
    assert set(totals) == {"ann", "ben", "cat"}
    # The free-rider sends the global model back: no contribution, no reward.
    assert totals["cat"]["reward"] == 0
    assert totals["ann"]["reward"] > totals["ben"]["reward"]
    assert report["final_metrics"]["test_accuracy"] > 0.5
    assert all(sum(r["gas"].values()) > 0 for r in report["rounds"])
    assert (Path(report["run"]["config"]["store"][len("file://") :])).is_dir()


def test_kill_and_restart_gives_the_same_final_model(clean_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _clean_fed, clean_report = clean_run
    fed, report = _run(tmp_path / "crash", crash=True)
    try:
        assert report["status"] == "completed"
        assert report["latest_model_hash"] == clean_report["latest_model_hash"]
        assert [r["model_hash"] for r in report["rounds"]] == [
            r["model_hash"] for r in clean_report["rounds"]
        ]
    finally:
        fed.stop()


def test_the_in_process_runtime_makes_the_same_rounds(clean_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every role stepped in one process (no processes, no polling) runs the same protocol and
    engine: the same model hashes and results roots, round by round (the clients training in a
    worker process); the clients' commits of a round are mined in one block, and so are their
    reveals."""
    _fed, clean_report = clean_run
    with LocalFederation(load_config("tiny"), tmp_path / "inprocess") as fed:
        fed.setup(say=lambda _m: None)
        fed.run_in_process(timeout=TIMEOUT, train_workers=1)
        report = write_report(fed.client, fed.run_dir, fed.config)
        api = FederationApi(fed.client, fed.task_id)
        for number in (1, 2):
            for name in ("UpdateCommitted", "UpdateRevealed"):
                events = api.round_events(name, number)
                assert len(events) == 3 and len({e.block_number for e in events}) == 1, name
    assert report["status"] == "completed"
    for mine, theirs in zip(report["rounds"], clean_report["rounds"], strict=True):
        assert mine["model_hash"] == theirs["model_hash"]
        assert mine["results_root"] == theirs["results_root"]


def test_without_a_challenge_window_every_post_is_final(clean_run, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A task with no challenge window: each post finalizes its round in the same transaction (no
    finalizing transaction, no wait for the chain's next second), with the same rounds and
    rewards as a task that has one, and the same audit."""
    from fl_node.cli import main

    _fed, clean_report = clean_run
    config = load_config("tiny")
    config = config.replace(federation=dataclasses.replace(config.federation, challenge_window=0))
    with LocalFederation(config, tmp_path / "final") as fed:
        fed.setup(say=lambda _m: None)
        fed.run_in_process(timeout=TIMEOUT)
        api = FederationApi(fed.client, fed.task_id)
        for number in (1, 2):
            (posted,) = api.round_events("RoundPosted", number)
            (finalized,) = api.round_events("RoundFinalized", number)
            assert finalized.tx_hash == posted.tx_hash
        # a client's reward of round 1 was claimed in the transaction of its round-2 commit
        claims = {e.args["client"]: e.tx_hash for e in api.round_events("RewardClaimed", 1)}
        commits = {e.args["client"]: e.tx_hash for e in api.round_events("UpdateCommitted", 2)}
        assert claims and all(claims[c] == commits[c] for c in claims)
        # and a client without a reward settled its stake (paid or burned) in that transaction
        settled = {e.args["client"]: e.tx_hash for e in api.round_events("StakeSettled", 1)}
        unclaimed = [c for c in settled if c not in claims]
        assert unclaimed and all(settled[c] == commits[c] for c in unclaimed)
        report = write_report(fed.client, fed.run_dir, fed.config)
    assert report["status"] == "completed"
    for mine, theirs in zip(report["rounds"], clean_report["rounds"], strict=True):
        assert (mine["model_hash"], mine["results_root"]) == (
            theirs["model_hash"],
            theirs["results_root"],
        )
    assert {name: t["reward"] for name, t in report["totals"].items()} == {
        name: t["reward"] for name, t in clean_report["totals"].items()
    }
    capsys.readouterr()
    assert main(["audit", "--run", str(fed.run_dir), "--all"]) == 0
    out = capsys.readouterr().out
    assert "0 posted number(s) wrong, 0 evidence item(s) missing or altered, 0 unverified" in out


def test_a_finished_run_folder_can_be_audited(clean_run, capsys) -> None:  # type: ignore[no-untyped-def]
    # Runs last in this module: stops the chain (saving its state) and reopens it from the folder.
    from fl_node.cli import main

    fed, _report = clean_run
    fed.stop()
    assert (fed.run_dir / "chain-state.json").is_file()
    assert main(["audit", "--run", str(fed.run_dir), "--all"]) == 0
    out = capsys.readouterr().out
    assert "0 posted number(s) wrong, 0 evidence item(s) missing or altered, 0 unverified" in out
    assert out.count("global model hash") == 2  # both rounds were recomputed
