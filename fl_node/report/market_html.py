"""``report.html`` of ``fl-node simulate``: the federation's figures plus the market's.

The market figures are the experiment's: each client's share of the rewards under every
contribution method against equal payouts (WallStreetFeds' figure), token prices over the rounds
coloured by true quality, final price against quality, investor returns, and the clients' base
balances and wealth over time. Tables give the numbers behind them, gas by role, and the
base-token conservation check.
"""

from __future__ import annotations

import html
import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from fl_node.report.html import (
    _png,
    _table,
    accuracy_figure,
    rewards_figure,
    scores_figure,
    stakes_figure,
)


def _clients(report: dict[str, Any]) -> list[str]:
    return [p["name"] for p in report["participants"]]


def method_shares_figure(report: dict[str, Any]) -> str:
    """Grouped bars: each client's share of all rewards under each method; the equal share."""
    methods = {k: v for k, v in report["contribution_methods"].items() if k != "equal"}
    names = _clients(report)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / max(1, len(methods))
    x = np.arange(len(names))
    for j, (method, data) in enumerate(methods.items()):
        shares = [100 * data["shares"].get(n, 0.0) for n in names]
        ax.bar(x + (j - (len(methods) - 1) / 2) * width, shares, width, label=method)
    equal = 100 * report["contribution_methods"]["equal"]["share"]
    ax.axhline(equal, color="black", linestyle="--", linewidth=1, label="equal payout")
    ax.set_xticks(x, names, rotation=30)
    ax.set_ylabel("% of all rewards")
    ax.legend(fontsize=7, ncol=4)
    return _png(fig)


def prices_figure(report: dict[str, Any]) -> str:
    """Each client token's price after every trading session, coloured by true quality."""
    market = report["market"]
    quality = market["quality"]
    values = list(quality.values()) or [0.0]
    low, high = min(values), max(values)
    cmap = plt.get_cmap("RdYlGn")
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for name, series in market["prices"].items():
        q = quality.get(name, 0.0)
        shade = 0.5 if high == low else (q - low) / (high - low)
        ax.plot(market["rounds"], series, marker=".", color=cmap(shade), label=f"{name} ({q:g})")
    positive = [p for s in market["prices"].values() for p in s if p and p > 0]
    if positive and max(positive) / min(positive) > 20:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("finalized rounds")
    ax.set_ylabel("price (base per token)")
    ax.legend(fontsize=7, ncol=2, title="client (true quality)", title_fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)


def price_quality_figure(report: dict[str, Any]) -> str:
    market = report["market"]
    names = list(market["final_prices"])
    fig, ax = plt.subplots(figsize=(5, 3.6))
    xs = [market["quality"][n] for n in names]
    ys = [market["final_prices"][n] for n in names]
    ax.scatter(xs, ys)
    for n, x, y in zip(names, xs, ys, strict=True):
        ax.annotate(n, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if ys and min(ys) > 0 and max(ys) / min(ys) > 20:
        ax.set_yscale("log")
    rho = market.get("spearman_price_quality")
    ax.set_title(f"Spearman {rho:.2f}" if rho is not None else "no prices")
    ax.set_xlabel("true quality")
    ax.set_ylabel("final price")
    return _png(fig)


def returns_figure(report: dict[str, Any]) -> str:
    investors = report["market"]["investors"]
    names = list(investors)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    values = [100 * investors[n]["return"] for n in names]
    ax.bar(names, values, color=["tab:green" if v >= 0 else "tab:red" for v in values])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("return over the run (%)")
    ax.tick_params(axis="x", rotation=30)
    return _png(fig)


def client_base_figure(report: dict[str, Any]) -> str:
    market = report["market"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, data in market["clients"].items():
        axes[0].plot(market["rounds"], data["base_over_time"], marker=".", label=name)
        axes[1].plot(market["rounds"], data["wealth_over_time"], marker=".", label=name)
    axes[0].set_ylabel("base tokens in the wallet")
    axes[1].set_ylabel("wealth in base tokens")
    wealth = [w for d in market["clients"].values() for w in d["wealth_over_time"] if w > 0]
    if wealth and max(wealth) / min(wealth) > 20:
        axes[1].set_yscale("log")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("finalized rounds")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _png(fig)


def _fmt(value: Any, spec: str = "{:.4g}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return spec.format(value)


def render_market_html(report: dict[str, Any]) -> str:
    market = report["market"]
    figures = [
        ("Accuracy per round", accuracy_figure(report)),
        ("Share of rewards per contribution method vs equal payout", method_shares_figure(report)),
        ("Token prices over rounds (colour: true quality)", prices_figure(report)),
        ("Final token price vs true quality", price_quality_figure(report)),
        ("Share of rewards paid in this run vs equal payout", rewards_figure(report)),
        ("Stakes paid and burned", stakes_figure(report)),
        ("Scores per client and round", scores_figure(report)),
        ("Clients' base balance and wealth over time", client_base_figure(report)),
    ]
    if market["investors"]:
        figures.append(("Investor returns", returns_figure(report)))
    imgs = "".join(
        f"<figure><img src='data:image/png;base64,{png}'><figcaption>{html.escape(t)}"
        "</figcaption></figure>"
        for t, png in figures
    )
    totals = report["totals"]
    names = _clients(report)
    clients = _table(
        [
            "client",
            "true quality",
            "reward",
            "stake paid",
            "stake burned",
            "final price",
            "base at start",
            "base at end",
            "wealth at end",
        ],
        [
            [
                n,
                _fmt(market["quality"].get(n)),
                f"{t['reward']:.2f}",
                f"{t['payout']:.4f}",
                f"{t['burned']:.4f}",
                _fmt(market["final_prices"].get(n)),
                _fmt(market["clients"][n]["start"].get("base")),
                _fmt(market["clients"][n]["final"].get("base")),
                _fmt(market["clients"][n]["final"].get("wealth")),
            ]
            for n, t in totals.items()
        ],
    )
    method_rows = [
        [m, f"{v['gini']:.3f}", f"{v['spearman_quality']:.2f}"]
        + [f"{100 * v['shares'].get(n, 0.0):.1f} %" for n in names]
        for m, v in report["contribution_methods"].items()
        if m != "equal"
    ]
    equal = 100 * report["contribution_methods"]["equal"]["share"]
    method_rows.append(["equal payout", "0.000", "", *([f"{equal:.1f} %"] * len(names))])
    methods = _table(["method", "Gini of rewards", "Spearman with quality", *names], method_rows)
    investors = _table(
        ["investor", "kind", "budget", "final cash", "final wealth", "return", "fills", "rejected"],
        [
            [
                n,
                i["kind"],
                f"{i['budget']:g}",
                _fmt(i["final"].get("base")),
                _fmt(i["final"].get("wealth")),
                f"{100 * i['return']:+.1f} %",
                i["fills"],
                i["rejected"],
            ]
            for n, i in market["investors"].items()
        ],
    )
    gas_roles: dict[str, int] = {}
    for entry in report["rounds"]:
        for role, gas in entry.get("gas", {}).items():
            gas_roles[role] = gas_roles.get(role, 0) + gas
    for role, gas in report["gas"].get("setup", {}).items():
        gas_roles[f"{role} (set-up)"] = gas_roles.get(f"{role} (set-up)", 0) + gas
    gas = _table(["sender", "gas"], [[r, f"{g:,}"] for r, g in sorted(gas_roles.items())])
    cons = report["conservation"]
    unit = 10 ** int(cons.get("decimals", 18))
    conservation = _table(
        ["check", "value"],
        [
            ["minted (Transfer from 0)", f"{int(cons['minted']) / unit:,.4f}"],
            ["minted by the set-up", f"{int(cons['expected_minted']) / unit:,.4f}"],
            ["held by known accounts and contracts", f"{int(cons['held_by_known']) / unit:,.4f}"],
            ["burned (stakes)", f"{int(cons['burned']) / unit:,.6f}"],
            ["burned, vault's count", f"{int(cons['vault_burned']) / unit:,.6f}"],
            ["unknown holders", ", ".join(cons["unknown_holders"]) or "none"],
            ["conserved", "yes" if cons["ok"] else "NO"],
        ],
    )
    meta = report.get("run", {})
    rho = market.get("spearman_price_quality")
    title = (
        f"Market simulation: task {report['task_id']} ({report['status']}, {market['mode']} mode)"
    )
    intro = (
        f"Seed <code>{html.escape(str(meta.get('seed', '')))}</code>, config "
        f"<code>{html.escape(str(meta.get('config_name', '')))}</code>, "
        f"{len(market['investors'])} investors, final model "
        f"<code>{html.escape(report['latest_model_hash'])}</code>, total gas "
        f"{report['gas']['total']:,}. Spearman correlation of the final token prices with the "
        f"clients' true quality: <b>{_fmt(rho, '{:.2f}')}</b>."
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>fl-node simulation: task {report["task_id"]}</title>
<style>body{{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}}
figure{{display:inline-block;margin:0.5em}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}} code{{font-size:90%}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>{intro}</p>
{imgs}
<h2>Clients</h2>{clients}
<h2>Rewards per contribution method (every round recomputed offline)</h2>{methods}
<h2>Investors</h2>{investors}
<h2>Gas by sender</h2>{gas}
<h2>Base-token conservation</h2>{conservation}
</body></html>"""
