"""The digits task: model, data and task config, shared by the ClientApp and the ServerApp.

The task config (``task.yaml`` beside this file, or the run config's ``task-config``: a YAML path
or a bundled config name) fixes the dataset, its partition, the model and local training; its
hash is the task's on-chain config hash. A node trains on slice ``partition-id`` of its node
config. Training is deterministic (seeded by the task seed, the partition and the round).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from flwr.app import ArrayRecord, MetricRecord

from fl_node.configs import load_config
from fl_node.flower.wire import array_record, arrays_of

if TYPE_CHECKING:  # torch loads only where a model is built: join and settle messages skip it
    from fl_node.apps.digits import DigitsClient
    from fl_node.federation.context import TaskContext

#: The app's own task config.
CONFIG_PATH = Path(__file__).with_name("task.yaml")


def config_ref(run_config: Mapping[str, Any], default: str | None = None) -> str:
    """The task config the run names (``task-config``), else ``default``, else the app's own."""
    for ref in (run_config.get("task-config"), default):
        if isinstance(ref, str) and ref.strip():
            return ref
    return str(CONFIG_PATH)


@lru_cache(maxsize=4)
def task(ref: str) -> TaskContext:
    from fl_node.federation.context import TaskContext

    return TaskContext(load_config(ref))


def client_fn(context: Any, default_config: str | None = None) -> DigitsClient:
    """The NumPyClient of this node's slice (a Flower ``Context`` or fl-node's); the task config
    is the run config's ``task-config``, else ``default_config``, else the app's own."""
    from fl_node.apps.digits import DigitsClient, partition_of

    ctx = task(config_ref(context.run_config, default_config))
    index = partition_of(context, ctx)
    return DigitsClient(ctx, index, ctx.partition_data(index))


def initial_arrays(ref: str) -> ArrayRecord:
    """The task's initial model under the model's own tensor names."""
    ctx = task(ref)
    return array_record(ctx.initial_parameters, list(ctx.torch_names))


def central_evaluation(ref: str) -> Callable[[int, ArrayRecord], MetricRecord]:
    """The ServerApp's evaluation of the global model on the task's held-out test split."""
    ctx = task(ref)

    def evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        vec = np.concatenate([np.asarray(a, np.float32).ravel() for a in arrays_of(arrays)])
        result = ctx.tester(vec)
        return MetricRecord(
            {"test_loss": float(result.loss), "test_accuracy": float(result.accuracy)}
        )

    return evaluate
