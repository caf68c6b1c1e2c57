"""Options of the commands that work on one task: its config, id, artifact store and workdir."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from fl_node.commands import argtypes
from fl_node.commands.common import add_store_options, open_store
from fl_node.errors import ConfigError

if TYPE_CHECKING:  # the parser is built on every start: these load when a handler runs
    from fl_node.artifacts.store import ArtifactStore
    from fl_node.chain.client import ChainClient
    from fl_node.config import TaskConfig
    from fl_node.federation.context import TaskContext
    from fl_node.federation.protocol import FederationApi

#: The bundled example's evaluator app (``fl_node.federation.setup.DEFAULT_EVALUATOR``, which a
#: test keeps equal; written out here so that building the parser imports no training code).
EXAMPLE_EVALUATOR = "fl_node.apps.digits:evaluator_fn"


def add_task_options(parser: argparse.ArgumentParser, task_id: bool = True) -> None:
    group = parser.add_argument_group("task")
    group.add_argument(
        "--config",
        default="demo",
        help="task config: a YAML file or a bundled name (demo, tiny); default: %(default)s",
    )
    if task_id:
        group.add_argument("--task", type=argtypes.task_id, required=True, help="on-chain task id")
    add_store_options(group)
    group.add_argument(
        "--workdir",
        type=Path,
        default=Path(".fl-node"),
        help="folder for this process's checkpoints (default: %(default)s)",
    )


def task_config(args: argparse.Namespace) -> TaskConfig:
    from fl_node.configs import load_config

    return load_config(args.config)


def task_store(args: argparse.Namespace, config: TaskConfig) -> ArtifactStore:
    return open_store(args, config.store)


def task_api(client: ChainClient, task_id: int) -> FederationApi:
    from fl_node.federation.protocol import FederationApi, TaskStatus

    if task_id < 1:
        raise ConfigError(f"--task must be a positive task id, got {task_id}")
    api = FederationApi(client, task_id)
    if api.state().status == TaskStatus.NONE:
        count = api.task_count()
        raise ConfigError(f"there is no task {task_id} on this chain ({count} task(s) exist)")
    return api


def task_context(config: TaskConfig) -> TaskContext:
    from fl_node.federation.context import TaskContext

    return TaskContext(config)
