"""The federation's rounds without a chain: the in-memory runtime of benchmarks and experiments.

Each round every client's app fits on the parent model, its update goes through the same engine as
on-chain (:func:`~fl_node.federation.engine.prepare_round`: verification, exclusion, aggregation;
with ``score=True`` also :func:`~fl_node.federation.engine.compute_round`: contributions, payouts,
rewards), and the new global model is the next round's parent. Nothing is staked or posted: this
is what the benchmarks measure the learning with.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fl_node.app.client import ClientApp, Context
from fl_node.app.layout import ModelLayout
from fl_node.artifacts.codec import keccak
from fl_node.federation.engine import (
    Money,
    PreparedRound,
    RoundInputs,
    RoundOutput,
    RoundSetup,
    Submission,
    compute_round,
    prepare_round,
)
from fl_node.federation.node import update_blob
from fl_node.federation.reputation import reputations
from fl_node.federation.results import RoundResults

#: Money terms of a round nobody is paid for (payouts and rewards all zero).
NO_MONEY = Money(payout_threshold=1, payout_cap=0, reward_per_round=0)


@dataclass(frozen=True)
class OfflineClient:
    address: str
    app: ClientApp
    context: Context
    stake: int = 1


@dataclass(frozen=True)
class OfflineRound:
    number: int
    prepared: PreparedRound
    output: RoundOutput | None  # with score=True
    train_seconds: float  # every client's fit, in total


def run_offline(
    setup: RoundSetup,
    layout: ModelLayout,
    initial_blob: bytes,
    clients: Sequence[OfflineClient],
    rounds: int,
    score: bool = False,
    money: Money = NO_MONEY,
    budget: int = 0,
) -> Iterator[OfflineRound]:
    """Yield each round of a federation of ``clients`` started from ``initial_blob``."""
    parent = initial_blob
    tables: list[RoundResults] = []
    for number in range(1, rounds + 1):
        started = time.perf_counter()
        submissions = []
        for c in clients:
            blob = update_blob(c.app, c.context, layout, number, parent, c.address)
            submissions.append(Submission(c.address, keccak(blob), c.stake, blob))
        train_seconds = time.perf_counter() - started
        inputs = RoundInputs(
            task_id=0,
            round=number,
            parent_blob=parent,
            submissions=tuple(submissions),
            total_at_risk=sum(c.stake for c in clients),
            budget_available=budget,
            money=money,
            reputations=reputations(tables),
            history=tuple(tables),
        )
        output = compute_round(inputs, setup) if score else None
        prepared = prepare_round(inputs, setup)
        if output is not None:
            tables.append(output.results)
        yield OfflineRound(number, prepared, output, train_seconds)
        parent = prepared.model_blob
