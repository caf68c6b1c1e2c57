"""Aggregators on hand-made vectors with the expected results written out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fl_node.aggregation import AggregationInfo, FedAvg, Krum, make_strategy
from fl_node.errors import ConfigError


def vecs(*rows: list[float]) -> list[np.ndarray]:
    return [np.array(r, dtype=np.float32) for r in rows]


def info(
    n: int,
    samples: list[int] | None = None,
    stakes: list[int] | None = None,
    reps: list[float] | None = None,
) -> AggregationInfo:
    return AggregationInfo(
        samples=samples or [1] * n, stakes=stakes or [1] * n, reputations=reps or [1.0] * n
    )


G = np.array([1.0, 1.0], dtype=np.float32)
DELTAS = vecs([1, 0], [0, 1], [1, 1])


# -- FedAvg ----------------------------------------------------------------------------------
def test_fedavg_by_samples() -> None:
    # (1*[1,0] + 2*[0,1] + 1*[1,1]) / 4 = [0.5, 0.75]
    out = make_strategy("fedavg").aggregate(G, DELTAS, info(3, samples=[1, 2, 1]))
    assert out.dtype == np.float32
    assert out.tolist() == [1.5, 1.75]


def test_fedavg_by_stake() -> None:
    # stakes 3:0:1 -> (3*[1,0] + 1*[1,1]) / 4 = [1, 0.25]; samples are ignored.
    data = info(3, samples=[100, 1, 1], stakes=[3 * 10**18, 0, 10**18])
    out = make_strategy("fedavg", weighting="stake").aggregate(G, DELTAS, data)
    assert out.tolist() == [2.0, 1.25]


def test_fedavg_by_stake_times_reputation() -> None:
    # weights 2*0.5 : 1*2 : 1*1 = 1 : 2 : 1 -> [0.5, 0.75]
    data = info(3, stakes=[2, 1, 1], reps=[0.5, 2.0, 1.0])
    out = make_strategy("fedavg", weighting="stake_reputation").aggregate(G, DELTAS, data)
    assert out.tolist() == [1.5, 1.75]


def test_fedavg_uniform() -> None:
    out = make_strategy("fedavg", weighting="uniform").aggregate(
        G, DELTAS, info(3, samples=[9, 1, 1])
    )
    np.testing.assert_allclose(out, [1 + 2 / 3, 1 + 2 / 3])


def test_fedavg_without_any_weight_falls_back_to_the_mean() -> None:
    data = info(3, stakes=[5, 5, 5], reps=[0.0, 0.0, 0.0])
    out = make_strategy("fedavg", weighting="stake_reputation").aggregate(G, DELTAS, data)
    np.testing.assert_allclose(out, [1 + 2 / 3, 1 + 2 / 3])


def test_fedavg_raw_weights() -> None:
    data = info(2, samples=[3, 4], stakes=[5, 6], reps=[0.5, 2.0])
    assert FedAvg("samples").weights([0, 1], data) == [3.0, 4.0]
    assert FedAvg("stake_reputation").weights([1], data) == [12.0]


def test_fedavg_rejects_negative_or_short_info() -> None:
    with pytest.raises(ValueError, match="samples must be finite and >= 0"):
        make_strategy("fedavg").aggregate(G, DELTAS, info(3, samples=[1, -1, 1]))
    with pytest.raises(ValueError, match="stakes has 2 entries, need 3"):
        make_strategy("fedavg", "stake").aggregate(G, DELTAS, info(3, stakes=[1, 1]))


# -- coordinate-wise robust rules ------------------------------------------------------------
def test_median_of_three() -> None:
    g = np.zeros(2, dtype=np.float32)
    out = make_strategy("median").aggregate(g, vecs([1, -5], [2, 0], [100, 7]), info(3))
    assert out.tolist() == [2.0, 0.0]


def test_median_of_an_even_count_averages_the_middle_pair() -> None:
    g = np.full(1, 10.0, dtype=np.float32)
    out = make_strategy("median").aggregate(g, vecs([1], [2], [4], [100]), info(4))
    assert out.tolist() == [13.0]


def test_trimmed_mean() -> None:
    g = np.zeros(2, dtype=np.float32)
    deltas = vecs([1, 10], [2, 20], [3, -30], [4, 40], [100, 50])
    # trim 0.2 of 5 -> drop 1 each side per coordinate: mean(2,3,4)=3, mean(10,20,40)=70/3
    out = make_strategy("trimmed_mean").aggregate(g, deltas, info(5))
    np.testing.assert_allclose(out, [3.0, 70 / 3], rtol=1e-6)
    # trim 0.4 -> drop 2 each side: the median
    out = make_strategy("trimmed_mean", trim=0.4).aggregate(g, deltas, info(5))
    assert out.tolist() == [3.0, 20.0]
    # trim 0 -> plain mean; 0.2 of 3 clients trims nothing (floor)
    out = make_strategy("trimmed_mean", trim=0.0).aggregate(g, deltas, info(5))
    np.testing.assert_allclose(out, [22.0, 18.0])
    out = make_strategy("trimmed_mean").aggregate(g, deltas[:3], info(3))
    np.testing.assert_allclose(out, [2.0, 0.0])


# -- Krum ------------------------------------------------------------------------------------
KRUM_DELTAS = vecs([0], [1], [2], [100], [3])
# n=5, f=1: each score sums the 2 smallest squared distances to others:
# 0 -> 1+4=5, 1 -> 1+1=2, 2 -> 1+1=2, 100 -> 97^2+98^2, 3 -> 1+4=5


def test_krum_scores_by_hand() -> None:
    scores = Krum(f=1).scores([d.astype(np.float64) for d in KRUM_DELTAS])
    assert scores.tolist() == [5.0, 2.0, 2.0, 97.0**2 + 98.0**2, 5.0]


def test_krum_picks_the_cluster_and_breaks_ties_by_index() -> None:
    g = np.zeros(1, dtype=np.float32)
    assert make_strategy("krum").aggregate(g, KRUM_DELTAS, info(5)).tolist() == [1.0]
    assert make_strategy("krum", m=2).aggregate(g, KRUM_DELTAS, info(5)).tolist() == [1.5]
    # m=3: scores 2, 2, then the tie at 5 between clients 0 and 4 goes to client 0
    assert make_strategy("krum", m=3).aggregate(g, KRUM_DELTAS, info(5)).tolist() == [1.0]


def test_krum_falls_back_to_the_mean_when_too_few() -> None:
    g = np.zeros(1, dtype=np.float32)
    # n=4 <= 2f+2 = 4: plain mean of 0, 1, 2, 100
    assert make_strategy("krum").aggregate(g, KRUM_DELTAS[:4], info(4)).tolist() == [25.75]
    # f=0 needs n > 2: three updates use Krum with n-f-2 = 1 neighbour
    assert make_strategy("krum", f=0).aggregate(g, vecs([0], [1], [50]), info(3)).tolist() == [0.0]


def test_krum_multi_never_exceeds_the_clients() -> None:
    g = np.zeros(1, dtype=np.float32)
    out = make_strategy("krum", m=10).aggregate(g, KRUM_DELTAS, info(5))
    assert out[0] == np.float32(21.2)  # all five averaged


# -- robustness ------------------------------------------------------------------------------
def test_robust_rules_resist_one_outlier_fedavg_does_not() -> None:
    rng = np.random.default_rng(0)
    g = np.zeros(50, dtype=np.float32)
    honest = [
        np.ones(50, dtype=np.float32) + 0.05 * rng.standard_normal(50).astype(np.float32)
        for _ in range(6)
    ]
    deltas = [*honest, np.full(50, -1000.0, dtype=np.float32)]
    data = info(7)
    target = np.ones(50)
    rules: list[tuple[str, str, dict[str, Any]]] = [
        ("fedavg", "fedavg", {}),
        ("median", "median", {}),
        ("trimmed_mean", "trimmed_mean", {"trim": 0.2}),
        ("krum", "krum", {"f": 1}),
        ("multi_krum", "krum", {"f": 1, "m": 3}),
    ]
    errors = {
        label: float(
            np.abs(make_strategy(name, **params).aggregate(g, deltas, data) - target).max()
        )
        for label, name, params in rules
    }
    assert errors["fedavg"] > 100
    for label in ("median", "trimmed_mean", "krum", "multi_krum"):
        assert errors[label] < 0.2, label


# -- subsets ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "params"),
    [("fedavg", {}), ("median", {}), ("trimmed_mean", {}), ("krum", {}), ("krum", {"m": 2})],
)
def test_subset_is_the_rule_on_the_subset(name: str, params: dict) -> None:
    rng = np.random.default_rng(1)
    g = rng.standard_normal(8).astype(np.float32)
    deltas = [rng.standard_normal(8).astype(np.float32) for _ in range(7)]
    data = info(7, samples=[1, 2, 3, 4, 5, 6, 7])
    strategy = make_strategy(name, **params)
    idx = [5, 0, 2, 3, 6, 1]
    chosen = sorted(idx)
    sub_info = info(6, samples=[data.samples[i] for i in chosen])
    expected = strategy.aggregate(g, [deltas[i] for i in chosen], sub_info)
    assert strategy.aggregate_subset(g, deltas, data, idx).tobytes() == expected.tobytes()
    full = strategy.aggregate_subset(g, deltas, data, range(7))
    assert full.tobytes() == strategy.aggregate(g, deltas, data).tobytes()


@pytest.mark.parametrize("name", ["fedavg", "median", "trimmed_mean", "krum"])
def test_empty_subset_returns_the_global_unchanged(name: str) -> None:
    g = np.array([0.1, -2.0], dtype=np.float32)
    out = make_strategy(name).aggregate_subset(g, DELTAS, info(3), [])
    assert out.tobytes() == g.tobytes()
    out[0] = 5.0
    assert g[0] == np.float32(0.1)  # a copy


def test_deterministic_bytes() -> None:
    rng = np.random.default_rng(2)
    g = rng.standard_normal(1000).astype(np.float32)
    deltas = [rng.standard_normal(1000).astype(np.float32) for _ in range(6)]
    data = info(6, samples=[3, 1, 4, 1, 5, 9])
    for name in ("fedavg", "median", "trimmed_mean", "krum"):
        a = make_strategy(name).aggregate(g, deltas, data)
        b = make_strategy(name).aggregate(g.copy(), [d.copy() for d in deltas], data)
        assert a.tobytes() == b.tobytes()


def test_float64_math_keeps_small_updates_of_large_weights() -> None:
    g = np.array([1000.0], dtype=np.float32)
    deltas = vecs([1e-4], [3e-4])
    out = make_strategy("fedavg", weighting="uniform").aggregate(g, deltas, info(2))
    assert out[0] == np.float32(1000.0002)


def test_bad_inputs_are_errors() -> None:
    strategy = make_strategy("median")
    with pytest.raises(ValueError, match="delta 1 has shape"):
        strategy.aggregate(G, [np.zeros(2), np.zeros(3)], info(2))
    with pytest.raises(ValueError, match="out of range"):
        strategy.aggregate_subset(G, DELTAS, info(3), [0, 3])
    with pytest.raises(ValueError, match="out of range"):
        strategy.aggregate_subset(G, DELTAS, info(3), [-1])
    with pytest.raises(ValueError, match="duplicate client indices"):
        strategy.aggregate_subset(G, DELTAS, info(3), [1, 1])
    with pytest.raises(ValueError, match="flat vector"):
        strategy.aggregate(np.zeros((2, 2)), DELTAS, info(3))


# -- configuration ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "kwargs", "reason"),
    [
        (("fedprox",), {}, "unknown aggregation strategy 'fedprox'; known: fedavg, krum, median"),
        (("fedavg", "tokens"), {}, "unknown aggregation weighting 'tokens'; known: samples"),
        (
            ("fedavg",),
            {"trim": 0.1},
            r"unknown parameter\(s\) \['trim'\] for 'fedavg' \(allowed: none\)",
        ),
        (("krum",), {"k": 2}, r"unknown parameter\(s\) \['k'\] for 'krum' \(allowed: f, m\)"),
        (("median", "stake"), {}, "weighting 'stake' applies only to fedavg"),
        (("trimmed_mean",), {"trim": 0.5}, r"trim must be a fraction within \[0, 0.5\)"),
        (("trimmed_mean",), {"trim": -0.1}, r"trim must be a fraction within \[0, 0.5\)"),
        (("trimmed_mean",), {"trim": "0.1"}, r"trim must be a fraction"),
        (("krum",), {"f": -1}, "f .* must be an integer >= 0"),
        (("krum",), {"f": 1.5}, "f .* must be an integer >= 0"),
        (("krum",), {"m": 0}, "m .* must be an integer >= 1"),
    ],
)
def test_make_strategy_errors(args: tuple, kwargs: dict, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        make_strategy(*args, **kwargs)


def test_make_strategy_builds_what_was_asked() -> None:
    assert repr(make_strategy("fedavg", "stake")) == "FedAvg(weighting='stake')"
    assert repr(make_strategy("trimmed_mean", trim=0.1)) == "TrimmedMean(trim=0.1)"
    assert repr(make_strategy("krum", f=2, m=3)) == "Krum(f=2, m=3)"
    assert make_strategy("median").name == "median"
