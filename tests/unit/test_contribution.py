"""Contribution methods on hand-made games whose Shapley values are known."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from fl_node.contribution import (
    EXACT_MAX_PLAYERS,
    Game,
    build_game,
    compute_contributions,
    numerai_scores,
)
from fl_node.errors import ConfigError

SEED = 11


# -- games ------------------------------------------------------------------------------------
class Counter:
    """A utility that counts its calls, to check the game's evaluation bookkeeping."""

    def __init__(self, fn: Callable[[np.ndarray], float]) -> None:
        self.fn = fn
        self.calls = 0

    def __call__(self, vec: np.ndarray) -> float:
        self.calls += 1
        return float(self.fn(vec))


def additive_game(weights: np.ndarray, deltas: Sequence[np.ndarray]) -> tuple[Game, Counter]:
    """v(S) = w . (g + sum of S's deltas): Shapley value of i is exactly w . delta_i."""
    g = np.zeros(len(weights), dtype=np.float32)
    ds = [np.asarray(d, dtype=np.float32) for d in deltas]
    utility = Counter(lambda v: float(np.dot(weights, v)))

    def agg(idx: Sequence[int]) -> np.ndarray:
        return g + np.sum([ds[i] for i in idx], axis=0)

    return build_game(g, ds, agg, utility), utility


def mean_game(n: int, seed: int = 0, dim: int = 6) -> tuple[Game, Counter]:
    """v(S) = -||g + mean(S's deltas) - target||^2: interactions between clients (non-additive)."""
    rng = np.random.default_rng(seed)
    target = rng.normal(size=dim)
    g = np.zeros(dim, dtype=np.float32)
    ds = [
        (target * rng.uniform(0.2, 1.5) + rng.normal(scale=0.6, size=dim)).astype(np.float32)
        for _ in range(n)
    ]
    utility = Counter(lambda v: -float(np.sum((v - target) ** 2)))

    def agg(idx: Sequence[int]) -> np.ndarray:
        return g + np.mean([ds[i] for i in idx], axis=0)

    return build_game(g, ds, agg, utility, samples=[10 * (i + 1) for i in range(n)]), utility


def brute_force_shapley(game: Game) -> np.ndarray:
    """Shapley by its permutation definition: average marginal over all n! orders."""
    n = game.n
    total = np.zeros(n)
    perms = list(itertools.permutations(range(n)))
    for order in perms:
        members: list[int] = []
        for p in order:
            before = game.value(members)
            members.append(p)
            total[p] += game.value(members) - before
    return total / len(perms)


# -- the game ---------------------------------------------------------------------------------
def test_game_memoizes_and_counts_distinct_evaluations() -> None:
    game, utility = mean_game(3)
    assert game.n == 3
    assert game.evaluations == 0
    assert game.empty == utility.fn(game.g)  # v(empty) is the utility of g
    game.value([0, 1])
    game.value((1, 0))
    game.value({0, 1})
    assert game.evaluations == utility.calls == 2
    grand = game.grand
    assert grand == game.value(range(3))
    assert game.evaluations == utility.calls == 3


def test_game_rejects_players_outside_the_game() -> None:
    game, _ = mean_game(3)
    with pytest.raises(ValueError, match="not in a game"):
        game.value([3])
    with pytest.raises(ValueError, match="not in a game"):
        game.value([-1])
    with pytest.raises(ValueError, match="not in a game"):
        game.own(5)


def test_non_finite_utility_is_an_error() -> None:
    g = np.zeros(2, dtype=np.float32)
    game = build_game(g, [g + 1], lambda idx: g + 1, lambda v: float("nan"))
    with pytest.raises(ValueError, match="not finite"):
        game.value([])


def test_agg_subset_of_the_wrong_shape_is_an_error() -> None:
    g = np.zeros(2, dtype=np.float32)
    game = build_game(g, [g + 1], lambda idx: np.zeros(3), lambda v: 0.0)
    with pytest.raises(ValueError, match="shape"):
        game.value([0])


def test_build_game_validates_its_inputs() -> None:
    g = np.zeros(3, dtype=np.float32)

    def agg(idx: Sequence[int]) -> np.ndarray:
        return g

    def util(v: np.ndarray) -> float:
        return 0.0

    with pytest.raises(ConfigError, match="flat"):
        build_game(np.zeros((2, 2)), [], agg, util)
    with pytest.raises(ConfigError, match=r"deltas\[1\]"):
        build_game(g, [g, np.zeros(4)], agg, util)
    with pytest.raises(ConfigError, match="samples has 1"):
        build_game(g, [g, g], agg, util, samples=[1])
    with pytest.raises(ConfigError, match="non-negative"):
        build_game(g, [g, g], agg, util, samples=[1, -1])
    with pytest.raises(ConfigError, match="non-negative"):
        build_game(g, [g], agg, util, samples=[1.5])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="all be zero"):
        build_game(g, [g, g], agg, util, samples=[0, 0])
    with pytest.raises(ConfigError, match="callables"):
        build_game(g, [g], None, util)  # type: ignore[arg-type]


# -- exact Shapley: the ground truth ----------------------------------------------------------
def test_exact_matches_the_permutation_definition() -> None:
    game, _ = mean_game(4, seed=3)
    exact = compute_contributions("exact_shapley", game, seed=SEED)
    np.testing.assert_allclose(exact.values, brute_force_shapley(game), rtol=1e-9, atol=1e-12)
    assert exact.method == "exact_shapley"
    assert exact.values.dtype == np.float64
    assert exact.evaluations == 2**4


def test_exact_is_efficient() -> None:
    game, _ = mean_game(6, seed=4)
    values = compute_contributions("exact_shapley", game, seed=SEED).values
    assert values.sum() == pytest.approx(game.grand - game.empty, rel=1e-9)


def test_exact_gives_symmetric_clients_equal_values() -> None:
    rng = np.random.default_rng(5)
    target = rng.normal(size=4)
    g = np.zeros(4, dtype=np.float32)
    twin = rng.normal(size=4).astype(np.float32)
    ds = [twin, twin.copy(), rng.normal(size=4).astype(np.float32)]
    game = build_game(
        g,
        ds,
        lambda idx: g + np.mean([ds[i] for i in idx], axis=0),
        lambda v: -float(np.sum((v - target) ** 2)),
    )
    values = compute_contributions("exact_shapley", game, seed=SEED).values
    assert values[0] == pytest.approx(values[1], abs=1e-12)
    assert values[0] != pytest.approx(values[2])


def test_additive_game_values_are_the_individual_gains_and_null_player_gets_zero() -> None:
    w = np.array([1.0, -2.0, 0.5])
    deltas = [np.array([1.0, 0.0, 0.0]), np.zeros(3), np.array([0.0, 1.0, 2.0]), np.ones(3)]
    expected = np.array([float(np.dot(w, d)) for d in deltas])  # [1, 0, -1, -0.5]
    for method in ("exact_shapley", "loo", "mc_shapley"):
        game, _ = additive_game(w, deltas)
        values = compute_contributions(method, game, seed=SEED).values
        np.testing.assert_allclose(values, expected, atol=1e-6, err_msg=method)
        assert values[1] == 0.0, method  # the null player
    game, _ = additive_game(w, deltas)
    # Once every coalition is valued, GTG's stratified estimate is exact.
    gtg = compute_contributions(
        "gtg_shapley", game, seed=SEED, truncation=0.0, convergence=0.0, max_permutations=30
    ).values
    np.testing.assert_allclose(gtg, expected, atol=1e-9)
    assert gtg[1] == pytest.approx(0.0, abs=1e-12)


def test_exact_refuses_large_federations() -> None:
    n = EXACT_MAX_PLAYERS + 1
    game, utility = mean_game(n)
    with pytest.raises(ConfigError, match="exceeds"):
        compute_contributions("exact_shapley", game, seed=SEED)
    assert utility.calls == 0  # refused before spending any evaluation


# -- leave-one-out ----------------------------------------------------------------------------
def test_loo_by_definition_and_cost() -> None:
    game, utility = mean_game(4, seed=6)
    result = compute_contributions("loo", game, seed=SEED)
    assert result.evaluations == utility.calls == 4 + 1
    everyone = {0, 1, 2, 3}
    for i in range(4):
        assert result.values[i] == game.grand - game.value(everyone - {i})


# -- Monte-Carlo and GTG ----------------------------------------------------------------------
def test_mc_is_efficient_and_converges_to_exact() -> None:
    game, _ = mean_game(5, seed=7)
    exact = compute_contributions("exact_shapley", game, seed=SEED).values
    mc = compute_contributions("mc_shapley", game, seed=SEED, permutations=2000).values
    # Each permutation telescopes to v(N) - v(empty): efficiency holds for any sample.
    assert mc.sum() == pytest.approx(game.grand - game.empty, rel=1e-9)
    scale = float(np.abs(exact).max())
    np.testing.assert_allclose(mc, exact, atol=0.05 * scale)
    few = compute_contributions("mc_shapley", game, seed=SEED, permutations=3).values
    assert np.abs(few - exact).max() > np.abs(mc - exact).max()  # more samples, better


def test_mc_is_deterministic_for_a_seed() -> None:
    game_a, _ = mean_game(5, seed=8)
    game_b, _ = mean_game(5, seed=8)
    a = compute_contributions("mc_shapley", game_a, seed=3, permutations=10)
    b = compute_contributions("mc_shapley", game_b, seed=3, permutations=10)
    np.testing.assert_array_equal(a.values, b.values)
    c = compute_contributions("mc_shapley", game_a, seed=4, permutations=10)
    assert not np.array_equal(a.values, c.values)


def test_mc_default_permutations_on_a_fresh_game_cost_at_most_all_coalitions() -> None:
    game, utility = mean_game(5, seed=9)
    result = compute_contributions("mc_shapley", game, seed=SEED)
    assert result.evaluations == utility.calls <= 2**5
    again = compute_contributions("mc_shapley", game, seed=SEED)
    assert again.evaluations == 0  # everything memoized
    np.testing.assert_array_equal(result.values, again.values)


def test_gtg_converges_to_exact_on_five_clients() -> None:
    game, _ = mean_game(5, seed=7)
    exact = compute_contributions("exact_shapley", game, seed=SEED).values
    scale = float(np.abs(exact).max())
    # Guided sampling keeps the estimator unbiased: without truncation it converges to exact.
    many = compute_contributions(
        "gtg_shapley", game, seed=SEED, max_permutations=3000, convergence=0.0, truncation=0.0
    ).values
    np.testing.assert_allclose(many, exact, atol=0.05 * scale)
    # With the defaults (truncation, convergence stop, at most 30 permutations) it stays close.
    default = compute_contributions("gtg_shapley", game, seed=SEED).values
    np.testing.assert_allclose(default, exact, atol=0.2 * scale)
    # Truncation drops less than `truncation * |gain|` per permutation: near-efficient.
    gain = game.grand - game.empty
    assert default.sum() == pytest.approx(gain, abs=0.01 * abs(gain) + 1e-12)


def test_gtg_needs_fewer_evaluations_than_exact_on_eight_clients() -> None:
    game_exact, _ = mean_game(8, seed=10)
    exact = compute_contributions("exact_shapley", game_exact, seed=SEED)
    game_gtg, utility = mean_game(8, seed=10)
    gtg = compute_contributions("gtg_shapley", game_gtg, seed=SEED)
    assert exact.evaluations == 2**8
    assert gtg.evaluations == utility.calls
    assert gtg.evaluations < exact.evaluations / 2
    # Still ranks the best and worst clients like the ground truth.
    assert int(np.argmax(gtg.values)) == int(np.argmax(exact.values))
    assert int(np.argmin(gtg.values)) == int(np.argmin(exact.values))


def test_gtg_within_round_truncation_saves_evaluations() -> None:
    game_full, _ = mean_game(8, seed=12)
    full = compute_contributions(
        "gtg_shapley", game_full, seed=SEED, truncation=0.0, convergence=0.0
    )
    game_trunc, _ = mean_game(8, seed=12)
    trunc = compute_contributions(
        "gtg_shapley", game_trunc, seed=SEED, truncation=0.2, convergence=0.0
    )
    assert trunc.evaluations < full.evaluations


def test_gtg_guided_sampling_puts_every_client_first() -> None:
    """Permutation p starts with client p mod n: the singletons are evaluated in that order."""
    rng = np.random.default_rng(13)
    target = rng.normal(size=3)
    g = np.zeros(3, dtype=np.float32)
    ds = [rng.normal(size=3).astype(np.float32) for _ in range(4)]
    asked: list[list[int]] = []

    def agg(idx: Sequence[int]) -> np.ndarray:
        asked.append(list(idx))
        return g + np.mean([ds[i] for i in idx], axis=0)

    game = build_game(g, ds, agg, lambda v: -float(np.sum((v - target) ** 2)))
    compute_contributions(
        "gtg_shapley", game, seed=SEED, max_permutations=8, truncation=0.0, convergence=0.0
    )
    assert [c for c in asked if len(c) == 1] == [[0], [1], [2], [3]]


def test_gtg_truncates_everything_when_the_tolerance_covers_the_gain() -> None:
    game, utility = mean_game(4, seed=13)
    result = compute_contributions("gtg_shapley", game, seed=SEED, truncation=2.0)
    np.testing.assert_array_equal(result.values, np.zeros(4))
    assert result.evaluations == utility.calls == 2  # only v(N) and v(empty)


def test_gtg_stops_once_the_estimate_converges() -> None:
    game_loose, _ = mean_game(6, seed=17)
    loose = compute_contributions(
        "gtg_shapley", game_loose, seed=SEED, convergence=10.0, max_permutations=60
    )
    game_strict, _ = mean_game(6, seed=17)
    strict = compute_contributions(
        "gtg_shapley", game_strict, seed=SEED, convergence=0.0, max_permutations=60
    )
    # A loose criterion stops after two cycles of n permutations; a strict one runs them all.
    assert loose.evaluations < strict.evaluations
    same_start = compute_contributions(
        "gtg_shapley", mean_game(6, seed=17)[0], seed=SEED, convergence=0.0, max_permutations=12
    )
    np.testing.assert_array_equal(loose.values, same_start.values)


def test_gtg_skips_a_round_that_did_not_move_the_model() -> None:
    g = np.zeros(3, dtype=np.float32)
    ds = [np.zeros(3, dtype=np.float32) for _ in range(4)]
    utility = Counter(lambda v: -float(np.sum((v - 1.0) ** 2)))
    game = build_game(g, ds, lambda idx: g + np.mean([ds[i] for i in idx], axis=0), utility)
    result = compute_contributions("gtg_shapley", game, seed=SEED)
    np.testing.assert_array_equal(result.values, np.zeros(4))
    assert 1 <= result.evaluations <= 2


def test_gtg_is_deterministic_for_a_seed() -> None:
    a = compute_contributions("gtg_shapley", mean_game(6, seed=14)[0], seed=5)
    b = compute_contributions("gtg_shapley", mean_game(6, seed=14)[0], seed=5)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.evaluations == b.evaluations


def poisoned_game(n: int, seed: int) -> tuple[Game, Counter]:
    """A mean game with one sign-flipping update (client 0, scaled x3): its presence dominates
    every coalition's worth, the common mode GTG's surrogate has to absorb."""
    rng = np.random.default_rng(seed)
    target = rng.normal(size=6)
    g = np.zeros(6, dtype=np.float32)
    ds = [
        (target * rng.uniform(0.5, 1.2) + rng.normal(scale=0.4, size=6)).astype(np.float32)
        for _ in range(n)
    ]
    ds[0] = (-3.0 * ds[0]).astype(np.float32)
    utility = Counter(lambda v: -float(np.log1p(np.sum((v - target) ** 2))))

    def agg(idx: Sequence[int]) -> np.ndarray:
        return g + np.mean([ds[i] for i in idx], axis=0)

    return build_game(g, ds, agg, utility), utility


def test_gtg_ranks_like_exact_with_a_dominant_poisoner_at_a_fifth_of_the_cost() -> None:
    rhos = []
    for seed in range(21, 31):
        exact = compute_contributions("exact_shapley", poisoned_game(8, seed)[0], seed=SEED)
        game, _ = poisoned_game(8, seed)
        gtg = compute_contributions("gtg_shapley", game, seed=SEED)
        assert gtg.evaluations <= 0.2 * exact.evaluations
        ranks = [np.argsort(np.argsort(v)) for v in (gtg.values, exact.values)]
        rhos.append(float(np.corrcoef(ranks[0], ranks[1])[0, 1]))
        assert int(np.argmin(gtg.values)) == 0  # the poisoner is always found
    assert float(np.mean(rhos)) >= 0.85


def test_gtg_guided_depth_two_values_every_pair_once() -> None:
    n = 6
    game, utility = mean_game(n, seed=18)
    compute_contributions("gtg_shapley", game, seed=SEED, guided_depth=2, max_permutations=1)
    sizes = [len(c) for c in game.known()]
    assert sizes.count(1) == n
    assert sizes.count(2) == math.comb(n, 2)
    # Shared prefixes: one evaluation per coalition, every pair in front costs C(n, 2).
    assert utility.calls == len(sizes)
    shallow, _ = mean_game(n, seed=18)
    compute_contributions("gtg_shapley", shallow, seed=SEED, guided_depth=1, max_permutations=1)
    assert [len(c) for c in shallow.known()].count(2) == 1  # only the one permutation's prefix


def test_gtg_respects_its_evaluation_budget() -> None:
    for cap in (2, 5, 17, 40):
        game, utility = mean_game(8, seed=19)
        out = compute_contributions(
            "gtg_shapley", game, seed=SEED, max_evaluations=cap, max_permutations=50
        )
        assert out.evaluations == utility.calls <= cap
        assert np.all(np.isfinite(out.values))
    uncapped, _ = mean_game(8, seed=19)
    free = compute_contributions(
        "gtg_shapley", uncapped, seed=SEED, max_evaluations=None, max_permutations=50
    )
    assert free.evaluations > 40


def test_gtg_with_every_coalition_valued_is_exact() -> None:
    """The stratified estimate over a complete memo is the Shapley value, however the game
    interacts (mean game, not additive)."""
    game, _ = mean_game(5, seed=20)
    exact = compute_contributions("exact_shapley", game, seed=SEED).values
    # exact_shapley filled the memo: GTG then reads every coalition for free
    gtg = compute_contributions("gtg_shapley", game, seed=SEED, truncation=0.0)
    assert gtg.evaluations == 0
    np.testing.assert_allclose(gtg.values, exact, atol=1e-9)


# -- cosine and data size ---------------------------------------------------------------------
def test_cosine_by_hand() -> None:
    g = np.zeros(2, dtype=np.float32)
    ds = [np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([-1.0, 0.0])]
    ds = [d.astype(np.float32) for d in ds]
    target = np.array([1.0, 0.0])
    utility = Counter(lambda v: -float(np.sum((v - target) ** 2)))
    game = build_game(g, ds, lambda idx: g + np.mean([ds[i] for i in idx], axis=0), utility)
    result = compute_contributions("cosine", game, seed=SEED)
    gain = game.grand - game.empty  # aggregate (1/3, 0): -(4/9) + 1 = 5/9
    assert gain == pytest.approx(5 / 9)
    # similarities [1, 1, -1]; positive sum 2 -> gain / 2 per unit of similarity
    np.testing.assert_allclose(result.values, [gain / 2, gain / 2, -gain / 2])
    assert result.evaluations == utility.calls == 2


def test_cosine_zero_update_scores_zero() -> None:
    w = np.array([1.0, 1.0])
    game, _ = additive_game(w, [np.array([1.0, 0.0]), np.zeros(2), np.array([0.0, 2.0])])
    values = compute_contributions("cosine", game, seed=SEED).values
    assert values[1] == 0.0
    assert values.sum() == pytest.approx(game.grand - game.empty)


def test_data_size_splits_the_gain_by_samples() -> None:
    game, _ = mean_game(3, seed=15)  # samples 10, 20, 30
    result = compute_contributions("data_size", game, seed=SEED)
    gain = game.grand - game.empty
    np.testing.assert_allclose(result.values, [gain / 6, gain / 3, gain / 2])
    assert result.evaluations == 2


def test_data_size_needs_samples() -> None:
    game, _ = additive_game(np.ones(2), [np.ones(2)])
    with pytest.raises(ConfigError, match="sample counts"):
        compute_contributions("data_size", game, seed=SEED)


# -- parameters and errors --------------------------------------------------------------------
def test_unknown_method_is_a_config_error() -> None:
    game, _ = mean_game(2)
    with pytest.raises(ConfigError, match="unknown contribution method 'shapely'"):
        compute_contributions("shapely", game, seed=SEED)


@pytest.mark.parametrize(
    ("method", "params", "match"),
    [
        ("mc_shapley", {"permutation": 5}, "unknown parameters"),
        ("loo", {"permutations": 5}, "unknown parameters"),
        ("mc_shapley", {"permutations": 0}, "integer >= 1"),
        ("mc_shapley", {"permutations": 2.5}, "integer >= 1"),
        ("mc_shapley", {"permutations": True}, "integer >= 1"),
        ("gtg_shapley", {"max_permutations": -3}, "integer >= 1"),
        ("gtg_shapley", {"truncation": -0.1}, ">= 0"),
        ("gtg_shapley", {"convergence": float("nan")}, "finite"),
        ("gtg_shapley", {"skip_threshold": "small"}, "must be a number"),
        ("gtg_shapley", {"guided_depth": 0}, "integer >= 1"),
        ("gtg_shapley", {"max_evaluations": 1}, "integer >= 2"),
        ("gtg_shapley", {"max_evaluations": 20.5}, "integer >= 2"),
    ],
)
def test_bad_params_are_config_errors(method: str, params: dict[str, object], match: str) -> None:
    game, utility = mean_game(3)
    with pytest.raises(ConfigError, match=match):
        compute_contributions(method, game, seed=SEED, **params)
    assert utility.calls == 0


@pytest.mark.parametrize("seed", [-1, 1.5, None, True])
def test_bad_seed_is_a_config_error(seed: object) -> None:
    game, _ = mean_game(2)
    with pytest.raises(ConfigError, match="seed"):
        compute_contributions("mc_shapley", game, seed=seed)  # type: ignore[arg-type]


def test_not_a_game_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Game"):
        compute_contributions("loo", object(), seed=SEED)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["loo", "exact_shapley", "mc_shapley", "gtg_shapley", "cosine"])
def test_single_client_gets_the_whole_gain(method: str) -> None:
    game, _ = mean_game(1, seed=16)
    values = compute_contributions(method, game, seed=SEED).values
    assert values.shape == (1,)
    assert values[0] == pytest.approx(game.grand - game.empty)


@pytest.mark.parametrize("method", ["loo", "exact_shapley", "mc_shapley", "gtg_shapley", "cosine"])
def test_empty_game_scores_nobody(method: str) -> None:
    g = np.zeros(2, dtype=np.float32)
    game = build_game(g, [], lambda idx: g, lambda v: 1.0)
    result = compute_contributions(method, game, seed=SEED)
    assert result.values.shape == (0,)


# -- Numerai score table ----------------------------------------------------------------------
def test_numerai_own_is_the_update_alone_not_through_the_aggregator() -> None:
    target = np.array([1.0, 1.0])
    g = np.zeros(2, dtype=np.float32)
    ds = [np.array([1.0, 1.0], dtype=np.float32), np.array([-1.0, 0.0], dtype=np.float32)]
    utility = Counter(lambda v: -float(np.sum((v - target) ** 2)))

    def robust(idx: Sequence[int]) -> np.ndarray:
        # An aggregator that ignores a lone update: own quality must not go through it.
        return g if len(idx) < 2 else g + np.mean([ds[i] for i in idx], axis=0)

    game = build_game(g, ds, robust, utility)
    marginal = compute_contributions("exact_shapley", game, seed=SEED).values
    before = game.evaluations
    table = numerai_scores(game, marginal, corr_multiplier=0.5, mmc_multiplier=2.0)
    assert game.evaluations - before == 2  # one per own score
    # own: u(g + d) - u(g) = -(0) + 2 = 2 for client 0; -(4 + 1) + 2 = -3 for client 1
    np.testing.assert_allclose(table.own, [2.0, -3.0])
    np.testing.assert_array_equal(table.marginal, marginal)
    np.testing.assert_allclose(table.combined, 0.5 * table.own + 2.0 * marginal)
    numerai_scores(game, marginal, corr_multiplier=1.0, mmc_multiplier=0.0)
    assert game.evaluations - before == 2  # memoized on the game


def test_numerai_rejects_bad_inputs() -> None:
    game, _ = mean_game(3)
    with pytest.raises(ConfigError, match="shape"):
        numerai_scores(game, np.zeros(2), 0.5, 2.0)
    with pytest.raises(ConfigError, match="finite"):
        numerai_scores(game, np.array([0.0, math.nan, 0.0]), 0.5, 2.0)
    with pytest.raises(ConfigError, match="corr_multiplier"):
        numerai_scores(game, np.zeros(3), math.inf, 2.0)
    with pytest.raises(ConfigError, match="mmc_multiplier"):
        numerai_scores(game, np.zeros(3), 0.5, "2")  # type: ignore[arg-type]
