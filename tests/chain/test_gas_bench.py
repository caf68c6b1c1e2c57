"""`fl-node bench gas` end to end at a small size: every call it measures goes through, and a claim
sent in the transaction of the next commit costs less than the two transactions apart."""

from __future__ import annotations

from fl_node.bench.gas import FIRST_TRADE, HOLDER_BUY, run_gas_bench, to_markdown

BUNDLE = "Federation.multicall[claimReward[direct] + commit]"


def test_the_gas_bench_runs_and_prices_a_claim_with_the_next_commit() -> None:
    result = run_gas_bench(sizes=(5,), say=lambda _m: None)
    calls = result["calls"]
    assert calls["Federation.finalizeRound"]["calls"] == 6  # 3 tasks x 2 rounds, after a window
    assert calls[BUNDLE]["calls"] == 1  # the fifth-but-one claimer of the direct task's round 1
    apart = calls["Federation.claimReward[direct]"]["mean"] + calls["Federation.commit"]["mean"]
    assert calls[BUNDLE]["mean"] < apart - 15_000  # one transaction's base cost saved, at least
    assert set(result["targets"]) == {"aggregator_within_10pct", "client_flat_within_10pct"}
    assert f"| `{BUNDLE}` | 1 |" in to_markdown(result)
    # a pool's first trade (its cumulative prices and first harvest written from zero) apart
    assert calls[FIRST_TRADE]["calls"] == calls["ClientPool.swapExactBaseForTokens"]["calls"] == 1
    steady = calls["ClientPool.swapExactBaseForTokens"]["mean"]
    assert steady < calls[FIRST_TRADE]["mean"] - 15_000
    # the bench's steady buy credits its trader's dividends owed for the first time (a zero slot);
    # a buy after that costs what a sell does
    holder, sell = calls[HOLDER_BUY]["mean"], calls["ClientPool.swapExactTokensForBase"]["mean"]
    assert steady - holder > 15_000 and abs(holder - sell) < 2_000
