"""The example app on Flower's simulation engine (one process, ``run_simulation``), settled on a
local chain; and the same ClientApp run unchanged by the native runtime (``fl-node node --app
fl_node.apps.flower_digits.client_app:app``), which makes the very same global models: one
protocol, one engine, one encoding of updates, whichever runtime carries them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

pytest.importorskip("flwr")
pytest.importorskip("ray")

from fl_node.cli import main
from fl_node.federation.protocol import FederationApi, Phase, TaskStatus, hex32
from fl_node.simulation.localfed import FIRST_CLIENT, LocalFederation
from tests.flower.helpers import flower_config, server_settings

APP = "fl_node.apps.flower_digits.client_app:app"
TIMEOUT = 300.0


def _models(fed: LocalFederation) -> list[str]:
    api = FederationApi(fed.client, fed.task_id)
    return [hex32(api.round(n).model_hash) for n in range(1, api.state().current_round + 1)]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    from fl_node.apps.flower_digits.simulation import simulate

    fed = LocalFederation(flower_config(), tmp_path_factory.mktemp("flower-sim"))
    try:
        fed.setup(say=lambda _m: None)
        simulate({**server_settings(fed), "fl-node-dev-account-base": FIRST_CLIENT}, fed.n_clients)
        yield fed
    finally:
        fed.stop()


def test_a_simulated_flower_run_is_settled_round_by_round(simulated: LocalFederation) -> None:
    fed = simulated
    api = FederationApi(fed.client, fed.task_id)
    assert api.state().status == TaskStatus.COMPLETED
    report = json.loads((fed.run_dir / "work" / f"flower-task{fed.task_id}.json").read_text())
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    for record in report["rounds"]:
        info = api.round(record["round"])
        assert info.phase == Phase.FINALIZED
        assert record["model_hash"] == hex32(info.model_hash)
        assert len(record["clients"]) == 3
        for row in record["clients"]:
            assert row["included"] and row["flower"] == "ok"
            assert row["carried_hash"] == row["update_hash"]  # Flower carried the commitment
            assert api.commitment(record["round"], row["client"]).settled
        assert record["twin_max_diff"] < 1e-5  # Flower's own FedAvg agrees with its twin
    assert report["rounds"][-1]["metrics"]["test_accuracy"] > 0.8
    assert all(s["done"] for s in report["settle"].values())
    assert all(not api.seat(a.address).active for a in fed.client_accounts)  # bonds back


def test_the_native_runtime_runs_the_flower_app_to_the_same_models(
    simulated: LocalFederation, tmp_path_factory: pytest.TempPathFactory
) -> None:
    apps = {i: APP for i in range(simulated.n_clients)}
    with LocalFederation(flower_config(), tmp_path_factory.mktemp("native"), apps=apps) as fed:
        fed.setup(say=lambda _m: None)
        fed.run_in_process(timeout=TIMEOUT)
        assert _models(fed) == _models(simulated)


def test_fl_node_audit_passes_on_the_flower_rounds(simulated: LocalFederation, capsys) -> None:  # type: ignore[no-untyped-def]
    fed = simulated
    argv = ["audit", "--rpc", fed.chain.rpc_url, "--deployment", str(fed.deployment_path),
            "--config", str(fed.config_path), "--task", str(fed.task_id), "--all"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert out.count("global model hash") == 2 and "0 posted number(s) wrong" in out
