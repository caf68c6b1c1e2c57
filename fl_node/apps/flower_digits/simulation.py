"""The app on Flower's simulation engine, in one process: ``run_simulation`` with the same
ServerApp and ClientApp, whose settings (the simulation's nodes have no node config of their own)
are given as defaults. The engine runs one Ray actor per core (:mod:`fl_node.flower.engine`), each
running the messages of many virtual SuperNodes, one at a time, so the settling mod reveals from
a background thread of the actor: a client that held its actor until every other had committed
would leave no actor for the rest (they would all wait for the commit window to end).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fl_node.apps.flower_digits import client_app, server_app


def simulate(
    settings: Mapping[str, Any],
    num_supernodes: int,
    verbose: bool = False,
    reveal: str = "background",
    actors: int | None = None,
) -> None:
    """Run the app on ``num_supernodes`` virtual SuperNodes. ``settings``: the run config's keys
    (``fl-node-rpc``, ``fl-node-deployment``, ``fl-node-store``, ``fl-node-task``,
    ``task-config``, the aggregator's key, ``settle``, ...) plus the clients' keys:
    ``fl-node-dev-account-base`` (node ``i`` signs with dev account base + i) or
    ``fl-node-key-file`` with ``{partition-id}`` in it. ``reveal``: the settling mod's reveal
    mode (``background``: an actor runs one message at a time, and there are fewer actors than
    the clients that must all commit before any reveals; see
    :data:`fl_node.flower.client.REVEAL`). ``actors``: Ray actors (default: one per core)."""
    from flwr.simulation import run_simulation

    from fl_node.flower.engine import backend_config, simulation_actors

    run_simulation(
        server_app=server_app.make_app(settings),
        client_app=client_app.make_app({"fl-node-reveal": reveal, **settings}),
        num_supernodes=num_supernodes,
        backend_config=backend_config(simulation_actors(num_supernodes, actors)),
        verbose_logging=verbose,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m fl_node.apps.flower_digits.simulation --task 1 --store file://$PWD/store``:
    the example on the simulation engine against a task on a local chain (dev accounts)."""
    import argparse
    from pathlib import Path

    from fl_node.apps.flower_digits.task import CONFIG_PATH
    from fl_node.commands import argtypes

    p = argparse.ArgumentParser(prog="python -m fl_node.apps.flower_digits.simulation")
    p.add_argument("--task", type=argtypes.task_id, required=True, help="the on-chain task id")
    p.add_argument("--store", required=True, help="the shared artifact store URL")
    p.add_argument("--rpc", default="http://127.0.0.1:8545")
    p.add_argument("--deployment", type=Path, default=Path("deployments/31337.json"))
    p.add_argument("--config", default=str(CONFIG_PATH), help="the task's config")
    p.add_argument("--workdir", type=Path, default=Path(".fl-node"))
    p.add_argument(
        "--nodes",
        type=argtypes.positive_int,
        default=3,
        help="virtual SuperNodes (the task's seats)",
    )
    p.add_argument(
        "--actors",
        type=argtypes.positive_int,
        default=None,
        help="Ray actors (default: one per core)",
    )
    p.add_argument("--aggregator-dev-account", type=argtypes.dev_account, default=2)
    p.add_argument(
        "--client-dev-account-base", type=argtypes.dev_account, default=3, help="node i: base + i"
    )
    args = p.parse_args(argv)
    simulate(
        {
            "fl-node-rpc": args.rpc,
            "fl-node-deployment": str(args.deployment.resolve()),
            "fl-node-store": args.store,
            "fl-node-workdir": str(args.workdir.resolve()),
            "task-config": str(Path(args.config).resolve())
            if Path(args.config).exists()
            else args.config,
            "fl-node-task": args.task,
            "fl-node-aggregator-dev-account": args.aggregator_dev_account,
            "fl-node-dev-account-base": args.client_dev_account_base,
        },
        args.nodes,
        actors=args.actors,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
