"""ChainClient on a real network's terms: fees, confirmations, dropped transactions, outages,
HTTP errors and a chain without the deployment's contracts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hexbytes import HexBytes

from fl_node.chain.client import ChainClient, RetryPolicy, TxResult, TxReverted, shown_url
from fl_node.chain.deployments import ContractRecord, Deployment
from fl_node.chain.fees import (
    GWEI,
    FeePolicy,
    Fees,
    bumped,
    default_confirmations,
    eip1559_fees,
    legacy_fees,
)
from fl_node.chain.keys import account_from_key
from fl_node.cli import main
from fl_node.errors import ChainError, ConfigError
from fl_node.toolchain.localchain import LocalChain, dev_private_keys
from tests.chain.devtoken import deploy_dev_token
from tests.rpcproxy import RpcProxy, rpc

# -- fee math ---------------------------------------------------------------------------------


def test_max_fee_is_twice_the_base_fee_plus_the_tip() -> None:
    assert eip1559_fees(30 * GWEI, 2 * GWEI) == Fees(max_fee=62 * GWEI, tip=2 * GWEI)
    # five full blocks in a row raise the base fee by at most 1.125**5 < 2: still includable
    assert 30 * GWEI * 1.125**5 + 2 * GWEI < 62 * GWEI


def test_fee_caps_bound_the_max_fee_and_the_tip() -> None:
    policy = FeePolicy.from_gwei(max_fee_gwei=50, priority_fee_gwei=1.5)
    assert policy == FeePolicy(max_fee=50 * GWEI, priority_fee=1_500_000_000)
    assert eip1559_fees(30 * GWEI, 2 * GWEI, policy) == Fees(max_fee=50 * GWEI, tip=1_500_000_000)
    # a cap below the tip lowers the tip too: max fee >= tip always
    tight = FeePolicy(max_fee=GWEI)
    assert eip1559_fees(30 * GWEI, 2 * GWEI, tight) == Fees(max_fee=GWEI, tip=GWEI)
    assert legacy_fees(40 * GWEI, FeePolicy(max_fee=25 * GWEI)) == Fees(gas_price=25 * GWEI)
    assert legacy_fees(20 * GWEI, FeePolicy(max_fee=25 * GWEI)).as_params() == {
        "gasPrice": 20 * GWEI
    }


def test_a_chain_without_base_fee_tips_at_most_two_gwei() -> None:
    assert eip1559_fees(0, 7 * GWEI) == Fees(max_fee=2 * GWEI, tip=2 * GWEI)


@pytest.mark.parametrize(
    ("max_fee", "tip", "message"),
    [
        (0, None, "max fee must be > 0"),
        (-1, None, "max fee must be >= 0"),
        (None, float("nan"), "priority fee must be >= 0"),
        (1, 2, r"priority fee \(2 gwei\) cannot exceed the max fee \(1 gwei\)"),
    ],
)
def test_bad_fee_caps_are_clear_errors(max_fee: Any, tip: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FeePolicy.from_gwei(max_fee, tip)


def test_a_replacement_raises_every_fee_by_an_eighth_within_the_caps() -> None:
    old = Fees(max_fee=80 * GWEI, tip=2 * GWEI)
    fresh = Fees(max_fee=70 * GWEI, tip=GWEI)
    new = bumped(old, fresh)
    assert new == Fees(max_fee=90 * GWEI + 1, tip=2_250_000_001)
    assert new is not None and new.max_fee >= old.max_fee * 1.1 and new.tip >= old.tip * 1.1
    # what the chain asks now wins when it is higher
    assert bumped(old, Fees(max_fee=200 * GWEI, tip=3 * GWEI)) == Fees(200 * GWEI, 3 * GWEI)
    # no room under the caps: no replacement
    assert bumped(old, fresh, FeePolicy(max_fee=85 * GWEI)) is None
    assert bumped(old, fresh, FeePolicy(priority_fee=2 * GWEI)) is None
    assert bumped(Fees(gas_price=8 * GWEI), Fees(gas_price=GWEI)) == Fees(gas_price=9 * GWEI + 1)


def test_confirmations_default_to_none_on_dev_chains_only() -> None:
    assert default_confirmations(31337) == 0
    assert default_confirmations(1337) == 0
    assert default_confirmations(1) == 2
    assert default_confirmations(11155111) == 2
    # a local node under a public chain id (a rehearsal) mines on demand: nothing would come
    assert default_confirmations(11155111, "anvil/v1.7.1") == 0
    assert default_confirmations(1, "Geth/v1.14.0-stable/linux-amd64/go1.22") == 2


# -- reconnecting ------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _failing(times: int, value: int = 7) -> Any:
    left = [times]

    def call() -> int:
        if left[0] > 0:
            left[0] -= 1
            raise requests.exceptions.ConnectionError("Connection refused")
        return value

    return call


def test_a_daemon_waits_out_an_outage_of_any_length_and_logs_it_once() -> None:
    fake, log = FakeTime(), []
    policy = RetryPolicy.forever(log.append, max_delay=10.0)
    policy.sleep, policy.clock = fake.sleep, fake.clock
    assert policy.run("block number", _failing(200)) == 7  # about half an hour of outage
    assert fake.sleeps[:7] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert max(fake.sleeps) == 10.0 and len(fake.sleeps) == 200
    assert len(log) == 2
    assert log[0].startswith("lost the connection to the RPC (block number: ConnectionError")
    assert log[1] == f"the connection to the RPC is back after {fake.now:.0f} s"
    assert policy.run("block number", lambda: 8) == 8 and len(log) == 2  # nothing to say
    policy.run("nonce", _failing(1))  # a second outage is logged again
    assert len(log) == 4 and log[3] == "the connection to the RPC is back after 0 s"


def test_a_one_shot_command_gives_up_with_a_clear_error() -> None:
    fake = FakeTime()
    policy = RetryPolicy(attempts=3, sleep=fake.sleep, clock=fake.clock)
    with pytest.raises(ChainError, match=r"^nonce: the RPC connection keeps failing after 3 "):
        policy.run("nonce", _failing(5))
    assert fake.sleeps == [0.25, 0.5]


def test_urls_are_shown_without_keys() -> None:
    key = "0123456789abcdef0123456789abcdef"
    assert shown_url(f"https://eth-sepolia.g.example.com/v2/{key}") == (
        "https://eth-sepolia.g.example.com/v2/***"
    )
    assert shown_url(f"https://user:secret@rpc.example.org:8545/?apikey={key}") == (
        "https://rpc.example.org:8545/?***"
    )
    assert shown_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"


# -- on a chain --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain() -> Iterator[LocalChain]:
    with LocalChain(accounts=5) as running:
        yield running


@pytest.fixture(scope="module")
def keys() -> list[Any]:
    return [account_from_key(k) for k in dev_private_keys(5)]


@pytest.fixture(scope="module")
def deployment(chain: LocalChain, keys: list[Any]) -> Deployment:
    return deploy_dev_token(chain.rpc_url, keys[0])


@pytest.fixture()
def manual_mining(chain: LocalChain) -> Iterator[None]:
    """Blocks are mined only when the test says so."""
    rpc(chain.rpc_url, "evm_setAutomine", [False])
    try:
        yield
    finally:
        rpc(chain.rpc_url, "evm_mine")
        rpc(chain.rpc_url, "evm_setAutomine", [True])


def _pending(chain: LocalChain) -> int:
    return int(rpc(chain.rpc_url, "txpool_status")["pending"], 16)


def _wait_pending(chain: LocalChain, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while _pending(chain) != count:
        assert time.monotonic() < deadline, f"never {count} pending transaction(s)"
        time.sleep(0.02)


class Background:
    """A send in another thread: its result or its error."""

    def __init__(self, send: Any):
        self.result: TxResult | None = None
        self.error: Exception | None = None

        def run() -> None:
            try:
                self.result = send()
            except Exception as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 60.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the send never returned"


def test_send_returns_only_after_the_confirmations(chain, deployment, keys, manual_mining):  # type: ignore[no-untyped-def]
    assert ChainClient(chain.rpc_url).confirmations == 0  # a dev chain: nothing to wait for
    client = ChainClient(chain.rpc_url, deployment, confirmations=2)
    token = client.contract("DevToken")
    job = Background(lambda: client.send(token.functions.approve(keys[2].address, 11), keys[1]))
    _wait_pending(chain, 1)
    rpc(chain.rpc_url, "evm_mine")
    mined = client.block_number()
    for _ in range(2):
        time.sleep(0.6)
        assert job.thread.is_alive(), "send returned before its confirmations"
        rpc(chain.rpc_url, "evm_mine")
    job.join()
    assert job.error is None and job.result is not None
    assert job.result.block_number == mined
    assert client.block_number() >= mined + 2


def test_a_local_node_under_a_public_chain_id_waits_for_no_confirmations() -> None:
    with LocalChain(chain_id=11155111) as rehearsal:
        assert ChainClient(rehearsal.rpc_url).confirmations == 0  # it mines only on demand
        assert ChainClient(rehearsal.rpc_url, confirmations=3).confirmations == 3


def test_a_dropped_transaction_is_sent_again_with_higher_fees(
    chain, deployment, keys, manual_mining
):  # type: ignore[no-untyped-def]
    client = ChainClient(chain.rpc_url, deployment, receipt_timeout=1.0)
    said: list[str] = []
    client.log = said.append
    token = client.contract("DevToken")
    sender = keys[1].address
    nonce = client.w3.eth.get_transaction_count(sender)
    first = client.fees()
    job = Background(lambda: client.send(token.functions.approve(keys[2].address, 5), keys[1]))
    _wait_pending(chain, 1)
    rpc(chain.rpc_url, "anvil_dropAllTransactions")  # the network lost it
    _wait_pending(chain, 1)  # sent again once the receipt did not come in time
    rpc(chain.rpc_url, "evm_mine")
    job.join()
    assert job.error is None and job.result is not None
    mined = client.w3.eth.get_transaction(HexBytes(job.result.tx_hash))
    assert mined["nonce"] == nonce
    assert mined["maxPriorityFeePerGas"] > first.tip and mined["maxFeePerGas"] > first.max_fee
    assert client.w3.eth.get_transaction_count(sender) == nonce + 1
    assert client.call(token.functions.allowance(sender, keys[2].address)) == 5
    assert len(said) == 1 and f"sent again with nonce {nonce}" in said[0]


def test_a_revert_caused_earlier_in_its_block_is_named(chain, deployment, keys, manual_mining):  # type: ignore[no-untyped-def]
    client = ChainClient(chain.rpc_url, deployment)
    token = client.contract("DevToken")
    holder, other = keys[3], keys[4]
    rpc(chain.rpc_url, "evm_setAutomine", [True])
    client.send(token.functions.mint(holder.address, 10), keys[0])
    rpc(chain.rpc_url, "evm_setAutomine", [False])
    balance = client.call(token.functions.balanceOf(holder.address))
    # Another process of the holder moves everything first, in the same block.
    rival = token.functions.transfer(other.address, balance).build_transaction(
        {
            "from": holder.address,
            "nonce": client.w3.eth.get_transaction_count(holder.address),
            "gas": 100_000,
            "maxFeePerGas": 3 * GWEI,
            "maxPriorityFeePerGas": 3 * GWEI,
            "chainId": client.chain_id,
        }
    )
    client.w3.eth.send_raw_transaction(holder.sign_transaction(rival).raw_transaction)
    job = Background(
        lambda: client.send(token.functions.transfer(other.address, balance), holder, gas=100_000)
    )
    _wait_pending(chain, 2)
    rpc(chain.rpc_url, "evm_mine")
    job.join()
    assert isinstance(job.error, TxReverted)
    assert job.error.error == "ERC20InsufficientBalance"  # not "reverted in block N"


def test_reads_of_an_address_without_code_say_the_chain_was_reset(chain, deployment, keys):  # type: ignore[no-untyped-def]
    gone = Deployment(
        chain_id=deployment.chain_id,
        contracts={"DevToken": ContractRecord(keys[4].address, deployment.abi("DevToken"))},
    )
    client = ChainClient(chain.rpc_url, gone)
    with pytest.raises(ChainError) as exc:
        client.call(client.contract("DevToken").functions.balanceOf(keys[1].address))
    assert str(exc.value) == (
        f"no contract at {keys[4].address} on this chain: the chain was reset or the "
        "deployment file is for another chain; deploy again"
    )


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (401, "401 Unauthorized: check the provider key"),
        (403, "403 Forbidden: check the provider key"),
        (404, "404 Not Found: check the RPC URL and the provider key in it"),
        (501, "501 Not Implemented: check the RPC URL and the provider key in it"),
    ],
)
def test_an_http_error_status_is_a_clear_error_naming_it(chain, status, said):  # type: ignore[no-untyped-def]
    key = "f" * 32
    with RpcProxy(chain.rpc_url) as proxy:
        proxy.status = status
        started = time.monotonic()
        with pytest.raises(ChainError) as exc:
            ChainClient(f"{proxy.url}/v2/{key}")
    assert time.monotonic() - started < 5  # no retries of what no retry fixes
    assert str(exc.value) == f"the RPC at {proxy.url}/v2/*** answered HTTP {said}"
    assert key not in str(exc.value)


def test_a_provider_in_passing_trouble_is_retried(chain):  # type: ignore[no-untyped-def]
    with RpcProxy(chain.rpc_url) as proxy:
        proxy.status = 503
        threading.Timer(0.4, lambda: setattr(proxy, "status", None)).start()
        client = ChainClient(proxy.url, retry=RetryPolicy(attempts=8, first_delay=0.1))
        assert client.chain_id == 31337


def test_the_node_command_prints_the_http_error_without_a_traceback(chain, capsys):  # type: ignore[no-untyped-def]
    with RpcProxy(chain.rpc_url) as proxy:
        proxy.status = 401
        url = f"{proxy.url}/v3/{'a' * 32}"
        argv = ["node", "--rpc", url, "--config", "tiny", "--task", "1", "--index", "0"]
        code = main([*argv, "--dev-account", "3"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (
        f"error: the RPC at {proxy.url}/v3/*** answered HTTP 401 Unauthorized: check the "
        "provider key"
    )
