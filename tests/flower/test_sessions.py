"""What a SuperNode process keeps between messages (:mod:`fl_node.flower.sessions`): one
connection, task config and store for all the nodes it runs, each node's key, made again when the
files they came from change, and never carried to another process."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("flwr")

from fl_node.chain.client import ChainClient
from fl_node.errors import ConfigError
from fl_node.federation.protocol import FederationApi
from fl_node.flower.client import SettleMod
from fl_node.flower.sessions import Sessions, process_sessions
from fl_node.flower.settings import ChainSettings, node_settings
from fl_node.simulation.localfed import FIRST_CLIENT, LocalFederation
from tests.flower.helpers import flower_config, shared_settings


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    federation = LocalFederation(flower_config(), tmp_path_factory.mktemp("sessions"))
    try:
        federation.setup(say=lambda _m: None)
        yield federation
    finally:
        federation.stop()


def _settings(fed: LocalFederation, partition: int, **extra: object) -> ChainSettings:
    node_config = {"partition-id": partition, "fl-node-dev-account-base": FIRST_CLIENT}
    return node_settings(node_config, {**shared_settings(fed), **extra})


def test_the_nodes_of_a_process_share_one_session_and_keep_their_keys(
    fed: LocalFederation,
) -> None:
    sessions = Sessions()
    first, alice = sessions.get(_settings(fed, 0))
    again, alice_again = sessions.get(_settings(fed, 0))
    other, bob = sessions.get(_settings(fed, 1))
    assert first is again is other  # one connection, task config and store for every node
    assert first.api(fed.task_id) is other.api(fed.task_id)
    assert alice is alice_again and alice.address != bob.address
    assert first.api(fed.task_id).params().num_rounds == fed.config.federation.rounds


def test_a_session_is_made_again_when_its_files_change(fed: LocalFederation) -> None:
    sessions = Sessions()
    settings = _settings(fed, 0)
    session, _ = sessions.get(settings)
    stat = fed.deployment_path.stat()
    # a new deployment written to the same file (same size here, a later time)
    os.utime(fed.deployment_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    renewed, _ = sessions.get(settings)
    assert renewed is not session
    assert sessions.get(settings)[0] is renewed


def test_a_key_used_by_another_process_meanwhile_still_sends(fed: LocalFederation) -> None:
    sessions = Sessions()
    settings = _settings(fed, 0)
    session, alice = sessions.get(settings)
    api = session.api(fed.task_id)
    bob = sessions.get(_settings(fed, 1))[1]
    api.base.transfer(alice, bob.address, 1)
    # another process sends from the same key: the chain's nonce moves past this client's
    assert session.client.deployment is not None
    elsewhere = ChainClient(fed.chain.rpc_url, session.client.deployment)
    nonce = elsewhere.w3.eth.get_transaction_count(alice.address)
    FederationApi(elsewhere, fed.task_id).base.transfer(alice, bob.address, 1)
    assert elsewhere.w3.eth.get_transaction_count(alice.address) == nonce + 1
    before = api.base_balance(bob.address)
    again, _ = sessions.get(settings)
    again.api(fed.task_id).base.transfer(alice, bob.address, 1)
    assert api.base_balance(bob.address) == before + 1
    assert again.client.w3.eth.get_transaction_count(alice.address) == nonce + 2


def test_a_copy_unpickled_in_the_process_finds_its_sessions_and_nothing_travels(
    fed: LocalFederation,
) -> None:
    """Ray hands every message a freshly unpickled ClientApp: the copy finds the process's
    sessions (no new connection per message), and the pickle carries none of them."""
    mod = SettleMod({"fl-node-store": "somewhere"})
    session = mod.sessions.get(_settings(fed, 0))[0]
    data = pickle.dumps(mod)
    assert fed.chain.rpc_url.encode() not in data and b"ChainClient" not in data
    copy = pickle.loads(data)  # what Ray does to the ClientApp, for every message
    assert copy.defaults == mod.defaults
    assert copy.sessions is mod.sessions is process_sessions()
    assert copy.sessions.get(_settings(fed, 0))[0] is session


def test_a_process_forked_from_one_with_sessions_makes_its_own(fed: LocalFederation) -> None:
    mine = process_sessions()
    mine.get(_settings(fed, 0))
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: a fresh cache, not the parent's connections
        os.write(write, b"fresh" if process_sessions() is not mine else b"shared")
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 16) == b"fresh"
    assert process_sessions() is mine


def test_synchronous_sends_are_a_setting(fed: LocalFederation) -> None:
    assert _settings(fed, 0).sync_send is False
    for given in (True, "true", "1"):
        settings = _settings(fed, 0, **{"fl-node-sync-send": given})
        assert settings.sync_send is True
        assert Sessions().get(settings)[0].client.sync_send is True
    assert _settings(fed, 0, **{"fl-node-sync-send": "false"}).sync_send is False
    with pytest.raises(ConfigError, match="fl-node-sync-send must be true or false, got 'maybe'"):
        _settings(fed, 0, **{"fl-node-sync-send": "maybe"})


def test_a_missing_deployment_file_is_a_clear_error(fed: LocalFederation, tmp_path: Path) -> None:
    settings = _settings(fed, 0, **{"fl-node-deployment": str(tmp_path / "nowhere.json")})
    with pytest.raises(ConfigError, match=r"no deployment file at .*nowhere\.json"):
        Sessions().get(settings)
