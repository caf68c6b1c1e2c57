"""Reputation of clients from the rounds already settled: pure functions of earlier results tables,
so the aggregator and every auditor compute the same numbers.

Two measures:

* :func:`reputations`, for ``fedavg``'s ``stake_reputation`` weighting: the Laplace-smoothed share
  of a client's past submissions that were used and did not hurt the model on their own,
  ``(1 + good) / (1 + submitted)``, in (0, 1]; new clients start at 1.
* :func:`decayed_records`, for the ``reputation`` strategy (Numerai's meta-model): each client's
  exponentially decayed sum of its past per-round values,
  ``record = sum over earlier rounds k of decay^(last - k) * s_k``.

  ``s_k`` compares the client with the others of round k. Its raw value is a field of its row
  (``source``: ``score``, the combined score the stake payout uses, by default; or ``own``, or
  ``marginal``). The round's bar is ``median - tolerance x MAD`` of the used updates' raw values
  (MAD: the median absolute deviation from the median), and ``s_k = (value - bar) / sum of
  |value - bar| over the used updates``: a client above the bar gains, one far below the bulk of
  the round (an outlier on the bad side: a poisoner, very noisy data) loses, and every round
  weighs the same whatever the scale of its scores. Measuring against the round's bulk, not
  against 0, matters: late in training a single client's update applied alone raises the
  validation loss even when its data is clean, so raw scores drift below 0 for everybody.
  (Like every robust statistic it assumes that most used updates are honest.)

  A submission that could not be used (not revealed, corrupt, a duplicate, the global model sent
  back) counts as ``s = -1``: as bad as the round's whole score mass. A client absent from a
  round only ages. A client that never appeared has no record (a newcomer).

Float64 arithmetic, in round order and per client, with ``math.fsum`` for the per-round scale:
every step is one IEEE operation, so the bytes are the same on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from fl_node.federation.results import ResultRow, RoundResults

#: The value an excluded submission adds to its client's record (a round's scores sum to 1 in
#: absolute value).
EXCLUDED_RECORD = -1.0
WAD = 10**18


def reputations(previous: Iterable[RoundResults]) -> dict[str, float]:
    good: dict[str, int] = {}
    seen: dict[str, int] = {}
    for table in previous:
        for row in table.rows:
            key = row.client.lower()
            seen[key] = seen.get(key, 0) + 1
            if row.included and row.own >= 0:
                good[key] = good.get(key, 0) + 1
    return {key: (1 + good.get(key, 0)) / (1 + n) for key, n in seen.items()}


def row_value(row: ResultRow, source: str) -> float:
    """The raw value of a used row that a record is made of."""
    if source == "score":
        return row.score / WAD  # an exact int: true division rounds once
    if source == "own":
        return float(row.own)
    if source == "marginal":
        return float(row.marginal)
    raise ValueError(f"unknown record source {source!r}")


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def reference(values: Sequence[float], tolerance: float) -> float:
    """The bar of a round: ``median - tolerance x MAD`` of the used updates' values (0 when
    there are none)."""
    if not values:
        return 0.0
    mid = median(values)
    mad = median([abs(v - mid) for v in values])
    return mid - tolerance * mad


def round_values(
    table: RoundResults, source: str = "score", tolerance: float = 2.0
) -> dict[str, float]:
    """Each client's value ``s`` in one round (keys: lower-case addresses): its raw value minus
    the round's bar (:func:`reference`), divided by the sum of the absolute differences of every
    used update; -1 for an update that was not used."""
    used = {row.client.lower(): row_value(row, source) for row in table.rows if row.included}
    ref = reference(list(used.values()), tolerance)
    centered = {key: value - ref for key, value in used.items()}
    scale = math.fsum(abs(v) for v in centered.values())
    out = {}
    for row in table.rows:
        key = row.client.lower()
        if not row.included:
            out[key] = EXCLUDED_RECORD
        else:
            out[key] = centered[key] / scale if scale > 0 else 0.0
    return out


def decayed_records(
    previous: Iterable[RoundResults], decay: float, source: str = "score", tolerance: float = 2.0
) -> dict[str, float]:
    """Every client's decayed record after the rounds of ``previous`` (keys: lower-case
    addresses; a client with no row in any of them is absent: a newcomer)."""
    if not 0 < decay <= 1:
        raise ValueError(f"decay must be within (0, 1], got {decay!r}")
    records: dict[str, float] = {}
    last: int | None = None
    for table in sorted(previous, key=lambda t: t.round):
        if last is not None:
            for _ in range(max(0, table.round - last)):  # one multiplication per round elapsed
                for key in records:
                    records[key] *= decay
        last = table.round
        for key, value in round_values(table, source, tolerance).items():
            records[key] = records.get(key, 0.0) + value
    return records
