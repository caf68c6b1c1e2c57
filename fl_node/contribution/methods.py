"""Contribution methods: how much of the round's improvement each update is worth.

All methods return values in the same unit as the utility (``v(N) - v(empty)`` is split among the
clients, exactly or approximately), so they can be compared and plugged into the same payout
formula. Every method is deterministic for a given seed: the aggregator and an auditor who re-runs
the round from the chain must derive the same scores.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fl_node.contribution import gtg as _gtg
from fl_node.contribution.game import Game
from fl_node.errors import ConfigError

#: Exact Shapley evaluates all 2^n coalitions: beyond this it is no longer a ground truth one
#: can afford (16384 forward passes).
EXACT_MAX_PLAYERS = 14


@dataclass(frozen=True, eq=False)
class Contribution:
    values: np.ndarray  # float64, one per player
    evaluations: int  # utility calls this method made (memoized calls are free)
    method: str


# -- parameter checking ----------------------------------------------------------------------
def _int_param(method: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{method}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _float_param(method: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{method}: {name} must be a number, got {value!r}")
    f = float(value)
    if not math.isfinite(f) or f < 0:
        raise ConfigError(f"{method}: {name} must be finite and >= 0, got {value!r}")
    return f


def _params(method: str, given: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "none"
        raise ConfigError(f"{method}: unknown parameters {unknown} (allowed: {allowed})")
    return {**defaults, **given}


# -- methods ---------------------------------------------------------------------------------
def leave_one_out(game: Game, rng: np.random.Generator) -> np.ndarray:
    """``v(N) - v(N without i)``: what the aggregate loses without each update."""
    n = game.n
    grand = game.grand
    everyone = set(range(n))
    return np.array([grand - game.value(everyone - {i}) for i in range(n)], dtype=np.float64)


def exact_shapley(game: Game, rng: np.random.Generator) -> np.ndarray:
    """Shapley values over all 2^n coalitions: the ground truth for small federations."""
    n = game.n
    if n > EXACT_MAX_PLAYERS:
        raise ConfigError(
            f"exact_shapley needs 2^n utility evaluations: n={n} exceeds {EXACT_MAX_PLAYERS}; "
            "use mc_shapley or gtg_shapley"
        )
    if n == 0:
        return np.zeros(0)
    size = 1 << n
    masks = np.arange(size)
    worth = np.empty(size, dtype=np.float64)
    for mask in range(size):
        worth[mask] = game.value(i for i in range(n) if mask >> i & 1)
    popcount = np.array([bin(m).count("1") for m in range(size)])
    # Weight of a coalition S (i not in S): |S|! (n-|S|-1)! / n!
    weights = np.array(
        [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)]
    )
    values = np.empty(n, dtype=np.float64)
    for i in range(n):
        bit = 1 << i
        without = masks[(masks & bit) == 0]
        values[i] = math.fsum(weights[popcount[without]] * (worth[without | bit] - worth[without]))
    return values


def _walk(game: Game, order: np.ndarray) -> np.ndarray:
    """Marginal contributions along one permutation (they telescope to ``v(N) - v(empty)``)."""
    marginals = np.zeros(game.n, dtype=np.float64)
    prev = game.empty
    members: list[int] = []
    for player in order:
        members.append(int(player))
        current = game.value(members)
        marginals[player] = current - prev
        prev = current
    return marginals


def mc_shapley(game: Game, rng: np.random.Generator, permutations: int = 50) -> np.ndarray:
    """Monte-Carlo Shapley: average marginal contributions over random permutations.

    Each permutation's marginals telescope to ``v(N) - v(empty)``, so efficiency holds exactly.
    """
    n = game.n
    total = np.zeros(n, dtype=np.float64)
    if n == 0:
        return total
    for _ in range(permutations):
        total += _walk(game, rng.permutation(n))
    return total / permutations


def gtg_shapley(
    game: Game,
    rng: np.random.Generator,
    truncation: float = 0.01,
    convergence: float = 0.05,
    max_permutations: int = 2,
    skip_threshold: float = 1e-4,
    guided_depth: int = 2,
    max_evaluations: int | None = None,
) -> np.ndarray:
    """GTG-Shapley (Liu et al., 2022): Monte-Carlo Shapley made cheap for federated rounds.

    - Between-round truncation: when the round barely moved the model
      (``|v(N) - v(empty)| < skip_threshold``) nobody contributed: zeros after 2 evaluations.
    - Coalition models are reconstructed from the submitted updates (``agg_subset``), never
      retrained.
    - Guided sampling: the permutations first put every choice of ``guided_depth`` clients in
      front (each client first; with 2, also every pair first). They share their prefixes, so
      this costs one evaluation per coalition of up to ``guided_depth`` clients and values the
      noisiest (first) positions exactly. Then random permutations, client ``p mod n`` first.
    - Within-round truncation: a permutation stops being evaluated once its coalition is within
      ``truncation * |v(N) - v(empty)|`` of ``v(N)``; the positions it skipped are left to the
      surrogate below.
    - Estimate: every memoized ``(S, S + i)`` is a marginal sample; a closed-form surrogate
      (coalition size x membership of the dominant update) absorbs the common mode and the
      samples estimate the rest, stratified by position (see :mod:`fl_node.contribution.gtg`).
    - Convergence: after every full cycle of n random permutations, stop when the estimate moved
      by less than ``convergence`` (relative L1 change) since the previous cycle; at most
      ``max_permutations`` random permutations.
    - Budget: never more than ``max_evaluations`` utility calls (None: no cap).
    """
    return _gtg.gtg_shapley(
        game,
        rng,
        truncation=truncation,
        convergence=convergence,
        max_permutations=max_permutations,
        skip_threshold=skip_threshold,
        guided_depth=guided_depth,
        max_evaluations=max_evaluations,
    )


def cosine(game: Game, rng: np.random.Generator) -> np.ndarray:
    """Cosine similarity of each update to the aggregate's direction, in utility units.

    Cheap (2 evaluations) but blind to interactions; scaled by
    ``(v(N) - v(empty)) / sum of positive similarities`` so it splits the round's gain like the
    game-theoretic methods.
    """
    n = game.n
    if n == 0:
        return np.zeros(0)
    gain = game.grand - game.empty
    direction = game.aggregate(range(n)).astype(np.float64) - game.g.astype(np.float64)
    norm_dir = float(np.linalg.norm(direction))
    sims = np.zeros(n, dtype=np.float64)
    for i, delta in enumerate(game.deltas):
        d = delta.astype(np.float64)
        norm = float(np.linalg.norm(d))
        if norm > 0 and norm_dir > 0:
            sims[i] = float(np.dot(d, direction)) / (norm * norm_dir)
    positive = float(sims[sims > 0].sum())
    if positive <= 0:
        return np.zeros(n, dtype=np.float64)
    return sims * (gain / positive)


def data_size(game: Game, rng: np.random.Generator) -> np.ndarray:
    """Baseline: the round's gain split by training-set size."""
    n = game.n
    if game.samples is None:
        raise ConfigError("data_size needs the clients' sample counts (build_game(samples=...))")
    if n == 0:
        return np.zeros(0)
    gain = game.grand - game.empty
    samples = np.asarray(game.samples, dtype=np.float64)
    return samples / samples.sum() * gain


Method = Callable[..., np.ndarray]

METHODS: dict[str, tuple[Method, dict[str, Any]]] = {
    "loo": (leave_one_out, {}),
    "exact_shapley": (exact_shapley, {}),
    "mc_shapley": (mc_shapley, {"permutations": 50}),
    "gtg_shapley": (
        gtg_shapley,
        {
            "truncation": 0.01,
            "convergence": 0.05,
            "max_permutations": 2,
            "skip_threshold": 1e-4,
            "guided_depth": 2,
            "max_evaluations": None,
        },
    ),
    "cosine": (cosine, {}),
    "data_size": (data_size, {}),
}

#: Integer parameters and their minimum (None allowed where the minimum is in _OPTIONAL).
_INT_PARAMS = {"permutations": 1, "max_permutations": 1, "guided_depth": 1, "max_evaluations": 2}
_OPTIONAL = {"max_evaluations"}


def compute_contributions(method: str, game: Game, seed: int, **params: Any) -> Contribution:
    """Score every player of ``game`` with ``method`` (see :data:`METHODS`), deterministically
    for ``seed``."""
    if method not in METHODS:
        raise ConfigError(
            f"unknown contribution method {method!r}; choose one of {', '.join(sorted(METHODS))}"
        )
    if not isinstance(game, Game):
        raise ConfigError(f"expected a Game from build_game, got {type(game).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    func, defaults = METHODS[method]
    merged = _params(method, params, defaults)
    checked = {
        name: None
        if value is None and name in _OPTIONAL
        else _int_param(method, name, value, _INT_PARAMS[name])
        if name in _INT_PARAMS
        else _float_param(method, name, value)
        for name, value in merged.items()
    }
    rng = np.random.default_rng(int(seed))
    before = game.evaluations
    values = np.asarray(func(game, rng, **checked), dtype=np.float64)
    return Contribution(values=values, evaluations=game.evaluations - before, method=method)
