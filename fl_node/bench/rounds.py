"""Seconds per round and peak memory: fl-node's two runtimes against Flower's simulation engine
on the same task, same machine, same run (``fl-node bench rounds``; printed and recorded, never
asserted).

For each federation size, three runtimes run the demo's digits task (MLP 64, 2 local epochs,
FedAvg by samples, :func:`fl_node.bench.flower.bench_config`: challenge window 0 s):

- ``in-process``: an embedded Anvil, every daemon (the aggregator and each client) stepped in one
  Python process, with real transactions (:meth:`LocalFederation.run_in_process`);
- ``processes``: the same daemons as separate ``fl-node`` processes (one per client plus the
  aggregator), as they run on separate machines (:meth:`LocalFederation.start_processes`);
- ``flower``: the example Flower app (:mod:`fl_node.apps.flower_digits`) plain on Flower's
  simulation engine (Ray), no chain.

Each runtime runs ``repeats`` times at each size (3 by default), the runs interleaved (in-process,
processes, Flower, then again), and the table shows each one's median run with the range of all:
the machine's speed drifts by a factor of two within an hour, and runs side by side in time are
what a comparison can rest on. Flower's simulation engine runs one actor per core (its
ClientApps one at a time on each core, the usual setting), unless told otherwise.

Each run is its own child process (``python -m fl_node.bench.rounds --one ...``) whose resident
memory, summed over it and all its descendants (Anvil, client processes, Ray's workers), is
sampled every 0.2 s; Anvil's share is reported apart. fl-node's round is timed from the
aggregator's stamps (``stats-aggregator.json``), from the previous round's finalization to its
own, so that it holds all a round needs (the clients' claims of the round before come with their
commits, or before the round opens); Flower's likewise, from the end of one ``aggregate_train``
to the end of the next (the first round of each from its opening or ``configure_train``).
Steady rounds exclude the first (which waits for every client to join, or starts Ray's actors)
and the last.

The critical path of an fl-node round is its wall time without the challenge window: the child
watches the chain (every 0.05 s for processes, after every pass for the in-process runtime) and
notes when every client has committed, every commit is revealed, the post is mined and the
finalization; the time between the post and the moment the chain clock passes the challenge
deadline is the window, the rest is the critical path. The bench's task has no challenge window
(0 s): each post finalizes its round at once, so the window is 0 and the critical path the whole
round. Observations come at most one polling interval late, so the window is
slightly underestimated and the critical path slightly overestimated.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fl_node.flower.engine import simulation_actors as flower_actors

RUNTIMES = ("in-process", "processes", "flower")
#: What one ``fl-node node`` process costs, about (the reference figure: 4.1 GB at 8 clients).
PROCESS_MB = 400
#: The most client processes of runtime (b) attempted by default on this 2-core / 24 GB machine.
DEFAULT_MAX_PROCESSES = 32
#: Runs of each runtime at each size, interleaved; a row of the table is their median run.
DEFAULT_REPEATS = 3
#: Seconds between two memory samples.
SAMPLE_EVERY = 0.2
#: Targets of the issue.
FLOWER_SIZES = (8, 32)
LARGE_SIZE = 128
LARGE_ROUNDS = 10
LARGE_SECONDS = 600.0
CRITICAL_SIZE = 8
CRITICAL_SECONDS = 1.5

MB = 1024 * 1024


# -- pure figures ---------------------------------------------------------------------------------
def steady_rounds(numbers: Iterable[int]) -> list[int]:
    """The rounds that count as steady: all but the first and the last (all of them when there
    are fewer than three)."""
    ordered = sorted(set(numbers))
    return ordered[1:-1] if len(ordered) >= 3 else ordered


def summarize_rounds(per_round: Mapping[int, float]) -> dict[str, Any]:
    """First, last, mean and median steady seconds of rounds ``{number: seconds}``."""
    if not per_round:
        return {"first": None, "last": None, "steady": None, "steady_median": None, "count": 0}
    numbers = sorted(per_round)
    steady = [per_round[n] for n in steady_rounds(numbers)]
    return {
        "first": per_round[numbers[0]],
        "last": per_round[numbers[-1]],
        "steady": statistics.mean(steady),
        "steady_median": statistics.median(steady),
        "count": len(numbers),
    }


@dataclasses.dataclass(frozen=True)
class MemorySample:
    """Resident memory of a process tree at one moment, in bytes."""

    total: int
    anvil: int
    processes: int


def memory_sample(processes: Iterable[tuple[str, int]]) -> MemorySample:
    """Sum ``(name, rss bytes)`` of every process of a tree; Anvil's apart."""
    total = anvil = count = 0
    for name, rss in processes:
        total += rss
        count += 1
        if name == "anvil":
            anvil += rss
    return MemorySample(total, anvil, count)


def peak_memory(samples: Sequence[MemorySample]) -> dict[str, Any]:
    """Peaks over a run's samples, in MB (each peak on its own: Anvil's may come at another
    moment than the total's)."""
    if not samples:
        return {"peak_mb": None, "anvil_peak_mb": None, "peak_processes": 0, "samples": 0}
    return {
        "peak_mb": max(s.total for s in samples) / MB,
        "anvil_peak_mb": max(s.anvil for s in samples) / MB,
        "peak_processes": max(s.processes for s in samples),
        "samples": len(samples),
    }


def window_wait(
    posted_seen: float, finalized_at: float, chain_time_at_post: int, challenge_deadline: int
) -> float:
    """Seconds of a round spent in its challenge window: from the post (seen at wall time
    ``posted_seen``) until the chain's clock passes ``challenge_deadline`` (at once if the chain's
    latest block is already past it, else at wall time ``challenge_deadline + 1``, as the
    aggregator reads the clock), never more than until the finalization."""
    if chain_time_at_post > challenge_deadline:
        return 0.0
    opens = float(challenge_deadline + 1)
    return max(0.0, min(opens, finalized_at) - posted_seen)


def round_stages(m: Mapping[str, float]) -> dict[str, float]:
    """Where a round's time went, from its milestones (wall times): ``opened``, ``committed``
    (every client committed), ``revealed`` (every commit revealed), ``posted``, ``finalized`` and
    ``window`` (seconds of challenge window, :func:`window_wait`). Stages whose milestones were
    not seen are left out."""
    order = ("opened", "committed", "revealed", "posted")
    names = {"committed": "train_commit", "revealed": "upload_reveal", "posted": "aggregate_post"}
    out: dict[str, float] = {}
    for before, after in itertools.pairwise(order):
        if before in m and after in m:
            out[names[after]] = m[after] - m[before]
    if "posted" in m and "finalized" in m and "window" in m:
        out["window"] = m["window"]
        # a task without a challenge window is final at the post (stamped before it is seen)
        out["finalize"] = max(0.0, m["finalized"] - m["posted"] - m["window"])
    if "opened" in m and "finalized" in m:
        out["wall"] = m["finalized"] - m["opened"]
        if "window" in m:
            out["critical"] = out["wall"] - m["window"]
    return out


def median_stages(per_round: Mapping[int, Mapping[str, float]]) -> dict[str, float]:
    """Median of each stage over the steady rounds."""
    steady = [per_round[n] for n in steady_rounds(per_round)]
    keys = sorted({k for stages in steady for k in stages})
    return {k: statistics.median([s[k] for s in steady if k in s]) for k in keys}


def processes_skip_reason(clients: int, max_processes: int) -> str | None:
    """Why runtime (b) is not attempted at ``clients`` clients, or None."""
    if clients <= max_processes:
        return None
    need = (clients + 1) * PROCESS_MB / 1024
    return (
        f"not run: {clients} client processes at ~{PROCESS_MB} MB each (~{need:.0f} GB) do not "
        f"fit this machine (--max-processes {max_processes})"
    )


def fit_min_samples(min_samples: int, train_samples: int, clients: int) -> int:
    """The task's ``min_samples`` lowered, when needed, so that ``train_samples`` can give
    ``clients`` clients that many each (digits has 1078 training samples: 128 clients get 8)."""
    return max(1, min(min_samples, train_samples // clients))


def extrapolate_total(
    setup: float, per_round: Mapping[int, float], rounds: int, tail: float = 0.0
) -> float | None:
    """A whole run of ``rounds`` rounds from a shorter one: its set-up, its first round, the mean
    steady round for each round in between, its last round and what came after it."""
    s = summarize_rounds(per_round)
    if s["first"] is None or rounds < 1:
        return None
    if rounds == 1:
        return setup + s["first"] + tail
    return setup + s["first"] + s["steady"] * max(0, rounds - 2) + s["last"] + tail


# -- markdown ------------------------------------------------------------------------------------
def _num(value: Any, fmt: str = ".2f") -> str:
    return "–" if value is None else format(value, fmt)


def _by(result: Mapping[str, Any]) -> dict[tuple[int, str], dict[str, Any]]:
    return {(r["clients"], r["runtime"]): r for r in result["results"]}


def _ratio(value: Any, base: Any) -> str:
    if value is None or base is None or base <= 0:
        return ""
    return f" ({value / base:.1f}x)"


def _repeats_text(repeats: int) -> str:
    if repeats <= 1:
        return ""
    return (
        f"Each runtime ran {repeats} times at each size, the runtimes' runs interleaved; a row "
        "is the run with the median steady round, its note the range of all. "
    )


def to_markdown(result: Mapping[str, Any]) -> str:
    by = _by(result)
    lines = [
        f"Seconds per round and peak memory, the demo's digits task (MLP 64, 2 local epochs, "
        f"FedAvg by samples; fl-node also scores by leave-one-out and settles), "
        f"{result['rounds']} rounds, same machine and run. "
        + _repeats_text(result.get("repeats", 1))
        + "Steady rounds: all but the first and "
        "the last (mean); fl-node's round runs from the previous finalization to its own, "
        "Flower's from the previous aggregate_train's end to its own; the critical path (open to "
        "finalize) leaves out the challenge window (0 s here: each "
        "post is final at once); peak memory sums the resident memory of the run's whole "
        "process tree (Anvil's share in brackets); fl-node's ratios are against "
        "Flower's figure at the same size.",
        "",
        "| clients | runtime | s / steady round | first round s | critical path s | total s | "
        "peak memory MB | note |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for clients in result["sizes"]:
        flower = by.get((clients, "flower"), {})
        for runtime in result["runtimes"]:
            r = by.get((clients, runtime))
            if r is None:
                continue
            if r["status"] != "ok":
                lines.append(f"| {clients} | {runtime} | – | – | – | – | – | {r['reason']} |")
                continue
            rounds = r["rounds"]
            steady, base = rounds["steady"], flower.get("rounds", {}).get("steady")
            peak, base_peak = r["memory"]["peak_mb"], flower.get("memory", {}).get("peak_mb")
            memory = _num(peak, ".0f")
            if runtime != "flower":
                memory += f" ({_num(r['memory']['anvil_peak_mb'], '.0f')})"
                memory += _ratio(peak, base_peak)
            lines.append(
                f"| {clients} | {runtime} | {_num(steady)}"
                f"{_ratio(steady, base) if runtime != 'flower' else ''} | "
                f"{_num(rounds['first'])} | {_num(r.get('critical', {}).get('steady'))} | "
                f"{_num(r['total_seconds'], '.0f')} | {memory} | {r.get('note', '')} |"
            )
    stages = stage_table(result)
    if stages:
        lines += ["", *stages]
    lines += ["", "Targets:", "", *(f"- {t}" for t in target_lines(result))]
    return "\n".join(lines)


STAGE_COLUMNS = (
    ("train_commit", "fetch, train, commit"),
    ("upload_reveal", "upload, reveal"),
    ("aggregate_post", "verify, aggregate, score, post"),
    ("window", "challenge window"),
    ("finalize", "finalize"),
)


def stage_table(result: Mapping[str, Any]) -> list[str]:
    """Where fl-node's steady round goes (medians, seconds), with the daemons' own counts."""
    rows = [
        r
        for r in result["results"]
        if r["status"] == "ok" and r["runtime"] != "flower" and r.get("stages")
    ]
    if not rows:
        return []
    head = " | ".join(title for _, title in STAGE_COLUMNS)
    lines = [
        "Where an fl-node steady round goes (medians, seconds; stages from the chain as watched, "
        "the last three columns from the daemons' own counters: clients' training summed over "
        "clients, transactions summed over every role, the aggregator's verification, "
        "aggregation and scoring; in-process, the chain is watched after each pass over all "
        "daemons, and the aggregator posts in the pass of the last reveal, so its stage shows "
        "in the reveal's):",
        "",
        f"| clients | runtime | {head} | training (sum) | transactions (sum) "
        "| aggregator compute |",
        "|---:|---|" + "---:|" * (len(STAGE_COLUMNS) + 3),
    ]
    for r in rows:
        s, d = r["stages"], r.get("daemons", {})
        cells = " | ".join(_num(s.get(key)) for key, _ in STAGE_COLUMNS)
        lines.append(
            f"| {r['clients']} | {r['runtime']} | {cells} | {_num(d.get('train_sum'))} | "
            f"{_num(d.get('tx_sum'))} | {_num(d.get('compute'))} |"
        )
    return lines


def _yes(ok: bool) -> str:
    return "met" if ok else "not met"


def target_lines(result: Mapping[str, Any]) -> list[str]:
    """One line per target of the issue: met, not met or not measured, with its figures."""
    by = _by(result)
    out = []

    def ok(clients: int, runtime: str) -> dict[str, Any] | None:
        r = by.get((clients, runtime))
        return r if r is not None and r["status"] == "ok" else None

    for n in FLOWER_SIZES:
        ours, flower = ok(n, "in-process"), ok(n, "flower")
        if ours is None or flower is None:
            out.append(f"(a) at or below Flower at {n} clients: not measured")
            continue
        s, fs = ours["rounds"]["steady"], flower["rounds"]["steady"]
        m, fm = ours["memory"]["peak_mb"], flower["memory"]["peak_mb"]
        time_ok = s is not None and fs is not None and s <= fs
        mem_ok = m is not None and fm is not None and m <= fm
        out.append(
            f"(a) at or below Flower at {n} clients: seconds per round {_yes(time_ok)} "
            f"({_num(s)} s against {_num(fs)} s), memory {_yes(mem_ok)} "
            f"({_num(m, '.0f')} MB against {_num(fm, '.0f')} MB)"
        )
    large = ok(LARGE_SIZE, "in-process")
    if large is None:
        out.append(
            f"(a) {LARGE_SIZE} clients, {LARGE_ROUNDS} rounds under 10 minutes: not measured"
        )
    else:
        total, measured = large["total_seconds"], large["rounds"]["count"]
        if measured >= LARGE_ROUNDS:
            out.append(
                f"(a) {LARGE_SIZE} clients, {LARGE_ROUNDS} rounds under 10 minutes (set-up "
                f"included): {_yes(total < LARGE_SECONDS)} ({total:.0f} s)"
            )
        else:
            guess = large.get("extrapolated_total")
            out.append(
                f"(a) {LARGE_SIZE} clients, {LARGE_ROUNDS} rounds under 10 minutes: EXTRAPOLATED "
                f"from {measured} measured rounds ({total:.0f} s): about {_num(guess, '.0f')} s, "
                f"{_yes(guess is not None and guess < LARGE_SECONDS)}"
            )
    crit = ok(CRITICAL_SIZE, "processes")
    value = None if crit is None else crit.get("critical", {}).get("steady")
    if value is None:
        out.append(f"(b) critical path under {CRITICAL_SECONDS} s at {CRITICAL_SIZE}: not measured")
    else:
        out.append(
            f"(b) critical path under {CRITICAL_SECONDS} s at {CRITICAL_SIZE} clients: "
            f"{_yes(value < CRITICAL_SECONDS)} ({value:.2f} s per steady round)"
        )
    return out


# -- one run, in a child process ------------------------------------------------------------------
def task_config(clients: int, rounds: int) -> Any:
    """The task every runtime runs (:func:`fl_node.bench.flower.bench_config`), its partition's
    ``min_samples`` lowered only where the data cannot give each client the demo's 10."""
    from fl_node.bench.flower import bench_config
    from fl_node.federation.context import TaskContext

    config = bench_config(clients, rounds)
    train = len(TaskContext(config).dataset.y_train)
    fitted = fit_min_samples(config.data.min_samples, train, clients)
    if fitted != config.data.min_samples:
        config = config.replace(data=dataclasses.replace(config.data, min_samples=fitted))
    return config


def _task_figures(config: Any) -> dict[str, Any]:
    from fl_node.federation.context import TaskContext

    sizes = [len(p) for p in TaskContext(config).partitions]
    return {"min_samples": config.data.min_samples, "samples": [min(sizes), max(sizes)]}


class Milestones:
    """When each round reached each milestone, as seen from outside the daemons (the chain)."""

    def __init__(self, fed: Any, clients: int):
        from fl_node.federation.protocol import FederationApi

        self.api = FederationApi(fed.client, fed.task_id)
        self.clients = clients
        self.seen: dict[int, dict[str, float]] = {}

    def tick(self, _progress: object = None) -> None:
        now = time.time()
        current = self.api.state().current_round
        # the round before too: a post that is final opens the next round in the same step
        for number in (current - 1, current):
            if number > 0 and "finalized" not in self.seen.get(number, {}):
                self._note(number, self.api.round(number), now)

    def _note(self, number: int, info: Any, now: float) -> None:
        from fl_node.federation.protocol import Phase

        m = self.seen.setdefault(number, {})
        later = (Phase.POSTED, Phase.CHALLENGED, Phase.FINALIZED)
        if info.commits >= self.clients or info.phase in (Phase.REVEAL, *later):
            m.setdefault("committed", now)
        if info.commits and info.reveals >= info.commits:
            m.setdefault("revealed", now)
        if info.phase in later and "posted" not in m:
            m["posted"] = now
            m["chain_time_at_post"] = float(self.api.chain_time())
            m["challenge_deadline"] = float(info.challenge_deadline)
        if info.phase == Phase.FINALIZED:
            m.setdefault("finalized", now)


def round_spans(stamps: Mapping[str, Mapping[str, float]]) -> dict[int, float]:
    """Each round's seconds from the aggregator's stamps: from the previous round's
    finalization to its own, so a round holds all it needs (its opening, and the clients' claims
    of the round before, which may come before the opening or with their commits); the first
    round from its opening."""
    ends = {int(k): e["finalized_at"] for k, e in stamps.items() if "finalized_at" in e}
    spans: dict[int, float] = {}
    for number, end in ends.items():
        start = ends.get(number - 1, stamps[str(number)].get("opened_at"))
        if start is not None:
            spans[number] = end - start
    return spans


def span_of_calls(times: Mapping[int, Sequence[float]]) -> dict[int, float]:
    """Each Flower round's seconds from its ``(configure_train, aggregate_train end)`` times,
    as :func:`round_spans` counts fl-node's: from the end of the round before."""
    ends = {n: t[1] for n, t in times.items() if len(t) == 2}
    return {n: end - ends.get(n - 1, times[n][0]) for n, end in sorted(ends.items())}


def _fl_node_daemon_figures(
    stats: Mapping[str, Mapping[str, Mapping[str, float]]],
    fit_seconds: Mapping[int, Sequence[float]] | None = None,
) -> tuple[dict[int, float], dict[int, dict[str, float]]]:
    """Round wall times from the aggregator's stamps (:func:`round_spans`), and per round the
    daemons' counters; the training figures from ``fit_seconds`` (each fit's seconds in a
    training worker, by round) when the clients trained in workers, where a client's own clock
    also counts its wait for its turn."""
    agg = stats.get("aggregator", {})
    walls = round_spans(agg)
    counters: dict[int, dict[str, float]] = {}
    for key, entry in agg.items():
        number = int(key)
        if number not in walls:
            continue
        nodes = [s.get(key, {}) for name, s in stats.items() if name != "aggregator"]
        fits = (
            list(fit_seconds.get(number, ()))
            if fit_seconds
            else [n.get("train", 0.0) for n in nodes]
        )
        counters[number] = {
            "train_sum": sum(fits),
            "train_max": max(fits, default=0.0),
            "tx_sum": entry.get("tx", 0.0) + sum(n.get("tx", 0.0) for n in nodes),
            "aggregator_tx": entry.get("tx", 0.0),
            "compute": entry.get("compute", 0.0),
        }
    return walls, counters


def milestones_with_stamps(
    seen: Mapping[int, Mapping[str, float]], stats_agg: Mapping[str, Mapping[str, float]]
) -> dict[int, dict[str, float]]:
    """The watched milestones of each round with the aggregator's exact opened/finalized stamps
    and the challenge window's seconds."""
    out: dict[int, dict[str, float]] = {}
    for number, m in seen.items():
        entry = dict(m)
        stamps = stats_agg.get(str(number), {})
        if "opened_at" in stamps:
            entry["opened"] = stamps["opened_at"]
        if "finalized_at" in stamps:
            entry["finalized"] = stamps["finalized_at"]
        if "posted" in entry and "finalized" in entry:
            entry["window"] = window_wait(
                entry["posted"],
                entry["finalized"],
                int(entry["chain_time_at_post"]),
                int(entry["challenge_deadline"]),
            )
        out[number] = entry
    return out


def run_fl_node(
    runtime: str, clients: int, rounds: int, workdir: Path, workers: int | None = None
) -> dict[str, Any]:
    from fl_node.federation.stats import load_all
    from fl_node.simulation.localfed import LocalFederation

    started = time.time()
    config = task_config(clients, rounds)
    timeout = 600.0 + 30.0 * rounds * max(1.0, clients / 8)
    trained_in: dict[str, int] = {}
    with LocalFederation(config, workdir / "run") as fed:
        if runtime == "in-process":  # the workers start while the chain is set up
            trained_in["train_workers"] = fed.start_training(workers)
        fed.setup(say=lambda _m: None)
        setup_done = time.time()
        watch = Milestones(fed, clients)
        if runtime == "in-process":
            fed.run_in_process(timeout=timeout, on_tick=watch.tick)
        else:
            fed.poll = 0.05
            fed.start_processes()
            fed.wait(timeout=timeout, on_tick=watch.tick)
        finished = time.time()
    stats = load_all(workdir / "run" / "work")
    walls, counters = _fl_node_daemon_figures(stats, fed.fit_seconds)
    marks = milestones_with_stamps(watch.seen, stats.get("aggregator", {}))
    stages = {n: round_stages(m) for n, m in marks.items() if n in walls}
    critical = {n: s["critical"] for n, s in stages.items() if "critical" in s}
    first_open = min((m["opened"] for m in marks.values() if "opened" in m), default=setup_done)
    steady = steady_rounds(counters)
    return {
        "per_round": {str(n): s for n, s in sorted(walls.items())},
        "critical_per_round": {str(n): s for n, s in sorted(critical.items())},
        "stages_per_round": {str(n): s for n, s in sorted(stages.items())},
        "stages": median_stages(stages),
        "daemons": {
            k: statistics.median([counters[n][k] for n in steady])
            for k in ("train_sum", "train_max", "tx_sum", "aggregator_tx", "compute")
        }
        if steady
        else {},
        **_task_figures(config),
        "setup_seconds": setup_done - started,
        "join_seconds": first_open - setup_done,
        "total_seconds": finished - started,
        **trained_in,
    }


def _flower_server_app(
    settings: dict[str, Any], times: dict[int, list[float]], good: dict[int, int]
) -> Any:
    """The plain ServerApp of ``bench flower`` (Flower's FedAvg, no federated or central
    evaluation, rounds timed by :func:`fl_node.bench.flower._timed`), also counting each
    round's replies without an error: a ClientApp that fails does not stop Flower's run."""
    from flwr.serverapp import ServerApp
    from flwr.serverapp.strategy import FedAvg

    from fl_node.apps.flower_digits.task import initial_arrays, task
    from fl_node.bench.flower import _timed

    class Counted(FedAvg):
        def aggregate_train(self, server_round: int, replies: Any) -> Any:
            replies = list(replies)
            good[server_round] = sum(not m.has_error() for m in replies)
            return super().aggregate_train(server_round, replies)

    app = ServerApp()

    @app.main()
    def main(grid: Any, context: Any) -> None:
        ctx = task(settings["task-config"])
        n, rounds = ctx.config.federation.max_clients, ctx.config.federation.rounds
        strategy = Counted(fraction_evaluate=0.0, min_available_nodes=n, min_train_nodes=n)
        _timed(strategy, times).start(
            grid=grid, initial_arrays=initial_arrays(settings["task-config"]), num_rounds=rounds
        )

    return app


def flower_failures(good: Mapping[int, int], clients: int) -> str | None:
    """Why a Flower run does not count: a round with fewer good replies than clients."""
    for number, count in sorted(good.items()):
        if count < clients:
            return f"round {number}: {count} of {clients} ClientApps replied without an error"
    return None


def run_flower(
    clients: int, rounds: int, workdir: Path, actors: int | None = None
) -> dict[str, Any]:
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    from flwr.simulation import run_simulation

    from fl_node.apps.flower_digits import client_app
    from fl_node.errors import FlNodeError
    from fl_node.flower.engine import backend_config

    started = time.time()
    config = task_config(clients, rounds)
    path = config.save(workdir / "config.yaml")
    settings = {"task-config": str(path)}
    actors = flower_actors(clients, actors)
    times: dict[int, list[float]] = {}
    good: dict[int, int] = {}
    run_simulation(
        server_app=_flower_server_app(settings, times, good),
        client_app=client_app.make_app(settings),
        num_supernodes=clients,
        backend_config=backend_config(actors),
    )
    failed = flower_failures(good, clients)
    if failed is not None:
        raise FlNodeError(f"Flower: {failed}")
    per_round = span_of_calls(times)
    return {
        "per_round": {str(n): s for n, s in per_round.items()},
        "actors": actors,
        **_task_figures(config),
        "total_seconds": time.time() - started,
    }


def run_one(
    runtime: str,
    clients: int,
    rounds: int,
    workdir: Path,
    actors: int | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """One runtime at one size, in this process (the child's side); ``actors``: Flower's;
    ``workers``: the in-process runtime's training workers."""
    if runtime == "flower":
        return run_flower(clients, rounds, workdir, actors)
    return run_fl_node(runtime, clients, rounds, workdir, workers)


# -- the parent: a child per run, its memory sampled ----------------------------------------------
def _tree_sample(root: Any) -> MemorySample:
    import psutil

    found: list[tuple[str, int]] = []
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return MemorySample(0, 0, 0)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            found.append((proc.name(), proc.memory_info().rss))
    return memory_sample(found)


def failure_reason(log: str, returncode: int | None) -> str:
    """One line saying why a child failed: its last error line, else its exit code."""
    lines = [line.strip() for line in log.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception", "error")) or head == "Killed":
            return line.replace("|", "/")[:160]
    if returncode is not None and returncode < 0:
        return f"killed by signal {-returncode}"
    return f"exit code {returncode}" if returncode is not None else "timed out"


def measure(
    runtime: str,
    clients: int,
    rounds: int,
    workdir: Path,
    timeout: float,
    actors: int | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Run one runtime at one size in a fresh child process, sampling its tree's memory."""
    import psutil

    workdir.mkdir(parents=True, exist_ok=True)
    result_path, log_path = workdir / "result.json", workdir / "child.log"
    env = {
        **os.environ,
        "FLWR_TELEMETRY_ENABLED": "0",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    argv = [
        sys.executable, "-m", "fl_node.bench.rounds", "--one", runtime,
        "--clients", str(clients), "--rounds", str(rounds),
        "--workdir", str(workdir), "--result", str(result_path),
        *(["--actors", str(actors)] if actors is not None else []),
        *(["--train-workers", str(workers)] if workers is not None else []),
    ]  # fmt: skip
    samples: list[MemorySample] = []
    started = time.monotonic()
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip
        root = psutil.Process(child.pid)
        timed_out = False
        while child.poll() is None:
            samples.append(_tree_sample(root))
            if time.monotonic() - started > timeout:
                timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, 9)
                child.wait()
                break
            time.sleep(SAMPLE_EVERY)
    elapsed = time.monotonic() - started
    memory = peak_memory(samples)
    base = {"runtime": runtime, "clients": clients, "memory": memory, "elapsed": elapsed}
    if timed_out or child.returncode != 0 or not result_path.is_file():
        log_text = log_path.read_text(errors="replace") if log_path.is_file() else ""
        reason = (
            f"timed out after {timeout:.0f} s"
            if timed_out
            else failure_reason(log_text, child.returncode)
        )
        return {**base, "status": "failed", "reason": reason, "log": str(log_path)}
    figures = json.loads(result_path.read_text())
    per_round = {int(n): s for n, s in figures["per_round"].items()}
    critical = {int(n): s for n, s in figures.get("critical_per_round", {}).items()}
    out = {
        **base,
        **figures,
        "status": "ok",
        "rounds": summarize_rounds(per_round),
        "critical": summarize_rounds(critical) if critical else {},
    }
    out["note"] = run_note(out)
    if len(per_round) < rounds:
        out["status"], out["reason"] = "failed", f"only {len(per_round)} of {rounds} rounds timed"
    return out


def _run_settings(
    runtime: str, clients: int, actors: int | None, workers: int | None
) -> dict[str, int]:
    """What a run of ``runtime`` is told: Flower its actors, the in-process runtime its
    training workers."""
    if runtime == "flower":
        return {"actors": flower_actors(clients, actors)}
    if runtime == "in-process":
        from fl_node.simulation.localfed import train_workers

        return {"workers": train_workers(workers)}
    return {}


def run_note(r: Mapping[str, Any]) -> str:
    """The table's note on a run: Flower's actors, and samples per client when the task's
    ``min_samples`` had to be lowered for this size."""
    notes = []
    repeats = r.get("repeats") or []
    if len(repeats) > 1:
        notes.append(f"median of {len(repeats)} runs ({min(repeats):.2f}-{max(repeats):.2f} s)")
    if r.get("failed_repeats"):
        runs = len(repeats) + r["failed_repeats"]
        notes.append(f"{r['failed_repeats']} of {runs} runs failed")
    if r.get("actors") is not None:
        notes.append(f"{r['actors']} Ray actors")
    if r.get("train_workers") is not None:
        count = r["train_workers"]
        notes.append(f"{count} training worker{'s' if count != 1 else ''}" if count else
                     "training in its own process")  # fmt: skip
    if r.get("min_samples") is not None and r["min_samples"] < 10 and r.get("samples"):
        low, high = r["samples"]
        notes.append(f"{low}-{high} samples per client (min_samples {r['min_samples']})")
    return "; ".join(notes)


def median_run(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run that stands for several runs of one runtime at one size: of those that succeeded,
    the one with the median steady round (the lower of the two middle ones of an even count),
    with every successful run's steady seconds, in run order, under ``repeats`` and the count of
    failed ones under ``failed_repeats``; the last run when none succeeded."""
    if not runs:
        raise ValueError("no runs to choose from")
    ok = [r for r in runs if r["status"] == "ok" and r["rounds"]["steady"] is not None]
    if not ok:
        return dict(runs[-1])
    ordered = sorted(ok, key=lambda r: r["rounds"]["steady"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["repeats"] = [r["rounds"]["steady"] for r in ok]
    chosen["failed_repeats"] = len(runs) - len(ok)
    chosen["note"] = run_note(chosen)
    return chosen


def child_timeout(runtime: str, clients: int, rounds: int) -> float:
    """A generous limit for one child: far above any run seen, short of hanging forever."""
    per_client = 3.0 if runtime == "processes" else 1.5
    return 900.0 + rounds * max(8, clients) * per_client


def drop_chain_states(folder: Path) -> int:
    """Delete the embedded chains' saved states below ``folder`` (a 128-client run leaves about
    700 MB), keeping every log; returns how many were deleted."""
    states = list(folder.rglob("chain-state.json")) if folder.is_dir() else []
    for state in states:
        state.unlink(missing_ok=True)
    return len(states)


def run_rounds_bench(
    sizes: Sequence[int] = (8, 16, 32, 128),
    rounds: int = 10,
    runtimes: Sequence[str] = RUNTIMES,
    max_processes: int = DEFAULT_MAX_PROCESSES,
    workdir: Path | None = None,
    say: Callable[[str], None] = print,
    repeats: int = DEFAULT_REPEATS,
    actors: int | None = None,
    run: Callable[..., dict[str, Any]] | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Every runtime at every size ``repeats`` times, the runtimes' runs interleaved, one fresh
    child process each (``run``: :func:`measure`); ``say`` gets a line per run; the result holds
    each runtime's :func:`median_run` at each size. ``actors``: Flower's (default: one per
    core); ``workers``: the in-process runtime's training workers (default: one on two cores or
    more, :func:`~fl_node.simulation.localfed.default_train_workers`)."""
    unknown = [r for r in runtimes if r not in RUNTIMES]
    if unknown:
        raise ValueError(f"runtimes {unknown}: each one of {', '.join(RUNTIMES)}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    run = measure if run is None else run
    sizes = list(dict.fromkeys(sizes))
    runtimes = [r for r in RUNTIMES if r in runtimes]
    base = Path(tempfile.mkdtemp(prefix="fl-node-bench-rounds-")) if workdir is None else workdir
    results = []
    for clients in sizes:
        runs: dict[str, list[dict[str, Any]]] = {runtime: [] for runtime in runtimes}
        for repeat in range(1, repeats + 1):
            for runtime in runtimes:
                skip = (
                    processes_skip_reason(clients, max_processes)
                    if runtime == "processes"
                    else None
                )
                if skip is not None:
                    if repeat == 1:
                        say(f"{clients:>4} clients, {runtime:<10}: {skip}")
                    runs[runtime] = [
                        {"runtime": runtime, "clients": clients, "status": "skipped",
                         "reason": skip}
                    ]  # fmt: skip
                    continue
                folder = base / f"{runtime}-{clients}-{repeat}"
                r = run(
                    runtime, clients, rounds, folder, child_timeout(runtime, clients, rounds),
                    **_run_settings(runtime, clients, actors, workers),
                )  # fmt: skip
                if runtime == "in-process" and r["status"] == "ok":
                    r["extrapolated_total"] = _extrapolated(r)
                runs[runtime].append(r)
                say(progress_line(r) + (f" (run {repeat} of {repeats})" if repeats > 1 else ""))
                if r["status"] == "ok":
                    shutil.rmtree(folder, ignore_errors=True)
                else:  # the logs stay for the reader; the chain's saved state (hundreds of MB) goes
                    drop_chain_states(folder)
        results += [median_run(runs[runtime]) for runtime in runtimes]
    return {
        "rounds": rounds,
        "sizes": sizes,
        "runtimes": runtimes,
        "max_processes": max_processes,
        "repeats": repeats,
        "cores": os.cpu_count(),
        "results": results,
    }


def _extrapolated(r: Mapping[str, Any]) -> float | None:
    """An in-process run's total extrapolated to :data:`LARGE_ROUNDS` rounds."""
    tail = r["total_seconds"] - r["setup_seconds"] - r["join_seconds"]
    tail -= sum(r["per_round"].values())
    return extrapolate_total(
        r["setup_seconds"] + r["join_seconds"],
        {int(n): s for n, s in r["per_round"].items()},
        LARGE_ROUNDS,
        max(0.0, tail),
    )


def progress_line(r: Mapping[str, Any]) -> str:
    head = f"{r['clients']:>4} clients, {r['runtime']:<10}:"
    if r["status"] != "ok":
        where = f" (log: {r['log']})" if "log" in r else ""
        return f"{head} {r['status']}: {r.get('reason', '')}{where}"
    crit = r.get("critical", {}).get("steady")
    return (
        f"{head} {_num(r['rounds']['steady'])} s per steady round, first "
        f"{_num(r['rounds']['first'])} s"
        + ("" if crit is None else f", critical path {crit:.2f} s")
        + f", {r['total_seconds']:.0f} s in all, peak {_num(r['memory']['peak_mb'], '.0f')} MB"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The child's entry: ``python -m fl_node.bench.rounds --one RUNTIME ...``."""
    parser = argparse.ArgumentParser(prog="python -m fl_node.bench.rounds")
    parser.add_argument("--one", choices=RUNTIMES, required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--actors", type=int, default=None)
    parser.add_argument("--train-workers", type=int, default=None)
    args = parser.parse_args(argv)
    figures = run_one(
        args.one, args.clients, args.rounds, args.workdir, args.actors, args.train_workers
    )
    args.result.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
