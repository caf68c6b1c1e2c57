"""Options of the commands that work on one task: its config, id, artifact store and workdir."""

from __future__ import annotations

import argparse
from pathlib import Path

from fl_node.artifacts.store import ArtifactStore
from fl_node.chain.client import ChainClient
from fl_node.config import TaskConfig
from fl_node.configs import load_config
from fl_node.errors import ConfigError
from fl_node.federation.context import TaskContext
from fl_node.federation.protocol import FederationApi, TaskStatus


def add_task_options(parser: argparse.ArgumentParser, task_id: bool = True) -> None:
    group = parser.add_argument_group("task")
    group.add_argument(
        "--config",
        default="demo",
        help="task config: a YAML file or a bundled name (demo, tiny); default: %(default)s",
    )
    if task_id:
        group.add_argument("--task", type=int, required=True, help="on-chain task id")
    group.add_argument(
        "--store",
        help="artifact store URL (file://..., memory://, s3://...); default: the config's `store`",
    )
    group.add_argument(
        "--workdir",
        type=Path,
        default=Path(".fl-node"),
        help="folder for this process's checkpoints (default: %(default)s)",
    )


def task_config(args: argparse.Namespace) -> TaskConfig:
    return load_config(args.config)


def task_store(args: argparse.Namespace, config: TaskConfig) -> ArtifactStore:
    return ArtifactStore(args.store or config.store)


def task_api(client: ChainClient, task_id: int) -> FederationApi:
    if task_id < 1:
        raise ConfigError(f"--task must be a positive task id, got {task_id}")
    api = FederationApi(client, task_id)
    if api.state().status == TaskStatus.NONE:
        count = api.task_count()
        raise ConfigError(f"there is no task {task_id} on this chain ({count} task(s) exist)")
    return api


def task_context(config: TaskConfig) -> TaskContext:
    return TaskContext(config)
