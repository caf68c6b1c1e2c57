"""A round as a cooperative game over the valid client updates.

The players are the ``n`` updates; the worth of a coalition is the validation utility of the model
the aggregator builds from just those updates (``v(empty)`` = the previous global model). Every
utility call is a forward pass over the validation set, which dominates the cost of scoring, so the
game memoizes each coalition once and counts the distinct calls: methods are compared by the
number of evaluations they need.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType

import numpy as np

from fl_node.errors import ConfigError

AggSubset = Callable[[Sequence[int]], np.ndarray]
Utility = Callable[[np.ndarray], float]


class Game:
    """Memoized coalition values of one round (see :func:`build_game`)."""

    def __init__(
        self,
        g: np.ndarray,
        deltas: Sequence[np.ndarray],
        agg_subset: AggSubset,
        utility: Utility,
        samples: Sequence[int] | None = None,
    ) -> None:
        self.g = g
        self.deltas = list(deltas)
        self.samples = None if samples is None else tuple(int(s) for s in samples)
        self._agg_subset = agg_subset
        self._utility = utility
        self._values: dict[frozenset[int], float] = {}
        self._own: dict[int, float] = {}
        self._grand_vector: np.ndarray | None = None
        self.evaluations = 0

    @property
    def n(self) -> int:
        return len(self.deltas)

    @property
    def players(self) -> frozenset[int]:
        return frozenset(range(self.n))

    def _evaluate(self, vec: np.ndarray, what: str) -> float:
        self.evaluations += 1
        value = float(self._utility(vec))
        if not math.isfinite(value):
            raise ValueError(f"the utility of {what} is not finite ({value})")
        return value

    def _coalition(self, coalition: Iterable[int]) -> frozenset[int]:
        members = frozenset(int(i) for i in coalition)
        bad = [i for i in members if not 0 <= i < self.n]
        if bad:
            raise ValueError(f"players {sorted(bad)} are not in a game of {self.n} players")
        return members

    def aggregate(self, coalition: Iterable[int]) -> np.ndarray:
        """The aggregator's model built from ``coalition`` only (``g`` for the empty one)."""
        members = self._coalition(coalition)
        if not members:
            return self.g
        if len(members) == self.n and self._grand_vector is not None:
            return self._grand_vector
        vec = np.asarray(self._agg_subset(sorted(members)))
        if vec.shape != self.g.shape:
            raise ValueError(
                f"agg_subset returned shape {vec.shape}, expected the model's {self.g.shape}"
            )
        if len(members) == self.n:
            self._grand_vector = vec
        return vec

    def value(self, coalition: Iterable[int]) -> float:
        """``v(coalition)``: the utility of the coalition's aggregate, computed once."""
        members = self._coalition(coalition)
        cached = self._values.get(members)
        if cached is None:
            label = f"coalition {sorted(members)}"
            cached = self._evaluate(self.aggregate(members), label)
            self._values[members] = cached
        return cached

    def known(self) -> Mapping[frozenset[int], float]:
        """Every coalition valued so far (read-only view): estimators reuse them for free."""
        return MappingProxyType(self._values)

    def is_known(self, coalition: Iterable[int]) -> bool:
        """Whether ``v(coalition)`` is memoized, i.e. would cost no evaluation."""
        return self._coalition(coalition) in self._values

    @property
    def empty(self) -> float:
        """``v(empty)``: the utility of the previous global model."""
        return self.value(())

    @property
    def grand(self) -> float:
        """``v(N)``: the utility of the aggregate of every update."""
        return self.value(range(self.n))

    def own(self, i: int) -> float:
        """Gain of update ``i`` applied alone to ``g``: ``utility(g + delta_i) - utility(g)``.

        Deliberately not through the aggregator, so a robust aggregator that would ignore a lone
        update cannot hide how good (or bad) that update is by itself.
        """
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < self.n:
            raise ValueError(f"player {i!r} is not in a game of {self.n} players")
        i = int(i)
        cached = self._own.get(i)
        if cached is None:
            vec = (self.g.astype(np.float64) + self.deltas[i].astype(np.float64)).astype(
                self.g.dtype
            )
            cached = self._evaluate(vec, f"update {i} alone") - self.empty
            self._own[i] = cached
        return cached


def build_game(
    g: np.ndarray,
    deltas: Sequence[np.ndarray],
    agg_subset: AggSubset,
    utility: Utility,
    samples: Sequence[int] | None = None,
) -> Game:
    """The round's game: ``g`` the previous global model (flat), ``deltas[i]`` client i's update
    minus ``g``, ``agg_subset(idx)`` the aggregate of a subset, ``utility(vec)`` the validation
    utility (higher is better), ``samples[i]`` client i's training-set size (for ``data_size``).
    """
    g = np.asarray(g)
    if g.ndim != 1:
        raise ConfigError(f"g must be a flat vector, got shape {g.shape}")
    checked = []
    for i, d in enumerate(deltas):
        arr = np.asarray(d)
        if arr.shape != g.shape:
            raise ConfigError(f"deltas[{i}] has shape {arr.shape}, expected {g.shape}")
        checked.append(arr)
    if not callable(agg_subset) or not callable(utility):
        raise ConfigError("agg_subset and utility must be callables")
    if samples is not None:
        samples = list(samples)
        if len(samples) != len(checked):
            raise ConfigError(f"samples has {len(samples)} entries for {len(checked)} updates")
        for i, s in enumerate(samples):
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
                raise ConfigError(f"samples[{i}]={s!r} must be a non-negative integer")
        if checked and sum(int(s) for s in samples) == 0:
            raise ConfigError("samples must not all be zero")
    return Game(g, checked, agg_subset, utility, samples)
