"""Plain Flower against Flower settled on-chain: seconds per round on the same task, same machine,
same run (``fl-node bench flower``; not asserted anywhere).

For each federation size, a fresh local chain gets the task (the demo's digits task: MLP 64,
2 local epochs, leave-one-out scoring, FedAvg), then the same ServerApp and ClientApp (the example
app, :mod:`fl_node.apps.flower_digits`) run twice on Flower's engine: once plain (Flower's FedAvg,
no chain), once settled (``SettledStrategy(FedAvg)`` and the settling mod: joins, commits,
reveals, uploads, verification, scoring, payouts, post, finalization, claims). A round is timed
from the strategy's ``configure_train`` to the end of its ``aggregate_train`` (federated
evaluation is off in both, the ServerApp's central evaluation too); the first round (which in the
settled run also registers and seats every client) and the last (which in the settled run also
finalizes and lets every client claim and leave) are reported apart from the steady rounds in
between. The task's challenge window is 0 s, so finalization waits only for the next block's
timestamp: a longer window is a waiting period the task chooses, not settlement work.

Engines: ``simulation`` (Flower's simulation engine with one Ray actor per core, its usual
setting, or ``--actors``: an actor runs the messages of many virtual SuperNodes, one at a time, so
the settling mod reveals from a background thread, since every client must commit before any
reveals) and ``deployment`` (a SuperLink and one ``flower-supernode`` process per client, the mod
holding each reply until its client revealed; every message starts a ClientApp process, so sizes
beyond a handful need more cores than this machine's two).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fl_node.config import TaskConfig

ENGINES = ("simulation", "deployment")


def bench_config(clients: int, rounds: int) -> TaskConfig:
    """The demo's digits task for ``clients`` clients, FedAvg by samples (the twin of Flower's
    FedAvg), generous windows (clients on two cores train one after another)."""
    from fl_node.configs import load_config

    demo = load_config("demo")
    federation = dataclasses.replace(
        demo.federation,
        rounds=rounds,
        max_clients=clients,
        commit_window=1800,
        reveal_window=300,
        challenge_window=0,
        mode="direct",
        stake=10.0,
        stake_min=1.0,
        reward_per_round=100.0,
        budget=100.0 * rounds + 10.0 * clients * rounds,
    )
    return demo.replace(
        name=f"flower-bench-{clients}",
        federation=federation,
        aggregation=demo.aggregation.__class__(strategy="fedavg", weighting="samples"),
        clients=(),
    )


def _timed(inner: Any, times: dict[int, list[float]]) -> Any:
    """A strategy recording when each round's training starts and ends."""
    from flwr.serverapp.strategy import Strategy

    class Timed(Strategy):
        def configure_train(self, server_round: int, arrays: Any, config: Any, grid: Any) -> Any:
            times[server_round] = [time.perf_counter()]
            return inner.configure_train(server_round, arrays, config, grid)

        def aggregate_train(self, server_round: int, replies: Any) -> Any:
            out = inner.aggregate_train(server_round, replies)
            times[server_round].append(time.perf_counter())
            return out

        def configure_evaluate(self, server_round: int, arrays: Any, config: Any, grid: Any) -> Any:
            return inner.configure_evaluate(server_round, arrays, config, grid)

        def aggregate_evaluate(self, server_round: int, replies: Any) -> Any:
            return inner.aggregate_evaluate(server_round, replies)

        def summary(self) -> None:
            inner.summary()

    return Timed()


def _server_app(settings: dict[str, Any], settle: bool, times: dict[int, list[float]]) -> Any:
    from flwr.serverapp import ServerApp
    from flwr.serverapp.strategy import FedAvg

    from fl_node.apps.flower_digits.task import initial_arrays, task
    from fl_node.flower import SettledStrategy

    app = ServerApp()

    @app.main()
    def main(grid: Any, context: Any) -> None:
        ref = settings["task-config"]
        n = task(ref).config.federation.max_clients
        rounds = task(ref).config.federation.rounds
        fedavg = FedAvg(fraction_evaluate=0.0, min_available_nodes=n, min_train_nodes=n)
        strategy: Any = fedavg
        if settle:
            strategy = SettledStrategy.from_context(fedavg, context, settings)
        _timed(strategy, times).start(
            grid=grid, initial_arrays=initial_arrays(ref), num_rounds=rounds
        )

    return app


def _simulate(
    settings: dict[str, Any], settle: bool, clients: int, actors: int
) -> dict[int, list[float]]:
    from flwr.simulation import run_simulation

    from fl_node.apps.flower_digits import client_app
    from fl_node.flower.engine import backend_config

    times: dict[int, list[float]] = {}
    run_simulation(
        server_app=_server_app(settings, settle, times),
        client_app=client_app.make_app({"fl-node-reveal": "background", **settings}),
        num_supernodes=clients,
        backend_config=backend_config(actors),
    )
    return times


def _deploy(fed: Any, settings: dict[str, Any], settle: bool) -> dict[int, list[float]]:
    """The example app on a SuperLink and one SuperNode per client, each round timed from the
    moment ``flwr run --stream`` shows its ``[ROUND r/N]`` line to the next one (federated
    evaluation off, so that is the round's training and its settlement)."""
    from fl_node.flower.deployment import LocalDeployment
    from fl_node.simulation.localfed import FIRST_CLIENT

    app = Path(__file__).resolve().parents[1] / "apps" / "flower_digits"
    run_config = {k: v for k, v in settings.items() if k != "fl-node-dev-account-base"}
    shared = {k: v for k, v in run_config.items() if not k.startswith("fl-node-aggregator")}
    home = fed.run_dir / ("flower-settled" if settle else "flower-plain")
    rounds = fed.config.federation.rounds
    with LocalDeployment(home) as deployment:
        deployment.start_superlink()
        for i in range(fed.n_clients):
            deployment.add_supernode(
                f"supernode-{i}",
                {**shared, "partition-id": i, "fl-node-dev-account": FIRST_CLIENT + i},
            )
        run_config |= {"settle": settle, "fraction-evaluate": 0.0, "num-server-rounds": rounds}
        result = deployment.run(app, run_config, timeout=3600)
        if result.returncode != 0:
            raise RuntimeError(f"flwr run failed:\n{result.log[-3000:]}")
    return {r: [0.0, s] for r, s in result.round_seconds().items()}


def _seconds(times: dict[int, list[float]]) -> dict[str, Any]:
    per_round = {r: t[1] - t[0] for r, t in sorted(times.items()) if len(t) == 2}
    rounds = sorted(per_round)
    steady = [per_round[r] for r in rounds[1:-1]] or [per_round[r] for r in rounds]
    return {
        "per_round": {str(r): s for r, s in per_round.items()},
        "first": per_round[rounds[0]] if rounds else None,
        "last": per_round[rounds[-1]] if rounds else None,
        "steady": statistics.mean(steady) if steady else None,
    }


def run_size(
    clients: int,
    rounds: int,
    engine: str,
    workdir: Path,
    say: Callable[[str], None],
    actors: int | None = None,
) -> dict[str, Any]:
    """Plain and settled Flower at one size; ``actors``: the simulation engine's Ray actors
    (default: one per core, at most one per SuperNode)."""
    from fl_node.flower.engine import simulation_actors
    from fl_node.simulation.localfed import AGGREGATOR, FIRST_CLIENT, LocalFederation

    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}: one of {', '.join(ENGINES)}")
    config = bench_config(clients, rounds)
    with LocalFederation(config, workdir / f"n{clients}") as fed:
        fed.setup(say=lambda _m: None)
        settings = {
            "fl-node-rpc": fed.chain.rpc_url,
            "fl-node-deployment": str(fed.deployment_path),
            "fl-node-store": fed.config.store,
            "fl-node-workdir": str(fed.run_dir / "work"),
            "task-config": str(fed.config_path),
            "fl-node-task": fed.task_id,
            "fl-node-aggregator-dev-account": AGGREGATOR,
            "fl-node-dev-account-base": FIRST_CLIENT,
            "fl-node-sync-send": True,  # the bench's own Anvil mines every transaction at once
        }
        out: dict[str, Any] = {"clients": clients, "rounds": rounds, "engine": engine}
        if engine == "simulation":
            out["actors"] = simulation_actors(clients, actors)
        for name, settle in (("plain", False), ("settled", True)):
            started = time.perf_counter()
            if engine == "simulation":
                times = _simulate(settings, settle, clients, out["actors"])
            else:
                times = _deploy(fed, settings, settle)
            out[name] = {**_seconds(times), "wall": time.perf_counter() - started}
            say(f"{clients} SuperNodes, {name}: {out[name]['steady']:.2f} s per steady round")
        report = fed.run_dir / "work" / f"flower-task{fed.task_id}.json"
        if report.is_file():
            rounds_report = json.loads(report.read_text())["rounds"]
            out["chain_seconds"] = [r["seconds"]["chain"] for r in rounds_report]
            out["test_accuracy"] = rounds_report[-1]["metrics"].get("test_accuracy")
    plain, settled = out["plain"]["steady"], out["settled"]["steady"]
    out["ratio"] = settled / plain if plain else None
    return out


def run_flower_bench(
    sizes: Sequence[int] = (8, 16, 32),
    rounds: int = 4,
    engine: str = "simulation",
    workdir: Path | None = None,
    say: Callable[[str], None] = print,
    actors: int | None = None,
) -> dict[str, Any]:
    """Plain vs settled Flower for each size in ``sizes``; ``say`` gets one line per run;
    ``actors``: the simulation engine's Ray actors (default: one per core)."""
    base = Path(tempfile.mkdtemp(prefix="flower-bench-")) if workdir is None else workdir
    results = [run_size(n, rounds, engine, base, say, actors) for n in sizes]
    from fl_node.bench.rounds import drop_chain_states

    drop_chain_states(base)  # logs and reports stay; the chains' saved states are large
    result = {"engine": engine, "rounds": rounds, "sizes": list(sizes), "results": results}
    return result


def to_markdown(result: dict[str, Any]) -> str:
    actors = sorted({r["actors"] for r in result["results"] if r.get("actors") is not None})
    with_actors = f" ({'-'.join(str(a) for a in actors)} Ray actors)" if actors else ""
    lines = [
        f"Seconds per round, plain Flower against Flower settled on-chain, the demo's digits task "
        f"(MLP 64, 2 local epochs, LOO scoring), FedAvg, {result['rounds']} rounds, Flower's "
        f"{result['engine']} engine{with_actors}, same machine and run (steady rounds: all but "
        "the first and the last):",
        "",
        "| SuperNodes | plain s / round | settled s / round | ratio | settled first round | "
        "settled last round |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["results"]:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        lines.append(
            f"| {r['clients']} | {r['plain']['steady']:.2f} | {r['settled']['steady']:.2f} | "
            f"{ratio} | {r['settled']['first']:.2f} | {r['settled']['last']:.2f} |"
        )
    lines.append("")
    lines.append(
        "Target: settlement adds less than 25 % to a Flower round: "
        + ", ".join(
            f"{r['clients']}: {'yes' if r['ratio'] is not None and r['ratio'] < 1.25 else 'no'}"
            for r in result["results"]
        )
    )
    return "\n".join(lines)
