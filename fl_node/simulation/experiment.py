"""The WallStreetFeds experiment: a federation of clients of known quality, investors trading
their tokens, and what the prices and the rewards say about the clients.

:func:`run_simulation` runs one federation on an embedded Anvil with a :class:`MarketSession` of
investors, then writes ``report.json`` and ``report.html``: accuracy per round, each client's
share of the rewards under every contribution method against equal payouts (every finalized
round recomputed offline from the chain and the store, as the round engine computes it), token
prices over rounds against true quality, investor returns, client wealth and base balances over
time, stakes paid and burned, gas by role, and the base-token conservation check.

:func:`run_measurement` runs the comparison of the issue (buyback with and without investors,
optionally the other modes) and returns the results and their Markdown table.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fl_node.artifacts.store import ArtifactStore
from fl_node.bench.scoring import spearman, true_quality
from fl_node.chain.contracts import BaseToken
from fl_node.config import MODES, TaskConfig
from fl_node.contribution import EXACT_MAX_PLAYERS, METHODS
from fl_node.errors import ConfigError, FlNodeError
from fl_node.federation.context import TaskContext
from fl_node.federation.engine import compute_round
from fl_node.federation.inputs import round_inputs
from fl_node.federation.protocol import FederationApi, Phase, TaskStatus, hex32
from fl_node.federation.stats import chain_share, load_all
from fl_node.market.accounting import check_conservation
from fl_node.report.collect import Participant, collect_report
from fl_node.settlement.rewards import gini
from fl_node.simulation.investors import DEFAULT_POPULATION, MarketSession
from fl_node.simulation.localfed import FIRST_CLIENT, LocalFederation, Progress

if TYPE_CHECKING:
    from fl_node.simulation.borrowing import BorrowingDesk, BorrowingSettings
    from fl_node.simulation.investment import FundingDesk, InvestmentSettings

#: Contribution methods of the paper's figure, in the order they are reported.
ALL_METHODS = ("loo", "mc_shapley", "gtg_shapley", "exact_shapley", "cosine", "data_size")
#: Context attributes that do not depend on the scoring method: shared between the per-method
#: contexts of the offline recomputation instead of rebuilt for each.
_SHARED = (
    "dataset",
    "partitions",
    "model_spec",
    "initial_weights",
    "param_spec",
    "validator",
    "tester",
)

Say = Callable[[str], None]
#: How a local federation runs: every role's daemon stepped in this process, or each role as a
#: separate ``fl-node`` process (as on separate machines).
RUNTIMES = ("in-process", "processes")


@dataclass(frozen=True)
class SimulationSettings:
    """What ``fl-node simulate`` changes on top of the task config."""

    rounds: int | None = None
    mode: str | None = None
    seed: int | None = None
    investors: tuple[str, ...] = DEFAULT_POPULATION
    investor_budget: float = 1_000.0
    tolerance_bps: int = 100
    methods: tuple[str, ...] = ALL_METHODS
    timeout: float = 3600.0
    runtime: str = "in-process"  # or "processes": every role a separate fl-node process
    #: Clients start short of labels and buy them with what they raise on their markets
    #: (:mod:`fl_node.simulation.investment`); None: every client has all its data.
    investment: InvestmentSettings | None = None
    #: Clients also borrow base tokens against their own tokens to buy labels
    #: (:mod:`fl_node.simulation.borrowing`); needs ``investment``.
    borrowing: BorrowingSettings | None = None

    @classmethod
    def measurement(
        cls,
        config: TaskConfig,
        *,
        rounds: int | None,
        seed: int | None,
        investors: tuple[str, ...],
        timeout: float,
        investment: InvestmentSettings | None,
        borrowing: BorrowingSettings | None = None,
    ) -> SimulationSettings:
        """The settings of one run of a measurement (investment, borrowing): scored by the
        config's own method only, since what is measured is accuracy and money."""
        return cls(
            rounds=rounds,
            seed=seed,
            investors=investors,
            methods=(config.scoring.method,),
            timeout=timeout,
            investment=investment,
            borrowing=borrowing,
        )

    def apply(self, config: TaskConfig) -> TaskConfig:
        """The config with this run's overrides, validated."""
        fed = config.federation
        if self.rounds is not None:
            fed = dataclasses.replace(fed, rounds=self.rounds)
        if self.mode is not None:
            if self.mode not in MODES:
                raise ConfigError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
            fed = dataclasses.replace(fed, mode=self.mode)
        config = config.replace(federation=fed)
        if self.seed is not None:
            config = config.replace(seed=self.seed)
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ConfigError(
                f"unknown contribution method(s) {unknown}; choose from {', '.join(ALL_METHODS)}"
            )
        if self.runtime not in RUNTIMES:
            raise ConfigError(f"the runtime must be one of {', '.join(RUNTIMES)}")
        if not 0 <= self.tolerance_bps < 10_000:
            raise ConfigError(f"slippage tolerance must be in [0, 10000) bps: {self.tolerance_bps}")
        if self.investment is not None:
            self.investment.check()
            if self.runtime != "in-process":
                raise ConfigError(
                    "clients buying resources run with the in-process runtime only (their "
                    "funding trades share the daemons' chain client)"
                )
        if self.borrowing is not None:
            if self.investment is None:
                raise ConfigError(
                    "clients borrow to buy labels: borrowing needs the investment settings too"
                )
            self.borrowing.check()
        return config


# -- offline recomputation of every round with every method -------------------------------------
def method_contexts(config: TaskConfig, methods: Sequence[str]) -> dict[str, TaskContext]:
    """One task context per contribution method (the task's own parameters for its method)."""
    base = TaskContext(config)
    contexts = {}
    for method in methods:
        params = config.scoring.params if method == config.scoring.method else {}
        scoring = dataclasses.replace(config.scoring, method=method, params=params)
        ctx = TaskContext(config.replace(scoring=scoring))
        for name in _SHARED:
            ctx.__dict__[name] = getattr(base, name)
        contexts[method] = ctx
    return contexts


def recompute_rewards(
    api: FederationApi,
    store: ArtifactStore,
    config: TaskConfig,
    methods: Sequence[str],
    from_block: int,
    say: Say = print,
) -> dict[str, Any]:
    """Rewards (base units) every client would have had in every finalized round, per method.

    Each round's inputs are rebuilt from the chain and the store exactly as an auditor does (the
    escrow budget at the block before the post), and the pure round engine is run with each
    method in turn: same updates, same budget, same allocation rule. For the task's own method the
    recomputed results root must equal the posted one (``matches_posted``).
    """
    state = api.state()
    n_players = state.participants
    usable = [m for m in methods if m != "exact_shapley" or n_players <= EXACT_MAX_PLAYERS]
    contexts = method_contexts(config, usable)
    per_round: list[dict[str, Any]] = []
    matches: list[bool] = []
    seconds = dict.fromkeys(usable, 0.0)
    for number in range(1, state.current_round + 1):
        info = api.round(number)
        if info.phase != Phase.FINALIZED:
            continue
        opened = api.round_opened_block(number, from_block)
        if opened is None:
            raise ConfigError(f"round {number} has no RoundOpened event")
        posted_at = api.round_posted_block(number, from_block)
        if posted_at is None:
            raise ConfigError(f"round {number} has no RoundPosted event")
        inputs = round_inputs(api, store, number, opened, budget_block=posted_at - 1)
        entry: dict[str, Any] = {"round": number, "rewards": {}}
        for method in usable:
            started = time.perf_counter()
            output = compute_round(inputs, contexts[method])
            seconds[method] += time.perf_counter() - started
            entry["rewards"][method] = {
                r.client.lower(): str(r.reward) for r in output.results.rows
            }
            if method == config.scoring.method:
                matches.append(output.results.root == bytes(info.results_root))
        per_round.append(entry)
        say(f"round {number} recomputed with {len(usable)} methods")
    return {
        "methods": list(usable),
        "skipped": [m for m in methods if m not in usable],
        "rounds": per_round,
        "matches_posted": all(matches) if matches else None,
        "seconds": seconds,
    }


def method_shares(
    recomputed: dict[str, Any], names: dict[str, str], quality: dict[str, float], decimals: int
) -> dict[str, Any]:
    """Per method: each client's share of all rewards (whole base tokens of a token with
    ``decimals`` decimals), its ratio to the equal share, the Gini coefficient of the rewards and
    their rank correlation with true quality."""
    unit = 10**decimals
    order = list(names.values())
    n = len(order)
    out: dict[str, Any] = {}
    for method in recomputed["methods"]:
        totals = dict.fromkeys(order, 0)
        for entry in recomputed["rounds"]:
            for address, reward in entry["rewards"][method].items():
                totals[names.get(address, address)] += int(reward)
        grand = sum(totals.values())
        shares = {k: (v / grand if grand else 0.0) for k, v in totals.items()}
        amounts = [totals[k] / unit for k in order]
        out[method] = {
            "totals": {k: v / unit for k, v in totals.items()},
            "shares": shares,
            "vs_equal": {k: s * n for k, s in shares.items()},
            "gini": gini(amounts),
            "spearman_quality": spearman(amounts, [quality[k] for k in order]),
        }
    out["equal"] = {"share": 1.0 / n if n else 0.0, "gini": 0.0}
    return out


# -- the market's figures -----------------------------------------------------------------------
def market_summary(
    market: MarketSession, names: dict[str, str], quality: dict[str, float]
) -> dict[str, Any]:
    """Prices against quality over the run, investor returns, client wealth and base balances."""
    after = [s for s in market.snapshots if s["when"] == "after"]
    order = list(names.values())
    price_series = {
        k: [s["pools"].get(k, {}).get("price", float("nan")) for s in after] for k in order
    }
    rho_series = []
    for snap in after:
        prices = [snap["pools"][k]["price"] for k in order if k in snap["pools"]]
        if len(prices) == len(order):
            rho_series.append(spearman(prices, [quality[k] for k in order]))
    final = after[-1] if after else None
    first = market.snapshots[0] if market.snapshots else None
    investors = {}
    for inv in market.investors:
        wealth = final["investors"][inv.name]["wealth"] if final else inv.budget
        mine = [f for f in market.fills if f.investor == inv.address]
        investors[inv.name] = {
            "kind": inv.agent.kind,
            "address": inv.address,
            "budget": inv.budget,
            "final": final["investors"][inv.name] if final else {},
            "dividends_claimed": market.reader.base.whole(inv.dividends),
            "return": wealth / inv.budget - 1.0,
            "fills": sum(1 for f in mine if f.status == "filled"),
            "rejected": sum(1 for f in mine if f.status == "rejected"),
        }
    clients = {}
    for k in order:
        clients[k] = {
            "quality": quality[k],
            "base_over_time": [s["clients"][k]["base"] for s in after],
            "wealth_over_time": [s["clients"][k]["wealth"] for s in after],
            "start": first["clients"][k] if first else {},
            "final": final["clients"][k] if final else {},
        }
    final_prices = {k: final["pools"][k]["price"] for k in order} if final else {}
    return {
        "rounds": [s["round"] for s in after],
        "prices": price_series,
        "final_prices": final_prices,
        "spearman_price_quality": rho_series[-1] if rho_series else None,
        "spearman_over_rounds": rho_series,
        "investors": investors,
        "clients": clients,
        "fills": [f.to_json() for f in market.fills],
        "investor_gas": market.investor_gas,
        "snapshots": market.snapshots,
    }


# -- one run ------------------------------------------------------------------------------------
#: Reverts that only mean "a moment too early": a deadline-gated call (sent when the wall clock
#: had passed the deadline) mined in a block whose timestamp had not. The daemons are idempotent
#: on restart, so a process that died of one is simply started again.
CLOCK_RACES = ("PhaseNotOver", "CommitWindowOpen")


def wait_with_recovery(
    fed: LocalFederation,
    timeout: float,
    on_tick: Callable[[Progress], None],
    say: Say = print,
    max_restarts: int = 5,
) -> tuple[Progress, int]:
    """:meth:`LocalFederation.wait`, restarting a process that died of a clock race (at most
    ``max_restarts`` times); returns the final progress and the number of restarts."""
    deadline = time.monotonic() + timeout
    restarts = 0
    while True:
        for child in fed.processes.children.values():
            code = child.poll()
            if code in (None, 0) or restarts >= max_restarts:
                continue
            last = child.log_tail(1)
            if any(race in last for race in CLOCK_RACES):
                say(f"{child.name} was a moment early for a deadline ({last.strip()}): restarted")
                child.start()
                restarts += 1
        done = fed.processes.check()
        progress = fed.progress()
        on_tick(progress)
        if done:
            if progress.status == TaskStatus.ACTIVE:
                raise FlNodeError("every process exited but the task is still active")
            return progress, restarts
        if time.monotonic() > deadline:
            raise FlNodeError(f"the federation did not finish within {timeout:.0f} s")
        time.sleep(fed.poll)


def run_simulation(
    config: TaskConfig,
    run_dir: Path,
    settings: SimulationSettings | None = None,
    say: Say = print,
    on_tick: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Run one federation with investors and write ``report.json`` and ``report.html`` into
    ``run_dir``; returns the report."""
    from fl_node.report.market_html import render_market_html

    settings = settings or SimulationSettings()
    config = settings.apply(config)
    started = time.monotonic()
    desk: FundingDesk | None = None
    lending: BorrowingDesk | None = None
    funds = None
    if settings.investment is not None:
        from fl_node.simulation.investment import client_funds

        funds = client_funds(config)
    with LocalFederation(config, run_dir, client_funds=funds) as fed:
        market = MarketSession(
            fed,
            settings.investors,
            budget=settings.investor_budget,
            seed=config.seed,
            tolerance_bps=settings.tolerance_bps,
            say=say,
        )
        if settings.investment is not None:
            from fl_node.simulation.investment import FundingDesk

            vendor = FIRST_CLIENT + fed.n_clients + len(market.investors)
            desk = FundingDesk(fed, settings.investment, vendor, settings.tolerance_bps, say)
            market.after_trades = desk.act
            if settings.borrowing is not None:
                from fl_node.simulation.borrowing import BorrowingDesk

                lending = BorrowingDesk(
                    fed,
                    settings.borrowing,
                    desk,
                    lender_index=vendor + 1,
                    liquidator_index=vendor + 2,
                    tolerance_bps=settings.tolerance_bps,
                    say=say,
                )
                market.after_trades = lending.act
        fed.start_training()  # the clients' training workers start while the chain is set up
        fed.setup(say=say)
        config = fed.config  # the run's own store, under the run folder
        set_up_supply = BaseToken(fed.client).total_supply()  # nothing burned yet
        market.fund()
        if desk is not None:
            desk.start()
        if lending is not None:
            lending.fund()

        def tick(progress: Progress) -> None:
            market.on_tick(progress)
            if on_tick is not None:
                on_tick(progress)

        if settings.runtime == "processes":
            market.concurrent = True
            fed.start_processes()
            say(f"aggregator and {fed.n_clients} clients started (logs in {fed.run_dir / 'logs'})")
            final, restarts = wait_with_recovery(fed, settings.timeout, tick, say)
        else:
            say(f"aggregator and {fed.n_clients} clients stepped in this process")
            final = fed.run_in_process(settings.timeout, tick, gate=market.gate)
            restarts = 0
        market.finish(final.finalized)
        federation_seconds = time.monotonic() - started
        minted = set_up_supply + market.minted + (lending.minted if lending is not None else 0)
        report = assemble_report(fed, market, config, settings, minted, say, desk, lending)
        report["run"]["wall_seconds"] = federation_seconds
        report["run"]["restarts"] = restarts
        report["run"]["report_seconds"] = time.monotonic() - started - federation_seconds
    (fed.run_dir / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    (fed.run_dir / "report.html").write_text(render_market_html(report))
    return report


def assemble_report(
    fed: LocalFederation,
    market: MarketSession,
    config: TaskConfig,
    settings: SimulationSettings,
    expected_minted: int,
    say: Say = print,
    desk: FundingDesk | None = None,
    lending: BorrowingDesk | None = None,
) -> dict[str, Any]:
    """The run's report: the federation's (from the chain and the store), the market's history,
    every round recomputed with every method, and the conservation check against
    ``expected_minted`` (the base supply right after set-up plus the investors' budgets)."""
    client = fed.client
    assert client.deployment is not None
    store = ArtifactStore(config.store)
    names = {
        a.address.lower(): config.client(i).name or f"client-{i}"
        for i, a in enumerate(fed.client_accounts)
    }
    participants = [
        Participant(i, names[a.address.lower()], a.address)
        for i, a in enumerate(fed.client_accounts)
    ]
    roles = dict(names)
    roles[fed.sponsor.address.lower()] = "sponsor"
    roles[fed.aggregator.address.lower()] = "aggregator"
    roles[fed.accounts[0].address.lower()] = "deployer"
    for inv in market.investors:
        roles[inv.address.lower()] = "investors"
    from_block = client.deployment.block_number
    report = collect_report(client, fed.task_id, store, participants, roles, from_block)
    profiles = TaskContext(config)
    quality = {
        names[a.address.lower()]: true_quality(profiles.profile(i))
        for i, a in enumerate(fed.client_accounts)
    }
    api = FederationApi(client, fed.task_id)
    recomputed = recompute_rewards(api, store, config, settings.methods, from_block, say)
    known: dict[str, str] = {
        "deployer": str(fed.accounts[0].address),
        "sponsor": str(fed.sponsor.address),
        "aggregator": str(fed.aggregator.address),
    }
    known |= {names[a.address.lower()]: a.address for a in fed.client_accounts}
    known |= {inv.name: inv.address for inv in market.investors}
    if desk is not None:
        known["label vendor"] = desk.vendor.address
    if lending is not None:
        known["lender"] = lending.lender.address
        known["liquidator"] = lending.liquidator.address
        known["TokenLending"] = lending.lending.address
    conservation = check_conservation(client, market.reader, known, expected_minted, from_block)
    market_part = market_summary(market, names, quality)
    report["market"] = {
        "mode": config.federation.mode,
        "quality": quality,
        "tolerance_bps": settings.tolerance_bps,
        "investor_budget": settings.investor_budget,
        **market_part,
    }
    shares = chain_share(load_all(fed.run_dir / "work"))
    for entry in report["rounds"]:
        entry["timing"] = shares.get(entry["round"], {})
    report["contribution_methods"] = method_shares(recomputed, names, quality, api.decimals)
    report["recomputation"] = recomputed
    report["conservation"] = conservation.to_json()
    if desk is not None:
        report["investment"] = desk.summary(quality)
    if lending is not None:
        report["borrowing"] = lending.summary(quality)
    report["run"] = {
        "seed": config.seed,
        "config_name": config.name,
        "config": config.to_dict(),
        "investors": list(settings.investors),
        "manifest": json.loads((fed.run_dir / "run.json").read_text()),
        "roles": dict(roles),
        "chain_id": client.chain_id,
        "task": fed.task_id,
        "results_root_last": hex32(api.round(api.state().current_round).results_root),
    }
    return report


# -- the measurement ----------------------------------------------------------------------------
def run_measurement(
    out: Path,
    rounds: int = 20,
    config: str | Path = "quality8",
    modes: Sequence[str] = ("buyback",),
    seed: int | None = None,
    methods: Sequence[str] = ALL_METHODS,
    say: Say = print,
) -> tuple[dict[str, Any], str]:
    """Run the experiment of the issue and return ``(results, markdown)``.

    For each mode, a run with the default investors; for buyback also one without investors.
    Reported: the Spearman correlation between the final token prices and the clients' true
    quality, the final test accuracy, the investors' mean return, and, for the first run, the
    Gini coefficient of the rewards of every contribution method against equal payouts (0).
    """
    from fl_node.configs import load_config

    base = load_config(config)
    runs: list[dict[str, Any]] = []
    plan = [(mode, True) for mode in modes]
    if "buyback" in modes:
        plan.insert(plan.index(("buyback", True)) + 1, ("buyback", False))
    for mode, with_investors in plan:
        label = f"{mode}{'' if with_investors else '-no-investors'}"
        settings = SimulationSettings(
            rounds=rounds,
            mode=mode,
            seed=seed,
            investors=DEFAULT_POPULATION if with_investors else (),
            methods=tuple(methods),
        )
        run_dir = out / f"{base.name}-{label}-{time.strftime('%Y%m%d-%H%M%S')}"
        say(f"== {label}: {run_dir}")
        report = run_simulation(base, run_dir, settings, say=lambda m: say("  " + m))
        runs.append(summarize_run(label, mode, with_investors, run_dir, report))
    result = {"rounds": rounds, "config": base.name, "runs": runs}
    return result, to_markdown(result)


def summarize_run(
    label: str, mode: str, with_investors: bool, run_dir: Path, report: dict[str, Any]
) -> dict[str, Any]:
    market = report["market"]
    returns = [i["return"] for i in market["investors"].values()]
    return {
        "label": label,
        "mode": mode,
        "investors": with_investors,
        "run_dir": str(run_dir),
        "spearman_price_quality": market["spearman_price_quality"],
        "final_prices": market["final_prices"],
        "quality": market["quality"],
        "test_accuracy": report["final_metrics"].get("test_accuracy"),
        "investor_mean_return": float(np.mean(returns)) if returns else None,
        "investor_returns": {k: i["return"] for k, i in market["investors"].items()},
        "methods": {
            m: {"gini": v["gini"], "spearman_quality": v["spearman_quality"], "shares": v["shares"]}
            for m, v in report["contribution_methods"].items()
            if m != "equal"
        },
        "recomputed_matches_posted": report["recomputation"]["matches_posted"],
        "conservation_ok": report["conservation"]["ok"],
        "gas_total": report["gas"]["total"],
        "wall_seconds": report["run"]["wall_seconds"],
    }


def to_markdown(result: dict[str, Any]) -> str:
    def num(value: float | None, fmt: str = "{:.2f}") -> str:
        return "n/a" if value is None else fmt.format(value)

    lines = [
        f"Token prices against true client quality after {result['rounds']} rounds "
        f"(config `{result['config']}`; quality: clean 1, label noise 1 - p, free-rider -1, "
        "poisoner -2):",
        "",
        "| run | Spearman(price, quality) | test accuracy "
        "| investors' mean return (marked to market) | base conserved | wall time |",
        "|---|---:|---:|---:|:---:|---:|",
    ]
    for run in result["runs"]:
        lines.append(
            f"| {run['label']} | {num(run['spearman_price_quality'])} | "
            f"{num(run['test_accuracy'], '{:.3f}')} | "
            f"{num(run['investor_mean_return'], '{:+.1%}')} | "
            f"{'yes' if run['conservation_ok'] else 'NO'} | {run['wall_seconds']:.0f} s |"
        )
    if result["runs"]:
        first = result["runs"][0]
        lines += [
            "",
            f"Rewards per contribution method, every round of `{first['label']}` recomputed "
            "offline (equal payouts: Gini 0):",
            "",
            "| method | Gini of rewards | Spearman(rewards, quality) | largest share | "
            "smallest share |",
            "|---|---:|---:|---:|---:|",
        ]
        for method, v in first["methods"].items():
            shares = v["shares"]
            top = max(shares, key=shares.get) if shares else ""
            low = min(shares, key=shares.get) if shares else ""
            lines.append(
                f"| {method} | {v['gini']:.3f} | {v['spearman_quality']:.2f} | "
                f"{top} {shares.get(top, 0):.1%} | {low} {shares.get(low, 0):.1%} |"
            )
    return "\n".join(lines)
