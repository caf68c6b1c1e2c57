"""Resources a simulated client buys: the purchase math, the labelling order and its noise, and a
funded client's app training on more samples as its ledger grows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from fl_node.app.client import Context
from fl_node.apps.digits import TASK_CONFIG
from fl_node.configs import load_config
from fl_node.errors import ConfigError
from fl_node.federation.context import TaskContext
from fl_node.simulation.apps import Behaving
from fl_node.simulation.investment import InvestmentSettings, client_funds
from fl_node.simulation.resources import (
    RESOURCES_KEY,
    LabelledClient,
    LabelPool,
    ResourceLedger,
    client_fn,
    label_order,
    label_pool,
    labels_affordable,
    noisy_positions,
    purchase_cost,
    resourced_client,
    spendable,
    stake_reserve,
    start_labels,
    tokens_to_sell,
)

UNIT = 10**18


def test_start_labels_is_the_floor_of_the_fraction_at_least_one() -> None:
    assert start_labels(135, 0.15) == 20  # 20.25
    assert start_labels(134, 0.15) == 20  # 20.1
    assert start_labels(100, 0.15) == 15  # exact, no float drift (0.15 * 100 = 15.000000000000002)
    assert start_labels(5, 0.1) == 1  # 0.5: at least one
    assert start_labels(7, 1.0) == 7
    with pytest.raises(ConfigError, match="at least one sample"):
        start_labels(0, 0.5)
    with pytest.raises(ConfigError, match="within"):
        start_labels(10, 1.5)


def test_labels_affordable_and_their_cost_are_exact() -> None:
    price = 4 * UNIT
    assert labels_affordable(41 * UNIT, price, 100) == 10  # 41 / 4 = 10.25
    assert labels_affordable(40 * UNIT - 1, price, 100) == 9  # one unit short of the tenth
    assert labels_affordable(10_000 * UNIT, price, 7) == 7  # no more than remain unlabelled
    assert labels_affordable(-5, price, 7) == 0
    assert labels_affordable(0, price, 0) == 0
    assert purchase_cost(10, price) == 40 * UNIT
    assert purchase_cost(0, price) == 0
    with pytest.raises(ConfigError, match="at least one base unit"):
        labels_affordable(100, 0, 5)
    with pytest.raises(ConfigError, match="negative"):
        purchase_cost(-1, price)
    with pytest.raises(ConfigError, match="negative"):
        labels_affordable(100, 1, -1)


def test_reserve_sell_share_and_spendable() -> None:
    stake = 100 * UNIT
    # A vault with 200 free covers the next stake and its clipped burn: nothing kept back.
    assert stake_reserve(stake, 200 * UNIT, 0.05) == 0
    # With 60 free, 105 - 60 = 45 stay in the wallet.
    assert stake_reserve(stake, 60 * UNIT, 0.05) == 45 * UNIT
    assert stake_reserve(stake, 0, 0.0) == stake
    assert spendable(50 * UNIT, 45 * UNIT) == 5 * UNIT
    assert spendable(40 * UNIT, 45 * UNIT) == 0
    assert tokens_to_sell(500_000 * UNIT, 1_000) == 50_000 * UNIT
    assert tokens_to_sell(999, 1_000) == 99  # rounded down
    assert tokens_to_sell(12345, 10_000) == 12345
    assert tokens_to_sell(12345, 0) == 0
    with pytest.raises(ConfigError, match="bps"):
        tokens_to_sell(1, 10_001)


@pytest.mark.parametrize("noise", [0.0, 0.2, 0.4, 0.6, 1.0, 0.37])
def test_any_first_n_labels_hold_floor_p_n_wrong_ones(noise: float) -> None:
    wrong = noisy_positions(200, noise)
    for n in range(201):
        assert int(wrong[:n].sum()) == math.floor(round(noise * 100) * n / 100)


def test_label_order_is_a_seeded_permutation() -> None:
    a, b = label_order(50, 3), label_order(50, 3)
    assert np.array_equal(a, b) and sorted(a.tolist()) == list(range(50))
    assert not np.array_equal(a, label_order(50, 4))


def _pool(noise: float, n: int = 120, classes: int = 10, cap: int | None = None) -> LabelPool:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    x[:, 0] = np.arange(n)  # each sample names itself
    y = rng.integers(0, classes, size=n)
    return LabelPool(x=x, y=y, noise=noise, n_classes=classes, seed=5, max_samples=cap)


def test_bought_labels_extend_the_set_and_carry_the_clients_noise() -> None:
    pool = _pool(0.4)
    x20, y20 = pool.data(20)
    x60, y60 = pool.data(60)
    assert len(y20) == 20 and len(y60) == 60
    # Buying more keeps what was labelled (same samples, same labels) and adds new samples.
    assert np.array_equal(x60[:20], x20) and np.array_equal(y60[:20], y20)
    assert len(set(x60[:, 0].tolist())) == 60
    true = pool.y[x60[:, 0].astype(int)]
    assert int((y60 != true).sum()) == math.floor(0.4 * 60)  # exactly the profile's rate
    assert int((y20 != true[:20]).sum()) == math.floor(0.4 * 20)
    clean = _pool(0.0)
    xc, yc = clean.data(120)
    assert np.array_equal(yc, clean.y[xc[:, 0].astype(int)])
    # Clamped to 1..available; a sample cap lowers what is available.
    assert len(pool.data(0)[1]) == 1 and len(pool.data(10_000)[1]) == 120
    assert _pool(0.0, cap=30).available == 30 and len(_pool(0.0, cap=30).data(99)[1]) == 30


def test_a_ledger_records_purchases_and_refuses_more_than_remain(tmp_path: Path) -> None:
    ledger = ResourceLedger("0xabc", available=30, start=5, labelled=5)
    ledger.record(1, 10, 40 * UNIT, "0x01")
    assert ledger.labelled == 15 and ledger.remaining == 15
    path = tmp_path / "l.json"
    ledger.save(path)
    again = ResourceLedger.load(path)
    assert again == ledger and again.purchases[0]["paid"] == str(40 * UNIT)
    with pytest.raises(ConfigError, match="only 15 unlabelled"):
        ledger.record(2, 16, 1, "0x02")
    with pytest.raises(ConfigError, match="does not exist"):
        ResourceLedger.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{]")
    with pytest.raises(ConfigError, match="not a ledger"):
        ResourceLedger.load(tmp_path / "bad.json")


def _ctx() -> TaskContext:
    return TaskContext(load_config("invest8").replace(seed=3))


def test_a_funded_client_trains_on_more_samples_and_improves(tmp_path: Path) -> None:
    ctx = _ctx()
    index = 0  # clean-1
    available = label_pool(ctx, index).available
    first = start_labels(available, 0.15)
    path = tmp_path / "node-0.json"
    ResourceLedger("0x1", available, first, first).save(path)
    app = LabelledClient(ctx, index, path)
    params = app.get_parameters({})
    _, count, metrics = app.fit(params, {"server_round": 1})
    assert count == first and metrics["labelled"] == first
    poor = ctx.tester(_vector(app.fit(params, {"server_round": 1})[0]))
    ledger = ResourceLedger.load(path)
    ledger.record(1, available - first, 1, "0x")
    ledger.save(path)
    trained, count, _ = app.fit(params, {"server_round": 1})
    assert count == available  # the ledger is read before every fit
    rich = ctx.tester(_vector(trained))
    assert rich.accuracy > poor.accuracy + 0.05, (poor.accuracy, rich.accuracy)


def test_a_noisy_clients_training_labels_follow_its_profile(tmp_path: Path) -> None:
    ctx = _ctx()
    index = 5  # noise-0.6
    pool = label_pool(ctx, index)
    assert pool.noise == 0.6
    x, told = pool.data(pool.available)
    xs, ys = ctx.partition_data(index)
    truth = {tuple(row.tolist()): int(label) for row, label in zip(xs, ys, strict=True)}
    wrong = sum(int(told[k]) != truth[tuple(x[k].tolist())] for k in range(len(told)))
    assert wrong == math.floor(0.6 * pool.available)


def test_free_riders_and_poisoners_keep_their_behaviour(tmp_path: Path) -> None:
    ctx = _ctx()
    path = tmp_path / "l.json"
    ResourceLedger("0x1", 134, 20, 134).save(path)
    rider = resourced_client(ctx, 6, path)
    poisoner = resourced_client(ctx, 7, path)
    assert isinstance(rider, Behaving) and isinstance(poisoner, Behaving)
    params = rider.get_parameters({})
    sent, _count, _m = rider.fit(params, {"server_round": 1})
    assert all(np.array_equal(a, b) for a, b in zip(sent, params, strict=True))
    assert isinstance(resourced_client(ctx, 0, path), LabelledClient)


def test_the_app_needs_its_ledger_in_the_node_config(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    load_config("invest8").save(config)
    with pytest.raises(ConfigError, match=RESOURCES_KEY):
        client_fn(Context("0x1", {"partition-id": 0}, {TASK_CONFIG: str(config)}))
    made = client_fn(
        Context("0x1", {"partition-id": 0, RESOURCES_KEY: "l.json"}, {TASK_CONFIG: str(config)})
    )
    assert isinstance(made, LabelledClient)


def test_investment_settings_are_checked() -> None:
    assert InvestmentSettings().check().sell_share_bps == 1_000
    with pytest.raises(ConfigError, match="label price"):
        InvestmentSettings(label_price=0).check()
    with pytest.raises(ConfigError, match="labelled fraction"):
        InvestmentSettings(start_fraction=0).check()
    with pytest.raises(ConfigError, match="treasury"):
        InvestmentSettings(sell_share_bps=10_001).check()
    fed = load_config("invest8").federation
    assert client_funds(load_config("invest8")) == pytest.approx(
        fed.join_bond + 500 + fed.stake * (1 + fed.payout_cap * fed.rounds)
    )


def _vector(params: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(p, dtype=np.float32).ravel() for p in params])
