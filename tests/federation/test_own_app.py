"""A participant brings its own model code and data: the node is a runtime around its app.

The app of ``tests/federation/own_app.py`` is written as an outside participant would write a
Flower client (plain numpy, no fl_node import, its own 150 samples). It takes a seat in a ``tiny``
federation next to two simulated clients and must be trained on, scored and paid like them. An
app that builds another model, or a node given another config than the task's, must stop with one
clear error before anything is registered or staked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fl_node.artifacts.store import ArtifactStore
from fl_node.cli import main
from fl_node.configs import load_config
from fl_node.federation.protocol import FederationApi, Phase, TaskStatus
from fl_node.federation.storage import fetch_results
from fl_node.simulation.localfed import FIRST_CLIENT, LocalFederation

OWN_APP = "tests.federation.own_app:client_fn"
SLOT = 2  # the tiny config's free-rider slot, taken by the participant's own app
TIMEOUT = 400.0


@pytest.fixture(scope="module")
def own_app_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    fed = LocalFederation(load_config("tiny"), tmp_path_factory.mktemp("own"), apps={SLOT: OWN_APP})
    try:
        fed.setup(say=lambda _m: None)
        fed.start_processes()
        fed.wait(timeout=TIMEOUT)
        yield fed
    finally:
        fed.stop()


def test_the_participants_app_trains_next_to_the_simulated_clients(own_app_run) -> None:  # type: ignore[no-untyped-def]
    fed = own_app_run
    api = FederationApi(fed.client, fed.task_id)
    store = ArtifactStore(fed.config.store)
    assert api.state().status == TaskStatus.COMPLETED
    mine = fed.client_accounts[SLOT].address
    for number in (1, 2):
        info = api.round(number)
        assert info.phase == Phase.FINALIZED
        aggregator = fed.aggregator.address
        row = fetch_results(store, info.results_root, owner=aggregator).row(mine)
        assert row.included, row.reason  # its update was used in the aggregate
        assert row.num_samples == 150  # what its fit reported: its own data
        assert api.commitment(number, mine).settled
    log = (fed.run_dir / "logs" / f"node-{SLOT}.log").read_text()
    assert "revealed" in log and "left task" in log


def _node_argv(fed: LocalFederation, *extra: str) -> list[str]:
    return [
        "node", "--rpc", fed.chain.rpc_url, "--deployment", str(fed.deployment_path),
        "--task", str(fed.task_id), "--workdir", str(fed.run_dir / "work"),
        "--dev-account", str(FIRST_CLIENT + SLOT), *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def idle_task(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with LocalFederation(load_config("tiny"), tmp_path_factory.mktemp("idle")) as fed:
        fed.setup(say=lambda _m: None)
        yield fed


def _nothing_staked(fed: LocalFederation) -> None:
    api = FederationApi(fed.client, fed.task_id)
    me = fed.client_accounts[SLOT].address
    assert not fed.client.call(api.registry.functions.isRegistered(me))
    assert not api.seat(me).active
    assert api.vault.stake_of(me).balance == 0


def test_an_app_of_another_model_is_refused_before_anything_is_staked(idle_task, capsys) -> None:  # type: ignore[no-untyped-def]
    fed = idle_task
    argv = _node_argv(fed, "--config", str(fed.config_path), "--app",
                      "tests.federation.own_app:wrong_model")  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "does not train the task's model" in err
    assert "builds a model (4 arrays, 204 parameters" in err  # 8 hidden units
    assert "the task's has 4 arrays, 404 parameters" in err  # 16 hidden units
    assert err.count("error:") == 1
    _nothing_staked(fed)


def test_another_config_than_the_tasks_is_refused_before_anything_is_staked(
    idle_task, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    fed = idle_task
    other = fed.config.replace(seed=fed.config.seed + 1).save(tmp_path / "other.yaml")
    assert main(_node_argv(fed, "--config", str(other), "--app", OWN_APP)) == 2
    err = capsys.readouterr().err
    assert "on-chain config hash" in err and "differs from this config's" in err
    assert err.count("error:") == 1
    _nothing_staked(fed)


def test_bad_app_references_are_clear_errors(idle_task, capsys) -> None:  # type: ignore[no-untyped-def]
    fed = idle_task
    cases = [
        ("no_colon", "expected module:attribute"),
        ("tests.federation.no_such_module:client_fn", "cannot import"),
        ("tests.federation.own_app:nothing_here", "has no attribute 'nothing_here'"),
        ("tests.federation.own_app:FEATURES", "expected a client_fn(context)"),
    ]
    for ref, message in cases:
        assert main(_node_argv(fed, "--config", str(fed.config_path), "--app", ref)) == 2, ref
        assert message in capsys.readouterr().err, ref
    assert main(_node_argv(fed, "--config", str(fed.config_path))) == 2  # no app at all
    assert "give your client app" in capsys.readouterr().err
    _nothing_staked(fed)
