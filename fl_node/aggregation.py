"""Aggregation of client updates into the next global model (pure numpy).

Every strategy maps the global vector ``g`` and the clients' deltas (update - g) to
``g + combined delta``. Math is float64 and accumulates in client-index order with elementwise
operations only (no BLAS reductions, whose rounding depends on the CPU), and the result is
float32, so the aggregator and every auditor compute the same bytes.

- ``fedavg``: weighted mean; weights by ``samples`` (McMahan et al.), ``stake``,
  ``stake_reputation`` (Numerai's stake-weighted meta-model, tempered by past scores), or
  ``uniform``;
- ``median``: coordinate-wise median (Yin et al. 2018);
- ``trimmed_mean``: coordinate-wise mean after dropping the ``trim`` fraction of the largest and
  of the smallest values;
- ``krum``: the update closest to its n - f - 2 nearest neighbours (Blanchard et al. 2017), or
  the mean of the ``m`` best (multi-Krum);
- ``reputation``: Numerai's meta-model: a mean weighted by stake x the client's exponentially
  decayed record of past scores (:mod:`fl_node.federation.reputation` computes the records from
  the earlier rounds' results tables); a client whose record is negative weighs nothing, a
  newcomer weighs as the median recorded client, and a round in which nobody has a record yet
  (round 1) falls back to a robust rule (``fallback``: median by default).

``aggregate_subset`` is the same rule applied to a coalition of clients: the contribution scorers
value coalitions with it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fl_node.errors import ConfigError

WEIGHTINGS = ("samples", "stake", "stake_reputation", "uniform")


@dataclass(frozen=True)
class AggregationInfo:
    """Per-client facts the weightings use, aligned with the deltas."""

    samples: Sequence[int]
    stakes: Sequence[int]
    reputations: Sequence[float]
    #: Each client's decayed record of past scores (``reputation`` strategy); None: a newcomer
    #: (no earlier round scored it). Empty: nobody has a record.
    records: Sequence[float | None] = ()


def _mean(rows: Sequence[np.ndarray], coefs: Sequence[float] | None = None) -> np.ndarray:
    """sum_i coefs[i] * rows[i] (plain mean without coefs), summed in index order."""
    acc = np.zeros_like(rows[0], dtype=np.float64)
    if coefs is None:
        for row in rows:
            acc += row
        return acc / len(rows)
    for coef, row in zip(coefs, rows, strict=True):
        acc += coef * row
    return acc


class Strategy(ABC):
    """An aggregation rule over a list of deltas (float vectors of the global's shape)."""

    name: str = ""

    def aggregate(
        self, g: np.ndarray, deltas: list[np.ndarray], info: AggregationInfo
    ) -> np.ndarray:
        """The new global vector from every client's delta."""
        return self.aggregate_subset(g, deltas, info, range(len(deltas)))

    def aggregate_subset(
        self,
        g: np.ndarray,
        deltas: list[np.ndarray],
        info: AggregationInfo,
        idx: Sequence[int],
    ) -> np.ndarray:
        """The new global vector from the deltas of clients ``idx`` only (empty: ``g``)."""
        base = np.asarray(g)
        if base.ndim != 1:
            raise ValueError(f"the global model must be a flat vector, got shape {base.shape}")
        chosen = sorted(int(i) for i in idx)
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"duplicate client indices in {list(idx)}")
        if chosen and not (chosen[0] >= 0 and chosen[-1] < len(deltas)):
            raise ValueError(f"client indices {chosen} out of range for {len(deltas)} deltas")
        if not chosen:
            return base.astype(np.float32, copy=True)
        rows = []
        for i in chosen:
            row = np.asarray(deltas[i], dtype=np.float64)
            if row.shape != base.shape:
                raise ValueError(f"delta {i} has shape {row.shape}, the global {base.shape}")
            rows.append(row)
        combined = self._combine(rows, chosen, info)
        return (base.astype(np.float64) + combined).astype(np.float32)

    @abstractmethod
    def _combine(
        self, rows: list[np.ndarray], chosen: list[int], info: AggregationInfo
    ) -> np.ndarray:
        """The combined delta of ``rows`` (the deltas of clients ``chosen``, ascending)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _field(info: AggregationInfo, name: str, chosen: list[int]) -> list[float]:
    values = list(getattr(info, name))
    if chosen[-1] >= len(values):
        raise ValueError(f"AggregationInfo.{name} has {len(values)} entries, need {chosen[-1] + 1}")
    out = [float(values[i]) for i in chosen]
    if any(not math.isfinite(v) or v < 0 for v in out):
        raise ValueError(f"AggregationInfo.{name} must be finite and >= 0, got {out}")
    return out


class FedAvg(Strategy):
    name = "fedavg"

    def __init__(self, weighting: str = "samples") -> None:
        if weighting not in WEIGHTINGS:
            raise ConfigError(
                f"unknown fedavg weighting {weighting!r}; known: {', '.join(WEIGHTINGS)}"
            )
        self.weighting = weighting

    def weights(self, chosen: list[int], info: AggregationInfo) -> list[float]:
        """Raw (unnormalized) weights of clients ``chosen``."""
        if self.weighting == "uniform":
            return [1.0] * len(chosen)
        if self.weighting == "samples":
            return _field(info, "samples", chosen)
        stakes = _field(info, "stakes", chosen)
        if self.weighting == "stake":
            return stakes
        reps = _field(info, "reputations", chosen)
        return [s * r for s, r in zip(stakes, reps, strict=True)]

    def _combine(
        self, rows: list[np.ndarray], chosen: list[int], info: AggregationInfo
    ) -> np.ndarray:
        raw = self.weights(chosen, info)
        total = math.fsum(raw)
        if total <= 0:
            # Nobody carries weight (no stake, no reputation): fall back to the plain mean
            # rather than freezing the model.
            return _mean(rows)
        return _mean(rows, [w / total for w in raw])

    def __repr__(self) -> str:
        return f"FedAvg(weighting={self.weighting!r})"


class Median(Strategy):
    name = "median"

    def _combine(
        self, rows: list[np.ndarray], chosen: list[int], info: AggregationInfo
    ) -> np.ndarray:
        return np.median(np.stack(rows), axis=0)


class TrimmedMean(Strategy):
    name = "trimmed_mean"

    def __init__(self, trim: float = 0.2) -> None:
        if isinstance(trim, bool) or not isinstance(trim, int | float) or not 0 <= trim < 0.5:
            raise ConfigError(
                f"trimmed_mean: trim must be a fraction within [0, 0.5), got {trim!r}"
            )
        self.trim = float(trim)

    def _combine(
        self, rows: list[np.ndarray], chosen: list[int], info: AggregationInfo
    ) -> np.ndarray:
        n = len(rows)
        k = math.floor(self.trim * n)
        ordered = np.sort(np.stack(rows), axis=0)
        return _mean(list(ordered[k : n - k]))

    def __repr__(self) -> str:
        return f"TrimmedMean(trim={self.trim})"


class Krum(Strategy):
    name = "krum"

    def __init__(self, f: int = 1, m: int = 1) -> None:
        if isinstance(f, bool) or not isinstance(f, int) or f < 0:
            raise ConfigError(f"krum: f (byzantine clients) must be an integer >= 0, got {f!r}")
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ConfigError(f"krum: m (updates averaged) must be an integer >= 1, got {m!r}")
        self.f, self.m = f, m

    def scores(self, rows: Sequence[np.ndarray]) -> np.ndarray:
        """Each row's sum of squared distances to its n - f - 2 nearest other rows."""
        n = len(rows)
        dist = np.zeros((n, n))
        for i in range(n):
            for j in range(i + 1, n):
                diff = rows[i] - rows[j]
                dist[i, j] = dist[j, i] = float(np.sum(diff * diff))
        k = n - self.f - 2
        return np.array(
            [math.fsum(np.sort(np.delete(dist[i], i))[:k]) for i in range(n)], dtype=np.float64
        )

    def _combine(
        self, rows: list[np.ndarray], chosen: list[int], info: AggregationInfo
    ) -> np.ndarray:
        n = len(rows)
        if n <= 2 * self.f + 2:
            return _mean(rows)  # too few updates for Krum's guarantee: plain mean
        best = np.argsort(self.scores(rows), kind="stable")[: min(self.m, n)]
        return _mean([rows[i] for i in sorted(best)])

    def __repr__(self) -> str:
        return f"Krum(f={self.f}, m={self.m})"


#: What a reputation record is made of: a field of the earlier results tables' rows.
RECORD_SOURCES = ("score", "own", "marginal")
#: Rules for the rounds (and coalitions) in which no client has a record yet.
FALLBACKS = ("median", "trimmed_mean", "fedavg")


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class Reputation(Strategy):
    """Numerai's meta-model: the mean of the updates weighted by ``stake x max(record, 0)``.

    ``info.records`` holds each client's decayed record of past scores (see
    :func:`fl_node.federation.reputation.decayed_records`, which ``decay``, ``tolerance`` and
    ``source`` parametrize). A client whose record is negative weighs nothing: its update drops
    out of the aggregate (it is still scored, so it can earn its way back). A newcomer (no
    record) weighs as the median recorded client of the round does. When none of the clients
    aggregated has a record (round 1) or nobody carries weight, the ``fallback`` rule combines
    them instead: ``median`` (default), ``trimmed_mean`` (with ``trim``, default 0.25) or
    ``fedavg`` (the stake-weighted mean, no protection).
    """

    name = "reputation"

    def __init__(
        self,
        decay: float = 0.5,
        tolerance: float = 2.0,
        source: str = "score",
        fallback: str = "median",
        trim: float | None = None,
    ) -> None:
        if (
            isinstance(decay, bool)
            or not isinstance(decay, int | float)
            or not (math.isfinite(decay) and 0 < decay <= 1)
        ):
            raise ConfigError(
                f"reputation: decay (weight of a score one round older) must be within (0, 1], "
                f"got {decay!r}"
            )
        if (
            isinstance(tolerance, bool)
            or not isinstance(tolerance, int | float)
            or not (math.isfinite(tolerance) and tolerance >= 0)
        ):
            raise ConfigError(
                f"reputation: tolerance (MADs below a round's median score before a client "
                f"loses reputation) must be a finite number >= 0, got {tolerance!r}"
            )
        if not isinstance(source, str) or source not in RECORD_SOURCES:
            raise ConfigError(
                f"reputation: source {source!r} is not one of {', '.join(RECORD_SOURCES)}"
            )
        if not isinstance(fallback, str) or fallback not in FALLBACKS:
            raise ConfigError(
                f"reputation: fallback {fallback!r} is not one of {', '.join(FALLBACKS)}"
            )
        if trim is not None and fallback != "trimmed_mean":
            raise ConfigError(
                f"reputation: trim applies only to fallback 'trimmed_mean', not {fallback!r}"
            )
        self.decay, self.tolerance = float(decay), float(tolerance)
        self.source, self.fallback_name = source, fallback
        self.trim = None if trim is None else float(trim)
        self.fallback: Strategy
        if fallback == "median":
            self.fallback = Median()
        elif fallback == "trimmed_mean":
            try:
                self.fallback = TrimmedMean(0.25 if trim is None else trim)
            except ConfigError as exc:
                raise ConfigError(f"reputation: fallback {exc}") from None
        else:
            self.fallback = FedAvg("stake")

    def weights(self, chosen: list[int], info: AggregationInfo) -> list[float] | None:
        """Raw weights ``stake x max(record, 0)`` of clients ``chosen``; None when none of them
        has a record (the fallback rule applies)."""
        stakes = _field(info, "stakes", chosen)
        records = list(info.records) if len(info.records) else [None] * len(info.stakes)
        if chosen[-1] >= len(records):
            raise ValueError(
                f"AggregationInfo.records has {len(records)} entries, need {chosen[-1] + 1}"
            )
        known = [float(r) for r in records if r is not None]
        if any(not math.isfinite(r) for r in known):
            raise ValueError(f"AggregationInfo.records must be finite, got {records}")
        if all(records[i] is None for i in chosen):
            return None
        # A newcomer weighs as the median recorded client of the whole round (not of the
        # coalition), so a client's weight never depends on who else is in a coalition.
        prior = _median(known)
        out = []
        for stake, i in zip(stakes, chosen, strict=True):
            record = records[i]
            value = prior if record is None else float(record)
            out.append(stake * value if value > 0 else 0.0)
        return out

    def _combine(
        self, rows: list[np.ndarray], chosen: list[int], info: AggregationInfo
    ) -> np.ndarray:
        raw = self.weights(chosen, info)
        total = 0.0 if raw is None else math.fsum(raw)
        if raw is None or total <= 0:
            return self.fallback._combine(rows, chosen, info)
        return _mean(rows, [w / total for w in raw])

    def __repr__(self) -> str:
        trim = "" if self.trim is None else f", trim={self.trim}"
        return (
            f"Reputation(decay={self.decay}, tolerance={self.tolerance}, source={self.source!r}, "
            f"fallback={self.fallback_name!r}{trim})"
        )


_STRATEGIES: dict[str, tuple[type[Strategy], tuple[str, ...]]] = {
    "fedavg": (FedAvg, ()),
    "median": (Median, ()),
    "trimmed_mean": (TrimmedMean, ("trim",)),
    "krum": (Krum, ("f", "m")),
    "reputation": (Reputation, ("decay", "tolerance", "source", "fallback", "trim")),
}
STRATEGIES = tuple(sorted(_STRATEGIES))


def make_strategy(name: str, weighting: str = "samples", **params: Any) -> Strategy:
    """The strategy ``name`` with its ``params``; ConfigError for anything unknown."""
    if name not in _STRATEGIES:
        raise ConfigError(f"unknown aggregation strategy {name!r}; known: {', '.join(STRATEGIES)}")
    if weighting not in WEIGHTINGS:
        raise ConfigError(
            f"unknown aggregation weighting {weighting!r}; known: {', '.join(WEIGHTINGS)}"
        )
    cls, allowed = _STRATEGIES[name]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        hint = ", ".join(allowed) if allowed else "none"
        raise ConfigError(f"unknown parameter(s) {unknown} for {name!r} (allowed: {hint})")
    if name == "fedavg":
        return FedAvg(weighting)
    if weighting != "samples":
        raise ConfigError(
            f"weighting {weighting!r} applies only to fedavg; {name!r} weighs every update alike"
        )
    return cls(**params)
