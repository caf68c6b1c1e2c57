"""A short market simulation on Anvil: 3 clients, 3 rounds, 2 investors, buyback mode.

The run is checked the way an outsider would check it: its saved chain is reopened and every
base token is accounted for (every account and contract of the run, plus the burned stakes, equals
what was minted), every recorded price is the pool's reserve ratio at the recorded block, every
filled order respected its slippage bound, and the report files parse.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import ChainClient
from fl_node.chain.deployments import Deployment
from fl_node.chain.keys import account_from_key
from fl_node.configs import load_config
from fl_node.errors import ConfigError
from fl_node.market.chain import MarketReader, Trader
from fl_node.market.observation import Order
from fl_node.simulation.experiment import SimulationSettings, run_simulation
from fl_node.simulation.localfed import FIRST_CLIENT
from fl_node.toolchain.localchain import LocalChain, dev_private_keys

WAD = 10**18
DEAD = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    run_dir = tmp_path_factory.mktemp("market") / "run"
    settings = SimulationSettings(
        investors=("passive", "noise"),
        investor_budget=200.0,
        methods=("loo", "exact_shapley", "data_size"),
        timeout=300.0,
    )
    report = run_simulation(load_config("tiny-market"), run_dir, settings, say=lambda _m: None)
    return run_dir, report


@pytest.fixture(scope="module")
def reopened(run: tuple[Path, dict[str, Any]]):  # type: ignore[no-untyped-def]
    """The run's chain, reloaded from its saved state (with its history)."""
    run_dir, _report = run
    with LocalChain(state_path=run_dir / "chain-state.json") as chain:
        yield ChainClient(chain.rpc_url, Deployment.load(run_dir / "deployment.json"))


def test_every_base_token_is_accounted_for(run, reopened: ChainClient) -> None:  # type: ignore[no-untyped-def]
    run_dir, report = run
    client = reopened
    config = load_config("tiny-market")
    fed = config.federation
    base = client.contract("DevToken")
    registry = client.contract("ClientRegistry")
    manifest = json.loads((run_dir / "run.json").read_text())
    clients = [c["address"] for c in manifest["clients"]]
    investors = [i["address"] for i in report["market"]["investors"].values()]
    assert len(clients) == 3 and len(investors) == 2
    accounts = [manifest["sponsor"], manifest["aggregator"], *clients, *investors]
    accounts.append(client.w3.eth.accounts[0])  # the deployer
    assert client.deployment is not None
    names = ("DevToken", "ClientRegistry", "StakeVault", "RewardEscrow", "Federation")
    contracts = [client.deployment.address(n) for n in names]
    for who in clients:
        contracts.append(client.call(registry.functions.tokenOf(who)))
        contracts.append(client.call(registry.functions.poolOf(who)))
    everyone = [*accounts, *contracts, DEAD]
    held = sum(int(client.call(base.functions.balanceOf(a))) for a in everyone)
    burned = int(client.call(client.contract("StakeVault").functions.totalBurned()))
    per_client = (
        fed.stake * (fed.rounds + 5) + fed.join_bond + max(c.offer_base for c in config.clients)
    )
    minted = (
        config.wei(fed.budget)
        + config.wei(fed.aggregator_bond)
        + 3 * config.wei(per_client)
        + 2 * config.wei(200.0)
    )
    assert held + burned == minted
    assert int(client.call(base.functions.totalSupply())) + burned == minted
    # Money moved: stakes were burned, rewards left the escrow, investors traded.
    assert burned > 0
    cash = sum(int(client.call(base.functions.balanceOf(i))) for i in investors)
    assert cash != 2 * 200 * WAD
    assert report["conservation"]["ok"] is True
    assert list(report["conservation"]["unknown_holders"]) == []


def test_recorded_prices_are_the_pools_reserve_ratios(run, reopened: ChainClient) -> None:  # type: ignore[no-untyped-def]
    _run_dir, report = run
    client = reopened
    snapshots = report["market"]["snapshots"]
    assert [s["round"] for s in snapshots if s["when"] == "after"] == [0, 1, 2, 3]
    checked = 0
    for snap in snapshots:
        for pool in snap["pools"].values():
            contract = client.contract("ClientPool", pool["pool"])
            reserve_token, reserve_base = client.call(
                contract.functions.getReserves(), block=snap["block"]
            )
            assert str(reserve_token) == pool["reserve_token"]
            assert str(reserve_base) == pool["reserve_base"]
            price = int(client.call(contract.functions.price(), block=snap["block"]))
            assert str(price) == pool["price_wei"]
            assert price == int(reserve_base) * WAD // int(reserve_token)
            assert pool["price"] == pytest.approx(int(reserve_base) / int(reserve_token))
            checked += 1
    assert checked == len(snapshots) * 3


def test_orders_went_through_the_pools_with_slippage_bounds(run) -> None:  # type: ignore[no-untyped-def]
    _run_dir, report = run
    fills = report["market"]["fills"]
    filled = [f for f in fills if f["status"] == "filled"]
    assert len(filled) >= 3  # the passive basket at least
    assert {f["side"] for f in filled} >= {"buy"}
    for f in filled:
        quote, bound, out = int(f["quote"]), int(f["min_out"]), int(f["amount_out"])
        assert bound == quote * (10_000 - 100) // 10_000  # 1 % tolerance by default
        assert out >= bound > 0
    passive = report["market"]["investors"]["passive-1"]
    assert passive["fills"] == 3 and passive["rejected"] == 0
    # In buyback mode the rewarded client's token rose the most.
    prices = report["market"]["final_prices"]
    assert max(prices, key=prices.get) == "ann"
    assert report["market"]["spearman_price_quality"] is not None


def test_report_files_exist_and_parse(run) -> None:  # type: ignore[no-untyped-def]
    run_dir, _report = run
    on_disk = json.loads((run_dir / "report.json").read_text())
    assert on_disk["market"]["mode"] == "buyback"
    assert on_disk["status"] == "completed"
    assert len(on_disk["rounds"]) == 3 and all(r["metrics"] for r in on_disk["rounds"])
    methods = on_disk["contribution_methods"]
    assert set(methods) == {"loo", "exact_shapley", "data_size", "equal"}
    for name in ("loo", "exact_shapley", "data_size"):
        assert sum(methods[name]["shares"].values()) == pytest.approx(1.0)
        assert 0.0 <= methods[name]["gini"] < 1.0
    assert on_disk["recomputation"]["matches_posted"] is True
    assert on_disk["gas"]["total"] > 0 and on_disk["market"]["investor_gas"] > 0
    assert set(on_disk["market"]["clients"]) == {"ann", "ben", "cat"}
    for data in on_disk["market"]["clients"].values():
        assert len(data["base_over_time"]) == 4

    class Counter(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.images = 0
            self.tables = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.images += tag == "img"
            self.tables += tag == "table"

    counter = Counter()
    counter.feed((run_dir / "report.html").read_text())
    assert counter.images >= 9 and counter.tables == 5


def test_trader_clamps_skips_and_reports_refusals(run, reopened: ChainClient) -> None:  # type: ignore[no-untyped-def]
    run_dir, report = run
    manifest = json.loads((run_dir / "run.json").read_text())
    clients = [c["address"] for c in manifest["clients"]]
    store = ArtifactStore(report["run"]["config"]["store"])
    reader = MarketReader(reopened, manifest["task_id"], store, clients)
    keys = dev_private_keys(FIRST_CLIENT + 3 + 2)
    investor = account_from_key(keys[FIRST_CLIENT + 3 + 1])  # noise-1 or passive-1
    assert investor.address in {i["address"] for i in report["market"]["investors"].values()}
    trader = Trader(reader, investor)
    portfolio = trader.portfolio()
    held_client, held = next(iter(portfolio.holdings.items()))
    # A sale of more than the holding is clamped to the holding (to the wei), and filled.
    token = reader.token(held_client)
    wei = token.balance_of(investor.address)
    fill = trader.execute(Order(held_client, "sell", held * 10, "too much"), 99, 3)
    assert fill.status == "filled"
    assert fill.amount_in == wei and fill.amount_out >= fill.min_out > 0
    assert trader.portfolio().holding(held_client) == 0
    # Nothing left to sell: skipped without a transaction.
    again = trader.execute(Order(held_client, "sell", 1.0), 99, 3)
    assert again.status == "skipped" and again.gas == 0
    # A bound above the pool's quote: the pool refuses, the fill says why.
    greedy = Trader(reader, investor)
    greedy.min_out = lambda quote: quote + 1  # type: ignore[method-assign]
    refused = greedy.execute(Order(held_client, "buy", 1.0), 99, 3)
    assert refused.status == "rejected"
    assert refused.error == "InsufficientOutput"
    with pytest.raises(ConfigError, match="slippage"):
        Trader(reader, investor, tolerance_bps=10_000)
    with pytest.raises(ConfigError, match="deadline"):
        Trader(reader, investor, deadline_seconds=0)
