"""The share of a round's wall time the chain adds, measured on a real local federation.

Runs the ``demo`` task (8 client processes and an aggregator on an embedded Anvil) for a few
rounds and reads each round's timings (:func:`fl_node.federation.stats.chain_share`): wall
seconds from opening to finalization; the work a federation without a chain would do in them
(the slowest client's training, then the aggregator's verification, aggregation and scoring);
the rest is what the chain adds (transactions, windows, the chain's clock, watching it). The
transactions on the critical path alone are shown too.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fl_node.configs import load_config
from fl_node.simulation.localfed import LocalFederation
from fl_node.simulation.report import write_report


def run_chain_share(rounds: int, say: Callable[[str], None] = print) -> dict[str, Any]:
    config = load_config("demo")
    config = config.replace(federation=dataclasses.replace(config.federation, rounds=rounds))
    with (
        tempfile.TemporaryDirectory(prefix="fl-node-chainshare-") as tmp,
        LocalFederation(config, Path(tmp) / "run") as fed,
    ):
        fed.setup(say=say)
        fed.start_processes()
        fed.wait(timeout=60.0 * rounds + 300)
        report = write_report(fed.client, fed.run_dir, fed.config)
    per_round = {r["round"]: r.get("timing", {}) for r in report["rounds"]}
    return {"rounds": rounds, "per_round": per_round, "summary": report.get("chain_share", {})}


def to_markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Share of round wall time the chain adds, demo task (8 client processes + aggregator on "
        f"Anvil, challenge window 2 s), {result['rounds']} rounds. Off-chain work is the slowest "
        "client's training plus the aggregator's verification, aggregation and scoring; the chain "
        "adds the rest (transactions, the windows, the chain clock, watching the chain):",
        "",
        "| round | wall s | training s (slowest) | aggregator compute s | chain adds s | "
        "transactions s (critical path) | chain share |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, t in sorted(result["per_round"].items()):
        if not t:
            continue
        lines.append(
            f"| {number} | {t['wall_seconds']:.2f} | {t.get('train_seconds', 0.0):.3f} | "
            f"{t['compute_seconds']:.3f} | {t.get('chain_seconds', 0.0):.2f} | "
            f"{t['tx_seconds']:.3f} | {100 * t['chain_share']:.1f} % |"
        )
    s = result["summary"]
    if s:
        lines += [
            "",
            f"Mean chain share {100 * s['mean']:.1f} % (max {100 * s['max']:.1f} %); transactions "
            f"on the critical path alone {100 * s.get('tx_mean', 0.0):.1f} % of the wall time.",
        ]
    return "\n".join(lines)
