"""The ClientApp: the digits NumPyClient, behind the settling mod and optional local DP.

``settle`` comes first among the mods, so it commits exactly what Flower carries; the DP mod
(``dp-epsilon`` > 0 in the run config) noises the update inside it, so the noised update is the
one staked on, scored and audited.
"""

from __future__ import annotations

from typing import Any

from fl_node.apps.flower_digits import task
from fl_node.flower import SettleMod, numpy_client_app, run_config_dp


def make_app(defaults: dict[str, Any] | None = None) -> Any:
    """The ClientApp; ``defaults`` are settings for nodes without a node or run config of their
    own (the simulation engine's): the fl-node settings and ``task-config``."""
    settings = {"task-config": str(task.CONFIG_PATH), **(defaults or {})}
    config = str(settings["task-config"])

    def client_fn(context: Any) -> Any:
        return task.client_fn(context, config)

    settle = SettleMod(defaults=settings)
    return numpy_client_app(client_fn, mods=[settle], train_mods=[run_config_dp])


app = make_app()
