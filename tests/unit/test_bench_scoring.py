"""The scoring benchmark on a tiny federation: its bookkeeping, its math helpers and its errors."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from fl_node.bench.scoring import (
    EXACT_LIMIT,
    GTG_DEFAULTS_ROW,
    METHODS,
    RANKERS,
    relative_error,
    run_bench,
    spearman,
    to_markdown,
    true_quality,
)
from fl_node.errors import ConfigError
from fl_node.training.quality import ClientProfile

TINY = (
    ClientProfile(),
    ClientProfile(label_noise=0.4),
    ClientProfile(behavior="free_rider"),
    ClientProfile(behavior="poison_signflip", poison_scale=3.0),
)
GRID: tuple[dict[str, Any], ...] = ({"max_permutations": 2, "guided_depth": 1}, {})
#: The game's players: the round engine leaves the free-rider's copy of the global model out.
PLAYERS = len(TINY) - 1


def tiny(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "seeds": [0],
        "rounds": 1,
        "sizes": (3, 11),
        "say": lambda _line: None,
        "dataset": "synthetic",
        "profiles": TINY,
        "timing_rounds": 1,
        "gtg_grid": GRID,
    }
    args.update(overrides)
    return run_bench(**args)


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    lines: list[str] = []
    out = tiny(rounds=2, say=lines.append)
    out["_lines"] = lines
    return out


def test_every_method_is_scored_every_round(result: dict[str, Any]) -> None:
    assert set(result["methods"]) == set(METHODS)
    assert set(result["accumulated"]) == set(METHODS)
    rounds = result["runs"][0]["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    for row in rounds:
        assert set(row["methods"]) == set(METHODS)
        assert all(len(cell["values"]) == len(TINY) for cell in row["methods"].values())
        assert len(row["gtg_sweep"]) == len(GRID)


def test_exact_is_its_own_ground_truth(result: dict[str, Any]) -> None:
    exact = result["methods"]["exact_shapley"]
    assert exact["spearman_vs_exact_mean"] == 1.0
    assert exact["spearman_vs_exact_min"] == 1.0
    assert exact["relative_error_mean"] == 0.0
    assert exact["evaluation_ratio"] == 1.0
    for row in result["runs"][0]["rounds"]:
        assert row["methods"]["exact_shapley"]["evaluations"] == 2**PLAYERS


def test_evaluation_counts_are_each_methods_own(result: dict[str, Any]) -> None:
    # Every method scores a fresh game, so nothing is memoized from another method: LOO pays
    # v(N) and the n coalitions without one player; cosine and data_size pay v(N) and v(empty).
    n = PLAYERS
    for row in result["runs"][0]["rounds"]:
        cells = row["methods"]
        assert cells["loo"]["evaluations"] == n + 1
        assert cells["cosine"]["evaluations"] == 2
        assert cells["data_size"]["evaluations"] == 2
        assert 2 < cells["mc_shapley"]["evaluations"] <= 2**n
        # every player first (n singletons), then two permutations of 4 players that reuse them:
        # at most 2 + n + 2 * (n - 2) coalitions
        assert row["gtg_sweep"][0]["evaluations"] <= 2 + n + 2 * (n - 2)
        # the benchmark's setting never exceeds its evaluation cap
        assert cells["gtg_shapley"]["evaluations"] <= result["gtg_params"]["max_evaluations"]


def test_exact_values_are_efficient(result: dict[str, Any]) -> None:
    """Exact Shapley splits exactly the round's gain v(N) - v(empty): the games agree."""
    for row in result["runs"][0]["rounds"]:
        total = math.fsum(row["methods"]["exact_shapley"]["values"])
        assert total == pytest.approx(row["gain"], abs=1e-9)
        data_size = math.fsum(row["methods"]["data_size"]["values"])
        assert data_size == pytest.approx(row["gain"], abs=1e-9)


def test_accumulated_scores_are_the_sum_over_rounds(result: dict[str, Any]) -> None:
    run = result["runs"][0]
    for m in METHODS:
        summed = np.sum([r["methods"][m]["values"] for r in run["rounds"]], axis=0)
        np.testing.assert_allclose(result["accumulated"][m][0], summed, rtol=0, atol=1e-12)
        expected = spearman(summed, [true_quality(p) for p in TINY])
        assert run["accumulated_spearman"][m] == pytest.approx(expected)


def test_values_are_reported_in_the_profiles_order(result: dict[str, Any]) -> None:
    """Clients train in a seeded shuffled order; the report maps values back to the profiles.
    The free-rider (profile 2) sends a zero update, so its cosine score is exactly 0."""
    order = result["runs"][0]["client_order"]
    assert sorted(order) == list(range(len(TINY)))
    assert order.index(2) != 2  # the free-rider really moved, so the mapping is exercised
    for row in result["runs"][0]["rounds"]:
        cosine = row["methods"]["cosine"]["values"]
        assert cosine[2] == 0.0
        assert all(v != 0.0 for i, v in enumerate(cosine) if i != 2)


def test_poisoner_scores_lowest_under_exact_shapley(result: dict[str, Any]) -> None:
    accumulated = result["accumulated"]["exact_shapley"][0]
    assert int(np.argmin(accumulated)) == 3  # the sign-flipping poisoner


def test_timing_runs_report_each_size(result: dict[str, Any]) -> None:
    small, large = result["sizes"]
    assert (small["clients"], large["clients"]) == (3, 11)
    assert large["clients"] > EXACT_LIMIT
    for size in (small, large):
        assert size["train_seconds"] > 0
        assert set(size["methods"]) == {*METHODS, GTG_DEFAULTS_ROW}
        assert size["methods"]["loo"]["evaluations"] == size["clients"] + 1
    assert small["methods"]["exact_shapley"]["evaluations"] == 2**3
    assert large["methods"]["exact_shapley"] is None  # 2^11 evaluations: not run
    for m in (*METHODS, GTG_DEFAULTS_ROW):
        assert small["methods"][m]["time_fraction"] >= 0
        if m != "exact_shapley":
            assert large["methods"][m]["seconds"] >= 0
    for m in METHODS:
        assert result["methods"][m]["time_fraction"] >= 0


def test_targets_and_progress(result: dict[str, Any]) -> None:
    assert set(result["targets"]["accumulated_spearman_ge_0.9"]) == set(RANKERS)
    gtg = result["methods"]["gtg_shapley"]
    assert result["targets"]["gtg_spearman_ge_0.95"] == (gtg["spearman_vs_exact_mean"] >= 0.95)
    assert sum("round 1/2" in line for line in result["_lines"]) == 1
    assert sum("round 2/2" in line for line in result["_lines"]) == 1


def test_result_is_strict_json(result: dict[str, Any]) -> None:
    clean = {k: v for k, v in result.items() if k != "_lines"}
    back = json.loads(json.dumps(clean, allow_nan=False))
    assert back["methods"]["exact_shapley"]["evaluations_mean"] == 2**PLAYERS


def test_the_engine_leaves_the_free_rider_out_of_the_game(result: dict[str, Any]) -> None:
    """The free-rider sends the global model back: excluded by the round engine as on-chain, it
    is no player of the game and every method gives it 0."""
    rider = next(i for i, p in enumerate(TINY) if p.behavior == "free_rider")
    for row in result["runs"][0]["rounds"]:
        for cell in row["methods"].values():
            assert cell["values"][rider] == 0.0
            assert any(v != 0.0 for i, v in enumerate(cell["values"]) if i != rider)


def test_markdown_names_every_method_and_client(result: dict[str, Any]) -> None:
    md = to_markdown(result)
    for m in METHODS:
        assert f"| {m} |" in md
    for label in ("clean", "noise 0.4", "free-rider", "poisoner"):
        assert label in md
    assert "| 3 clients | 11 clients |" in md
    assert GTG_DEFAULTS_ROW in md
    assert "Targets:" in md


def test_deterministic_for_a_seed(result: dict[str, Any]) -> None:
    again = tiny(rounds=2, sizes=())
    for mine, theirs in zip(result["runs"][0]["rounds"], again["runs"][0]["rounds"], strict=True):
        for m in METHODS:
            assert mine["methods"][m]["values"] == theirs["methods"][m]["values"]
    assert again["sizes"] == []
    assert "against the number of clients" not in to_markdown(again)


# -- helpers ----------------------------------------------------------------------------------
def test_spearman_handles_constant_vectors() -> None:
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([5, 5, 5], [1, 2, 3]) == 0.0
    assert spearman([1, 2, 3], [0, 0, 0]) == 0.0
    assert spearman([0, 0, 0], [0, 0, 0]) == 1.0
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2], [1, 2, 3])


def test_relative_error() -> None:
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([0.0, 0.0]), np.array([3.0, 4.0])) == pytest.approx(1.0)
    assert relative_error(np.array([-3.0, -4.0]), np.array([3.0, 4.0])) == pytest.approx(2.0)


def test_true_quality_order() -> None:
    q = [true_quality(p) for p in TINY]
    assert q == sorted(q, reverse=True)
    assert true_quality(ClientProfile()) == true_quality(ClientProfile())
    assert true_quality(ClientProfile(label_noise=0.2)) > true_quality(
        ClientProfile(label_noise=0.6)
    )


# -- bad inputs -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seeds": []}, "at least one seed"),
        ({"seeds": [-1]}, "non-negative integers"),
        ({"seeds": [True]}, "non-negative integers"),
        ({"rounds": 0}, "rounds must be an integer >= 1"),
        ({"timing_rounds": 0}, "timing_rounds must be an integer >= 1"),
        ({"sizes": (1,)}, "client counts >= 2"),
        ({"profiles": TINY[:1]}, "at least 2 clients"),
        ({"profiles": (ClientProfile(),) * 11}, "at most 10 clients"),
        ({"dataset": "mnist"}, "unknown dataset"),
        ({"gtg_params": {"bogus": 1}}, "unknown parameters"),
        ({"gtg_grid": ({"max_permutations": 0},)}, "max_permutations"),
    ],
)
def test_bad_arguments_are_clear_errors(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tiny(**overrides)
