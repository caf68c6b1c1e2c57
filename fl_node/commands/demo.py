"""``fl-node demo``: the main job, a whole federation on an embedded Anvil, ending in a report."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from tqdm import tqdm

from fl_node.commands.common import positive_int
from fl_node.configs import load_config
from fl_node.federation.protocol import Phase
from fl_node.simulation.localfed import LocalFederation, Progress
from fl_node.simulation.report import summary_table, write_report


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo",
        help="the main job: a whole federation on an embedded Anvil, ending in a report",
        description="Run a whole federation on one machine: an embedded Anvil chain owned by "
        "this process, the contract suite deployed on it, a sponsor, an aggregator and every "
        "client as separate processes, and a run folder with report.json and report.html. "
        "The chain state and the artifact store stay in the run folder for audits.",
    )
    p.add_argument(
        "--config",
        default="demo",
        help="task config: YAML path or bundled name (default: %(default)s)",
    )
    p.add_argument("--rounds", type=positive_int, help="override the config's number of rounds")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs"),
        help="parent folder of run folders (default: %(default)s)",
    )
    p.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    config = load_config(args.config)
    if args.rounds is not None:
        config = config.replace(
            federation=dataclasses.replace(config.federation, rounds=args.rounds)
        )
    if args.seed is not None:
        config = config.replace(seed=args.seed)
    run_dir = args.out / time.strftime(f"{config.name}-%Y%m%d-%H%M%S")
    print(f"run folder {run_dir}")
    with LocalFederation(config, run_dir) as fed:
        fed.setup(say=lambda m: print("  " + m))
        fed.start_processes()
        print(f"aggregator and {fed.n_clients} clients started (logs in {run_dir / 'logs'})")
        total = config.federation.rounds
        with tqdm(total=total, unit="round", desc="federation", dynamic_ncols=True) as bar:

            def tick(p: Progress) -> None:
                bar.n = p.finalized
                bar.set_postfix_str(f"round {p.round}: {Phase(p.phase).name.lower()}")
                bar.refresh()

            fed.wait(timeout=args.timeout, on_tick=tick)
        elapsed = time.monotonic() - started
        report = write_report(fed.client, fed.run_dir, fed.config, {"wall_seconds": elapsed})
    print(summary_table(report))
    print(f"report: {run_dir / 'report.html'} (and report.json); done in {elapsed:.0f} s")
    return 0
