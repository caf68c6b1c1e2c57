"""``fl-node bench``: benchmarks that print their figures, saved to results/ and the README."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fl_node.bench import idle
from fl_node.commands import argtypes
from fl_node.commands.common import help_handler


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="run a benchmark and record its figures")
    bsub = p.add_subparsers(dest="bench", metavar="<fl|scoring|aggregators|gas|idle|flower|rounds>")
    fl = bsub.add_parser(
        "fl",
        help="FedAvg and robust aggregators vs centralized training on digits",
        description="Centralized training vs FedAvg (IID, Dirichlet 0.5) and, with 2 of 8 "
        "clients poisoning, FedAvg vs median / trimmed mean / Krum. No chain involved.",
    )
    fl.add_argument(
        "--seeds", type=argtypes.seed, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)"
    )
    fl.add_argument(
        "--rounds", type=argtypes.positive_int, default=10, help="rounds (default: %(default)s)"
    )
    fl.add_argument(
        "--chain-rounds",
        type=argtypes.non_negative_int,
        default=5,
        help="also run the demo task on Anvil for this many rounds to measure the chain's share "
        "of round time (0: skip; default: %(default)s)",
    )
    _outputs(fl)
    fl.set_defaults(handler=run_fl)
    scoring = bsub.add_parser(
        "scoring",
        help="contribution methods vs exact Shapley: rank correlation, evaluations, cost",
        description="On digits with 8 clients of known quality (label noise 0, 0, 0, 0.2, 0.4, "
        "0.6, a free-rider, a poisoner): each method's rank correlation with exact Shapley and "
        "its model evaluations, accumulated scores vs the true quality order, and scoring time "
        "against training time from 4 to 16 clients. No chain involved.",
    )
    scoring.add_argument(
        "--seeds", type=argtypes.seed, nargs="+", default=[0], help="seeds (default: 0)"
    )
    scoring.add_argument(
        "--rounds", type=argtypes.positive_int, default=10, help="rounds (default: %(default)s)"
    )
    _outputs(scoring)
    scoring.set_defaults(handler=run_scoring)
    aggregators = bsub.add_parser(
        "aggregators",
        help="final accuracy of FedAvg, median, trimmed mean, Krum and reputation weighting "
        "under clean, mixed and poisoned federations",
        description="Offline (no chain), on the task config's model and training (the demo's by "
        "default), with contribution scoring on: each aggregator's final test accuracy under "
        "all-clean clients, the config's own client mix, and a Dirichlet(0.5) split with two "
        "sign-flip poisoners, against the reference of the config's clean clients alone; a "
        "sweep of the reputation-weighted aggregator's parameters; each client's share of the "
        "reputation-weighted aggregate per round.",
    )
    aggregators.add_argument(
        "--seeds",
        type=argtypes.seed,
        nargs="+",
        default=[0, 1, 2, 3, 4],
        help="seeds (default: 0 1 2 3 4)",
    )
    aggregators.add_argument(
        "--rounds", type=argtypes.positive_int, default=10, help="rounds (default: %(default)s)"
    )
    aggregators.add_argument(
        "--config",
        default="demo",
        help="task config whose model, training, scoring and client mix are used: a YAML file "
        "or a bundled name (default: %(default)s)",
    )
    aggregators.add_argument(
        "--no-sweep",
        action="store_true",
        help="skip the sweep of the reputation-weighted aggregator's parameters",
    )
    _outputs(aggregators)
    aggregators.set_defaults(handler=run_aggregators)
    gas = bsub.add_parser(
        "gas",
        help="gas of every call, and per round at 10/100/500 clients",
        description="Deploys on an embedded Anvil and measures the gas of every user-facing "
        "call, the aggregator's gas per round and a client's gas per round as the federation "
        "grows.",
    )
    gas.add_argument(
        "--sizes",
        type=argtypes.positive_int,
        nargs="+",
        default=[10, 100, 500],
        help="federation sizes",
    )
    _outputs(gas)
    gas.set_defaults(handler=run_gas)
    idle.register(bsub)
    flower = bsub.add_parser(
        "flower",
        help="seconds per round: plain Flower against Flower settled on-chain",
        description="For each size, a fresh local chain gets the demo's digits task; the example "
        "Flower app then runs plain (Flower's FedAvg, no chain) and settled (SettledStrategy and "
        "the settling mod) on the same engine. Needs flwr (installed by the set-up).",
    )
    flower.add_argument(
        "--sizes",
        type=argtypes.positive_int,
        nargs="+",
        default=[8, 16, 32],
        help="numbers of SuperNodes (default: 8 16 32)",
    )
    flower.add_argument(
        "--rounds",
        type=argtypes.positive_int,
        default=4,
        help="rounds per run; the first and last are reported apart (default: %(default)s)",
    )
    flower.add_argument(
        "--engine",
        choices=("simulation", "deployment"),
        default="simulation",
        help="Flower's simulation engine (Ray) or its deployment engine (a SuperLink and one "
        "SuperNode process per client) (default: %(default)s)",
    )
    flower.add_argument(
        "--actors",
        type=argtypes.positive_int,
        default=None,
        help="Ray actors of the simulation engine, ClientApps running at once (default: one per "
        "core, at most one per SuperNode)",
    )
    _outputs(flower)
    flower.set_defaults(handler=run_flower)

    rounds = bsub.add_parser(
        "rounds",
        help="seconds per round and peak memory: fl-node's runtimes against Flower",
        description="For each size, the demo's digits task runs on fl-node's in-process runtime "
        "(every daemon in one process, real transactions on an embedded Anvil), on its daemons "
        "as separate processes, and plain on Flower's simulation engine, each in a fresh child "
        "process whose memory (with all its descendants) is sampled every 0.2 s. Each runtime "
        "runs --repeats times, the runtimes' runs interleaved, and each one's median run is "
        "reported. Prints and records the figures; asserts nothing. Needs flwr for the flower "
        "runtime.",
    )
    rounds.add_argument(
        "--sizes",
        type=argtypes.integer(2, 1000, note="a federation needs at least 2 clients"),
        nargs="+",
        default=[8, 16, 32, 128],
        help="numbers of clients (default: 8 16 32 128)",
    )
    rounds.add_argument(
        "--rounds",
        type=argtypes.positive_int,
        default=10,
        help="rounds per run; steady rounds leave out the first and the last "
        "(default: %(default)s)",
    )
    rounds.add_argument(
        "--runtimes",
        choices=("in-process", "processes", "flower"),
        nargs="+",
        default=["in-process", "processes", "flower"],
        help="which runtimes to run (default: all three)",
    )
    rounds.add_argument(
        "--max-processes",
        type=argtypes.positive_int,
        default=32,
        help="run the separate-processes runtime only up to this many clients: each client "
        "process takes about 400 MB (default: %(default)s)",
    )
    rounds.add_argument(
        "--repeats",
        type=argtypes.positive_int,
        default=3,
        help="runs of each runtime at each size, interleaved; the table shows each one's "
        "median run and the range (default: %(default)s)",
    )
    rounds.add_argument(
        "--flower-actors",
        type=argtypes.positive_int,
        default=None,
        help="Ray actors of Flower's simulation engine, ClientApps running at once (default: "
        "one per core)",
    )
    rounds.add_argument(
        "--train-workers",
        type=argtypes.non_negative_int,
        default=None,
        help="worker processes the in-process runtime trains its clients in, beside its own "
        "(0: train in its own process; default: 1 on two cores or more)",
    )
    _outputs(rounds)
    rounds.set_defaults(handler=run_rounds)

    p.set_defaults(handler=help_handler(p))


def _outputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path("results"), help="results folder (default: %(default)s)"
    )
    parser.add_argument(
        "--readme",
        type=Path,
        default=Path("README.md"),
        help="README to update (default: %(default)s)",
    )


def _record(args: argparse.Namespace, key: str, result: dict[str, Any], markdown: str) -> None:
    from fl_node.bench.readme import update_readme

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{key}.json").write_text(json.dumps(result, indent=2))
    (args.out / f"{key}.md").write_text(markdown + "\n")
    print(markdown)
    where = (
        "and the README" if update_readme(args.readme, key, markdown) else "(README has no markers)"
    )
    print(f"written to {args.out / (key + '.json')}, {args.out / (key + '.md')} {where}")


def run_fl(args: argparse.Namespace) -> int:
    from fl_node.bench.fl import BenchConfig, run_bench, to_markdown

    result = run_bench(args.seeds, BenchConfig(rounds=args.rounds))
    markdown = to_markdown(result)
    if args.chain_rounds > 0:
        from fl_node.bench import chainshare

        share = chainshare.run_chain_share(args.chain_rounds)
        result["chain_share"] = share
        markdown += "\n\n" + chainshare.to_markdown(share)
    _record(args, "fl", result, markdown)
    return 0


def run_gas(args: argparse.Namespace) -> int:
    from fl_node.bench.gas import run_gas_bench, to_markdown

    result = run_gas_bench(tuple(args.sizes))
    _record(args, "gas", result, to_markdown(result))
    return 0


def run_scoring(args: argparse.Namespace) -> int:
    from fl_node.bench.scoring import run_bench, to_markdown

    result = run_bench(args.seeds, args.rounds)
    _record(args, "scoring", result, to_markdown(result))
    return 0


def run_aggregators(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fl_node.bench import aggregators as bench
    from fl_node.configs import load_config

    base = load_config(args.config)
    sweep = () if args.no_sweep else bench.SWEEP
    mixes, reference = bench.default_mixes(base)
    total = bench.federations(len(args.seeds), len(bench.AGGREGATORS), len(mixes), len(sweep))
    with tqdm(total=total, unit="federation", desc="aggregators", dynamic_ncols=True) as bar:

        def tick(label: str) -> None:
            bar.set_postfix_str(label)
            bar.update(1)

        result = bench.run_bench(
            base, args.seeds, args.rounds, mixes=mixes, reference=reference, sweep=sweep,
            tick=tick, say=tqdm.write,
        )  # fmt: skip
    _record(args, "aggregators", result, bench.to_markdown(result))
    return 0


def run_flower(args: argparse.Namespace) -> int:
    from fl_node.bench.flower import run_flower_bench, to_markdown
    from fl_node.errors import ConfigError

    if args.rounds < 3:
        raise ConfigError("--rounds must be at least 3 (the first and last are reported apart)")
    try:
        import flwr  # noqa: F401
    except ImportError as exc:
        raise ConfigError("fl-node bench flower needs flwr: run `make setup`") from exc
    if args.actors is not None and args.engine != "simulation":
        raise ConfigError(
            "--actors sets the simulation engine's; the deployment engine runs one "
            "SuperNode process per client"
        )
    result = run_flower_bench(args.sizes, args.rounds, args.engine, say=print, actors=args.actors)
    _record(args, f"flower-{args.engine}", result, to_markdown(result))
    return 0


def run_rounds(args: argparse.Namespace) -> int:
    from fl_node.errors import ConfigError

    if args.rounds < 3:
        raise ConfigError("--rounds must be at least 3 (the first and last are reported apart)")
    if "flower" in args.runtimes:
        try:
            import flwr  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                "the flower runtime needs flwr: run `make setup`, or leave it out of --runtimes"
            ) from exc
    from fl_node.bench.rounds import run_rounds_bench, to_markdown

    result = run_rounds_bench(
        args.sizes,
        args.rounds,
        args.runtimes,
        args.max_processes,
        say=print,
        repeats=args.repeats,
        actors=args.flower_actors,
        workers=args.train_workers,
    )
    _record(args, "rounds", result, to_markdown(result))
    return 0
