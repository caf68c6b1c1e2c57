"""The daemons on a real network's terms: races with a keeper in one block, RPC outages, clients
that cannot pay, one aggregator state per task, and cheap waiting.

Each test reproduces what a user saw: a node that died when the keeper's burn and its own settle
landed in one block; daemons that gave up after seconds of RPC outage; a client without base
tokens that joined and then failed, so every round waited out its window; two aggregators of one
task sharing one state file; and waiting nodes that used a tenth of a core.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from hexbytes import HexBytes

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import ChainClient
from fl_node.chain.contracts import BaseToken
from fl_node.chain.keys import account_from_key
from fl_node.cli import main
from fl_node.configs import load_config
from fl_node.errors import ConfigError
from fl_node.federation.aggregator import AggregatorDaemon
from fl_node.federation.context import TaskContext
from fl_node.federation.node import NodeDaemon
from fl_node.federation.protocol import FederationApi, Phase, TaskStatus
from fl_node.federation.results import RoundResults
from fl_node.federation.setup import load_setup
from fl_node.federation.sponsor import create_task
from fl_node.federation.storage import fetch_results
from fl_node.simulation.localfed import (
    AGGREGATOR,
    FIRST_CLIENT,
    SIMULATED_CLIENTS,
    LocalFederation,
)
from tests.federation.stepping import step_until_finalized
from tests.rpcproxy import RpcProxy, rpc

GWEI = 10**9


def _argv(fed: LocalFederation, rpc_url: str, command: str) -> list[str]:
    return [
        command,
        "--rpc", rpc_url,
        "--deployment", str(fed.deployment_path),
        "--config", str(fed.config_path),
        "--task", str(fed.task_id),
        "--workdir", str(fed.run_dir / "work"),
    ]  # fmt: skip


def _start(fed: LocalFederation, rpc_url: str, clients: int, aggregator: bool = True) -> None:
    """The federation's processes, talking to the chain through ``rpc_url``."""
    logs = fed.run_dir / "logs"
    if aggregator:
        argv = [*_argv(fed, rpc_url, "aggregate"), "--dev-account", str(AGGREGATOR)]
        fed.processes.add("aggregator", argv, logs / "aggregator.log")
    for i in range(clients):
        argv = [*_argv(fed, rpc_url, "node"), "--dev-account", str(FIRST_CLIENT + i)]
        argv += ["--index", str(i), "--app", SIMULATED_CLIENTS]
        fed.processes.add(f"node-{i}", argv, logs / f"node-{i}.log")
    fed.processes.start_all()


def _wait_for(what: str, check: Any, fed: LocalFederation, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert fed.processes.check() is False, "a process died"
        assert time.monotonic() < deadline, f"{what} did not happen in time"
        time.sleep(0.2)


# -- the keeper and the client in one block -------------------------------------------------------


@pytest.fixture(scope="module")
def finalized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ...]]:
    """The tiny task stepped in this process until round 1 is finalized, no burn enforced yet."""
    fed = LocalFederation(load_config("tiny"), tmp_path_factory.mktemp("race") / "run")
    try:
        fed.setup(say=lambda _m: None)
        daemons = fed.daemons()
        nodes: list[NodeDaemon] = daemons[:-1]  # type: ignore[assignment]
        aggregator: AggregatorDaemon = daemons[-1]  # type: ignore[assignment]
        aggregator.enforce_burns = False
        api = FederationApi(fed.client, fed.task_id)
        step_until_finalized(api, daemons)
        table = fetch_results(
            ArtifactStore(fed.config.store), api.round(1).results_root, owner=fed.aggregator.address
        )
        yield fed, nodes, aggregator, api, table
    finally:
        fed.stop()


def _rival_settle(api: FederationApi, signer: Any, table: RoundResults, client: str) -> str:
    """A signed settleStake of ``client``'s round-1 result by ``signer``, tipping more than the
    daemons do so that it comes first in its block."""
    row = table.row(client)
    fn = api.federation.functions.settleStake(
        api.task_id, 1, row.client, row.score, row.reward, table.proof(row.client)
    )
    tx = fn.build_transaction(
        {
            "from": signer.address,
            "nonce": api.client.w3.eth.get_transaction_count(signer.address, "pending"),
            "gas": 400_000,
            "maxFeePerGas": 50 * GWEI,
            "maxPriorityFeePerGas": 50 * GWEI,
            "chainId": api.client.chain_id,
        }
    )
    return "0x" + bytes(signer.sign_transaction(tx).raw_transaction).hex()


def _in_one_block(chain_url: str, proxy: RpcProxy, rival: str) -> None:
    """The next transaction through ``proxy`` is mined in one block right after ``rival``."""

    def mine_both() -> None:
        deadline = time.monotonic() + 30
        while int(rpc(chain_url, "txpool_status")["pending"], 16) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        rpc(chain_url, "evm_mine")
        rpc(chain_url, "evm_setAutomine", [True])

    def hook(_raw: str) -> None:
        rpc(chain_url, "evm_setAutomine", [False])
        rpc(chain_url, "eth_sendRawTransaction", [rival])
        threading.Thread(target=mine_both, daemon=True).start()

    proxy.before_send = hook


def _same_block_revert(api: FederationApi, rival: str, raw: str) -> None:
    """The daemon's transaction ``raw`` reverted in the block of ``rival``, which came first."""
    w3 = api.client.w3
    first = w3.eth.get_transaction_receipt(HexBytes(keccak(HexBytes(rival))))
    second = w3.eth.get_transaction_receipt(HexBytes(keccak(HexBytes(raw))))
    assert (first["status"], second["status"]) == (1, 0)
    assert first["blockNumber"] == second["blockNumber"]
    assert first["transactionIndex"] < second["transactionIndex"]


def _through(api: FederationApi, url: str) -> FederationApi:
    assert api.client.deployment is not None
    return FederationApi(ChainClient(url, api.client.deployment), api.task_id)


def test_a_node_whose_settle_loses_to_the_keepers_burn_in_one_block_carries_on(finalized):  # type: ignore[no-untyped-def]
    fed, nodes, _aggregator, api, table = finalized
    victim = next(r.client for r in table.rows if r.payout < 0 and r.reward == 0)
    node = next(n for n in nodes if n.address == victim)
    assert not api.commitment(1, victim).settled
    rival = _rival_settle(api, fed.aggregator, table, victim)  # the keeper's burn
    with RpcProxy(fed.chain.rpc_url) as proxy:
        node.api = _through(api, proxy.url)
        _in_one_block(fed.chain.rpc_url, proxy, rival)
        node.step()  # died here with "settleStake reverted: reverted in block N()"
        assert proxy.sent, "the node sent nothing"
        _same_block_revert(api, rival, proxy.sent[-1])
    assert api.commitment(1, victim).settled
    assert 1 in node._checkpoint.get("claimed")  # round 1 is done for this node


def test_an_aggregator_whose_burn_loses_to_the_clients_settle_in_one_block_carries_on(finalized):  # type: ignore[no-untyped-def]
    fed, _nodes, aggregator, api, table = finalized
    unsettled = [
        r.client for r in table.rows if r.payout < 0 and not api.commitment(1, r.client).settled
    ]
    victim = unsettled[0]  # the first burn the keeper sends
    signer = next(a for a in fed.client_accounts if a.address == victim)
    rival = _rival_settle(api, signer, table, victim)  # the client settles itself
    with RpcProxy(fed.chain.rpc_url) as proxy:
        aggregator.api = _through(api, proxy.url)
        aggregator.enforce_burns = True
        _in_one_block(fed.chain.rpc_url, proxy, rival)
        aggregator._enforce_burns(1)  # what it does right after finalizing a round
        _same_block_revert(api, rival, proxy.sent[0])
    assert all(api.commitment(1, r.client).settled for r in table.rows if r.payout < 0)
    assert aggregator._checkpoint.get("burns.1") is True


def test_the_keeper_opens_the_next_round_before_it_burns(finalized, monkeypatch):  # type: ignore[no-untyped-def]
    """Burns are not on the federation's critical path: after a finalization the aggregator's
    next step opens the next round first (the clients train meanwhile), then enforces burns."""
    _fed, _nodes, aggregator, api, _table = finalized
    calls: list[str] = []
    maybe_open, enforce = aggregator._maybe_open, aggregator._enforce_burns

    def opening(number: int, state: Any) -> None:
        calls.append(f"open {number}")
        maybe_open(number, state)

    def burning(number: int) -> None:
        calls.append(f"burns {number}")
        enforce(number)

    monkeypatch.setattr(aggregator, "_maybe_open", opening)
    monkeypatch.setattr(aggregator, "_enforce_burns", burning)
    aggregator.api = api
    assert api.round(1).phase == Phase.FINALIZED and api.state().current_round == 1
    aggregator.step()
    assert calls == ["open 2", "burns 1"]
    assert api.state().current_round == 2
    aggregator.step()  # inside round 2: round 1's burns are looked at again (done: no-op)
    assert calls[2:] == ["burns 1"]


# -- an RPC outage in the middle of a round ---------------------------------------------------


@pytest.mark.slow  # the README's cross-machine test plays a 20-s outage mid-round on every run
def test_daemons_wait_out_an_rpc_outage_and_finish_the_task(tmp_path: Path) -> None:
    outage = 20.0  # longer than the retries of a one-shot command
    with LocalFederation(load_config("tiny"), tmp_path / "run") as fed:
        fed.setup(say=lambda _m: None)
        api = FederationApi(fed.client, fed.task_id)
        with RpcProxy(fed.chain.rpc_url) as proxy:
            _start(fed, proxy.url, fed.n_clients)
            _wait_for(
                "round 1's commits",
                lambda: api.state().current_round == 1 and api.round(1).commits == fed.n_clients,
                fed,
            )
            proxy.down = True
            time.sleep(outage)
            assert api.round(1).phase in (Phase.COMMIT, Phase.REVEAL)  # nothing moved meanwhile
            proxy.down = False
            fed.wait(timeout=300)  # every process exits 0
        assert api.state().status == TaskStatus.COMPLETED
        for number in (1, 2):
            table = fetch_results(
                ArtifactStore(fed.config.store),
                api.round(number).results_root,
                owner=fed.aggregator.address,
            )
            for row in table.rows:
                commitment = api.commitment(number, row.client)
                assert commitment.settled
                assert commitment.claimed == (row.reward > 0)
        for name in ("aggregator", *(f"node-{i}" for i in range(fed.n_clients))):
            log = (fed.run_dir / "logs" / f"{name}.log").read_text()
            assert "lost the connection to the RPC at" in log, name
            back = [line for line in log.splitlines() if "is back after" in line]
            assert back and int(back[0].rsplit("after ", 1)[1].split(" s")[0]) >= outage - 2


# -- a client that cannot pay stops before it joins --------------------------------------------


def test_a_client_without_base_tokens_stops_before_touching_the_chain(tmp_path, capsys):  # type: ignore[no-untyped-def]
    with LocalFederation(load_config("tiny"), tmp_path / "run", client_funds=0.0) as fed:
        fed.setup(say=lambda _m: None)
        me = fed.client_accounts[0].address
        nonce = fed.client.w3.eth.get_transaction_count(me)
        argv = [*_argv(fed, fed.chain.rpc_url, "node"), "--dev-account", str(FIRST_CLIENT)]
        code = main([*argv, "--index", "0", "--app", SIMULATED_CLIENTS])
        assert code == 2
        assert capsys.readouterr().err.strip() == (
            f"error: {me} cannot join task {fed.task_id}: it holds 0 base tokens but needs 60 "
            "(the join bond 10 + one round's stake 50): get 60 more base tokens before starting "
            "the node"
        )
        assert fed.client.w3.eth.get_transaction_count(me) == nonce  # nothing was sent
        api = FederationApi(fed.client, fed.task_id)
        assert not api.registry.is_registered(me) and not api.seat(me).active


def test_a_client_without_eth_for_gas_stops_before_touching_the_chain(  # type: ignore[no-untyped-def]
    tmp_path, capsys, monkeypatch
):
    with LocalFederation(load_config("tiny"), tmp_path / "run") as fed:
        fed.setup(say=lambda _m: None)
        key = "0x" + keccak(b"fl-node test: a client without ETH").hex()
        me = account_from_key(key).address
        BaseToken(fed.client).mint(fed.accounts[0], me, 100 * 10**18)
        monkeypatch.setenv("FL_NODE_KEY", key)
        argv = _argv(fed, fed.chain.rpc_url, "node")
        code = main([*argv, "--app", SIMULATED_CLIENTS, "--node-config", "partition-id=0"])
        err = capsys.readouterr().err.strip()
        assert code == 2
        assert err.startswith(f"error: {me} cannot join task {fed.task_id}: it holds 0 ETH but ")
        assert "ETH for gas (" in err and "send it ETH before starting the node" in err
        assert fed.client.w3.eth.get_transaction_count(me) == 0


# -- the aggregator's state: one per task, one aggregator at a time ----------------------------


def test_aggregator_state_is_per_task_and_locked(tmp_path: Path) -> None:
    with LocalFederation(load_config("tiny"), tmp_path / "run") as fed:
        fed.setup(say=lambda _m: None)
        store = ArtifactStore(fed.config.store)
        work = tmp_path / "work"

        def aggregator(task_id: int) -> AggregatorDaemon:
            api = FederationApi(fed.client, task_id)
            setup = load_setup(
                api, store, fed.config, str(fed.config_path), node_id=fed.aggregator.address
            )
            return AggregatorDaemon(
                api=api, signer=fed.aggregator, setup=setup, store=store, workdir=work
            )

        first = aggregator(fed.task_id)
        with pytest.raises(ConfigError, match=r"another daemon of 0x\w+ is already running"):
            aggregator(fed.task_id)

        base = BaseToken(fed.client)
        base.mint(fed.accounts[0], fed.sponsor.address, 10**21)
        other_task = create_task(
            fed.client, fed.sponsor, TaskContext(fed.config), store, fed.aggregator.address
        )
        second = aggregator(other_task)  # another task: not locked out
        first._checkpoint.set("opened.1", 123)
        assert first._checkpoint.path != second._checkpoint.path
        assert second._checkpoint.get("opened.1") is None
        assert f"-t{fed.task_id}-" in first._checkpoint.path.name
        assert f"-t{other_task}-" in second._checkpoint.path.name
        assert not (work / "aggregator.json").exists()


# -- waiting is cheap ---------------------------------------------------------------------------


def test_a_waiting_node_rarely_asks_the_chain(tmp_path: Path) -> None:
    with LocalFederation(load_config("tiny"), tmp_path / "run") as fed:
        fed.setup(say=lambda _m: None)
        api = FederationApi(fed.client, fed.task_id)
        with RpcProxy(fed.chain.rpc_url) as proxy:
            _start(fed, proxy.url, clients=1, aggregator=False)
            me = fed.client_accounts[0].address
            _wait_for("the join", lambda: api.seat(me).active, fed)
            time.sleep(2.0)
            before, started = proxy.total(), time.monotonic()
            time.sleep(10.0)
            rate = (proxy.total() - before) / (time.monotonic() - started)
        # It waits for the round to open (2 of 3 seats empty): a block number every 2 s at
        # most, and a full look at the state now and then (it used to be ~30 requests a second).
        assert rate < 2.0, f"{rate:.1f} requests per second"


def test_the_keeper_reads_every_burn_it_may_owe_in_one_batch(finalized, monkeypatch):  # type: ignore[no-untyped-def]
    """One round trip for the commitments of every client with a negative result (at 32 clients,
    a dozen single reads a round), whether or not another test burned them already."""
    _fed, _nodes, aggregator, api, table = finalized
    aggregator.api = api
    aggregator.enforce_burns = True
    aggregator._checkpoint.set("burns.1", False)
    batches: list[list[str]] = []
    commitments = api.commitments

    def counted(number: int, clients: list[str]) -> Any:
        batches.append(list(clients))
        return commitments(number, clients)

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the keeper read a commitment on its own")

    monkeypatch.setattr(api, "commitments", counted)
    monkeypatch.setattr(api, "commitment", refused)
    aggregator._enforce_burns(1)
    assert batches == [[r.client for r in table.rows if r.payout < 0]]
    assert aggregator._checkpoint.get("burns.1") is True
    monkeypatch.undo()
    assert all(api.commitment(1, r.client).settled for r in table.rows if r.payout < 0)
