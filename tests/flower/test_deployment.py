"""A settled federation on Flower's Deployment Engine: a SuperLink and three SuperNodes as real
processes (``flower-superlink``, ``flower-supernode``, ``flwr run``), a local Anvil and the shared
store, with client-side local DP.

One client is honest; one has a mod outside the settling mod that changes its update after it was
committed (Flower carries another update than the one on-chain); one commits and never reveals.
Rounds must finalize; the updates Flower carried must be the committed ones, and the one that is
not must be flagged with its reason and left out of Flower's side of the round while the chain
settles what was committed; the withholding client is excluded with its reason and burned; claims
pay to the wei; the privacy budget is recorded per round; ``fl-node audit`` passes.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flwr")

from fl_node.chain.keys import account_from_key
from fl_node.cli import main
from fl_node.federation.protocol import (
    FederationApi,
    Phase,
    TaskStatus,
    commit_salt,
    commitment_hash,
)
from fl_node.federation.storage import fetch_results
from fl_node.simulation.localfed import FIRST_CLIENT, LocalFederation
from fl_node.toolchain.localchain import dev_private_key
from tests.flower.helpers import TEST_APP, flower_config, server_settings, shared_settings

HONEST, TAMPER, WITHHOLD = 0, 1, 2
BEHAVIOURS = {HONEST: "", TAMPER: "tamper", WITHHOLD: "withhold"}
#: Flower's federated evaluation is not what is tested here (it takes a ClientApp process per
#: node and round): off.
NO_EVALUATION = {"fraction-evaluate": 0.0}
DP = {"dp-epsilon": 50.0, "dp-delta": 1e-5, "dp-clipping-norm": 5.0, "dp-sensitivity": 0.05}

pytestmark = pytest.mark.skipif(
    not (Path(sys.executable).parent / "flower-superlink").exists()
    and shutil.which("flower-superlink") is None,
    reason="Flower's deployment engine (flower-superlink) is not installed",
)


@dataclass
class Deployed:
    fed: LocalFederation
    report: dict[str, Any]
    minted: int
    run_log: str

    @property
    def api(self) -> FederationApi:
        return FederationApi(self.fed.client, self.fed.task_id)

    def address(self, slot: int) -> str:
        return self.fed.client_accounts[slot].address

    def rows(self, slot: int) -> list[dict[str, Any]]:
        me = self.address(slot).lower()
        return [c for r in self.report["rounds"] for c in r["clients"] if c["client"].lower() == me]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    from fl_node.chain.contracts import BaseToken
    from fl_node.flower.deployment import LocalDeployment

    fed = LocalFederation(flower_config(), tmp_path_factory.mktemp("flower-deploy"))
    deployment = LocalDeployment(fed.run_dir / "flower")
    try:
        fed.setup(say=lambda _m: None)
        minted = BaseToken(fed.client).balance_of(fed.client_accounts[HONEST].address)
        deployment.start_superlink()
        for slot, behaviour in BEHAVIOURS.items():
            node_config = {
                **shared_settings(fed),
                "partition-id": slot,
                "fl-node-dev-account": FIRST_CLIENT + slot,
                "test-behaviour": behaviour,
            }
            deployment.add_supernode(f"supernode-{slot}", node_config)
        result = deployment.run(
            TEST_APP, {**server_settings(fed), **DP, **NO_EVALUATION}, timeout=400
        )
        assert result.returncode == 0, result.log[-4000:]
        report_path = fed.run_dir / "work" / f"flower-task{fed.task_id}.json"
        assert report_path.is_file(), result.log[-4000:]
        yield Deployed(fed, json.loads(report_path.read_text()), minted, result.log)
    finally:
        deployment.stop()
        fed.stop()


def test_every_round_finalizes_and_every_seat_is_given_back(deployed: Deployed) -> None:
    api = deployed.api
    assert api.state().status == TaskStatus.COMPLETED
    assert [r["round"] for r in deployed.report["rounds"]] == [1, 2]
    for number in (1, 2):
        info = api.round(number)
        assert info.phase == Phase.FINALIZED
        assert len(api.commits(number)) == 3
        assert len(api.reveals(number)) == 2  # the withholding client never reveals
    for slot in BEHAVIOURS:
        assert not api.seat(deployed.address(slot)).active  # each node left: join bond back
        assert deployed.report["settle"][deployed.address(slot)]["done"]


def test_the_commitments_are_the_updates_flower_carried(deployed: Deployed) -> None:
    api, fed = deployed.api, deployed.fed
    me = deployed.address(HONEST)
    signer = account_from_key(dev_private_key(FIRST_CLIENT + HONEST))
    for row, number in zip(deployed.rows(HONEST), (1, 2), strict=True):
        assert row["flower"] == "ok" and row["carried_hash"] == row["update_hash"]
        carried = bytes.fromhex(row["carried_hash"][2:])
        salt = commit_salt(signer, fed.client.chain_id, api.federation.address, fed.task_id, number)
        sealed = commitment_hash(fed.task_id, number, me, carried, salt)
        commit = next(c for c in api.commits(number) if c.client.lower() == me.lower())
        assert commit.commit_hash == sealed  # the chain holds exactly what Flower carried
        assert row["included"]


def test_an_update_changed_after_its_commit_is_flagged_and_the_chain_settles_the_commitment(
    deployed: Deployed,
) -> None:
    rows = deployed.rows(TAMPER)
    for row in rows:
        assert "is not the one the client committed and revealed" in row["flower"]
        assert row["carried_hash"] != row["update_hash"]
        assert row["included"]  # settled on what it committed, revealed and stored
    # Flower's own aggregate (its metrics) takes the honest reply only: the tampered one and the
    # withholding client's unrevealed one do not match the chain
    lines = [line for line in deployed.run_log.splitlines() if "Aggregated MetricRecord" in line]
    train = [line for line in lines if "fl-node.round" in line]
    assert len(train) == 2
    assert all("'fl-node.flower-mismatches': 2" in t for t in train)
    assert all("'fl-node.flower-consistent': 1" in t for t in train)


def test_a_client_that_does_not_reveal_is_excluded_with_its_reason_and_burned(
    deployed: Deployed,
) -> None:
    api = deployed.api
    for row, number in zip(deployed.rows(WITHHOLD), (1, 2), strict=True):
        assert not row["included"]
        assert row["reason"] == "not revealed before the reveal deadline"
        assert int(row["payout"]) < 0 and int(row["reward"]) == 0
        assert api.commitment(number, deployed.address(WITHHOLD)).settled  # the burn was taken


def test_claims_pay_every_wei_of_the_results(deployed: Deployed) -> None:
    from fl_node.artifacts.store import ArtifactStore

    api = deployed.api
    store = ArtifactStore(deployed.fed.config.store)
    aggregator = api.params().aggregator
    for slot in BEHAVIOURS:
        me = deployed.address(slot)
        earned = 0
        for number in (1, 2):
            table = fetch_results(store, api.round(number).results_root, owner=aggregator)
            row = table.row(me)
            earned += row.payout + row.reward
            commitment = api.commitment(number, me)
            assert commitment.settled and (row.reward == 0 or commitment.claimed)
        held = api.base_balance(me) + api.vault.stake_of(me).balance
        assert held == deployed.minted + earned, slot  # nothing lost, nothing unclaimed


def test_the_privacy_budget_is_recorded_per_round(deployed: Deployed) -> None:
    for slot in (HONEST, TAMPER):
        rows = deployed.rows(slot)
        assert [r["dp"]["epsilon"] for r in rows] == [DP["dp-epsilon"]] * 2
        assert rows[-1]["dp_total"] == {
            "epsilon": 2 * DP["dp-epsilon"], "delta": 2 * DP["dp-delta"], "rounds": 2,
        }  # fmt: skip


def test_fl_node_audit_passes_on_the_rounds_flower_ran(deployed: Deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    fed = deployed.fed
    argv = ["audit", "--rpc", fed.chain.rpc_url, "--deployment", str(fed.deployment_path),
            "--config", str(fed.config_path), "--task", str(fed.task_id), "--all"]  # fmt: skip
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("global model hash") == 2 and "0 posted number(s) wrong" in out
