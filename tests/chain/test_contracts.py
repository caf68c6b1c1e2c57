"""Typed contract bindings against a real chain: the suite deployed on Anvil with a USDC-like
6-decimal dev base token, views decoded by output name, one allowance helper that approves only
when short, and every Federation event decoded through web3's public API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import event_abi_to_log_topic, keccak, to_checksum_address
from hexbytes import HexBytes

import fl_node
from fl_node.chain.client import ChainClient
from fl_node.chain.contracts import (
    MAX_UINT,
    BaseToken,
    Budget,
    ClientPool,
    ClientRegistry,
    Reserves,
    StakeRecord,
    StakeVault,
    batch_call,
    named_outputs,
    view_of,
)
from fl_node.chain.deploy import SuiteConfig, deploy_suite
from fl_node.chain.deployments import Deployment
from fl_node.chain.events import Checkpoint, EventLog
from fl_node.chain.keys import account_from_key
from fl_node.errors import ChainError, ConfigError
from fl_node.federation import protocol
from fl_node.federation.protocol import (
    FederationApi,
    RoundOpenings,
    TaskParams,
    commit_salt,
    commitment_hash,
)
from fl_node.federation.sponsor import base_decimals
from fl_node.toolchain.build import compile_contracts
from fl_node.toolchain.localchain import LocalChain, dev_private_keys, rpc_call

DECIMALS = 6
UNIT = 10**DECIMALS
WAD = 10**18  # fixed point of the payout cap, not a base amount
BLOCKS_BEFORE_DEPLOY = 20


@dataclass
class Suite:
    client: ChainClient
    deployment: Deployment
    accounts: list[LocalAccount]

    @property
    def deployer(self) -> LocalAccount:
        return self.accounts[0]


@pytest.fixture(scope="module")
def suite():  # type: ignore[no-untyped-def]
    build = compile_contracts()
    keys = [account_from_key(k) for k in dev_private_keys(8)]
    with LocalChain(accounts=8) as chain:
        # History before the deployment: nothing of the suite can be there.
        rpc_call(chain.rpc_url, "anvil_mine", [hex(BLOCKS_BEFORE_DEPLOY)])
        deployment = deploy_suite(
            ChainClient(chain.rpc_url), keys[0], build, SuiteConfig(base_decimals=DECIMALS)
        )
        client = ChainClient(chain.rpc_url, deployment)
        base = BaseToken(client)
        for account in keys[1:]:
            base.mint(keys[0], account.address, base.units(10_000))
        yield Suite(client, deployment, keys)


def _params(aggregator: str) -> TaskParams:
    unit = UNIT
    return TaskParams(
        model_spec_hash=keccak(text="model"),
        validation_spec_hash=keccak(text="validation"),
        config_hash=keccak(text="config"),
        initial_model_hash=keccak(text="initial"),
        aggregator=aggregator,
        commit_window=600,
        reveal_window=60,
        post_timeout=300,
        challenge_window=1,
        arbiter_timeout=3_600,
        claim_window=86_400,
        min_clients=2,
        max_clients=2,
        num_rounds=2,
        allowlist=False,
        mode=0,
        stake_min=10 * unit,
        join_bond=10 * unit,
        aggregator_bond=100 * unit,
        challenge_bond=100 * unit,
        reward_per_round=100 * unit,
        payout_threshold=1_000 * unit,
        payout_cap=WAD // 20,
        grief_ratio=0,
        grief_cap=0,
    )


def test_the_lending_contract_is_deployed_with_the_suite_and_owned_by_the_timelock(
    suite: Suite,
) -> None:
    lending = suite.client.contract("TokenLending").functions
    timelock = suite.deployment.roles["governor"]
    assert lending.owner().call() == timelock == suite.deployment.address("Timelock")
    assert lending.asset().call() == suite.deployment.address("DevToken")
    config = SuiteConfig()
    assert lending.twapWindow().call() == config.lending_twap_window
    assert lending.closeFactorBps().call() == config.lending_close_factor_bps
    assert lending.liquidationBonusBps().call() == config.lending_bonus_bps
    base, slope1, slope2, kink = config.lending_rates
    assert (lending.baseRate().call(), lending.slope1().call()) == (base, slope1)
    assert (lending.slope2().call(), lending.kink().call()) == (slope2, kink)
    # No market is open until the timelock lists one: borrowing power is zero everywhere.
    assert lending.totalAssets().call() == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lending_twap_window": 60}, "lending_twap_window must be between 300 s and 1 day"),
        ({"lending_close_factor_bps": 500}, "lending_close_factor_bps must be between"),
        ({"lending_bonus_bps": 2_500}, "lending_bonus_bps must be between 0 and 2000"),
    ],
)
def test_bad_lending_parameters_are_refused_before_any_transaction(
    change: dict[str, int], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        SuiteConfig(**change).validate()


def test_the_base_token_reads_its_own_decimals(suite: Suite) -> None:
    base = BaseToken(suite.client)
    assert base.name == "DevToken" and base.mintable
    assert base.decimals == DECIMALS and base.unit == UNIT
    assert base.units("1.5") == 1_500_000
    assert base.units(10_000) == 10_000 * UNIT
    assert base.format(1_500_000) == "1.5"
    assert base.whole(2_500_000) == 2.5
    assert base.balance_of(suite.accounts[1].address) == 10_000 * UNIT
    assert base.total_supply() == 7 * 10_000 * UNIT
    assert FederationApi(suite.client).decimals == DECIMALS
    assert base_decimals(suite.client) == DECIMALS
    assert StakeVault(suite.client).base.decimals == DECIMALS


def test_the_allowance_helper_approves_only_when_short(suite: Suite) -> None:
    client, owner = suite.client, suite.accounts[6]
    spender = suite.accounts[7].address
    base = BaseToken(client)
    assert base.ensure_allowance(owner, spender, 0) is None
    first = base.ensure_allowance(owner, spender, 5 * UNIT)
    assert first is not None and first.action == "DevToken.approve"
    assert base.allowance(owner.address, spender) == 5 * UNIT  # exactly what was asked
    nonce = client.w3.eth.get_transaction_count(owner.address)
    assert base.ensure_allowance(owner, spender, 3 * UNIT) is None
    assert base.ensure_allowance(owner, spender, 5 * UNIT) is None
    assert client.w3.eth.get_transaction_count(owner.address) == nonce  # no transaction sent
    assert base.ensure_allowance(owner, spender, 6 * UNIT) is not None
    assert base.allowance(owner.address, spender) == 6 * UNIT
    # An account that trades often approves once, for good.
    assert base.ensure_allowance(owner, spender, 7 * UNIT, approve=MAX_UINT) is not None
    assert base.allowance(owner.address, spender) == MAX_UINT
    # The Federation's binding goes through the same helper.
    api = FederationApi(client)
    nonce = client.w3.eth.get_transaction_count(owner.address)
    api.ensure_allowance(owner, spender, 10**30)
    assert client.w3.eth.get_transaction_count(owner.address) == nonce


def test_the_vault_decodes_stake_records_by_name(suite: Suite) -> None:
    client, who = suite.client, suite.accounts[3]
    vault = StakeVault(client)
    assert vault.stake_of(who.address) == StakeRecord(0, 0, 0, 0)
    vault.deposit(who, 100 * UNIT)  # approves the vault for exactly what is short, then stakes
    assert vault.base.allowance(who.address, vault.address) == 0
    vault.request_withdrawal(who, 30 * UNIT)
    record = vault.stake_of(who.address)
    assert isinstance(record, StakeRecord)
    assert (record.balance, record.locked, record.pending) == (100 * UNIT, 0, 30 * UNIT)
    assert record.unlock_time >= client.timestamp()  # the countdown of the withdrawal delay
    assert record.free == vault.free_stake(who.address) == 70 * UNIT
    # One JSON-RPC batch, each result decoded like the method's.
    stake, wallet = batch_call(
        client, [vault.read_stake_of(who.address), vault.base.read_balance_of(who.address)]
    )
    assert stake == record
    assert wallet == 9_900 * UNIT
    vault.cancel_withdrawal(who)
    assert vault.stake_of(who.address) == StakeRecord(100 * UNIT, 0, 0, 0)


def test_a_batch_reads_over_one_connection(suite: Suite) -> None:
    other = ChainClient(suite.client.rpc_url, suite.deployment)
    mine, theirs = BaseToken(suite.client), BaseToken(other)
    assert batch_call(suite.client, []) == []
    with pytest.raises(ConfigError, match="one connection"):
        batch_call(suite.client, [mine.read_total_supply(), theirs.read_total_supply()])
    supply, symbol, decimals = batch_call(
        other, [theirs.read_total_supply(), theirs.read_symbol(), theirs.read_decimals()]
    )
    assert (supply, symbol, decimals) == (mine.total_supply(), "dUSD", DECIMALS)


def test_a_client_market_through_the_registry_and_its_pool(suite: Suite) -> None:
    client, who, trader = suite.client, suite.accounts[5], suite.accounts[7]
    registry = ClientRegistry(client)
    base = registry.base
    assert not registry.is_registered(who.address)
    assert registry.token_of(who.address) is None and registry.pool(who.address) is None
    tokens, seeded = 1_000 * 10**18, 200 * UNIT
    registry.register_with_offering(who, "Client Five", "CFIVE", tokens, seeded)
    assert registry.is_registered(who.address)
    assert base.allowance(who.address, registry.address) == 0  # approved exactly, all used
    pool, token = registry.pool(who.address), registry.token(who.address)
    assert pool is not None and token is not None
    assert token.symbol() == "CFIVE" and token.decimals == 18
    reserves = pool.reserves()
    assert reserves == Reserves(token=tokens, base=seeded) and reserves.listed
    assert pool.price() == seeded * ClientPool.PRICE_SCALE // tokens
    assert registry.fee_bps() == 30
    # A trade: approve the pool through the helper, swap at the quote.
    spend = 10 * UNIT
    base.ensure_allowance(trader, pool.address, spend)
    quote = pool.quote_base_for_tokens(spend)
    assert quote > 0
    pool.swap_exact_base_for_tokens(trader, spend, quote, trader.address, client.timestamp() + 600)
    assert token.balance_of(trader.address) == quote
    assert pool.reserves() == Reserves(token=tokens - quote, base=seeded + spend)
    assert pool.quote_tokens_for_base(quote) < spend  # the fee, both ways
    assert token.dividend_of(trader.address) == 0


@dataclass
class Task:
    task_id: int
    params: TaskParams
    opened_block: int
    committer: LocalAccount
    sealed: bytes


@pytest.fixture(scope="module")
def task(suite: Suite) -> Task:
    """A task created, funded and joined through the bindings, with round 1 open and one commit."""
    client = suite.client
    sponsor, aggregator = suite.accounts[1], suite.accounts[2]
    params = _params(aggregator.address)
    api = FederationApi.create_task(client, sponsor, params, '{"name":"bindings"}')
    api.fund(sponsor, 500 * UNIT)  # approves the escrow for what is short
    for i, account in enumerate(suite.accounts[3:5]):
        if api.vault.stake_of(account.address).free < 50 * UNIT:
            api.vault.deposit(account, 50 * UNIT)
        api.registry.register(account, f"Client {i}", f"CL{i}")
        api.join(account)
    api.bond_aggregator(aggregator, params.aggregator_bond)
    opened = api.open_round(aggregator)
    ann = suite.accounts[3]
    salt = commit_salt(ann, client.chain_id, api.federation.address, api.task_id, 1)
    sealed = commitment_hash(api.task_id, 1, ann.address, keccak(text="update"), salt)
    api.commit(ann, 1, sealed, params.stake_min)
    return Task(api.task_id, params, opened.block_number, ann, sealed)


def test_a_task_through_the_federation_binding(suite: Suite, task: Task) -> None:
    api = FederationApi(suite.client, task.task_id)
    assert api.task_id == api.task_count() >= 1
    assert api.params() == task.params
    assert api.budget() == Budget(unreleased=500 * UNIT, owed=0)
    assert api.escrow.total_held() >= 500 * UNIT
    state = api.state()
    assert (state.current_round, state.participants, state.bond) == (
        1,
        2,
        task.params.aggregator_bond,
    )
    assert api.seat(task.committer.address).active
    assert api.commitment(1, task.committer.address).stake == task.params.stake_min
    assert api.vault.stake_of(task.committer.address).locked == (
        task.params.join_bond + task.params.stake_min
    )


def test_views_in_one_batch_match_single_reads_and_name_a_revert(suite: Suite, task: Task) -> None:
    api = FederationApi(suite.client, task.task_id)
    info, commitment, now = api.round_of(1, task.committer.address)
    assert info == api.round(1)
    assert commitment == api.commitment(1, task.committer.address) and commitment.exists
    assert now >= api.chain_time()
    view = api.client_view(task.committer.address, [1, 1])
    assert view.state == api.state() and view.rounds == {1: (info, commitment)}
    assert view.exact >= api.chain_time()
    assert view.credit == api.credit(task.committer.address)
    assert view.free_stake == api.free_stake(task.committer.address)
    other = suite.accounts[4].address  # joined, did not commit
    assert not api.client_view(other, [1]).rounds[1][1].exists
    assert api.client_view(task.committer.address, []).rounds == {}
    fns = [
        api.federation.functions.taskState(task.task_id),
        api.federation.functions.seatOf(task.task_id, task.committer.address),
    ]
    assert suite.client.call_many(fns) == [suite.client.call(fn) for fn in fns]
    assert suite.client.call_many([]) == []


def test_views_are_made_once_and_the_kept_ones_are_bounded(
    suite: Suite, task: Task, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FederationApi(suite.client, task.task_id)
    first = api._view_fn("roundState", task.task_id, 1)
    assert api._view_fn("roundState", task.task_id, 1) is first
    assert api._view_fn("roundState", task.task_id, 2) is not first
    assert api.round(1) == api.round_of(1, task.committer.address)[0]  # read afresh
    monkeypatch.setattr(protocol, "VIEW_FN_CACHE", 3)
    for number in range(10):
        api._view_fn("roundState", task.task_id, number)
        assert len(api._view_fns) <= 3


def test_round_events_are_read_from_the_deployment_on(suite: Suite, task: Task) -> None:
    deployment = suite.deployment
    api = FederationApi(suite.client, task.task_id)
    assert api.start_block == deployment.block_number >= BLOCKS_BEFORE_DEPLOY
    starts: list[int] = []
    fetch = api._events.fetch

    def spy(from_block, to_block, names=None, topics=None):  # type: ignore[no-untyped-def]
        starts.append(from_block)
        return fetch(from_block, to_block, names=names, topics=topics)

    api._events.fetch = spy  # type: ignore[method-assign]
    assert api.round_opened_block(1) == task.opened_block
    assert starts == [deployment.block_number]  # never from block 0
    commits = api.commits(1)
    assert starts[-1] == task.opened_block  # a round's events: from where it opened
    assert [(c.client, c.commit_hash, c.stake) for c in commits] == [
        (task.committer.address, task.sealed, task.params.stake_min)
    ]
    assert api.reveals(1) == {}
    assert api.round_posted_block(1) is None
    calls = len(starts)
    assert api.round_opened_block(1) == task.opened_block
    assert len(starts) == calls  # remembered: no second scan


def test_events_decode_by_name_through_the_public_api(suite: Suite, task: Task) -> None:
    deployment = suite.deployment
    log = EventLog(suite.client, ["Federation"], chunk=3)
    events = log.fetch(deployment.block_number, suite.client.block_number())
    assert [e.position for e in events] == sorted(e.position for e in events)
    mine = [e for e in events if e.args.get("taskId") == task.task_id]
    assert [e.name for e in mine] == [
        "TaskCreated",
        "ClientJoined",
        "ClientJoined",
        "AggregatorBonded",
        "RoundOpened",
        "UpdateCommitted",
    ]
    created = mine[0].args
    assert created["sponsor"] == suite.accounts[1].address
    assert created["aggregator"] == task.params.aggregator
    assert created["metadataURI"] == '{"name":"bindings"}'
    assert created["configHash"] == task.params.config_hash
    assert mine[3].args["amount"] == task.params.aggregator_bond
    opened = mine[4]
    assert opened.block_number == task.opened_block and opened.args["round"] == 1
    assert opened.args["parentModelHash"] == task.params.initial_model_hash
    assert mine[5].args["commitHash"] == task.sealed
    only = log.fetch(deployment.block_number, suite.client.block_number(), names=["RoundOpened"])
    assert [e.name for e in only] == ["RoundOpened"]


def test_round_openings_are_checkpointed(suite: Suite, task: Task, tmp_path: Path) -> None:
    client = suite.client
    checkpoint = Checkpoint(tmp_path / "aggregator.json")
    assert RoundOpenings(FederationApi(client, task.task_id), checkpoint).block(1) == (
        task.opened_block
    )
    saved = Checkpoint(tmp_path / "aggregator.json")  # written, not just read
    assert saved.get("opened.1") == task.opened_block
    assert saved.get("scan_from") == task.opened_block
    # A restarted daemon searches later rounds from there on.
    restarted = FederationApi(client, task.task_id)
    assert RoundOpenings(restarted, saved).block(1) == task.opened_block
    assert restarted.scan_from(2) == task.opened_block
    with pytest.raises(ChainError, match="no RoundOpened event for round 2"):
        RoundOpenings(restarted, saved).block(2)


def _sample(kind: str, i: int) -> object:
    if kind == "address":
        return to_checksum_address(keccak(text=f"who{i}")[:20])
    if kind == "bytes32":
        return keccak(text=f"hash{i}")
    if kind == "bool":
        return i % 2 == 0
    if kind == "string":
        return f"text {i}"
    if kind.startswith(("uint", "int")):
        bits = int(kind.lstrip("uint") or 256)
        value = 10**20 + i if bits > 80 else 2 ** (bits - 1) - 1 - i % 8
        return -value if kind.startswith("int") else value
    raise AssertionError(f"no sample value for {kind}")


def test_every_federation_event_decodes_by_name(suite: Suite) -> None:
    deployment = suite.deployment
    address = deployment.address("Federation")
    log = EventLog(suite.client, ["Federation"])
    federation = suite.client.contract("Federation")
    abis = [item for item in deployment.abi("Federation") if item["type"] == "event"]
    assert len(abis) >= 28
    decoded = set()
    for n, item in enumerate(abis):
        inputs = item["inputs"]
        values = {inp["name"]: _sample(inp["type"], n + k) for k, inp in enumerate(inputs)}
        topics = [HexBytes(event_abi_to_log_topic(item))]  # type: ignore[arg-type]
        topics += [
            HexBytes(encode([inp["type"]], [values[inp["name"]]]))
            for inp in inputs
            if inp["indexed"]
        ]
        plain = [inp for inp in inputs if not inp["indexed"]]
        data = encode([inp["type"] for inp in plain], [values[inp["name"]] for inp in plain])
        raw = {
            "address": address,
            "topics": topics,
            "data": HexBytes(data),
            "blockNumber": 100 + n,
            "logIndex": n,
            "transactionIndex": 0,
            "transactionHash": HexBytes(keccak(text=f"tx{n}")),
            "blockHash": HexBytes(keccak(text=f"block{n}")),
        }
        event = log.decode(raw)
        assert event is not None, item["name"]
        assert event.contract == "Federation" and event.name == item["name"]
        assert event.args == values, item["name"]
        assert event.position == (100 + n, n)
        # decoded as web3 decodes it, and alike from the JSON-RPC answer's hex
        by_web3 = federation.events[item["name"]]().process_log(raw)["args"]
        assert event.args == dict(by_web3), item["name"]
        assert [type(v) for v in event.args.values()] == [type(v) for v in by_web3.values()]
        as_json = {
            **raw,
            "topics": ["0x" + bytes(t).hex() for t in topics],
            "data": "0x" + data.hex(),
            "blockNumber": hex(100 + n),
            "logIndex": hex(n),
            "transactionHash": "0x" + keccak(text=f"tx{n}").hex(),
        }
        assert log.decode(as_json) == event
        if len(topics) > 1:  # the same signature with other indexing: a clear error
            with pytest.raises(ConfigError, match="does not match the deployment's ABI"):
                log.decode(dict(raw, topics=topics[:-1]))
        assert log.decode(raw, names={"SomethingElse"}) is None
        decoded.add(event.name)
    assert decoded == set(log.event_names("Federation"))
    unknown = dict(raw, topics=[HexBytes(keccak(text="Nope()"))])
    assert log.decode(unknown) is None
    with pytest.raises(ConfigError, match="not one of this event log's contracts"):
        log.event_names("StakeVault")


def test_no_module_uses_web3_private_modules() -> None:
    package = Path(fl_node.__file__).parent
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "web3._utils" in path.read_text()
    ]
    assert offenders == []


def test_views_decode_by_output_name_or_fail_loudly(suite: Suite) -> None:
    vault = StakeVault(suite.client)
    fn = vault.functions.stakeOf(suite.accounts[1].address)
    assert named_outputs(fn, (1, 2, 3, 4)) == {
        "balance": 1,
        "locked": 2,
        "pending": 3,
        "unlockTime": 4,
    }
    assert view_of(StakeRecord, {"unlockTime": 4, "pending": 3, "balance": 1, "locked": 2}) == (
        StakeRecord(balance=1, locked=2, pending=3, unlock_time=4)
    )
    with pytest.raises(ChainError, match="unlock_time"):
        view_of(StakeRecord, {"balance": 1, "locked": 2, "pending": 3})
    assert view_of(Reserves, {"reserveToken": 5, "reserveBase": 6}, reserveToken="token",
                   reserveBase="base") == Reserves(token=5, base=6)  # fmt: skip


def test_the_commands_read_amounts_with_the_token_s_decimals(
    suite: Suite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fl_node.cli import main

    path = suite.deployment.save(tmp_path / "deployment.json")
    common = ["--rpc", suite.client.rpc_url, "--deployment", str(path)]
    who = suite.accounts[6].address
    before = BaseToken(suite.client).balance_of(who)
    assert main(["mint", *common, "--dev-account", "0", "--to", who, "--amount", "1.5"]) == 0
    assert BaseToken(suite.client).balance_of(who) == before + 1_500_000
    assert (
        f"now holds {BaseToken(suite.client).format(before + 1_500_000)}" in capsys.readouterr().out
    )
    assert main(["stake", "deposit", *common, "--dev-account", "6", "--amount", "2.25"]) == 0
    assert "stake 2.25, locked 0, free 2.25" in capsys.readouterr().out
    assert StakeVault(suite.client).stake_of(who).balance == 2_250_000
    assert main(["round", "credit", *common, "--dev-account", "6"]) == 2
    assert "owes" in capsys.readouterr().err
