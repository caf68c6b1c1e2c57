"""``fl-node simulate``: a federation with investors trading its client tokens, ending in a report;
``--measure`` runs the experiment's comparison and records its table."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fl_node.commands import argtypes
from fl_node.commands.common import count_progress, round_progress
from fl_node.errors import ConfigError

if TYPE_CHECKING:
    from fl_node.config import TaskConfig
    from fl_node.simulation.borrowing import BorrowingSettings
    from fl_node.simulation.investment import InvestmentSettings

# Written out so that building the parser imports no simulation code; a test keeps them equal to
# ``fl_node.config.MODES`` and ``fl_node.simulation.investors.DEFAULT_POPULATION``.
#: The reward distribution modes.
MODES = ("direct", "buyback", "dividend")
#: The investors of a simulation unless --investors says otherwise.
DEFAULT_POPULATION = ("value", "value", "momentum", "noise", "noise", "passive")


def _population(text: str) -> tuple[str, ...]:
    from fl_node.market.agents import parse_population

    try:
        return tuple(parse_population(text))
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _methods(text: str) -> tuple[str, ...]:
    from fl_node.simulation.experiment import ALL_METHODS

    methods = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown contribution method(s) {', '.join(unknown)}; choose from "
            f"{', '.join(ALL_METHODS)}"
        )
    return methods


def _start_fraction(text: str) -> float:
    value = argtypes.fraction(text)
    if value == 0:
        raise argparse.ArgumentTypeError(
            f"{text.strip()} must be above 0: a client needs some labelled data to start with"
        )
    return value


def _positive_share(text: str) -> float:
    value = argtypes.fraction(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text.strip()} must be above 0, within (0, 1]")
    return value


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("give client names, comma-separated")
    return names


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "simulate",
        help="a federation with investors trading its client tokens, ending in a market report",
        description="Run a whole federation on an embedded Anvil (as `fl-node demo`) with "
        "investor agents that read only public data (results tables under the on-chain Merkle "
        "roots, pool reserves, supplies) and trade the client tokens through the real AMM "
        "pools after every finalized round. The run folder gets report.json and report.html: "
        "accuracy, reward shares per contribution method against equal payouts (every round "
        "recomputed offline), token prices against true client quality, investor returns, "
        "client wealth, stakes, gas, and the base-token conservation check. With --measure, "
        "runs the experiment's comparison (buyback with and without investors, and any other "
        "--modes) and writes results/market.json and results/market.md. With "
        "--measure-investment, clients start short of labels and buy them with what they raise "
        "on their markets; the same federation runs with and without investors and "
        "results/investment.json and results/investment.md record accuracy, resources, prices "
        "and where the capital went against true quality. With --measure-borrowing, those "
        "clients also borrow base tokens against their own tokens (TokenLending) to buy labels "
        "at once, and results/borrowing.json and results/borrowing.md record every client's "
        "loan, repayments, liquidations and labels against true quality.",
    )
    p.add_argument(
        "--config",
        default=None,
        help="task config: YAML path or bundled name (default: quality8; invest8 with "
        "--measure-investment)",
    )
    p.add_argument(
        "--rounds", type=argtypes.positive_int, help="override the config's number of rounds"
    )
    p.add_argument("--mode", choices=sorted(MODES), help="override the reward distribution mode")
    p.add_argument("--seed", type=argtypes.seed, help="override the config's seed")
    p.add_argument(
        "--investors",
        type=_population,
        default=DEFAULT_POPULATION,
        help="investor population as kind=count, e.g. value=2,momentum=1,noise=2,passive=1 "
        "(kinds: value, momentum, noise, passive; default: %(default)s)",
    )
    p.add_argument("--no-investors", action="store_true", help="run without any investor")
    p.add_argument(
        "--investor-budget",
        type=argtypes.positive_amount,
        default=1000.0,
        help="base tokens minted to each investor (default: %(default)s)",
    )
    p.add_argument(
        "--slippage-bps",
        type=argtypes.basis_points,
        default=100,
        help="minOut = the pool's quote minus this many basis points (default: %(default)s)",
    )
    p.add_argument(
        "--methods",
        type=_methods,
        default=None,
        help="contribution methods recomputed offline, comma-separated (default: all six)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs"),
        help="parent folder of run folders (default: %(default)s)",
    )
    p.add_argument(
        "--timeout", type=argtypes.seconds, default=3600.0, help="give up after this many seconds"
    )
    p.add_argument(
        "--processes",
        action="store_true",
        help="run the aggregator and every client as separate fl-node processes (as on separate "
        "machines) instead of stepping their daemons in this process; investors then trade "
        "whenever no claim is in flight",
    )
    p.add_argument(
        "--measure",
        action="store_true",
        help="run the measurement (buyback with and without investors, plus --modes) instead "
        "of one simulation; figures go to --results",
    )
    p.add_argument(
        "--modes",
        default="buyback",
        help="with --measure: comma-separated modes to run with investors (default: %(default)s)",
    )
    p.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="with --measure: where market.json and market.md go (default: %(default)s)",
    )
    inv = p.add_argument_group(
        "investment that buys quality",
        "Each client starts with --start-labelled of its data labelled; after every finalized "
        "round's market session it sells --sell-share of its remaining treasury tokens into its "
        "own pool and spends the base tokens above its stake's reserve on labels at "
        "--label-price each, paid on-chain to a vendor account.",
    )
    inv.add_argument(
        "--measure-investment",
        action="store_true",
        help="run the investment measurement: the same federation (default config invest8, 20 "
        "rounds) with and without investors; figures go to --results as investment.json and "
        "investment.md",
    )
    inv.add_argument(
        "--buy-labels",
        action="store_true",
        help="in a single simulation: clients start short of labels and buy them (as in "
        "--measure-investment)",
    )
    inv.add_argument(
        "--label-price",
        type=argtypes.positive_amount,
        default=None,
        help="base tokens per label (default: 8)",
    )
    inv.add_argument(
        "--start-labelled",
        type=_start_fraction,
        default=None,
        help="fraction of each client's data labelled at the start, in (0, 1] (default: 0.15)",
    )
    inv.add_argument(
        "--sell-share",
        type=argtypes.fraction,
        default=None,
        help="fraction of its remaining treasury tokens a client sells after each finalized "
        "round, in [0, 1] (default: 0.1)",
    )
    lend = p.add_argument_group(
        "borrowing against client tokens",
        "The governor lists every client's token in the lending contract through the timelock "
        "and a lender funds its vault. After round 1 each client posts --collateral-share of its "
        "treasury tokens and borrows --borrow-share of its borrowing limit (50% of the "
        "collateral's time-weighted value) to buy labels at once (labels are the compute a "
        "client buys here); it repays from its stake payouts, and from its sales once its labels "
        "are bought; a liquidator liquidates any position past the 75% threshold.",
    )
    lend.add_argument(
        "--measure-borrowing",
        action="store_true",
        help="run the borrowing measurement: a federation of clients who buy labels and borrow "
        "(default config invest8, 20 rounds, the default investors unless --investors or "
        "--no-investors); figures go to --results as borrowing.json and borrowing.md",
    )
    lend.add_argument(
        "--borrow",
        action="store_true",
        help="in a single simulation: clients buy labels and borrow to do so (as in "
        "--measure-borrowing)",
    )
    lend.add_argument(
        "--collateral-share",
        type=_positive_share,
        default=None,
        help="fraction of its treasury tokens a client posts as collateral, in (0, 1] "
        "(default: 0.5)",
    )
    lend.add_argument(
        "--borrow-share",
        type=_positive_share,
        default=None,
        help="fraction of its borrowing limit a client borrows, in (0, 1]: the safety margin "
        "below the loan-to-value limit (default: 0.9)",
    )
    lend.add_argument(
        "--walk-away",
        type=_names,
        default=None,
        metavar="NAMES",
        help="clients (comma-separated names) that, the round after their loan, sell their whole "
        "free treasury and never repay: a what-if",
    )
    p.set_defaults(handler=run)


def _borrowing(args: argparse.Namespace) -> BorrowingSettings:
    """The borrowing settings the options give (defaults where not given)."""
    from fl_node.simulation.borrowing import BorrowingSettings

    defaults = BorrowingSettings()
    return BorrowingSettings(
        collateral_share_bps=(
            round(args.collateral_share * 10_000)
            if args.collateral_share is not None
            else defaults.collateral_share_bps
        ),
        borrow_share_bps=(
            round(args.borrow_share * 10_000)
            if args.borrow_share is not None
            else defaults.borrow_share_bps
        ),
        walk_away=args.walk_away or (),
    ).check()


def _check_walk_away(args: argparse.Namespace, config: TaskConfig) -> None:
    """Names given to --walk-away must be the config's clients (checked before anything
    starts)."""
    names = [config.client(i).name or f"client-{i}" for i in range(config.federation.max_clients)]
    unknown = [n for n in args.walk_away or () if n not in names]
    if unknown:
        raise ConfigError(
            f"--walk-away names {', '.join(unknown)}, not a client of {config.name} "
            f"({', '.join(names)})"
        )


def _investment(args: argparse.Namespace) -> InvestmentSettings:
    """The investment settings the options give (defaults where not given)."""
    from fl_node.simulation.investment import InvestmentSettings

    defaults = InvestmentSettings()
    price = args.label_price if args.label_price is not None else defaults.label_price
    settings = InvestmentSettings(
        label_price=float(price),
        start_fraction=(
            args.start_labelled if args.start_labelled is not None else defaults.start_fraction
        ),
        sell_share_bps=(
            round(args.sell_share * 10_000)
            if args.sell_share is not None
            else defaults.sell_share_bps
        ),
    )
    return settings.check()


def run(args: argparse.Namespace) -> int:
    from fl_node.configs import load_config
    from fl_node.simulation.experiment import ALL_METHODS, SimulationSettings, run_simulation

    methods = args.methods or ALL_METHODS
    _check_investment_options(args)
    if args.measure_investment:
        return _measure_investment(args)
    if args.measure_borrowing:
        return _measure_borrowing(args)
    args.config = args.config or "quality8"
    if args.measure:
        return _measure(args, methods)
    config = load_config(args.config)
    _check_walk_away(args, config)
    settings = SimulationSettings(
        rounds=args.rounds,
        mode=args.mode,
        seed=args.seed,
        investors=() if args.no_investors else args.investors,
        investor_budget=float(args.investor_budget),
        tolerance_bps=args.slippage_bps,
        methods=methods,
        timeout=args.timeout,
        runtime="processes" if args.processes else "in-process",
        investment=_investment(args) if args.buy_labels or args.borrow else None,
        borrowing=_borrowing(args) if args.borrow else None,
    )
    config = settings.apply(config)
    run_dir = args.out / time.strftime(f"{config.name}-%Y%m%d-%H%M%S")
    print(f"run folder {run_dir}")
    with round_progress(config.federation.rounds) as (tick, say):
        report = run_simulation(config, run_dir, settings, say=say, on_tick=tick)
    market = report["market"]
    print(f"{'client':<12} {'quality':>8} {'reward':>9} {'final price':>12} {'wealth':>12}")
    for name, data in market["clients"].items():
        print(
            f"{name:<12} {data['quality']:>8.2f} {report['totals'][name]['reward']:>9.2f} "
            f"{market['final_prices'].get(name, 0.0):>12.6f} "
            f"{data['final'].get('wealth', 0.0):>12.2f}"
        )
    for name, inv in market["investors"].items():
        print(f"investor {name:<12} return {inv['return']:+.1%}")
    if "investment" in report:
        inv = report["investment"]
        print(f"{'client':<12} {'raised':>9} {'spent':>9} {'labels (start)':>15}")
        for name, data in inv["clients"].items():
            print(
                f"{name:<12} {data['raised']:>9.2f} {data['spent']:>9.2f} "
                f"{data['final_labels']:>7} ({data['start_labels']})"
            )
        vendor_ok = "yes" if inv["vendor_matches_spending"] else "NO"
        print(f"label vendor received {inv['vendor_balance']:.2f} (= all spending: {vendor_ok})")
    if "borrowing" in report:
        _print_loans(report["borrowing"])
    rho = market["spearman_price_quality"]
    print(f"Spearman(final price, true quality) = {rho:.2f}" if rho is not None else "no prices")
    for method, data in report["contribution_methods"].items():
        if method != "equal":
            print(f"Gini of rewards, {method:<13} {data['gini']:.3f}")
    print(f"base tokens conserved: {'yes' if report['conservation']['ok'] else 'NO'}")
    print(f"report: {run_dir / 'report.html'} (and report.json)")
    return 0 if report["conservation"]["ok"] else 1


def _measure(args: argparse.Namespace, methods: tuple[str, ...]) -> int:
    from fl_node.simulation.experiment import run_measurement

    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ConfigError(f"--modes takes modes among {', '.join(MODES)}, got {args.modes!r}")
    result, markdown = run_measurement(
        args.out,
        rounds=args.rounds or 20,
        config=args.config,
        modes=modes,
        seed=args.seed,
        methods=methods,
    )
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "market.json").write_text(json.dumps(result, indent=2))
    (args.results / "market.md").write_text(markdown + "\n")
    print(markdown)
    from fl_node.bench.readme import update_readme

    where = " and the README" if update_readme(Path("README.md"), "market", markdown) else ""
    print(f"written to {args.results / 'market.json'} and {args.results / 'market.md'}{where}")
    return 0


def _print_loans(lending: dict[str, Any]) -> None:
    print(
        f"{'client':<12} {'borrowed':>9} {'repaid':>9} {'liquidated':>11} {'seized':>10} "
        f"{'owed':>9}"
    )
    for name, c in lending["clients"].items():
        print(
            f"{name:<12} {c['borrowed']:>9.2f} {c['repaid']:>9.2f} "
            f"{'yes' if c['liquidated'] else 'no':>11} {c['collateral_seized']:>10,.0f} "
            f"{c['outstanding']:>9.2f}"
        )
    vault = lending["vault"]
    print(
        f"lending vault: cash {vault['cash']:.2f} + debt {vault['total_debt']:.2f}, bad debt "
        f"{vault['bad_debt']:.2f}, lender's return {vault['lender_return']:+.4f}"
    )


def _given(args: argparse.Namespace, *dests: str) -> list[str]:
    """The options among ``dests`` the command line set (a flag on, a value given), as typed."""
    return [
        "--" + dest.replace("_", "-")
        for dest in dests
        if getattr(args, dest) is not None and getattr(args, dest) is not False
    ]


def _check_investment_options(args: argparse.Namespace) -> None:
    tuned = _given(args, "label_price", "start_labelled", "sell_share")
    measures = _given(args, "measure", "measure_investment", "measure_borrowing")
    if len(measures) > 1:
        raise ConfigError(f"{' and '.join(measures)} are separate measurements: pick one")
    if args.measure_borrowing and (args.buy_labels or args.borrow):
        raise ConfigError(
            "--buy-labels and --borrow are for a single simulation; --measure-borrowing implies "
            "them"
        )
    if args.measure_investment and args.borrow:
        raise ConfigError(
            "--measure-investment runs without loans; --measure-borrowing measures borrowing"
        )
    lending = _given(args, "collateral_share", "borrow_share", "walk_away")
    if lending and not (args.borrow or args.measure_borrowing):
        raise ConfigError(f"{', '.join(lending)} only apply with --measure-borrowing or --borrow")
    if args.measure_investment and args.buy_labels:
        raise ConfigError(
            "--buy-labels is for a single simulation; --measure-investment implies it"
        )
    buying = args.measure_investment or args.buy_labels or args.borrow or args.measure_borrowing
    if tuned and not buying:
        raise ConfigError(
            f"{', '.join(tuned)} only apply with --measure-investment, --buy-labels, "
            "--measure-borrowing or --borrow"
        )
    if buying and args.processes:
        raise ConfigError(
            "clients buying labels run with the in-process runtime only: drop --processes"
        )
    if args.measure_investment and args.no_investors:
        raise ConfigError(
            "--measure-investment runs with and without investors itself: drop --no-investors"
        )


def _measure_investment(args: argparse.Namespace) -> int:
    from fl_node.configs import load_config
    from fl_node.simulation.investment import investment_html, run_investment_measurement

    investment = _investment(args)
    config = args.config or "invest8"
    load_config(config)  # a bad --config is one clear error before anything starts
    rounds = args.rounds or 20
    with count_progress(2 * rounds, "investment") as (tick, say):
        result, markdown = run_investment_measurement(
            args.out,
            rounds=rounds,
            config=config,
            seed=args.seed,
            investment=investment,
            say=say,
            on_tick=tick,
            timeout=args.timeout,
        )
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "investment.json").write_text(json.dumps(result, indent=2))
    (args.results / "investment.md").write_text(markdown + "\n")
    (args.results / "investment.html").write_text(investment_html(result, markdown))
    print(markdown)
    print(
        f"written to {args.results / 'investment.json'}, {args.results / 'investment.md'} and "
        f"{args.results / 'investment.html'}"
    )
    ok = all(r["conservation_ok"] and r["vendor_matches_spending"] for r in result["runs"])
    return 0 if ok else 1


def _measure_borrowing(args: argparse.Namespace) -> int:
    from fl_node.configs import load_config
    from fl_node.simulation.borrowing import matching_baseline, run_borrowing_measurement

    investment, borrowing = _investment(args), _borrowing(args)
    config = args.config or "invest8"
    task = load_config(config)
    _check_walk_away(args, task)  # one clear error before anything starts
    rounds = args.rounds or 20
    investors = () if args.no_investors else tuple(args.investors)
    baseline = None
    earlier = args.results / "investment.json"
    if earlier.is_file() and args.seed is None:  # the same federation without loans, if measured
        try:
            found = json.loads(earlier.read_text())
        except ValueError:
            found = None
        if isinstance(found, dict):
            baseline = matching_baseline(found, task.name, rounds, investment, investors)
    with count_progress(rounds, "borrowing") as (tick, say):
        result, markdown = run_borrowing_measurement(
            args.out,
            rounds=rounds,
            config=config,
            seed=args.seed,
            investment=investment,
            borrowing=borrowing,
            investors=investors,
            say=say,
            on_tick=tick,
            timeout=args.timeout,
            baseline=baseline,
        )
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "borrowing.json").write_text(json.dumps(result, indent=2))
    (args.results / "borrowing.md").write_text(markdown + "\n")
    print(markdown)
    print(f"written to {args.results / 'borrowing.json'} and {args.results / 'borrowing.md'}")
    ok = (
        result["conservation_ok"]
        and result["vault_ok"]
        and result["events_match"]
        and result["vendor_matches_spending"]
    )
    return 0 if ok else 1
