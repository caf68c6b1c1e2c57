"""The ServerApp: Flower's FedAvg, settled on-chain by ``SettledStrategy``.

Run config (``[tool.flwr.app.config]``, or ``flwr run --run-config``): where the chain, the store
and the task are (``fl-node-*``, see :mod:`fl_node.flower.settings`), ``fraction-evaluate``, and
``settle`` (false: the same FedAvg without the chain, plain Flower, for comparisons).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from fl_node.apps.flower_digits.task import central_evaluation, config_ref, initial_arrays, task
from fl_node.flower import SettledStrategy


def make_app(defaults: Mapping[str, Any] | None = None) -> ServerApp:
    """The ServerApp; ``defaults`` are settings the run config does not give (the simulation
    engine has no run config)."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        settings = {
            **dict(defaults or {}),
            **{k: v for k, v in context.run_config.items() if v != ""},
        }
        ref = config_ref(settings)
        federation = task(ref).config.federation
        fedavg = FedAvg(
            fraction_train=1.0,
            fraction_evaluate=float(settings.get("fraction-evaluate", 1.0)),
            min_available_nodes=federation.start_clients,
            min_train_nodes=federation.start_clients,
            min_evaluate_nodes=min(2, federation.start_clients),
        )
        if not bool(settings.get("settle", True)):  # plain Flower: the same FedAvg, no chain
            fedavg.start(
                grid=grid,
                initial_arrays=initial_arrays(ref),
                num_rounds=int(settings.get("num-server-rounds", federation.rounds)),
                evaluate_fn=central_evaluation(ref),
            )
            return
        strategy = SettledStrategy.from_context(fedavg, context, {**settings, "task-config": ref})
        strategy.start(
            grid=grid,
            initial_arrays=initial_arrays(ref),
            num_rounds=strategy.rounds_left(),
            evaluate_fn=central_evaluation(ref),
        )

    return app


app = make_app()
