"""Write a run folder's report: ``report.json`` and ``report.html``, and a summary table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import ChainClient
from fl_node.config import TaskConfig
from fl_node.federation.stats import chain_share, load_all
from fl_node.market.manipulation import manipulation_cost
from fl_node.report.collect import Participant, collect_report
from fl_node.report.html import render_html


def write_report(
    client: ChainClient,
    run_dir: Path,
    config: TaskConfig,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    manifest = json.loads((run_dir / "run.json").read_text())
    participants = [Participant(c["index"], c["name"], c["address"]) for c in manifest["clients"]]
    roles = {c["address"].lower(): c["name"] for c in manifest["clients"]}
    roles[manifest["sponsor"].lower()] = "sponsor"
    if "deployer" in manifest:
        roles[manifest["deployer"].lower()] = "deployer"
    roles[manifest["aggregator"].lower()] = "aggregator"
    assert client.deployment is not None
    report = collect_report(
        client,
        int(manifest["task_id"]),
        ArtifactStore(config.store),
        participants,
        roles,
        from_block=client.deployment.block_number,
    )
    shares = chain_share(load_all(run_dir / "work"))
    for entry in report["rounds"]:
        entry["timing"] = shares.get(entry["round"], {})
    if shares:
        report["chain_share"] = {
            "mean": sum(s["chain_share"] for s in shares.values()) / len(shares),
            "max": max(s["chain_share"] for s in shares.values()),
            "tx_mean": sum(s["tx_share"] for s in shares.values()) / len(shares),
            "mean_round_seconds": sum(s["wall_seconds"] for s in shares.values()) / len(shares),
        }
    report["run"] = {"seed": config.seed, "config_name": config.name, "config": config.to_dict()}
    report["run"].update(extra or {})
    (run_dir / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    (run_dir / "report.html").write_text(render_html(report))
    return report


def summary_table(report: dict[str, Any]) -> str:
    lines = [f"{'client':<10} {'rounds used':>11} {'reward':>10} {'stake paid':>11} {'burned':>9}"]
    for name, t in report["totals"].items():
        lines.append(
            f"{name:<10} {int(t['rounds_used']):>11} {t['reward']:>10.2f} {t['payout']:>11.4f} "
            f"{t['burned']:>9.4f}"
        )
    metrics = report.get("final_metrics", {})
    if metrics:
        lines.append(
            f"final global model: test accuracy {metrics.get('test_accuracy', 0):.4f}, "
            f"validation accuracy {metrics.get('val_accuracy', 0):.4f}"
        )
    share = report.get("chain_share")
    if share:
        lines.append(
            f"rounds take {share['mean_round_seconds']:.1f} s on average; the chain adds "
            f"{100 * share['mean']:.1f} % of it (max {100 * share['max']:.1f} %: transactions, "
            f"windows, clock and watching; training and aggregating are the rest), transactions "
            f"on the critical path {100 * share.get('tx_mean', 0.0):.1f} %"
        )
    safeguard = manipulation_line(report)
    if safeguard:
        lines.append(safeguard)
    lines.append(
        f"final model hash {report['latest_model_hash']}; gas spent {report['gas']['total']:,}"
    )
    return "\n".join(lines)


#: The lift of a token's time-weighted price the report prices, and the oracle window it assumes.
MANIPULATION_FACTOR = 1.5
ORACLE_WINDOW = 1800


def manipulation_line(
    report: dict[str, Any], factor: float = MANIPULATION_FACTOR, window: int = ORACLE_WINDOW
) -> str | None:
    """What lifting the thinnest market's time-weighted price would cost, at its liquidity now;
    None when no market has liquidity."""
    markets = {
        name: m
        for name, m in report.get("markets", {}).items()
        if m["reserve_base"] > 0 and m["reserve_token"] > 0
    }
    if not markets:
        return None
    name, m = min(markets.items(), key=lambda item: item[1]["reserve_base"])
    cost = manipulation_cost(factor, m["reserve_token"], m["reserve_base"], m["fee_bps"])
    return (
        f"market safeguard: on the thinnest market ({name}, {m['reserve_base']:,.0f} base "
        f"tokens deep), {cost.describe(window)}"
    )
