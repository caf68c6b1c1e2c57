"""Reputation of clients from the rounds already settled (for stake x reputation weighting).

A client's reputation is the Laplace-smoothed share of its past submissions that were used and
did not hurt the model on their own: ``(1 + good) / (1 + submitted)``, in (0, 1]. New clients
start at 1. It is a pure function of earlier results tables, so an auditor recomputes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from fl_node.federation.results import RoundResults


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
