"""GTG-Shapley: guided, truncated, budgeted permutation sampling for federated rounds.

Monte-Carlo Shapley over a round's updates is dominated by two sources of noise that plain
permutation averaging cannot remove with a few dozen evaluations:

- a *common mode*: in federated averaging the worth of a coalition depends mostly on its size and
  on whether a dominant update (a poisoner, a huge client) is in it. Whether a client happens to
  be sampled right after the poisoner swings its marginal by far more than the differences
  between honest clients;
- the *first positions*: marginals of small coalitions vary the most, and a random permutation
  visits each position of each client at most once.

The estimator here keeps GTG's mechanisms (between-round skip, within-round truncation, guided
sampling, convergence stop) and removes both:

- guided sampling over shared prefixes: the permutations' first ``guided_depth`` positions run
  over every choice of clients (each client first; every pair of clients first; ...). Such
  permutations share their prefixes, so this costs one evaluation per coalition
  (``C(n,1) + C(n,2) + ...``) and values the small-coalition strata exactly;
- then full random permutations (each client first in turn), truncated within the round once the
  coalition is within ``truncation * |v(N) - v(empty)|`` of ``v(N)``;
- every memoized pair ``(S, S + i)``, from any permutation, is a marginal sample of ``i`` at
  position ``|S|``;
- a control variate: the surrogate game ``w(S) = F(|S|, d in S)`` (mean worth of the evaluated
  coalitions of that size with or without the dominant player ``d``) has Shapley values in closed
  form; the sampled marginals only estimate the residual ``v - w``, stratified by position (each
  position weighs ``1/n``, as in the Shapley formula). Positions no sample reached (truncated
  tails) fall back to the surrogate.

With every coalition evaluated this is exactly the Shapley value (each stratum's residual mean is
exact), so the estimator converges to it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from itertools import combinations

import numpy as np

from fl_node.contribution.game import Game

#: Pseudo-count of zero residual in each incompletely sampled position (see :func:`estimate`).
SHRINK = 3.0


class _Budget:
    """Evaluations left for one call (memoized coalitions are free)."""

    def __init__(self, game: Game, max_evaluations: int | None) -> None:
        self.game = game
        self.start = game.evaluations
        self.cap = max_evaluations

    def spent(self) -> int:
        return self.game.evaluations - self.start

    def exhausted(self) -> bool:
        return self.cap is not None and self.spent() >= self.cap

    def value(self, coalition: list[int]) -> float | None:
        """``v(coalition)`` if memoized or affordable, else None."""
        if self.game.is_known(coalition) or not self.exhausted():
            return self.game.value(coalition)
        return None


def _guided_prefixes(n: int, depth: int, rng: np.random.Generator) -> Iterator[list[int]]:
    """Coalitions of size 1..depth, breadth first: the prefixes of the permutations that put
    every choice of ``depth`` clients first. Client p leads the p-th permutation (as in GTG);
    larger prefixes come in a seeded order, so a budget cut spreads over all clients."""
    for size in range(1, min(depth, n - 1) + 1):
        level = [list(c) for c in combinations(range(n), size)]
        for k in range(len(level)) if size == 1 else rng.permutation(len(level)):
            yield level[int(k)]


def _samples(
    known: Mapping[frozenset[int], float], n: int
) -> list[tuple[int, frozenset[int], float]]:
    """Every marginal ``v(S + i) - v(S)`` the memo holds, as ``(i, S, marginal)``."""
    out = []
    for coalition, worth in known.items():
        for i in coalition:
            rest = coalition - {i}
            below = known.get(rest)
            if below is not None:
                out.append((i, rest, worth - below))
    return out


def _dominant(samples: list[tuple[int, frozenset[int], float]], n: int) -> int:
    """The client whose mean sampled marginal is farthest from the median client's."""
    total, count = np.zeros(n), np.zeros(n)
    for i, _, marginal in samples:
        total[i] += marginal
        count[i] += 1
    mean = total / np.maximum(count, 1)
    return int(np.argmax(np.abs(mean - np.median(mean))))


def _surrogate(known: Mapping[frozenset[int], float], n: int, d: int) -> np.ndarray:
    """``F[b, k]``: mean worth of the evaluated coalitions of size k without (b=0) or with (b=1)
    player d; cells nobody evaluated are interpolated along the size."""
    total, count = np.zeros((2, n + 1)), np.zeros((2, n + 1))
    for coalition, worth in known.items():
        b = int(d in coalition)
        total[b, len(coalition)] += worth
        count[b, len(coalition)] += 1
    table = np.zeros((2, n + 1))
    sizes = np.arange(n + 1)
    for b in (0, 1):
        seen = count[b] > 0
        if seen.any():
            table[b] = np.interp(sizes, sizes[seen], total[b][seen] / count[b][seen])
    return table


def _surrogate_marginal(table: np.ndarray, d: int, coalition: frozenset[int], i: int) -> float:
    k = len(coalition)
    if i == d:
        return float(table[1, k + 1] - table[0, k])
    b = int(d in coalition)
    return float(table[b, k + 1] - table[b, k])


def _surrogate_shapley(table: np.ndarray, n: int, d: int) -> np.ndarray:
    """Exact Shapley values of ``w(S) = F[d in S, |S|]``: every other player joins a coalition
    of size k that holds d with probability k/(n-1); d's value follows by efficiency."""
    common = 0.0
    for k in range(n):
        with_d = k / (n - 1)
        if k < n - 1:
            common += (1 - with_d) * float(table[0, k + 1] - table[0, k]) / n
        if k > 0:
            common += with_d * float(table[1, k + 1] - table[1, k]) / n
    values = np.full(n, common)
    values[d] = float(table[1, n] - table[0, 0]) - (n - 1) * common
    return values


def estimate(game: Game) -> np.ndarray:
    """Shapley estimate from every coalition ``game`` has valued (see the module docstring)."""
    n = game.n
    known = game.known()
    if n == 1:
        return np.array([game.grand - game.empty])
    if len(known) <= 2:
        # Only v(empty) and v(N): every permutation was truncated at once, every marginal is 0.
        return np.zeros(n, dtype=np.float64)
    samples = _samples(known, n)
    d = _dominant(samples, n)
    table = _surrogate(known, n, d)
    residual, count = np.zeros((n, n)), np.zeros((n, n))
    for i, rest, marginal in samples:
        residual[i, len(rest)] += marginal - _surrogate_marginal(table, d, rest, i)
        count[i, len(rest)] += 1
    # A position whose coalitions were not all sampled is shrunk towards the surrogate (as if it
    # also held SHRINK samples of residual 0): a lone deep sample of a few clients would otherwise
    # add noise to those clients only and scramble the ranking.
    complete = np.array([math.comb(n - 1, k) for k in range(n)], dtype=np.float64)
    prior = np.where(count >= complete, 0.0, SHRINK)
    stratified = (residual / np.maximum(count + prior, 1.0)).sum(axis=1) / n
    return _surrogate_shapley(table, n, d) + stratified


def walk(budget: _Budget, order: np.ndarray, tolerance: float, grand: float) -> bool:
    """Value the prefixes of ``order`` until the coalition is within ``tolerance`` of ``v(N)``
    (within-round truncation) or the budget runs out; False once it has run out."""
    members: list[int] = []
    worth = budget.game.empty
    for player in order[:-1]:
        if tolerance > 0 and abs(grand - worth) < tolerance:
            return True
        members.append(int(player))
        value = budget.value(members)
        if value is None:
            return False
        worth = value
    return True


def gtg_shapley(
    game: Game,
    rng: np.random.Generator,
    truncation: float,
    convergence: float,
    max_permutations: int,
    skip_threshold: float,
    guided_depth: int,
    max_evaluations: int | None,
) -> np.ndarray:
    """See :func:`fl_node.contribution.methods.gtg_shapley`."""
    n = game.n
    if n == 0:
        return np.zeros(0)
    budget = _Budget(game, max_evaluations)
    gain = game.grand - game.empty
    if abs(gain) < skip_threshold:
        return np.zeros(n, dtype=np.float64)
    if n == 1:
        return np.array([gain])
    tolerance = truncation * abs(gain)
    grand = game.grand
    for prefix in _guided_prefixes(n, guided_depth, rng):
        # Within-round truncation: a prefix is not extended once it is within the tolerance of
        # v(N), nor is one whose own prefix was truncated (the prefixes come breadth first, so an
        # unknown parent was truncated).
        parent = game.known().get(frozenset(prefix[:-1]))
        if parent is None or (tolerance > 0 and abs(grand - parent) < tolerance):
            continue
        if budget.value(prefix) is None:
            return estimate(game)
    previous: np.ndarray | None = None
    for p in range(max_permutations):
        first = p % n
        rest = np.array([i for i in range(n) if i != first], dtype=np.int64)
        order = np.concatenate(([first], rng.permutation(rest))).astype(np.int64)
        if not walk(budget, order, tolerance, grand):
            break
        if (p + 1) % n == 0:
            current = estimate(game)
            if previous is not None:
                change = float(np.abs(current - previous).sum())
                if convergence > 0 and change <= convergence * float(np.abs(current).sum()):
                    return current
            previous = current
    return estimate(game)
