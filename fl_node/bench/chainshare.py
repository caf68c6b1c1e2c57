"""The chain's share of a round's wall time, measured on a real local federation.

Runs the ``demo`` task (8 client processes and an aggregator on an embedded Anvil) for a few
rounds and reads each round's timings: wall seconds from opening to finalization, and the
seconds spent in transactions on the round's critical path (the aggregator's open, post and
finalize, plus the slowest client's stake top-up and commit).
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
        f"Chain's share of round wall time, demo task (8 client processes + aggregator on Anvil), "
        f"{result['rounds']} rounds:",
        "",
        "| round | wall s | transactions s (critical path) | aggregator compute s | chain share |",
        "|---|---|---|---|---|",
    ]
    for number, t in sorted(result["per_round"].items()):
        if not t:
            continue
        lines.append(
            f"| {number} | {t['wall_seconds']:.2f} | {t['tx_seconds']:.3f} | "
            f"{t['compute_seconds']:.3f} | {100 * t['chain_share']:.1f} % |"
        )
    s = result["summary"]
    if s:
        lines += [
            "",
            f"Mean chain share {100 * s['mean']:.1f} % (max {100 * s['max']:.1f} %); "
            "target < 10 %.",
        ]
    return "\n".join(lines)
