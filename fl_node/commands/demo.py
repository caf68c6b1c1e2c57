"""``fl-node demo``: the main job, a whole federation with investors on an embedded Anvil."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from fl_node.commands import argtypes
from fl_node.commands.common import round_progress


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="the main job: a whole federation with investors on an embedded Anvil, and a report",
        description="Run a whole federation on one machine: an embedded Anvil chain owned by "
        "this process, the contract suite deployed on it, a sponsor, an aggregator and 8 clients "
        "of different quality (their daemons stepped in this process, or with --processes as "
        "separate fl-node processes), and investors trading the client tokens after every "
        "round. Ends with a summary and a run folder with report.json and report.html; the "
        "chain state and the artifact store stay there for `fl-node audit --run <folder> --all`.",
    )
    p.add_argument(
        "--config",
        default="demo",
        help="task config: YAML path or bundled name (default: %(default)s)",
    )
    p.add_argument(
        "--rounds", type=argtypes.positive_int, help="override the config's number of rounds"
    )
    p.add_argument("--seed", type=argtypes.seed, help="override the config's seed")
    p.add_argument("--no-investors", action="store_true", help="run without investors")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs"),
        help="parent folder of run folders (default: %(default)s)",
    )
    p.add_argument(
        "--timeout", type=argtypes.seconds, default=1800.0, help="give up after this many seconds"
    )
    p.add_argument(
        "--processes",
        action="store_true",
        help="run the aggregator and every client as separate fl-node processes, as on separate "
        "machines (slower: each process starts its own Python)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from fl_node.configs import load_config
    from fl_node.simulation.experiment import SimulationSettings, run_simulation
    from fl_node.simulation.report import summary_table

    started = time.monotonic()
    settings = SimulationSettings(
        rounds=args.rounds,
        seed=args.seed,
        timeout=args.timeout,
        runtime="processes" if args.processes else "in-process",
    )
    if args.no_investors:
        settings = dataclasses.replace(settings, investors=())
    config = settings.apply(load_config(args.config))
    run_dir = args.out / time.strftime(f"{config.name}-%Y%m%d-%H%M%S")
    print(f"run folder {run_dir}")
    with round_progress(config.federation.rounds) as (tick, say):
        report = run_simulation(config, run_dir, settings, say=say, on_tick=tick)
    print(summary_table(report))
    market = report["market"]
    rho = market.get("spearman_price_quality")
    if rho is not None:
        print(f"token prices vs true client quality: Spearman {rho:.2f}")
    for name, inv in market.get("investors", {}).items():
        print(f"investor {name:<12} return {inv['return']:+.1%} (marked to market)")
    print(f"base tokens conserved: {'yes' if report['conservation']['ok'] else 'NO'}")
    elapsed = time.monotonic() - started
    print(f"report: {run_dir / 'report.html'} (and report.json); done in {elapsed:.0f} s")
    return 0 if report["conservation"]["ok"] else 1
