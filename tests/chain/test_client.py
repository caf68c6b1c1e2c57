"""ChainClient: connection checks, robust sending, revert decoding, event polling."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector
from hexbytes import HexBytes
from web3.exceptions import Web3RPCError

from fl_node.chain.client import SYNC_SEND, ChainClient, RetryPolicy, TxReverted, http_session
from fl_node.chain.deploy import load_artifact
from fl_node.chain.deployments import Deployment
from fl_node.chain.events import Checkpoint, EventLog
from fl_node.chain.keys import account_from_key, load_account, write_key_file
from fl_node.errors import ChainError, ConfigError
from fl_node.toolchain.localchain import LocalChain, dev_private_keys, free_port, project_root
from tests.chain.devtoken import deploy_dev_token

WAD = 10**18


@pytest.fixture(scope="module")
def chain():
    with LocalChain(accounts=4) as running:
        yield running


@pytest.fixture(scope="module")
def keys():
    return [account_from_key(k) for k in dev_private_keys(4)]


@pytest.fixture(scope="module")
def deployment(chain, keys):
    return deploy_dev_token(chain.rpc_url, keys[0])


@pytest.fixture()
def client(chain, deployment):
    return ChainClient(chain.rpc_url, deployment)


def test_unreachable_rpc_is_a_clear_error():
    with pytest.raises(ChainError, match="cannot reach the chain"):
        ChainClient(
            f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(attempts=2, first_delay=0.01)
        )


def test_wrong_chain_id_is_refused(chain, deployment):
    other = Deployment(chain_id=11155111, contracts=deployment.contracts)
    with pytest.raises(ChainError, match=r"wrong chain: .* chain id 31337 .* chain id 11155111"):
        ChainClient(chain.rpc_url, other)


def test_send_records_gas_and_changes_state(client, keys):
    token = client.contract("DevToken")
    result = client.send(token.functions.mint(keys[1].address, 7 * WAD), keys[0])
    assert result.gas_used > 21_000
    assert client.gas.by_action["DevToken.mint"] == [result.gas_used]
    assert client.call(token.functions.balanceOf(keys[1].address)) >= 7 * WAD


def test_eth_transfers_pay_gas_money(client, keys):
    fresh = Account.create().address
    result = client.transfer_eth(keys[0], fresh, 12345)
    assert result.gas_used == 21_000 and result.action == "ETH transfer"
    assert client.balance_eth(fresh) == 12345


def test_a_node_that_refuses_batches_is_asked_one_request_at_a_time(client, keys, monkeypatch):
    def refuse(action, asks):
        raise Web3RPCError("batch refused: {'code': -32600}")

    monkeypatch.setattr(client, "batch", refuse)
    token = client.contract("DevToken")
    before = client.call(token.functions.balanceOf(keys[1].address))
    result = client.send(token.functions.mint(keys[1].address, 3), keys[0])
    assert result.gas_used > 21_000
    assert client.call(token.functions.balanceOf(keys[1].address)) == before + 3
    with pytest.raises(TxReverted, match="AccessControlUnauthorizedAccount"):
        client.send(token.functions.mint(keys[2].address, 1), keys[2])


def test_custom_errors_are_decoded_by_name_and_arguments(client, keys):
    token = client.contract("DevToken")
    with pytest.raises(TxReverted) as exc:
        client.send(token.functions.mint(keys[2].address, 1), keys[2])
    assert exc.value.error == "AccessControlUnauthorizedAccount"
    assert exc.value.args_[0].lower() == keys[2].address.lower()
    assert "DevToken.mint reverted: AccessControlUnauthorizedAccount(" in str(exc.value)


def test_erc20_errors_are_decoded(client, keys):
    token = client.contract("DevToken")
    with pytest.raises(TxReverted) as exc:
        client.send(token.functions.transfer(keys[0].address, 10**30), keys[3])
    assert exc.value.error == "ERC20InsufficientBalance"
    assert exc.value.args_[2] == 10**30


def test_a_sender_without_eth_gets_a_clear_error(client, keys):
    broke = Account.create()
    token = client.contract("DevToken")
    with pytest.raises(ChainError, match="too little ETH"):
        client.send(token.functions.approve(keys[0].address, 1), broke, gas=60_000)


def test_nonce_recovers_when_another_process_used_the_same_key(chain, deployment, keys):
    first = ChainClient(chain.rpc_url, deployment)
    second = ChainClient(chain.rpc_url, deployment)
    token_a, token_b = first.contract("DevToken"), second.contract("DevToken")
    first.send(token_a.functions.approve(keys[1].address, 1), keys[3])
    second.send(token_b.functions.approve(keys[1].address, 2), keys[3])  # nonce moved under first
    first.send(token_a.functions.approve(keys[1].address, 3), keys[3])
    assert first.call(token_a.functions.allowance(keys[3].address, keys[1].address)) == 3


class FlakyProxy:
    """An HTTP proxy to the chain that drops the connection of chosen JSON-RPC methods.

    ``forward_first`` methods reach the chain before the answer is lost (the node got the
    transaction, the sender never heard back): the worst case for double-sending.
    """

    def __init__(self, upstream: str, failures: dict[str, int], forward_first: set[str]):
        self.failures = failures
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                method = request.get("method") if isinstance(request, dict) else None  # a batch
                if proxy.failures.get(method, 0) > 0:
                    proxy.failures[method] -= 1
                    if method in forward_first:
                        urllib.request.urlopen(
                            urllib.request.Request(
                                upstream, body, {"Content-Type": "application/json"}
                            )
                        )
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                with urllib.request.urlopen(
                    urllib.request.Request(upstream, body, {"Content-Type": "application/json"})
                ) as resp:
                    reply = resp.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_dropped_connections_are_retried_without_double_sending(chain, deployment, keys):
    failures = {"eth_sendRawTransaction": 2, "eth_getTransactionReceipt": 2}
    proxy = FlakyProxy(chain.rpc_url, failures, forward_first={"eth_sendRawTransaction"})
    try:
        client = ChainClient(proxy.url, deployment, retry=RetryPolicy(attempts=5, first_delay=0.01))
        token = client.contract("DevToken")
        nonce_before = client.w3.eth.get_transaction_count(keys[0].address)
        client.send(token.functions.mint(keys[2].address, 5), keys[0])
        assert client.w3.eth.get_transaction_count(keys[0].address) == nonce_before + 1
        assert failures == {"eth_sendRawTransaction": 0, "eth_getTransactionReceipt": 0}
    finally:
        proxy.close()


def test_a_synchronous_send_whose_answer_is_lost_is_retried_without_double_sending(
    chain, deployment, keys
):
    failures = {SYNC_SEND: 2}
    proxy = FlakyProxy(chain.rpc_url, failures, forward_first={SYNC_SEND})
    try:
        client = ChainClient(proxy.url, deployment, retry=RetryPolicy(attempts=5, first_delay=0.01))
        client.sync_send = True
        token = client.contract("DevToken")
        nonce_before = client.w3.eth.get_transaction_count(keys[0].address)
        balance = client.call(token.functions.balanceOf(keys[2].address))
        result = client.send(token.functions.mint(keys[2].address, 5), keys[0])
        assert failures == {SYNC_SEND: 0}  # the node got it twice; the answer was lost twice
        assert client.w3.eth.get_transaction_count(keys[0].address) == nonce_before + 1
        assert client.call(token.functions.balanceOf(keys[2].address)) == balance + 5
        assert result.receipt["status"] == 1
    finally:
        proxy.close()


def test_a_connection_that_never_comes_back_is_a_clear_error(chain, deployment, keys):
    proxy = FlakyProxy(chain.rpc_url, {"eth_sendRawTransaction": 99}, forward_first=set())
    try:
        client = ChainClient(proxy.url, deployment, retry=RetryPolicy(attempts=3, first_delay=0.01))
        with pytest.raises(ChainError, match="keeps failing after 3 attempts"):
            client.send(client.contract("DevToken").functions.approve(keys[1].address, 1), keys[0])
    finally:
        proxy.close()


def test_events_are_polled_in_order_and_a_checkpoint_resumes(client, keys, tmp_path: Path):
    token = client.contract("DevToken")
    start = client.block_number() + 1
    for amount in (1, 2, 3):
        client.send(token.functions.mint(keys[1].address, amount), keys[0])
    log = EventLog(client, ["DevToken"], chunk=1)
    events = log.fetch(start, client.block_number(), names=["Transfer"])
    assert [e.args["value"] for e in events] == [1, 2, 3]
    assert all(e.contract == "DevToken" and e.name == "Transfer" for e in events)

    cp = Checkpoint(tmp_path / "cp.json")
    cp.set("block", events[1].block_number)
    resumed = Checkpoint(tmp_path / "cp.json")
    later = log.fetch(resumed.get("block") + 1, client.block_number(), names=["Transfer"])
    assert [e.args["value"] for e in later] == [3]


def test_a_checkpoint_is_written_only_when_it_changes(tmp_path: Path, monkeypatch):
    cp = Checkpoint(tmp_path / "cp.json")
    writes: list[dict] = []
    monkeypatch.setattr(cp, "_flush", lambda: writes.append(dict(cp._data)))
    cp.set("claimed", [1, 2])
    cp.set("claimed", [1, 2])
    cp.update({"claimed": [1, 2]})
    cp.update({"claimed": [1, 2], "block": 7})
    assert writes == [{"claimed": [1, 2]}, {"claimed": [1, 2], "block": 7}]


def test_views_decode_as_web3s_own_call(client, keys):
    token = client.contract("DevToken")
    role = client.call(token.functions.MINTER_ROLE())
    views = [
        token.functions.name(),
        token.functions.decimals(),
        token.functions.balanceOf(keys[0].address),
        token.functions.hasRole(role, keys[0].address),
        token.functions.hasRole("0x" + bytes(role).hex(), keys[0].address),  # web3 encodes this
        token.functions.getRoleAdmin(role),
    ]
    for fn in views:
        assert client.call(fn) == fn.call(), fn.fn_name
        assert client.call(fn, 1) == fn.call(block_identifier=1), fn.fn_name
    assert client.call(token.functions.hasRole(role, keys[0].address)) is True


def test_a_revert_in_a_batch_is_named_and_a_refused_batch_is_read_one_by_one(
    client, keys, monkeypatch
):
    token = client.contract("DevToken")
    selector = function_signature_to_4byte_selector(
        "AccessControlUnauthorizedAccount(address,bytes32)"
    )
    data = "0x" + (selector + encode(["address", "bytes32"], [keys[2].address, b"\x01" * 32])).hex()
    answers = [
        {"jsonrpc": "2.0", "id": 0, "result": "0x" + encode(["uint8"], [18]).hex()},
        {
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": 3, "message": "execution reverted", "data": data},
        },
    ]
    monkeypatch.setattr(client.provider, "post", lambda body: json.dumps(answers).encode())
    views = [token.functions.decimals(), token.functions.name()]
    with pytest.raises(TxReverted) as exc:
        client.call_many(views)
    assert exc.value.error == "AccessControlUnauthorizedAccount"
    assert exc.value.action == "DevToken.name"
    # an error answer in the batch, or a node that refuses batches: read one by one
    answers[1] = {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": -32000, "message": "header not found"},
    }
    assert client.call_many(views) == [18, "Dev"]
    monkeypatch.setattr(client.provider, "post", lambda body: b'{"error": {"code": -32600}}')
    assert client.call_many(views) == [18, "Dev"]
    assert client.call_many_timed(views) == ([18, "Dev"], client.timestamp())


def test_a_view_of_an_address_without_code_is_a_clear_error(client, deployment):
    ghost = client.contract("DevToken", "0x" + "42" * 20)
    with pytest.raises(ChainError, match="no contract at 0x4242"):
        client.call(ghost.functions.decimals())


def test_the_rpc_session_reads_proxies_from_the_environment_once(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    session = http_session("https://rpc.example/v3/key")
    assert session.proxies.get("https") == "http://proxy.example:3128"
    assert session.trust_env is False  # requests does not scan the environment per request
    assert not http_session("http://localhost:8545").proxies


def test_corrupt_checkpoint_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "cp.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="corrupt"):
        Checkpoint(path)


def test_keys_from_file_and_environment(tmp_path: Path, monkeypatch):
    key = dev_private_keys(1)[0]
    path = write_key_file(tmp_path / "node.key", key)
    assert path.stat().st_mode & 0o077 == 0
    assert load_account(key_file=path).key.hex().endswith(key[2:])
    monkeypatch.setenv("FL_NODE_KEY", key[2:])
    assert load_account().address == account_from_key(key).address
    monkeypatch.delenv("FL_NODE_KEY")
    with pytest.raises(ConfigError, match="no signing key"):
        load_account()
    with pytest.raises(ConfigError, match="not a private key"):
        account_from_key("0x1234")
    with pytest.raises(ConfigError, match="does not exist"):
        load_account(key_file=tmp_path / "missing.key")


def test_deployment_file_round_trip_and_errors(tmp_path: Path, deployment):
    path = deployment.save(tmp_path / "d.json")
    loaded = Deployment.load(path)
    assert loaded.address("DevToken") == deployment.address("DevToken")
    with pytest.raises(ConfigError, match="not in the deployment"):
        loaded.address("Federation")
    with pytest.raises(ConfigError, match="no deployment file"):
        Deployment.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"chainId": 1}')
    with pytest.raises(ConfigError, match="not a valid deployment file"):
        Deployment.load(tmp_path / "bad.json")


# -- the synchronous send (eth_sendRawTransactionSync) -------------------------------------------


class _Requests:
    """Counts a client's JSON-RPC requests by method (on the wire, whichever path sent them),
    and can answer a method with an error."""

    def __init__(self, client: ChainClient, monkeypatch: pytest.MonkeyPatch):
        self.counts: dict[str, int] = {}
        self.errors: dict[str, dict[str, Any]] = {}
        self.forward: set[str] = set()  # methods whose transaction reaches the chain anyway
        provider = client.provider
        post = provider._make_request

        def request(method: Any, body: bytes) -> bytes:
            asked = json.loads(body)
            for one in asked if isinstance(asked, list) else [asked]:
                self.counts[one["method"]] = self.counts.get(one["method"], 0) + 1
            name = asked.get("method") if isinstance(asked, dict) else None
            if name in self.errors:
                if name in self.forward:
                    plain = {**asked, "method": "eth_sendRawTransaction"}
                    post("eth_sendRawTransaction", json.dumps(plain).encode())
                answer = {"jsonrpc": "2.0", "id": asked["id"], "error": self.errors[name]}
                return json.dumps(answer).encode()
            return post(method, body)

        monkeypatch.setattr(provider, "_make_request", request)


def test_a_synchronous_send_returns_the_receipt_web3_would_read(client, keys, monkeypatch):
    token = client.contract("DevToken")
    client.sync_send = True
    seen = _Requests(client, monkeypatch)
    result = client.send(token.functions.mint(keys[1].address, 9), keys[0])
    assert seen.counts.get(SYNC_SEND) == 1
    assert "eth_sendRawTransaction" not in seen.counts
    assert "eth_getTransactionReceipt" not in seen.counts  # it came with the send
    monkeypatch.undo()
    assert result.receipt == client.w3.eth.get_transaction_receipt(HexBytes(result.tx_hash))
    assert result.receipt["logs"] and result.receipt["status"] == 1  # a Transfer, decoded alike
    transfer = token.events.Transfer().process_receipt(result.receipt)[0]
    assert transfer["args"]["value"] == 9
    with pytest.raises(TxReverted, match="AccessControlUnauthorizedAccount"):
        client.send(token.functions.mint(keys[2].address, 1), keys[2])


def test_a_synchronous_deployment_names_its_contract_address(chain, keys):
    art = load_artifact(project_root() / "build", "DevToken")
    client = ChainClient(chain.rpc_url)
    client.sync_send = True
    factory = client.w3.eth.contract(abi=art["abi"], bytecode=HexBytes(art["bytecode"]))
    owner = keys[0].address
    result = client.send(factory.constructor("S", "S", 18, owner, owner), keys[0], label="deploy")
    assert result.receipt == client.w3.eth.get_transaction_receipt(HexBytes(result.tx_hash))
    assert result.receipt["contractAddress"] is not None


def test_a_node_without_the_synchronous_send_is_sent_to_and_polled(client, keys, monkeypatch):
    token = client.contract("DevToken")
    client.sync_send = True
    seen = _Requests(client, monkeypatch)
    seen.errors[SYNC_SEND] = {"code": -32601, "message": "Method not found"}
    client.send(token.functions.mint(keys[1].address, 1), keys[0])
    client.send(token.functions.mint(keys[1].address, 1), keys[0])
    assert seen.counts[SYNC_SEND] == 1  # asked once, then never again
    assert seen.counts["eth_sendRawTransaction"] == 2 and not client.sync_send


def test_a_synchronous_send_not_mined_in_the_node_s_wait_is_polled_for(client, keys, monkeypatch):
    token = client.contract("DevToken")
    client.sync_send = True
    seen = _Requests(client, monkeypatch)
    seen.errors[SYNC_SEND] = {"code": -32603, "message": "Transaction confirmation timeout"}
    seen.forward.add(SYNC_SEND)  # the node has the transaction; it was not mined in its wait
    before = client.call(token.functions.balanceOf(keys[1].address))
    result = client.send(token.functions.mint(keys[1].address, 4), keys[0])
    assert seen.counts["eth_getTransactionReceipt"] >= 1 and client.sync_send
    assert result.gas_used > 21_000
    assert client.call(token.functions.balanceOf(keys[1].address)) == before + 4


def test_a_synchronous_send_the_node_refuses_is_a_clear_error(client, keys, monkeypatch):
    broke = Account.create()
    client.sync_send = True
    seen = _Requests(client, monkeypatch)
    seen.errors[SYNC_SEND] = {"code": -32003, "message": "insufficient funds for gas * price"}
    token = client.contract("DevToken")
    with pytest.raises(ChainError, match="too little ETH"):
        client.send(token.functions.approve(keys[0].address, 1), broke, gas=60_000)


class _SlowProducer:
    """A block producer that mines a block when asked, after a pause that is not the sender's
    time (other threads would run meanwhile)."""

    def __init__(self, client: ChainClient, pause: float = 0.0):
        self.client, self.pause, self.waits = client, pause, 0

    def takes_next_send(self) -> bool:
        self.client.request("evm_setAutomine", [False])
        return True

    def wait_mined(self, tx_hash: str) -> None:
        self.waits += 1
        time.sleep(self.pause)
        self.client.request("evm_mine")

    def block_epoch(self) -> None:
        return None

    def gather(self, asks: object) -> None:
        return None


def _mint_under(client: ChainClient, keys: list, producer: Any) -> tuple[Any, float]:
    """A mint sent under ``producer``; its result and the transaction seconds it added."""
    token = client.contract("DevToken")
    client.block_producer = producer
    try:
        before = client.tx_seconds
        result = client.send(token.functions.mint(keys[1].address, 5), keys[0])
        return result, client.tx_seconds - before
    finally:
        client.block_producer = None


def test_under_a_block_producer_a_send_waits_for_its_block_and_returns_its_receipt(
    client, keys, monkeypatch
):
    producer = _SlowProducer(client, pause=0.3)
    seen = _Requests(client, monkeypatch)
    try:
        result, spent = _mint_under(client, keys, producer)
    finally:
        client.request("evm_setAutomine", [True])
    assert producer.waits == 1
    assert SYNC_SEND not in seen.counts and seen.counts["eth_sendRawTransaction"] == 1
    assert result.receipt["status"] == 1 and result.block_number == client.block_number()
    assert spent < 0.3  # the wait for the producer's block is not the sender's time
    monkeypatch.undo()
    assert result.receipt == client.w3.eth.get_transaction_receipt(HexBytes(result.tx_hash))


@dataclass
class _Epochs:
    """A block producer whose latest block changes only when the test says so."""

    epoch: int | None = 0

    def block_epoch(self) -> int | None:
        return self.epoch

    def gather(self, asks: object) -> None:
        return None


def test_reads_of_one_latest_block_are_asked_once_under_a_block_producer(client, keys, monkeypatch):
    token = client.contract("DevToken")
    shared = [token.functions.name(), token.functions.decimals()]
    mine = token.functions.balanceOf(keys[1].address)
    theirs = token.functions.balanceOf(keys[2].address)
    expected = [client.call(fn) for fn in (*shared, mine, theirs)]
    epochs = _Epochs()
    client.block_producer = epochs
    seen = _Requests(client, monkeypatch)
    try:
        first = client.call_many_timed([*shared, mine])
        assert seen.counts == {"eth_call": 3, "eth_getBlockByNumber": 1}
        # another simulated client in the same epoch: only what it alone reads is asked
        second = client.call_many_timed([*shared, theirs])
        assert seen.counts == {"eth_call": 4, "eth_getBlockByNumber": 1}
        assert client.call_many([*shared, mine]) == expected[:3]  # all known: nothing asked
        assert seen.counts == {"eth_call": 4, "eth_getBlockByNumber": 1}
        client.call_many(shared, block=1)  # another block than the latest: asked
        assert seen.counts["eth_call"] == 6
        epochs.epoch = 1  # a block was mined: everything is asked again
        client.call_many_timed([*shared, mine])
        assert seen.counts == {"eth_call": 9, "eth_getBlockByNumber": 2}
        epochs.epoch = None  # a thread the producer does not schedule: never from memory
        client.call_many_timed([*shared, mine])
        assert seen.counts == {"eth_call": 12, "eth_getBlockByNumber": 3}
    finally:
        client.block_producer = None
    assert first[0] == expected[:3] and second[0] == [*expected[:2], expected[3]]
    assert first[1] == second[1] == client.timestamp()


@dataclass
class _Gathering:
    """A block producer that gathers the reads of the threads it schedules: it records what
    each gather asked and answers through the client's batch, after ``pause`` seconds (the
    other threads' turns)."""

    client: ChainClient
    pause: float = 0.0
    asked: list[list[str]] = field(default_factory=list)

    def takes_next_send(self) -> bool:
        return False  # the chain mines sends by itself

    def wait_mined(self, tx_hash: str) -> None:
        raise AssertionError("not a producer of blocks")

    def block_epoch(self) -> None:
        return None

    def gather(self, asks: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        self.asked.append([method for method, _ in asks])
        time.sleep(self.pause)
        return self.client.answers(asks)


def test_reads_of_a_scheduled_thread_are_gathered_by_its_producer(client, keys) -> None:
    token = client.contract("DevToken")
    views = [token.functions.name(), token.functions.balanceOf(keys[1].address)]
    expected = ([client.call(views[0])], client.call_many(views), client.block_number())
    producer = _Gathering(client)
    client.block_producer = producer
    try:
        got = ([client.call(views[0])], client.call_many(views), client.block_number())
        number = int(client.request("eth_blockNumber"), 16)  # asked at once, not gathered
    finally:
        client.block_producer = None
    assert got == expected and number == expected[2]
    assert producer.asked == [["eth_call"], ["eth_call", "eth_call"], ["eth_blockNumber"]]


def test_waiting_for_gathered_reads_is_not_a_sends_time(client, keys) -> None:
    producer = _Gathering(client, pause=0.3)
    result, spent = _mint_under(client, keys, producer)
    assert result.receipt["status"] == 1
    assert producer.asked  # the send's gas and fees were read through the producer
    assert spent < 0.3 * len(producer.asked)


def test_a_batch_the_node_refuses_as_a_whole_is_an_error_of_its_answers(client, monkeypatch):
    monkeypatch.setattr(
        client.provider, "post", lambda body: json.dumps({"error": "no batches here"}).encode()
    )
    with pytest.raises(Web3RPCError, match="batch refused: no batches here"):
        client.answers([("eth_blockNumber", []), ("eth_chainId", [])])


# -- gas: a call of a known shape is checked at its last limit, not estimated again ---------------
def _gas_of(client: ChainClient, tx_hash: str) -> int:
    return int(client.w3.eth.get_transaction(HexBytes(tx_hash))["gas"])


def test_a_call_of_a_known_shape_runs_once_at_its_last_limit_instead_of_an_estimate(
    client, keys, monkeypatch
):
    token = client.contract("DevToken")
    first = client.send(token.functions.mint(keys[1].address, 3), keys[0])
    seen = _Requests(client, monkeypatch)
    second = client.send(token.functions.mint(keys[2].address, 4), keys[0])  # the same shape
    assert "eth_estimateGas" not in seen.counts and seen.counts.get("eth_call") == 1
    assert second.receipt["status"] == 1
    assert _gas_of(client, second.tx_hash) == _gas_of(client, first.tx_hash)


def test_a_limit_the_call_no_longer_fits_in_is_estimated_again(client, keys, monkeypatch):
    from fl_node.chain.client import _shape

    token = client.contract("DevToken")
    fn = token.functions.mint(keys[3].address, 5)
    call = {"to": token.address, "data": client._call_data(fn)}
    client._gas_hints[_shape(call)] = 22_000  # too little for a mint
    seen = _Requests(client, monkeypatch)
    result = client.send(fn, keys[0])
    assert seen.counts.get("eth_call") == 1 and seen.counts.get("eth_estimateGas") == 1
    assert result.receipt["status"] == 1 and _gas_of(client, result.tx_hash) > 22_000
    assert client._gas_hints[_shape(call)] == _gas_of(client, result.tx_hash)  # the new limit


def test_a_call_of_a_known_shape_that_reverts_is_refused_with_its_error_unsent(
    client, keys, monkeypatch
):
    token = client.contract("DevToken")
    client.send(token.functions.mint(keys[1].address, 3), keys[0])  # the shape's limit is known
    seen = _Requests(client, monkeypatch)
    with pytest.raises(TxReverted, match="AccessControlUnauthorizedAccount"):
        client.send(token.functions.mint(keys[1].address, 3), keys[3])  # not a minter
    assert seen.counts.get("eth_estimateGas") == 1  # the estimate names the error
    assert "eth_sendRawTransaction" not in seen.counts and SYNC_SEND not in seen.counts


def test_the_in_process_runtimes_clock_reads_and_moves_the_chain_over_the_clients_connection(
    client, monkeypatch
):
    from fl_node.simulation.localfed import ClientClock

    clock = ClientClock(client)
    seen = _Requests(client, monkeypatch)
    start, stamp = clock.block(), client.timestamp()
    clock.advance(100)
    assert clock.block() == start + 1 and client.timestamp() >= stamp + 100
    assert seen.counts["eth_blockNumber"] == 2 and seen.counts["evm_increaseTime"] == 1
