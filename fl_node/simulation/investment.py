"""Investment that buys quality: clients raise base tokens on their own markets and buy labels.

Every simulated client starts with only ``start_fraction`` of its slice labelled (its start-up
resources, :mod:`fl_node.simulation.resources`). Labels for the rest cost ``label_price`` base
tokens each, paid on-chain to a vendor (a dev account the conservation check tracks). After each
finalized round's market session (the investors, if any, have traded), every client follows the
same deterministic funding policy, in the task's client order:

1. while it still has unlabelled data, it sells ``sell_share`` of the client tokens it still
   holds (its treasury) into its own pool, at the pool's price with the usual slippage bound;
2. it spends the base tokens in its wallet above the reserve its stake needs
   (:func:`~fl_node.simulation.resources.stake_reserve`) on as many labels as they buy, by a
   plain transfer to the vendor; the vendor's delivery is written to the client's resource
   ledger, which its app reads before its next fit.

With investors, clients whose tokens they buy have pools deeper in base tokens, so the same share
of treasury raises more; without investors only the clients (and the reward buybacks) trade.

:func:`run_investment` runs one such federation (the ordinary :func:`run_simulation` with a
:class:`FundingDesk` hooked after each market session); :func:`run_investment_measurement` runs
the same federation with and without investors and returns the figures and a Markdown table.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from eth_account.signers.local import LocalAccount

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.keys import account_from_key
from fl_node.config import TaskConfig
from fl_node.errors import ConfigError
from fl_node.federation.context import TaskContext
from fl_node.market.chain import Fill, MarketReader, Trader
from fl_node.market.observation import Order
from fl_node.simulation.localfed import LocalFederation
from fl_node.simulation.resources import (
    RESOURCES_KEY,
    ResourceLedger,
    label_pool,
    labels_affordable,
    purchase_cost,
    spendable,
    stake_reserve,
    start_labels,
    tokens_to_sell,
)
from fl_node.toolchain.localchain import dev_private_keys

#: The client app of a funded simulation: the example app on its labelled samples.
RESOURCED_CLIENTS = "fl_node.simulation.resources:client_fn"

Say = Callable[[str], None]


@dataclass(frozen=True)
class InvestmentSettings:
    """The resource market and the clients' funding policy."""

    label_price: float = 8.0  # base tokens per label
    start_fraction: float = 0.15  # of each slice labelled at the start
    sell_share_bps: int = 1_000  # of the remaining treasury sold after each round (10 %)

    def check(self) -> InvestmentSettings:
        if not (0 < self.label_price < 1e12):
            raise ConfigError(f"the label price must be > 0 base tokens, got {self.label_price!r}")
        if not 0 < self.start_fraction <= 1:
            raise ConfigError(
                f"the start-up labelled fraction must be within (0, 1], got {self.start_fraction!r}"
            )
        if not 0 <= self.sell_share_bps <= 10_000:
            raise ConfigError(
                f"the share of treasury sold must be within [0, 10000] bps, got "
                f"{self.sell_share_bps!r}"
            )
        return self


def client_funds(config: TaskConfig) -> float:
    """Base tokens minted to each client of a funded run: its join bond, its market's opening
    base and a stake that covers every clipped burn of the run; nothing to spend on labels."""
    fed = config.federation
    offers = max((c.offer_base for c in config.clients), default=0.0)
    return fed.join_bond + offers + fed.stake * (1 + fed.payout_cap * fed.rounds)


@dataclass
class FundingDesk:
    """The clients' funding policy and the label vendor of one local federation."""

    fed: LocalFederation
    settings: InvestmentSettings
    vendor_index: int  # dev account of the vendor
    tolerance_bps: int = 100
    say: Say = print
    history: list[dict[str, Any]] = field(init=False, default_factory=list)
    fills: list[Fill] = field(init=False, default_factory=list)
    ledgers: dict[str, ResourceLedger] = field(init=False, default_factory=dict)
    raised: dict[str, int] = field(init=False, default_factory=dict)
    spent: dict[str, int] = field(init=False, default_factory=dict)
    _reader: MarketReader | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.settings.check()
        self.vendor: LocalAccount = account_from_key(
            dev_private_keys(self.vendor_index + 1)[self.vendor_index]
        )
        self.fed.chain.accounts = max(self.fed.chain.accounts, self.vendor_index + 1)
        for i in range(self.fed.n_clients):
            self.fed.apps.setdefault(i, RESOURCED_CLIENTS)
            self.fed.node_config.setdefault(i, {})[RESOURCES_KEY] = str(self.ledger_path(i))

    def ledger_path(self, index: int) -> Path:
        return self.fed.run_dir / "resources" / f"node-{index}.json"

    @property
    def names(self) -> list[str]:
        config = self.fed.config
        return [config.client(i).name or f"client-{i}" for i in range(self.fed.n_clients)]

    # -- set-up ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Write every client's start-up ledger (after ``fed.setup()``, before the daemons)."""
        ctx = TaskContext(self.fed.config)
        for i, (name, account) in enumerate(zip(self.names, self.fed.client_accounts, strict=True)):
            available = label_pool(ctx, i).available
            first = start_labels(available, self.settings.start_fraction)
            ledger = ResourceLedger(str(account.address), available, first, first)
            ledger.save(self.ledger_path(i))
            self.ledgers[name] = ledger
            self.raised[name] = self.spent[name] = 0
        fed = self.fed
        self._reader = MarketReader(
            fed.client,  # the daemons' own client: one nonce count per client account
            fed.task_id,
            ArtifactStore(fed.config.store),
            [a.address for a in fed.client_accounts],
        )
        self.say(
            f"clients start with {self.settings.start_fraction:.0%} of their data labelled; "
            f"labels cost {self.settings.label_price:g} base tokens from vendor "
            f"{self.vendor.address}"
        )

    @property
    def reader(self) -> MarketReader:
        if self._reader is None:
            raise ConfigError("the funding desk has not started: call start() after setup()")
        return self._reader

    # -- the policy -----------------------------------------------------------------------------
    def act(self, session: int, finalized: int) -> None:
        """After round ``finalized``'s market session: every client sells and buys labels."""
        if finalized < 1:
            return  # before any result: the clients have nothing to sell on yet
        base = self.reader.base
        price = base.units(self.settings.label_price)
        api = self.reader.api
        stake = self.fed.config.units(self.fed.config.federation.stake, api.decimals)
        entry: dict[str, Any] = {"round": finalized, "session": session, "clients": {}}
        for name, account in zip(self.names, self.fed.client_accounts, strict=True):
            who = str(account.address)
            ledger = self.ledgers[name]
            row: dict[str, Any] = {"sold_tokens": "0", "raised": "0", "bought": 0, "paid": "0"}
            if ledger.remaining > 0:
                token = self.reader.token(who)
                amount = tokens_to_sell(token.balance_of(who), self.settings.sell_share_bps)
                if amount > 0:
                    trader = Trader(self.reader, account, self.tolerance_bps)
                    fill = trader.execute(
                        Order(who, "sell", amount / token.unit, note="funding"), session, finalized
                    )
                    self.fills.append(fill)
                    if fill.status == "filled":
                        self.raised[name] += fill.amount_out
                        row["sold_tokens"] = str(fill.amount_in)
                        row["raised"] = str(fill.amount_out)
            reserve = stake_reserve(
                stake, api.free_stake(who), self.fed.config.federation.payout_cap
            )
            wallet = base.balance_of(who)
            labels = labels_affordable(spendable(wallet, reserve), price, ledger.remaining)
            if labels > 0:
                cost = purchase_cost(labels, price)
                result = base.transfer(account, self.vendor.address, cost)
                ledger.record(finalized, labels, cost, str(result.tx_hash))
                ledger.save(self.ledger_path(self.names.index(name)))
                self.spent[name] += cost
                row["bought"], row["paid"] = labels, str(cost)
            row["labelled"] = ledger.labelled
            row["wallet"] = str(base.balance_of(who))
            row["reserve"] = str(reserve)
            entry["clients"][name] = row
        states = self.reader.pool_states()
        for name, account in zip(self.names, self.fed.client_accounts, strict=True):
            state = states.get(str(account.address))
            entry["clients"][name]["price"] = state.price_whole if state else None
        self.history.append(entry)
        bought = sum(r["bought"] for r in entry["clients"].values())
        self.say(f"funding after round {finalized}: {bought} labels bought")

    # -- figures --------------------------------------------------------------------------------
    def summary(self, quality: dict[str, float]) -> dict[str, Any]:
        from fl_node.bench.scoring import spearman

        whole = self.reader.base.whole
        names = self.names
        vendor_balance = self.reader.base.balance_of(self.vendor.address)
        clients: dict[str, dict[str, Any]] = {}
        for name in names:
            ledger = self.ledgers[name]
            clients[name] = {
                "quality": quality[name],
                "start_labels": ledger.start,
                "available": ledger.available,
                "final_labels": ledger.labelled,
                "labels_bought": ledger.labelled - ledger.start,
                "raised": whole(self.raised[name]),
                "spent": whole(self.spent[name]),
                "labels_per_round": [h["clients"][name]["labelled"] for h in self.history],
                "price_per_round": [h["clients"][name]["price"] for h in self.history],
                "purchases": ledger.purchases,
            }
        q = [quality[n] for n in names]
        return {
            "settings": dataclasses.asdict(self.settings),
            "vendor": self.vendor.address,
            "vendor_balance": whole(vendor_balance),
            "vendor_matches_spending": vendor_balance == sum(self.spent.values()),
            "rounds": [h["round"] for h in self.history],
            "clients": clients,
            "spearman_raised_quality": spearman([clients[n]["raised"] for n in names], q),
            "spearman_spent_quality": spearman([clients[n]["spent"] for n in names], q),
            "spearman_labels_quality": spearman([clients[n]["final_labels"] for n in names], q),
            "history": self.history,
            "fills": [f.to_json() for f in self.fills],
        }


# -- the measurement ----------------------------------------------------------------------------
def run_investment_measurement(
    out: Path,
    rounds: int = 20,
    config: str | Path = "invest8",
    seed: int | None = None,
    investment: InvestmentSettings | None = None,
    say: Say = print,
    on_tick: Callable[[int], None] | None = None,
    timeout: float = 3600.0,
) -> tuple[dict[str, Any], str]:
    """The same funded federation with the default investors and without any; returns the
    figures and their Markdown. ``on_tick`` gets the rounds finalized over both runs."""
    from fl_node.configs import load_config
    from fl_node.simulation.experiment import SimulationSettings, run_simulation
    from fl_node.simulation.investors import DEFAULT_POPULATION

    investment = (investment or InvestmentSettings()).check()
    base = load_config(config)
    runs: list[dict[str, Any]] = []
    for k, (label, population) in enumerate(
        (("with-investors", DEFAULT_POPULATION), ("no-investors", ()))
    ):
        settings = SimulationSettings.measurement(
            base,
            rounds=rounds,
            seed=seed,
            investors=population,
            timeout=timeout,
            investment=investment,
        )
        run_dir = out / f"{base.name}-{label}-{time.strftime('%Y%m%d-%H%M%S')}"
        say(f"== {label}: {run_dir}")
        offset = k * rounds

        def tick(progress: Any, offset: int = offset) -> None:
            if on_tick is not None:
                on_tick(offset + progress.finalized)

        report = run_simulation(base, run_dir, settings, say=lambda m: say("  " + m), on_tick=tick)
        runs.append(summarize_investment(label, run_dir, report))
    result = {
        "rounds": rounds,
        "config": base.name,
        "settings": dataclasses.asdict(investment),
        "runs": runs,
    }
    return result, investment_markdown(result)


def summarize_investment(label: str, run_dir: Path, report: dict[str, Any]) -> dict[str, Any]:
    inv = report["investment"]
    accuracy = [r["metrics"].get("test_accuracy") for r in report["rounds"]]
    return {
        "label": label,
        "run_dir": str(run_dir),
        "investors": report["run"]["investors"],
        "test_accuracy_per_round": accuracy,
        "final_test_accuracy": report["final_metrics"].get("test_accuracy"),
        "mean_test_accuracy": (
            sum(a for a in accuracy if a is not None) / len(accuracy) if accuracy else None
        ),
        "clients": {
            name: {k: v for k, v in c.items() if k != "purchases"}
            for name, c in inv["clients"].items()
        },
        "raised_total": sum(c["raised"] for c in inv["clients"].values()),
        "spent_total": sum(c["spent"] for c in inv["clients"].values()),
        "labels_bought_total": sum(c["labels_bought"] for c in inv["clients"].values()),
        "spearman_raised_quality": inv["spearman_raised_quality"],
        "spearman_spent_quality": inv["spearman_spent_quality"],
        "spearman_labels_quality": inv["spearman_labels_quality"],
        "vendor_balance": inv["vendor_balance"],
        "vendor_matches_spending": inv["vendor_matches_spending"],
        "conservation_ok": report["conservation"]["ok"],
        "wall_seconds": report["run"]["wall_seconds"],
    }


def investment_markdown(result: dict[str, Any]) -> str:
    def num(value: float | None, fmt: str = "{:.2f}") -> str:
        return "n/a" if value is None else fmt.format(value)

    s = result["settings"]
    lines = [
        f"Investment that buys labels, {result['rounds']} rounds (config `{result['config']}`; "
        f"{s['start_fraction']:.0%} of each slice labelled at the start, labels at "
        f"{s['label_price']:g} base tokens, {s['sell_share_bps'] / 100:g}% of the treasury sold "
        "after each round; quality: clean 1, label noise 1 - p, free-rider -1, poisoner -2):",
        "",
        "| run | final test accuracy | mean over rounds | capital raised | spent on labels "
        "| labels bought | Spearman(raised, quality) | Spearman(labels, quality) "
        "| vendor = spending | base conserved | wall time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|---:|",
    ]
    for run in result["runs"]:
        lines.append(
            f"| {run['label']} | {num(run['final_test_accuracy'], '{:.3f}')} | "
            f"{num(run['mean_test_accuracy'], '{:.3f}')} | "
            f"{run['raised_total']:.1f} | {run['spent_total']:.1f} | "
            f"{run['labels_bought_total']} | {num(run['spearman_raised_quality'])} | "
            f"{num(run['spearman_labels_quality'])} | "
            f"{'yes' if run['vendor_matches_spending'] else 'NO'} | "
            f"{'yes' if run['conservation_ok'] else 'NO'} | {run['wall_seconds']:.0f} s |"
        )
    runs = result["runs"]
    if runs:
        names = list(runs[0]["clients"])
        heads = " | ".join(f"{r['label']}" for r in runs)
        lines += [
            "",
            "Per client, capital raised / labels held at the end (start-up labels in brackets) / "
            f"final token price, {heads}:",
            "",
            "| client | quality | "
            + " | ".join(f"raised ({r['label']})" for r in runs)
            + " | "
            + " | ".join(f"labels ({r['label']})" for r in runs)
            + " | "
            + " | ".join(f"price ({r['label']})" for r in runs)
            + " |",
            "|---|---:|" + "---:|" * (3 * len(runs)),
        ]
        for name in names:
            cells = [f"{r['clients'][name]['raised']:.1f}" for r in runs]
            cells += [
                f"{r['clients'][name]['final_labels']} ({r['clients'][name]['start_labels']})"
                for r in runs
            ]
            cells += [
                num((r["clients"][name]["price_per_round"] or [None])[-1], "{:.5f}") for r in runs
            ]
            quality = runs[0]["clients"][name]["quality"]
            lines.append(f"| {name} | {quality:.1f} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Test accuracy per round:",
            "",
            "| round | " + " | ".join(r["label"] for r in runs) + " |",
            "|---:|" + "---:|" * len(runs),
        ]
        for k in range(max(len(r["test_accuracy_per_round"]) for r in runs)):
            cells = []
            for r in runs:
                acc = r["test_accuracy_per_round"]
                cells.append(num(acc[k] if k < len(acc) else None, "{:.3f}"))
            lines.append(f"| {k + 1} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def investment_html(result: dict[str, Any], markdown: str) -> str:
    """``investment.html``: accuracy per round of both runs, each client's labels over rounds in
    each run, and the capital each client raised against its true quality, with the tables."""
    import html

    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from fl_node.report.html import _png

    runs = result["runs"]
    figures: list[tuple[str, str]] = []
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for run in runs:
        acc = run["test_accuracy_per_round"]
        ax.plot(range(1, len(acc) + 1), acc, marker=".", label=run["label"])
    ax.set_xlabel("round")
    ax.set_ylabel("test accuracy of the global model")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    figures.append(("Test accuracy per round, with and without investors", _png(fig)))
    if runs:
        cmap = plt.get_cmap("RdYlGn")
        fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 3.6), sharey=True)
        axes_list = list(np.atleast_1d(axes))
        qualities = [c["quality"] for c in runs[0]["clients"].values()]
        low, high = min(qualities), max(qualities)
        for ax, run in zip(axes_list, runs, strict=True):
            for name, c in run["clients"].items():
                shade = 0.5 if high == low else (c["quality"] - low) / (high - low)
                series = c["labels_per_round"]
                ax.plot(
                    range(1, len(series) + 1),
                    series,
                    marker=".",
                    color=cmap(shade),
                    label=f"{name} ({c['quality']:g})",
                )
            ax.set_title(run["label"], fontsize=9)
            ax.set_xlabel("finalized rounds")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        axes_list[0].set_ylabel("labelled samples")
        axes_list[-1].legend(fontsize=7, title="client (true quality)", title_fontsize=7)
        figures.append(("Labelled samples per client (colour: true quality)", _png(fig)))
        fig, ax = plt.subplots(figsize=(6.5, 3.4))
        for k, run in enumerate(runs):
            xs = [c["quality"] + (k - (len(runs) - 1) / 2) * 0.06 for c in run["clients"].values()]
            ax.scatter(xs, [c["raised"] for c in run["clients"].values()], label=run["label"])
        ax.set_xlabel("true quality")
        ax.set_ylabel("base tokens raised")
        ax.grid(alpha=0.3)
        ax.legend()
        figures.append(("Capital raised against true quality", _png(fig)))
    imgs = "".join(
        f"<figure><img src='data:image/png;base64,{png}'><figcaption>{html.escape(t)}"
        "</figcaption></figure>"
        for t, png in figures
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Investment that buys quality"
        "</title><style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "figure{display:inline-block;margin:8px}</style></head><body>"
        f"<h1>Investment that buys quality ({html.escape(str(result['config']))})</h1>{imgs}"
        f"<pre>{html.escape(markdown)}</pre></body></html>"
    )
