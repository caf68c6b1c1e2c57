"""Shared set-up of the Flower tests: the example digits app's task config (2 rounds, a short
reveal window) on a local chain with the suite deployed and the accounts funded, as the federation
tests make one (:class:`fl_node.simulation.localfed.LocalFederation`).

Nothing here imports Flower: every test module starts with ``pytest.importorskip("flwr")``, so
the folder is skipped where Flower is not installed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fl_node.config import TaskConfig
from fl_node.configs import load_config
from fl_node.simulation.localfed import AGGREGATOR, LocalFederation

#: The example app's task config (fl_node/apps/flower_digits/task.yaml).
CONFIG_PATH = (
    Path(__file__).resolve().parents[2] / "fl_node" / "apps" / "flower_digits" / "task.yaml"
)
#: The test app: the example with misbehaving clients.
TEST_APP = Path(__file__).resolve().parent / "app"


def flower_config(**federation: Any) -> TaskConfig:
    """The example app's task config, 2 rounds and a 5 s reveal window unless told otherwise."""
    config = load_config(CONFIG_PATH)
    changes = {"rounds": 2, "reveal_window": 5, **federation}
    return config.replace(federation=dataclasses.replace(config.federation, **changes))


def shared_settings(fed: LocalFederation) -> dict[str, Any]:
    """What every role of a settled Flower run of ``fed``'s task reads."""
    return {
        "fl-node-rpc": fed.chain.rpc_url,
        "fl-node-deployment": str(fed.deployment_path),
        "fl-node-store": fed.config.store,
        "fl-node-workdir": str(fed.run_dir / "work"),
        "task-config": str(fed.config_path),
    }


def server_settings(fed: LocalFederation) -> dict[str, Any]:
    """The ServerApp's run config for ``fed``'s task (the aggregator is a dev account)."""
    return {
        **shared_settings(fed),
        "fl-node-task": fed.task_id,
        "fl-node-aggregator-dev-account": AGGREGATOR,
    }
