"""One round's computation, as a pure function of its inputs.

Given the parent global model, the committed updates (hash, stake, and the blob fetched from the
store, or the reason it could not be), the task config and the aggregator's evaluator (its
validation data), :func:`compute_round` verifies every blob, aggregates the valid updates, scores
each client's contribution, and derives the payouts and rewards exactly as the contracts will
settle them. The aggregator posts its output; an auditor re-runs it from the chain and the store
and must get the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from fl_node.aggregation import AggregationInfo, Reputation, Strategy, make_strategy
from fl_node.artifacts.codec import decode_weights, encode_weights, keccak
from fl_node.config import TaskConfig
from fl_node.contribution import (
    Game,
    build_game,
    compute_contributions,
    numerai_scores,
)
from fl_node.errors import ArtifactError
from fl_node.federation.context import derive_seed
from fl_node.federation.reputation import decayed_records
from fl_node.federation.results import ResultRow, RoundResults, sorted_rows
from fl_node.settlement.payout import stake_payout, to_wad
from fl_node.settlement.rewards import allocate_rewards
from fl_node.training.local import EvalResult
from fl_node.training.params import ParamSpec, flatten, unflatten

#: Score of an update that could not be used (missing, corrupt, wrong shape, NaN, duplicate):
#: far below the clip, so the contract burns the full clipped share of its stake.
EXCLUDED_SCORE = -(10**18)
#: Utility given to a model whose validation loss is not finite.
UTILITY_FLOOR = 1e6


class RoundSetup(Protocol):
    """What the engine needs besides a round's inputs (a TaskContext is one, for bundled tasks)."""

    @property
    def config(self) -> TaskConfig: ...  # aggregation, scoring and the seed

    @property
    def param_spec(self) -> ParamSpec: ...  # the model's wire layout

    @property
    def validator(self) -> Callable[[np.ndarray], EvalResult]: ...  # the aggregator's data

    @property
    def tester(self) -> Callable[[np.ndarray], EvalResult] | None: ...  # held-out, for reports


@dataclass(frozen=True)
class AppSetup:
    """A RoundSetup from a task config, a model layout and an evaluator app."""

    config: TaskConfig
    param_spec: ParamSpec
    validator: Callable[[np.ndarray], EvalResult]
    tester: Callable[[np.ndarray], EvalResult] | None = None


@dataclass(frozen=True)
class Submission:
    client: str
    update_hash: bytes | None  # the revealed hash; None when the client did not reveal
    stake: int
    blob: bytes | None  # None when the store has no blob under that hash
    fetch_error: str = ""


@dataclass(frozen=True)
class Money:
    """The task's on-chain money terms, in the base token's smallest unit (WAD for the cap)."""

    payout_threshold: int
    payout_cap: int
    reward_per_round: int


@dataclass(frozen=True)
class RoundInputs:
    task_id: int
    round: int
    parent_blob: bytes
    submissions: tuple[Submission, ...]
    total_at_risk: int
    budget_available: int  # escrow's unreleased budget before this round's reservation
    money: Money
    reputations: dict[str, float] = field(default_factory=dict)
    #: Results tables of the earlier rounds (finalized on-chain; in round order): what the
    #: ``reputation`` strategy's records are computed from.
    history: tuple[RoundResults, ...] = ()


@dataclass(frozen=True)
class RoundOutput:
    results: RoundResults
    model_blob: bytes
    model_hash: bytes
    timings: dict[str, float]


def _check(sub: Submission, ctx: RoundSetup) -> tuple[dict[str, np.ndarray] | None, int, str]:
    """(weights, num_samples, reason): reason is non-empty when the update must be excluded."""
    if sub.update_hash is None:
        return None, 0, "not revealed before the reveal deadline"
    if sub.blob is None:
        return None, 0, sub.fetch_error or "no blob in the store under the committed hash"
    if keccak(sub.blob) != bytes(sub.update_hash):
        return None, 0, "blob does not match its on-chain commitment (hash mismatch)"
    try:
        weights, meta = decode_weights(sub.blob, expected=ctx.param_spec)
    except ArtifactError as exc:
        return None, 0, f"rejected: {exc}"
    samples = meta.get("num_samples")
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        return None, 0, "rejected: the update's metadata has no positive num_samples"
    return weights, samples, ""


@dataclass
class PreparedRound:
    """A round verified and aggregated, before its contributions are scored: what the
    benchmarks need to value the same game with several methods."""

    inputs: RoundInputs
    ctx: RoundSetup
    subs: list[Submission]  # in canonical order (by client address)
    checked: list[tuple[dict[str, np.ndarray] | None, int, str]]
    reasons: list[str]  # why each submission was excluded ("" when used)
    valid: list[int]  # indices of the used submissions
    g: np.ndarray  # the parent model, flat
    deltas: list[np.ndarray]  # the used updates minus the parent
    samples: list[int]
    info: AggregationInfo
    strategy: Strategy
    new_g: np.ndarray  # the new global model, flat
    model_blob: bytes
    timings: dict[str, float]

    def utility(self, vec: np.ndarray) -> float:
        """A model's value on the aggregator's validation data (higher is better)."""
        result = self.ctx.validator(vec)
        kind = self.ctx.config.scoring.utility
        value = -float(result.loss) if kind == "neg_loss" else float(result.accuracy)
        # A wild update can overflow the loss: score it as very bad instead of failing the round.
        return value if np.isfinite(value) else -UTILITY_FLOOR

    def game(self) -> Game:
        """The coalition game of the used updates (valued through the strategy's subsets)."""
        g, deltas, info, strategy = self.g, self.deltas, self.info, self.strategy
        return build_game(
            g,
            deltas,
            lambda idx: strategy.aggregate_subset(g, deltas, info, idx),
            self.utility,
            samples=self.samples,
        )


def prepare_round(inputs: RoundInputs, ctx: RoundSetup) -> PreparedRound:
    """Verify every submission and aggregate the valid ones (pure)."""
    cfg = ctx.config
    t0 = time.perf_counter()
    parent_weights, _ = decode_weights(inputs.parent_blob, expected=ctx.param_spec)
    g = flatten(parent_weights, ctx.param_spec)

    subs = sorted(inputs.submissions, key=lambda s: s.client.lower())
    checked = [_check(s, ctx) for s in subs]
    seen: dict[bytes, str] = {}
    valid: list[int] = []
    reasons: list[str] = []
    deltas: list[np.ndarray] = []
    for i, (weights, _samples, reason) in enumerate(checked):
        if not reason and weights is not None:
            vec = flatten(weights, ctx.param_spec)
            digest = keccak(vec.tobytes())
            if np.array_equal(vec, g):
                reason = "identical to the global model: no training (free-riding)"
            elif digest in seen:
                reason = f"duplicate of the update of {seen[digest]}"
            else:
                seen[digest] = subs[i].client
                valid.append(i)
                deltas.append((vec.astype(np.float64) - g).astype(np.float32))
        reasons.append(reason)
    t_verify = time.perf_counter()

    samples = [checked[i][1] for i in valid]
    stakes = [subs[i].stake for i in valid]
    reps = [inputs.reputations.get(subs[i].client.lower(), 1.0) for i in valid]
    strategy = make_strategy(
        cfg.aggregation.strategy, weighting=cfg.aggregation.weighting, **cfg.aggregation.params
    )
    records: list[float | None] = []
    if isinstance(strategy, Reputation):
        known = decayed_records(inputs.history, strategy.decay, strategy.source, strategy.tolerance)
        records = [known.get(subs[i].client.lower()) for i in valid]
    info = AggregationInfo(samples=samples, stakes=stakes, reputations=reps, records=records)
    # Nothing usable: the model stays where it was.
    new_g = strategy.aggregate(g, deltas, info) if valid else g.copy()
    new_weights = unflatten(new_g, ctx.param_spec)
    model_blob = encode_weights(new_weights, {"kind": "global", "round": inputs.round})
    t_aggregate = time.perf_counter()
    timings = {"verify": t_verify - t0, "aggregate": t_aggregate - t_verify}
    return PreparedRound(
        inputs, ctx, subs, checked, reasons, valid, g, deltas, samples, info, strategy, new_g,
        model_blob, timings,
    )  # fmt: skip


def compute_round(inputs: RoundInputs, ctx: RoundSetup) -> RoundOutput:
    """The whole round: verify, aggregate, score, and settle exactly as the contracts will."""
    cfg = ctx.config
    prepared = prepare_round(inputs, ctx)
    subs, valid, new_g = prepared.subs, prepared.valid, prepared.new_g
    t_aggregate = time.perf_counter()

    own = np.zeros(len(valid))
    marginal = np.zeros(len(valid))
    if valid:
        game = prepared.game()
        seed = derive_seed(cfg.seed, "scoring", inputs.round)
        contribution = compute_contributions(
            cfg.scoring.method, game, seed=seed, **cfg.scoring.params
        )
        marginal = np.asarray(contribution.values, dtype=np.float64)
        table = numerai_scores(
            game,
            marginal,
            corr_multiplier=cfg.scoring.corr_multiplier,
            mmc_multiplier=cfg.scoring.mmc_multiplier,
        )
        own = np.asarray(table.own, dtype=np.float64)
    t_score = time.perf_counter()

    threshold = inputs.money.payout_threshold
    cap = inputs.money.payout_cap  # WAD fixed point
    combined = {
        i: to_wad(cfg.scoring.corr_multiplier * own[k] + cfg.scoring.mmc_multiplier * marginal[k])
        for k, i in enumerate(valid)
    }
    payouts = []
    for i, sub in enumerate(subs):
        score = combined.get(i, EXCLUDED_SCORE)
        payouts.append(stake_payout(sub.stake, score, inputs.total_at_risk, threshold, cap))
    positive = sum(p for p in payouts if p > 0)
    reward_budget = max(0, min(inputs.money.reward_per_round, inputs.budget_available - positive))
    if positive > inputs.budget_available:
        # The escrow cannot cover the clipped payouts: pay no rewards and cap the scores so the
        # contract's reservation check passes (the sponsor under-funded the task).
        reward_budget = 0
    rewards_valid = allocate_rewards([float(m) for m in marginal], reward_budget) if valid else []
    rewards = {i: rewards_valid[k] for k, i in enumerate(valid)}

    rows = []
    for i, sub in enumerate(subs):
        k = valid.index(i) if i in rewards else -1
        rows.append(
            ResultRow(
                client=sub.client,
                update_hash="" if sub.update_hash is None else "0x" + bytes(sub.update_hash).hex(),
                stake=sub.stake,
                included=i in rewards,
                reason=prepared.reasons[i],
                num_samples=prepared.checked[i][1],
                own=float(own[k]) if k >= 0 else 0.0,
                marginal=float(marginal[k]) if k >= 0 else 0.0,
                score=combined.get(i, EXCLUDED_SCORE),
                payout=payouts[i],
                reward=rewards.get(i, 0),
            )
        )
    val = ctx.validator(new_g)
    metrics = {"val_loss": float(val.loss), "val_accuracy": float(val.accuracy)}
    if ctx.tester is not None:
        test = ctx.tester(new_g)
        metrics |= {"test_loss": float(test.loss), "test_accuracy": float(test.accuracy)}
    model_hash = keccak(prepared.model_blob)
    results = RoundResults(
        task_id=inputs.task_id,
        round=inputs.round,
        parent_model_hash="0x" + keccak(inputs.parent_blob).hex(),
        model_hash="0x" + model_hash.hex(),
        rows=sorted_rows(rows),
        metrics=metrics,
    )
    t_end = time.perf_counter()
    timings = {
        **prepared.timings,
        "score": t_score - t_aggregate,
        "settle": t_end - t_score,
    }
    return RoundOutput(results, prepared.model_blob, model_hash, timings)


def submissions_from(
    commits: Sequence[tuple[str, bytes | None, int]], fetch: Callable[[str], bytes]
) -> tuple[Submission, ...]:
    """Build submissions by fetching each revealed hash with ``fetch(hash) -> bytes``
    (``None`` for a commitment that was never revealed)."""
    out = []
    for client, update_hash, stake in commits:
        if update_hash is None:
            out.append(Submission(client, None, stake, None))
            continue
        try:
            blob = fetch("0x" + bytes(update_hash).hex())
            out.append(Submission(client, update_hash, stake, blob))
        except ArtifactError as exc:
            out.append(Submission(client, update_hash, stake, None, f"unavailable: {exc}"))
    return tuple(out)
