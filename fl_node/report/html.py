"""``report.html``: the run's figures as embedded PNGs plus its tables, one self-contained file."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def accuracy_figure(report: dict[str, Any]) -> str:
    rounds = [r for r in report["rounds"] if r["metrics"]]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    xs = [r["round"] for r in rounds]
    for key, label in (("val_accuracy", "validation"), ("test_accuracy", "test")):
        ax.plot(xs, [r["metrics"].get(key, float("nan")) for r in rounds], marker="o", label=label)
    ax.set_xlabel("round")
    ax.set_ylabel("accuracy of the global model")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def rewards_figure(report: dict[str, Any]) -> str:
    totals = report["totals"]
    names = list(totals)
    rewards = [totals[n]["reward"] for n in names]
    total = sum(rewards)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    shares = [100 * r / total if total else 0.0 for r in rewards]
    ax.bar(names, shares, color="tab:blue", label="share of rewards")
    if names:
        ax.axhline(100 / len(names), color="tab:red", linestyle="--", label="equal payout")
    ax.set_ylabel("% of all rewards")
    ax.tick_params(axis="x", rotation=30)
    ax.legend()
    return _png(fig)


def stakes_figure(report: dict[str, Any]) -> str:
    totals = report["totals"]
    names = list(totals)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.bar(names, [totals[n]["payout"] for n in names], color="tab:green", label="stake paid")
    ax.bar(names, [-totals[n]["burned"] for n in names], color="tab:red", label="stake burned")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("base tokens")
    ax.tick_params(axis="x", rotation=30)
    ax.legend()
    return _png(fig)


def scores_figure(report: dict[str, Any]) -> str:
    names = [p["name"] for p in report["participants"]]
    rounds = [r for r in report["rounds"] if r["clients"]]
    grid = [[float("nan")] * len(rounds) for _ in names]
    for j, entry in enumerate(rounds):
        for row in entry["clients"]:
            if row["name"] in names and row["included"]:
                grid[names.index(row["name"])][j] = row["score"]
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(names) + 1.2))
    image = ax.imshow(grid, aspect="auto", cmap="RdYlGn")
    ax.set_yticks(range(len(names)), names)
    ax.set_xticks(range(len(rounds)), [str(r["round"]) for r in rounds])
    ax.set_xlabel("round")
    fig.colorbar(image, ax=ax, label="score (excluded: blank)")
    return _png(fig)


def prices_figure(report: dict[str, Any]) -> str:
    prices = report.get("token_prices", {})
    names = [p["name"] for p in report["participants"] if p["name"] in prices]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.bar(names, [prices[n] for n in names], color="tab:purple")
    ax.set_ylabel("base tokens per client token")
    ax.set_title("client token prices at the end", fontsize=10)
    ax.tick_params(axis="x", rotation=30)
    return _png(fig)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    figures = [
        ("Accuracy per round", accuracy_figure(report)),
        ("Share of rewards vs equal payout", rewards_figure(report)),
        ("Stakes paid and burned", stakes_figure(report)),
        ("Scores per client and round", scores_figure(report)),
    ]
    if report.get("token_prices"):
        figures.append(("Client token prices on their markets", prices_figure(report)))
    totals = report["totals"]
    summary = _table(
        ["client", "reward", "stake paid", "stake burned", "rounds used", "token price"],
        [
            [
                n,
                f"{t['reward']:.2f}",
                f"{t['payout']:.4f}",
                f"{t['burned']:.4f}",
                t["rounds_used"],
                f"{report['token_prices'].get(n, 0.0):.4f}",
            ]
            for n, t in totals.items()
        ],
    )
    rounds = _table(
        [
            "round",
            "phase",
            "commits",
            "val acc",
            "test acc",
            "model hash",
            "gas",
            "seconds",
            "chain %",
        ],
        [
            [
                r["round"],
                r["phase"],
                r["commits"],
                f"{r['metrics'].get('val_accuracy', float('nan')):.4f}",
                f"{r['metrics'].get('test_accuracy', float('nan')):.4f}",
                r["model_hash"][:18] + "…",
                f"{sum(r.get('gas', {}).values()):,}",
                f"{r.get('timing', {}).get('wall_seconds', float('nan')):.1f}",
                f"{100 * r.get('timing', {}).get('chain_share', float('nan')):.1f}",
            ]
            for r in report["rounds"]
        ],
    )
    imgs = "".join(
        f"<figure><img src='data:image/png;base64,{png}'><figcaption>{html.escape(t)}"
        "</figcaption></figure>"
        for t, png in figures
    )
    meta = report.get("run", {})
    seed = html.escape(str(meta.get("seed", "")))
    config_name = html.escape(str(meta.get("config_name", "")))
    model = html.escape(report["latest_model_hash"])
    gas = f"{report['gas']['total']:,}"
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>fl-node run: task {report["task_id"]}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
figure{{display:inline-block;margin:0.5em}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}} code{{font-size:90%}}</style>
</head><body>
<h1>Federation run: task {report["task_id"]} ({html.escape(report["status"])})</h1>
<p>Seed <code>{seed}</code>, config <code>{config_name}</code>,
final model <code>{model}</code>, total gas {gas}.</p>
{imgs}
<h2>Clients</h2>{summary}
<h2>Rounds</h2>{rounds}
</body></html>"""
