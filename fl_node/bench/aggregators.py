"""``fl-node bench aggregators``: which aggregator makes the best model out of a mixed federation?

Without a chain (the offline runtime: the daemons' round engine, scoring on, so every round has
the results table the payouts and the reputation records come from), on the bundled demo task
(digits, MLP, its training and scoring settings), every aggregator runs under three client mixes:

- ``clean``: every client honest (IID);
- ``demo``: the demo config's own clients (clean ones, label noise, a free-rider, a sign-flip
  poisoner), IID;
- ``dirichlet_2_poisoners``: a Dirichlet(0.5) label split with the first two clients sending
  sign-flipped, scaled updates;

plus the reference ``clean_alone``: FedAvg of the demo's clean clients only (their same slices of
the same 8-way split; the others never take part), the model the federation would get if only
the good data came in. The clients are the simulation's (``fl_node.simulation.apps``: the example
app with each profile's data and behaviour), as in every other benchmark. Several seeds; final
test accuracy mean and standard deviation. For the reputation-weighted aggregator the benchmark
also records, round by round, each client's share of the aggregate (``None``: the round used the
fallback rule), and reports a small sweep of its parameters on the same mixes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fl_node.config import TaskConfig
from fl_node.errors import ConfigError
from fl_node.federation.context import TaskContext
from fl_node.federation.offline import OfflineRound, run_offline
from fl_node.simulation.apps import offline_client


@dataclass(frozen=True)
class Aggregator:
    """One row of the table: an aggregation section of the task config."""

    name: str
    strategy: str
    params: tuple[tuple[str, Any], ...] = ()
    weighting: str = "samples"

    def section(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "weighting": self.weighting, "params": dict(self.params)}


@dataclass(frozen=True)
class Mix:
    """One column: the task's client list (and partition); ``only``: the slots that take part
    (``None``: all of them)."""

    name: str
    label: str
    clients: tuple[dict[str, Any], ...]
    partition: str = "iid"
    alpha: float = 0.5
    only: tuple[int, ...] | None = None


#: The reputation-weighted aggregator's parameters in the table (see the sweep for others).
REPUTATION_PARAMS: tuple[tuple[str, Any], ...] = (
    ("decay", 0.5),
    ("tolerance", 2.0),
    ("fallback", "median"),
)

AGGREGATORS = (
    Aggregator("fedavg", "fedavg"),
    Aggregator("median", "median"),
    Aggregator("trimmed_mean", "trimmed_mean", (("trim", 0.25),)),
    Aggregator("krum", "krum", (("f", 2), ("m", 4))),
    Aggregator("reputation", "reputation", REPUTATION_PARAMS),
)

#: Changes to the reputation-weighted aggregator's parameters, each run on the same mixes and
#: seeds (the empty change is the table's row itself).
SWEEP: tuple[tuple[tuple[str, Any], ...], ...] = (
    (),
    (("tolerance", 0.0),),
    (("tolerance", 1.0),),
    (("tolerance", 4.0),),
    (("decay", 0.3),),
    (("decay", 0.8),),
    (("decay", 1.0),),
    (("source", "own"),),
    (("source", "marginal"),),
    (("fallback", "trimmed_mean"), ("trim", 0.25)),
    (("fallback", "fedavg"),),
)


def swept(change: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    """The table's reputation parameters with ``change`` applied."""
    params = dict(REPUTATION_PARAMS) | dict(change)
    return tuple(params.items())


POISON_SCALE = 5.0
#: Fewest clients the mixes make sense with: two poisoners and an honest majority.
MIN_CLIENTS = 5


def _honest(client: dict[str, Any]) -> bool:
    return (
        client.get("behavior", "honest") == "honest"
        and not client.get("label_noise")
        and client.get("max_samples") is None
    )


def default_mixes(base: TaskConfig) -> tuple[list[Mix], Mix]:
    """The three mixes and the clean-alone reference, from the task config ``base`` (the demo)."""
    n = base.federation.max_clients
    if n < MIN_CLIENTS:
        raise ConfigError(
            f"bench aggregators: {base.name} has federation.max_clients {n}; the mixes need at "
            f"least {MIN_CLIENTS} (two poisoners among honest clients that outnumber them)"
        )
    listed = [
        {k: v for k, v in asdict(base.client(i)).items() if k not in ("offer_tokens", "offer_base")}
        for i in range(n)
    ]
    clean = tuple({"name": f"clean-{i}"} for i in range(n))
    poisoners = tuple(
        {"name": f"poisoner-{i}", "behavior": "poison_signflip", "poison_scale": POISON_SCALE}
        for i in range(2)
    )
    mixes = [
        Mix("clean", f"{n} clean clients (IID)", clean),
        Mix("demo", "the demo's clients (IID)", tuple(listed), base.data.partition),
        Mix(
            "dirichlet_2_poisoners",
            f"Dirichlet(0.5) split, 2 of {n} sign-flip x{POISON_SCALE:g}",
            poisoners + clean[2:],
            "dirichlet",
            0.5,
        ),
    ]
    good = tuple(i for i, c in enumerate(listed) if _honest(c))
    if not good:
        raise ConfigError(
            f"bench aggregators: {base.name} has no clean client (honest, no label noise, all its "
            "samples) to run the clean-alone reference with"
        )
    reference = Mix(
        "clean_alone",
        f"the demo's {len(good)} clean clients alone",
        tuple(listed),
        base.data.partition,
        only=good,
    )
    return mixes, reference


def run_config(base: TaskConfig, mix: Mix, aggregator: Aggregator, seed: int) -> TaskConfig:
    """The task config of one federation: ``base`` with the mix's clients and partition, the
    aggregator's section and the seed."""
    return TaskConfig.from_dict(
        {
            **base.to_dict(),
            "name": f"bench-aggregators-{mix.name}-{aggregator.name}",
            "seed": seed,
            "data": {**asdict(base.data), "partition": mix.partition, "alpha": mix.alpha},
            "federation": {**asdict(base.federation), "max_clients": len(mix.clients)},
            "aggregation": aggregator.section(),
            "clients": list(mix.clients),
        },
        source=f"bench aggregators {mix.name} {aggregator.name}",
    )


@dataclass
class Run:
    accuracy: float
    curve: list[float]  # test accuracy after each round
    shares: list[list[float] | None] = field(default_factory=list)  # reputation: per round
    seconds: float = 0.0


def _slot(address: str) -> int:
    """The slot of an offline client's address (``offline_client`` gives slot i ``0x..i+1``)."""
    return int(address, 16) - 1


def reputation_shares(rnd: OfflineRound, clients: int) -> list[float] | None:
    """Each slot's share of a round's reputation-weighted aggregate (0: dropped out or excluded
    by the engine); ``None`` when the round used the fallback rule."""
    prepared = rnd.prepared
    weights = getattr(prepared.strategy, "weights", None)
    if weights is None or not prepared.valid:
        return None
    raw = weights(list(range(len(prepared.valid))), prepared.info)
    if raw is None or sum(raw) <= 0:
        return None
    total = sum(raw)
    shares = [0.0] * clients
    for k, i in enumerate(prepared.valid):
        shares[_slot(prepared.subs[i].client)] = raw[k] / total
    return shares


def run_one(base: TaskConfig, mix: Mix, aggregator: Aggregator, seed: int, rounds: int) -> Run:
    """One federation of ``rounds`` rounds: final test accuracy, its curve and, for the
    reputation strategy, the clients' shares."""
    ctx = TaskContext(run_config(base, mix, aggregator, seed))
    slots = range(len(mix.clients)) if mix.only is None else mix.only
    clients = [offline_client(ctx, i) for i in slots]
    started = time.perf_counter()
    curve: list[float] = []
    shares: list[list[float] | None] = []
    for rnd in run_offline(ctx, ctx.layout, ctx.initial_blob, clients, rounds, score=True):
        curve.append(float(ctx.tester(rnd.prepared.new_g).accuracy))
        if aggregator.strategy == "reputation":
            shares.append(reputation_shares(rnd, len(mix.clients)))
    return Run(curve[-1], curve, shares, time.perf_counter() - started)


def _stats(values: Sequence[float]) -> dict[str, Any]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "runs": list(values)}


def _params_text(params: Sequence[tuple[str, Any]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params)


def run_bench(
    base: TaskConfig,
    seeds: Sequence[int],
    rounds: int,
    aggregators: Sequence[Aggregator] = AGGREGATORS,
    mixes: Sequence[Mix] | None = None,
    reference: Mix | None = None,
    sweep: Sequence[tuple[tuple[str, Any], ...]] = SWEEP,
    tick: Callable[[str], None] = lambda _label: None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every aggregator under every mix, the reference, and the reputation sweep, for every seed.
    ``tick(label)`` is called after each federation (a progress bar's step)."""
    if mixes is None or reference is None:
        default, default_ref = default_mixes(base)
        mixes = default if mixes is None else mixes
        reference = default_ref if reference is None else reference
    started = time.perf_counter()
    fedavg = Aggregator("fedavg", "fedavg")
    accuracy: dict[str, dict[str, list[float]]] = {m.name: {} for m in mixes}
    curves: dict[str, dict[str, list[list[float]]]] = {m.name: {} for m in mixes}
    shares: dict[str, list[list[list[float] | None]]] = {m.name: [] for m in mixes}
    seconds: list[float] = []
    ref_acc: list[float] = []
    ref_curves: list[list[float]] = []
    sweep_acc: dict[str, dict[str, list[float]]] = {}
    for seed in seeds:
        ref = run_one(base, reference, fedavg, seed, rounds)
        ref_acc.append(ref.accuracy)
        ref_curves.append(ref.curve)
        tick(f"seed {seed} {reference.name}")
        for mix in mixes:
            for agg in aggregators:
                run = run_one(base, mix, agg, seed, rounds)
                accuracy[mix.name].setdefault(agg.name, []).append(run.accuracy)
                curves[mix.name].setdefault(agg.name, []).append(run.curve)
                seconds.append(run.seconds / rounds)
                if agg.strategy == "reputation" and agg.params == REPUTATION_PARAMS:
                    shares[mix.name].append(run.shares)
                tick(f"seed {seed} {mix.name} {agg.name}")
            for change in sweep:
                key = _params_text(change) or "as in the table"
                params = swept(change)
                same = [a for a in aggregators if a.strategy == "reputation" and a.params == params]
                if same:
                    value = accuracy[mix.name][same[0].name][-1]  # the table's own run
                else:
                    agg = Aggregator("reputation", "reputation", params)
                    value = run_one(base, mix, agg, seed, rounds).accuracy
                sweep_acc.setdefault(key, {}).setdefault(mix.name, []).append(value)
                tick(f"seed {seed} {mix.name} reputation {key}")
        say(
            f"seed {seed}: clean alone {ref.accuracy:.4f}; "
            + "; ".join(
                f"{m.name}: "
                + ", ".join(f"{a.name} {accuracy[m.name][a.name][-1]:.4f}" for a in aggregators)
                for m in mixes
            )
        )
    table = {m.name: {a: _stats(v) for a, v in accuracy[m.name].items()} for m in mixes}
    reference_stats = _stats(ref_acc)
    targets: dict[str, Any] = {}
    demo = next((m for m in mixes if m.name == "demo"), None)
    if demo is not None and "reputation" in table["demo"]:
        gap = reference_stats["mean"] - table["demo"]["reputation"]["mean"]
        targets["reputation_within_2pt_of_clean_alone_under_demo_mix"] = {
            "reputation": table["demo"]["reputation"]["mean"],
            "clean_alone": reference_stats["mean"],
            "gap_points": 100 * gap,
            "met": bool(gap <= 0.02),
        }
    return {
        "task": base.name,
        "seeds": list(seeds),
        "rounds": rounds,
        "clients": {m.name: {"label": m.label, "clients": list(m.clients)} for m in mixes},
        "reference": {
            "name": reference.name,
            "label": reference.label,
            "slots": list(reference.only or ()),
            **reference_stats,
            "curves": ref_curves,
        },
        "aggregators": {a.name: a.section() for a in aggregators},
        "accuracy": table,
        "curves": curves,
        "reputation_shares": shares,
        "sweep": {
            key: {mix: _stats(v) for mix, v in by_mix.items()} for key, by_mix in sweep_acc.items()
        },
        "seconds_per_round": float(np.mean(seconds)) if seconds else 0.0,
        "wall_seconds": time.perf_counter() - started,
        "targets": targets,
    }


def federations(seeds: int, aggregators: int, mixes: int, sweep: int) -> int:
    """How many steps :func:`run_bench` ticks (a progress bar's total): one per federation, and
    one for a sweep entry that is the table's own row (not run again)."""
    return seeds * (1 + mixes * (aggregators + sweep))


def _pct(stats: dict[str, Any]) -> str:
    return f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f} %"


def to_markdown(result: dict[str, Any]) -> str:
    mixes = list(result["accuracy"])
    ref = result["reference"]
    agg_text = "; ".join(
        f"{name}: {section['strategy']}"
        + (f" ({_params_text(tuple(section['params'].items()))})" if section["params"] else "")
        for name, section in result["aggregators"].items()
    )
    lines = [
        f"Final test accuracy on digits after {result['rounds']} rounds (the {result['task']} "
        f"task's model, training and scoring, offline runtime with scoring on), seeds "
        f"{result['seeds']} (mean ± std). Aggregators: {agg_text}.",
        "",
        "| aggregator | " + " | ".join(result["clients"][m]["label"] for m in mixes) + " |",
        "|---|" + "---|" * len(mixes),
    ]
    for name in result["aggregators"]:
        cells = [_pct(result["accuracy"][m][name]) for m in mixes]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(
        f"| reference: {ref['label']} (fedavg) | "
        + " | ".join(_pct(ref) if m == "demo" else "" for m in mixes)
        + " |"
    )
    lines.append("")
    target = result["targets"].get("reputation_within_2pt_of_clean_alone_under_demo_mix")
    if target is not None:
        lines.append(
            "Target: reputation-weighted aggregation within 2 points of the clean clients alone "
            f"under the demo's mix: {100 * target['reputation']:.2f} % against "
            f"{100 * target['clean_alone']:.2f} % (the clean clients alone minus reputation: "
            f"{target['gap_points']:+.2f} points), {'met' if target['met'] else 'not met'}."
        )
    if result["sweep"]:
        lines += [
            "",
            "Reputation-weighted aggregation with one parameter changed (same mixes and seeds):",
            "",
            "| change | " + " | ".join(mixes) + " |",
            "|---|" + "---|" * len(mixes),
        ]
        for key, by_mix in result["sweep"].items():
            cells = [_pct(by_mix[m]) if m in by_mix else "" for m in mixes]
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    demo_shares = result["reputation_shares"].get("demo") or []
    if demo_shares:
        names = [
            c.get("name") or f"client {i}"
            for i, c in enumerate(result["clients"]["demo"]["clients"])
        ]
        per_round = demo_shares[0]
        lines += [
            "",
            f"Reputation weights under the demo's mix, seed {result['seeds'][0]}: each client's "
            "share of the aggregate per round (fallback: the round had no records yet, "
            "0: dropped out or excluded by the engine):",
            "",
            "| round | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for number, shares in enumerate(per_round, start=1):
            cells = ["fallback"] * len(names) if shares is None else [f"{s:.2f}" for s in shares]
            lines.append(f"| {number} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"{result['seconds_per_round']:.3f} s per round on average; whole run "
        f"{result['wall_seconds']:.0f} s.",
    ]
    return "\n".join(lines)
