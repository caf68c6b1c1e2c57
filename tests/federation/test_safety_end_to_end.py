"""Protocol safety through real processes: a USDC-like base token, a copycat, and a task that
starts only once enough clients have joined.

A federation of the ``tiny`` task runs on a dev base token with 6 decimals, with its third client
a copycat: it copies another client's sealed commitment (the only thing visible while commits are
open) and, once that client reveals, tries to pass off its update, and a noisy copy of it, as its
own. Every attempt must fail on-chain, leaving the copycat excluded and burned by the clip, while
the honest clients are paid in whole 6-decimal amounts and every base token is accounted for.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.deploy import SuiteConfig
from fl_node.config import ClientConfig
from fl_node.configs import load_config
from fl_node.federation.aggregator import AggregatorDaemon
from fl_node.federation.context import TaskContext
from fl_node.federation.protocol import FederationApi, Phase, TaskStatus
from fl_node.federation.storage import fetch_results
from fl_node.simulation.localfed import LocalFederation

TIMEOUT = 400.0
DECIMALS = 6


def _config():  # type: ignore[no-untyped-def]
    config = load_config("tiny")
    clients = (
        config.clients[0],
        config.clients[1],
        ClientConfig(name="copycat", behavior="copycat"),
    )
    return config.replace(
        clients=clients, federation=dataclasses.replace(config.federation, reveal_window=10)
    )


@pytest.fixture(scope="module")
def copycat_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    suite = SuiteConfig(base_decimals=DECIMALS, dividend_duration=60)
    fed = LocalFederation(_config(), tmp_path_factory.mktemp("copycat"), suite=suite)
    try:
        fed.setup(say=lambda _m: None)
        fed.start_processes()
        fed.wait(timeout=TIMEOUT)
        yield fed
    finally:
        fed.stop()


def test_the_base_token_has_six_decimals_and_amounts_follow(copycat_run) -> None:  # type: ignore[no-untyped-def]
    fed = copycat_run
    api = FederationApi(fed.client, fed.task_id)
    assert api.decimals == DECIMALS
    params = api.params()
    unit = 10**DECIMALS
    cfg = fed.config.federation
    assert params.stake_min == int(cfg.stake_min * unit)
    assert params.reward_per_round == int(cfg.reward_per_round * unit)
    assert params.join_bond == int(cfg.join_bond * unit)
    ann = fed.client_accounts[0].address
    assert api.commitment(1, ann).stake == int(cfg.stake * unit)


def test_the_copycat_cannot_pass_off_another_update(copycat_run) -> None:  # type: ignore[no-untyped-def]
    fed = copycat_run
    api = FederationApi(fed.client, fed.task_id)
    store = ArtifactStore(fed.config.store)
    assert api.state().status == TaskStatus.COMPLETED
    copycat = fed.client_accounts[2].address
    cap = api.params().payout_cap
    for number in (1, 2):
        info = api.round(number)
        assert info.phase == Phase.FINALIZED
        commits = {c.client.lower(): c for c in api.commits(number)}
        reveals = api.reveals(number)
        assert copycat.lower() in commits
        assert copycat.lower() not in reveals  # no reveal of its copied commitment was accepted
        assert set(reveals) == set(commits) - {copycat.lower()}
        table = fetch_results(store, info.results_root, owner=fed.aggregator.address)
        row = table.row(copycat)
        assert not row.included and "not revealed" in row.reason
        assert row.reward == 0
        assert row.payout == -(row.stake * cap // 10**18)  # the full clipped burn
        assert api.commitment(number, copycat).settled  # the keeper burned it
    log = (fed.run_dir / "logs" / "node-2.log").read_text()
    assert "copying the commitment of" in log
    assert "reveal of the exact copy: refused" in log
    assert "reveal of the noisy copy: refused" in log
    assert "late commit: refused (WrongPhase)" in log


def test_honest_clients_are_paid_and_every_base_token_is_accounted_for(copycat_run) -> None:  # type: ignore[no-untyped-def]
    fed = copycat_run
    api = FederationApi(fed.client, fed.task_id)
    for account in fed.client_accounts[:2]:
        for number in (1, 2):
            assert api.commitment(number, account.address).settled
        assert not api.seat(account.address).active  # left the task: join bond released
        assert api.free_stake(account.address) > 0
    base = fed.client.contract(fed.deployment.base_token)
    vault = fed.client.contract("StakeVault")
    cfg = fed.config.federation
    unit = 10**DECIMALS
    offers = max(c.offer_base for c in fed.config.clients)
    per_client = cfg.stake * (cfg.rounds + 5) + cfg.join_bond + offers
    minted = int((cfg.budget + cfg.aggregator_bond + 3 * per_client) * unit)
    supply = int(fed.client.call(base.functions.totalSupply()))
    burned = int(fed.client.call(vault.functions.totalBurned()))
    assert burned > 0
    assert supply + burned == minted


def test_the_first_round_waits_for_enough_clients(tmp_path: Path) -> None:
    """An 8-client task once ran every round with a single client because the aggregator opened
    round 1 as soon as anyone had joined: now it waits for the task's minimum."""
    config = load_config("tiny")
    with LocalFederation(config, tmp_path / "run") as fed:
        fed.setup(say=lambda _m: None)
        api = FederationApi(fed.client, fed.task_id)
        said: list[str] = []
        daemon = AggregatorDaemon(
            api=api,
            signer=fed.aggregator,
            setup=TaskContext(fed.config),
            store=ArtifactStore(fed.config.store),
            workdir=tmp_path / "work",
            log=said.append,
        )
        for joined, account in enumerate(fed.client_accounts, start=1):
            amount = api.params().join_bond
            api.ensure_allowance(account, api.vault.address, amount)
            api.send(api.vault.functions.deposit(amount), account)
            api.send(api.registry.functions.register(f"C{joined}", f"C{joined}"), account)
            api.join(account)
            assert daemon.step() is False
            expected = 1 if joined == config.federation.max_clients else 0
            assert api.state().current_round == expected, joined
        assert any("waiting for clients: 1 of 3 joined" in line for line in said)
        assert any("round 1 opened" in line for line in said)
        assert api.state().bond == api.params().aggregator_bond  # it bonded before opening
