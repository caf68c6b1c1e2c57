"""Reputation-weighted aggregation (Numerai's meta-model): the decayed records computed from earlier
results tables against hand-computed values, who drops out, how a newcomer starts, the fallback
of round 1, every bad parameter's error, and that an auditor recomputes a round to the byte."""

from __future__ import annotations

import re
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from fl_node.aggregation import AggregationInfo, Median, Reputation, TrimmedMean, make_strategy
from fl_node.config import AggregationConfig, TaskConfig
from fl_node.configs import load_config
from fl_node.errors import ConfigError
from fl_node.federation import inputs as inputs_module
from fl_node.federation.context import TaskContext
from fl_node.federation.engine import RoundInputs, compute_round
from fl_node.federation.offline import OfflineRound, run_offline
from fl_node.federation.protocol import Phase
from fl_node.federation.reputation import (
    EXCLUDED_RECORD,
    decayed_records,
    reference,
    round_values,
)
from fl_node.federation.results import ResultRow, RoundResults
from fl_node.simulation.apps import offline_client

WAD = 10**18
A, B, C, D, E, F = ("0x" + letter * 40 for letter in "abcdef")


def row(client: str, score: float | None, own: float = 0.0, marginal: float = 0.0) -> ResultRow:
    """A results row; ``score=None``: a submission the engine did not use."""
    return ResultRow(
        client=client,
        update_hash="",
        stake=1,
        included=score is not None,
        reason="" if score is not None else "not revealed before the reveal deadline",
        num_samples=1,
        own=own,
        marginal=marginal,
        score=-(10**36) if score is None else int(score * WAD),
        payout=0,
        reward=0,
    )


def table(number: int, *rows: ResultRow) -> RoundResults:
    return RoundResults(0, number, "0x", "0x", tuple(rows))


# Round 1: scores 0, 1, 2, 3, 10. Median 2; absolute deviations 2, 1, 0, 1, 8: MAD 1.
# With tolerance 1 the bar is 2 - 1 = 1: centred -1, 0, 1, 2, 9, summing to 13 in absolute value.
ROUND1 = table(1, row(A, 0), row(B, 1), row(C, 2), row(D, 3), row(E, 10))
# Round 2: every used score 4 (MAD 0, the bar 4, nothing to share out); e was not used.
ROUND2 = table(2, row(A, 4), row(B, 4), row(C, 4), row(D, 4), row(E, None))


# -- the records -------------------------------------------------------------------------------
def test_the_bar_is_the_median_minus_tolerance_mads() -> None:
    assert reference([0, 1, 2, 3, 10], 1.0) == 1.0
    assert reference([0, 1, 2, 3, 10], 0.0) == 2.0  # tolerance 0: the median
    assert reference([1, 2, 3, 10], 2.0) == 2.5 - 2 * 1.0  # even counts: mean of the middle two
    assert reference([], 2.0) == 0.0


def test_a_round_s_values_by_hand() -> None:
    assert round_values(ROUND1, tolerance=1.0) == {
        A: -1 / 13,
        B: 0.0,
        C: 1 / 13,
        D: 2 / 13,
        E: 9 / 13,
    }
    assert round_values(ROUND2, tolerance=1.0) == {
        A: 0.0,
        B: 0.0,
        C: 0.0,
        D: 0.0,
        E: EXCLUDED_RECORD,
    }


def test_decayed_records_by_hand() -> None:
    records = decayed_records([ROUND1, ROUND2], decay=0.5, tolerance=1.0)
    assert records == pytest.approx(
        {A: -1 / 26, B: 0.0, C: 1 / 26, D: 2 / 26, E: 9 / 26 - 1},
        abs=1e-15,
    )
    # decay 1: plain sums; the tables' order does not matter (they are sorted by round)
    flat = decayed_records([ROUND2, ROUND1], decay=1.0, tolerance=1.0)
    assert flat == pytest.approx({**records, A: -1 / 13, C: 1 / 13, D: 2 / 13,
                                  E: 9 / 13 - 1}, abs=1e-15)  # fmt: skip


def test_an_aborted_round_ages_every_record() -> None:
    later = replace(ROUND2, round=3)  # round 2 was aborted: no table
    records = decayed_records([ROUND1, later], decay=0.5, tolerance=1.0)
    assert records[D] == pytest.approx(2 / 13 / 4, abs=1e-15)
    assert records[E] == pytest.approx(9 / 13 / 4 - 1, abs=1e-15)


def test_the_record_source_picks_the_row_field() -> None:
    rows = (row(A, 0.0, own=1.0, marginal=-1.0), row(B, 0.0, own=3.0, marginal=1.0))
    one = table(1, *rows)
    # two values: median = mean of both, MAD = half their distance; tolerance 0: +-1/2 each
    assert decayed_records([one], 0.5, source="own", tolerance=0.0) == {A: -0.5, B: 0.5}
    assert decayed_records([one], 0.5, source="marginal", tolerance=0.0) == {
        A: -0.5,
        B: 0.5,
    }
    assert decayed_records([one], 0.5, source="score", tolerance=0.0) == {A: 0.0, B: 0.0}


def test_newcomers_have_no_record_and_nothing_is_a_record() -> None:
    assert decayed_records([], 0.5) == {}
    assert F not in decayed_records([ROUND1, ROUND2], 0.5)


def test_scores_below_zero_for_everybody_still_separate_the_outlier() -> None:
    # Late in training every update applied alone raises the loss a little: the bulk is below 0
    # and only the client far below the bulk loses reputation.
    late = table(5, row(A, -0.02), row(B, -0.05), row(C, -0.03), row(D, -1.5))
    records = decayed_records([late], 0.5)
    assert records[D] < 0 < min(records[A], records[B], records[C])


def test_records_survive_the_store_round_trip_exactly() -> None:
    tables = [ROUND1, ROUND2]
    stored = [RoundResults.from_bytes(t.to_bytes(), expected_root=t.root) for t in tables]
    assert decayed_records(stored, 0.3) == decayed_records(tables, 0.3)


# -- the weights -------------------------------------------------------------------------------
G = np.array([1.0, 1.0], dtype=np.float32)
DELTAS = [np.array(v, dtype=np.float32) for v in ([4, 0], [0, 4], [8, 8], [-40, -40])]


def info(records: list[float | None], stakes: list[int] | None = None) -> AggregationInfo:
    n = len(records)
    return AggregationInfo([1] * n, stakes or [1] * n, [1.0] * n, records)


def test_a_negative_record_drops_out_and_stake_times_record_weighs() -> None:
    # weights: 1*0.5, 0 (negative), 2*0.25, 0 (negative) -> shares 1/2, 0, 1/2, 0
    data = info([0.5, -0.1, 0.25, -3.0], stakes=[1, 1, 2, 5])
    strategy = make_strategy("reputation")
    assert strategy.weights([0, 1, 2, 3], data) == [0.5, 0.0, 0.5, 0.0]  # type: ignore[attr-defined]
    out = strategy.aggregate(G, DELTAS, data)
    assert out.tolist() == [1 + 2 + 4, 1 + 0 + 4]


def test_a_newcomer_weighs_as_the_median_recorded_client() -> None:
    # recorded: 0.2, 0.4, -1.0 -> median 0.2; the newcomer (None) weighs 0.2
    data = info([0.2, None, 0.4, -1.0])
    strategy = make_strategy("reputation")
    assert strategy.weights([0, 1, 2, 3], data) == [0.2, 0.2, 0.4, 0.0]  # type: ignore[attr-defined]
    out = strategy.aggregate(G, DELTAS, data)
    np.testing.assert_allclose(out, [1 + 1 + 4, 1 + 1 + 4], rtol=1e-6)
    # in a coalition, the prior is still the whole round's median (weights never depend on who
    # else is in the coalition)
    assert strategy.weights([1, 3], data) == [0.2, 0.0]  # type: ignore[attr-defined]


def test_a_newcomer_in_a_round_of_bad_records_is_left_out_with_them() -> None:
    data = info([-0.2, None, -0.4, 0.1])
    assert make_strategy("reputation").weights([0, 1, 2, 3], data) == [0, 0, 0, 0.1]  # type: ignore[attr-defined]


def test_round_one_falls_back_to_the_robust_rule() -> None:
    nobody = info([None] * 4)
    assert make_strategy("reputation").weights([0, 1, 2, 3], nobody) is None  # type: ignore[attr-defined]
    empty = AggregationInfo([1] * 4, [1] * 4, [1.0] * 4)  # no records at all
    median = Median().aggregate(G, DELTAS, empty)
    assert make_strategy("reputation").aggregate(G, DELTAS, nobody).tobytes() == median.tobytes()
    assert make_strategy("reputation").aggregate(G, DELTAS, empty).tobytes() == median.tobytes()
    trimmed = make_strategy("reputation", fallback="trimmed_mean", trim=0.25)
    expected = TrimmedMean(0.25).aggregate(G, DELTAS, empty)
    assert trimmed.aggregate(G, DELTAS, nobody).tobytes() == expected.tobytes()
    plain = make_strategy("reputation", fallback="fedavg").aggregate(G, DELTAS, info([None] * 4))
    np.testing.assert_allclose(plain, [1 - 7, 1 - 7])


def test_nobody_with_weight_falls_back_too() -> None:
    data = info([-0.1, -0.2, -0.3, -0.4])
    median = Median().aggregate(G, DELTAS, data)
    assert make_strategy("reputation").aggregate(G, DELTAS, data).tobytes() == median.tobytes()


def test_same_inputs_same_bytes() -> None:
    data = info([0.3, None, 0.1, 0.7])
    strategy = make_strategy("reputation")
    a = strategy.aggregate(G, DELTAS, data)
    b = make_strategy("reputation").aggregate(G.copy(), [d.copy() for d in DELTAS], data)
    assert a.dtype == np.float32 and a.tobytes() == b.tobytes()


def test_bad_records_are_refused() -> None:
    with pytest.raises(ValueError, match="records must be finite"):
        make_strategy("reputation").aggregate(G, DELTAS, info([0.1, float("nan"), 0.2, 0.3]))
    with pytest.raises(ValueError, match="records has 2 entries, need 4"):
        short = AggregationInfo([1] * 4, [1] * 4, [1.0] * 4, [0.1, 0.2])
        make_strategy("reputation").aggregate(G, DELTAS, short)


# -- parameters --------------------------------------------------------------------------------
BAD_PARAMS = [
    ({"decay": 0}, r"reputation: decay \(weight of a score one round older\) must be within "
                   r"\(0, 1\], got 0"),
    ({"decay": 1.5}, r"decay .* must be within \(0, 1\], got 1\.5"),
    ({"decay": "0.5"}, r"decay .* must be within \(0, 1\], got '0\.5'"),
    ({"decay": True}, r"decay .* must be within \(0, 1\], got True"),
    ({"decay": float("nan")}, r"decay .* must be within \(0, 1\], got nan"),
    ({"tolerance": -1}, r"reputation: tolerance .* must be a finite number >= 0, got -1"),
    ({"tolerance": float("inf")}, r"tolerance .* must be a finite number >= 0, got inf"),
    ({"tolerance": "2"}, r"tolerance .* must be a finite number >= 0, got '2'"),
    ({"source": "payout"}, r"reputation: source 'payout' is not one of score, own, marginal"),
    ({"source": 1}, r"reputation: source 1 is not one of score, own, marginal"),
    ({"fallback": "krum"}, r"reputation: fallback 'krum' is not one of median, trimmed_mean, "
                           r"fedavg"),
    ({"trim": 0.2}, r"reputation: trim applies only to fallback 'trimmed_mean', not 'median'"),
    (
        {"fallback": "trimmed_mean", "trim": 0.6},
        r"reputation: fallback trimmed_mean: trim must be a fraction within \[0, 0\.5\), got 0\.6",
    ),
    (
        {"decays": 0.5},
        r"unknown parameter\(s\) \['decays'\] for 'reputation' "
        r"\(allowed: decay, tolerance, source, fallback, trim\)",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("params", "message"), BAD_PARAMS)
def test_each_bad_parameter_has_its_error(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_strategy("reputation", **params)
    # the same error, one line naming the setting, when the task config is built
    with pytest.raises(ConfigError) as exc:
        AggregationConfig(strategy="reputation", params=params)
    assert str(exc.value).startswith("aggregation.params: ")
    assert re.search(message, str(exc.value))


def test_a_weighting_other_than_samples_is_refused() -> None:
    with pytest.raises(ConfigError, match="weighting 'stake' applies only to fedavg"):
        AggregationConfig(strategy="reputation", weighting="stake")


def test_good_parameters_are_accepted() -> None:
    section = AggregationConfig(
        strategy="reputation",
        params={"decay": 1, "tolerance": 0, "source": "own", "fallback": "trimmed_mean", "trim": 0},
    )
    assert repr(make_strategy(section.strategy, **section.params)) == (
        "Reputation(decay=1.0, tolerance=0.0, source='own', fallback='trimmed_mean', trim=0.0)"
    )
    assert repr(make_strategy("reputation")) == (
        "Reputation(decay=0.5, tolerance=2.0, source='score', fallback='median')"
    )
    assert isinstance(make_strategy("reputation"), Reputation)


# -- through the round engine ------------------------------------------------------------------
def tiny_reputation() -> TaskConfig:
    """Four synthetic clients (three clean, one sign-flip poisoner x3), reputation weighting."""
    data = load_config("tiny").to_dict()
    data["federation"]["max_clients"] = 4
    data["aggregation"] = {"strategy": "reputation", "params": {"decay": 0.5}}
    data["clients"] = [
        {"name": "a"},
        {"name": "b"},
        {"name": "c"},
        {"name": "m", "behavior": "poison_signflip", "poison_scale": 3.0},
    ]
    return TaskConfig.from_dict(data)


@pytest.fixture(scope="module")
def offline() -> tuple[TaskContext, list[OfflineRound]]:
    ctx = TaskContext(tiny_reputation())
    clients = [offline_client(ctx, i) for i in range(4)]
    return ctx, list(run_offline(ctx, ctx.layout, ctx.initial_blob, clients, 3, score=True))


def test_the_engine_drops_the_poisoner_after_round_one(
    offline: tuple[TaskContext, list[OfflineRound]],
) -> None:
    _ctx, rounds = offline
    poisoner = "0x" + f"{4:040x}"
    first = rounds[0].prepared
    assert first.info.records == [None] * 4  # round 1: nobody has a record, the median decides
    for rnd in rounds[1:]:
        prepared = rnd.prepared
        k = [prepared.subs[i].client for i in prepared.valid].index(poisoner)
        records = prepared.info.records
        assert records[k] is not None and records[k] < 0
        weights = prepared.strategy.weights(list(range(len(prepared.valid))), prepared.info)  # type: ignore[attr-defined]
        assert weights[k] == 0.0 and sum(weights) > 0


def test_an_auditor_recomputes_the_round_to_the_byte(
    offline: tuple[TaskContext, list[OfflineRound]],
) -> None:
    """The auditor has the earlier tables from the store (as bytes that hash to their on-chain
    roots), the same submissions and the same config: same model, same results root."""
    ctx, rounds = offline
    posted = rounds[2].output
    assert posted is not None
    mine = rounds[2].prepared.inputs
    fetched = tuple(
        RoundResults.from_bytes(r.output.results.to_bytes(), expected_root=r.output.results.root)
        for r in rounds[:2]
        if r.output is not None
    )
    again = compute_round(replace(mine, history=fetched), ctx)
    assert again.model_hash == posted.model_hash
    assert again.results.root == posted.results.root
    assert again.results.to_bytes() == posted.results.to_bytes()
    # the history matters: without it the round falls back to the median, another model
    assert compute_round(replace(mine, history=()), ctx).model_hash != posted.model_hash


def test_the_audit_s_inputs_carry_the_earlier_finalized_tables(
    monkeypatch: pytest.MonkeyPatch, offline: tuple[TaskContext, list[OfflineRound]]
) -> None:
    """``round_inputs`` (what the aggregator and the auditor both build a round from) hands the
    finalized earlier rounds' tables to the engine, so the weights are recomputed from them."""
    _ctx, rounds = offline
    tables = {r.number: r.output.results for r in rounds if r.output is not None}
    api = SimpleNamespace(
        task_id=0,
        params=lambda: SimpleNamespace(
            aggregator="0xagg", payout_threshold=1, payout_cap=0, reward_per_round=0
        ),
        round=lambda n: SimpleNamespace(
            phase=Phase.FINALIZED if n < 3 else Phase.REVEAL,
            results_root=n,
            parent_model_hash=b"",
            total_at_risk=4,
        ),
        commits=lambda _n, _b: [],
        reveals=lambda _n, _b: {},
        budget=lambda _b: SimpleNamespace(unreleased=0),
    )
    monkeypatch.setattr(inputs_module, "fetch_results", lambda _s, root, owner: tables[root])
    monkeypatch.setattr(inputs_module, "fetch_model", lambda _s, _a, _h: b"parent")
    built: RoundInputs = inputs_module.round_inputs(api, None, 3, 0)  # type: ignore[arg-type]
    assert built.history == (tables[1], tables[2])
