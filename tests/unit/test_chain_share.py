"""The share of a round's wall time the chain adds, from the daemons' own timings."""

from __future__ import annotations

import pytest

from fl_node.bench.chainshare import to_markdown
from fl_node.federation.stats import chain_share


def stats() -> dict:
    return {
        "aggregator": {
            "1": {"opened_at": 100.0, "finalized_at": 104.0, "tx": 0.5, "compute": 0.4},
            "2": {"opened_at": 104.0},  # not finalized: no row
        },
        "node-a": {"1": {"train": 0.6, "tx": 0.3}},
        "node-b": {"1": {"train": 1.1, "tx": 0.2}},
    }


def test_the_chain_adds_what_training_and_aggregating_do_not_explain() -> None:
    shares = chain_share(stats())
    assert list(shares) == [1]
    r = shares[1]
    assert r["wall_seconds"] == 4.0
    assert r["train_seconds"] == 1.1  # the slowest client
    assert r["offchain_seconds"] == pytest.approx(1.5)  # 1.1 training + 0.4 aggregating
    assert r["chain_seconds"] == pytest.approx(2.5)
    assert r["chain_share"] == pytest.approx(2.5 / 4.0)
    assert r["tx_seconds"] == pytest.approx(0.8)  # the aggregator's 0.5 + the slowest 0.3
    assert r["tx_share"] == pytest.approx(0.2)


def test_off_chain_work_never_exceeds_the_wall_time() -> None:
    data = stats()
    data["node-b"]["1"]["train"] = 9.0  # timed across a restart, say
    r = chain_share(data)[1]
    assert r["offchain_seconds"] == 4.0
    assert r["chain_share"] == 0.0


def test_markdown_lists_every_finished_round() -> None:
    per_round = chain_share(stats())
    result = {
        "rounds": 1,
        "per_round": per_round,
        "summary": {"mean": 0.625, "max": 0.625, "tx_mean": 0.2},
    }
    text = to_markdown(result)
    assert "| 1 | 4.00 | 1.100 | 0.400 | 2.50 | 0.800 | 62.5 % |" in text
    assert "Mean chain share 62.5 %" in text and "20.0 %" in text
