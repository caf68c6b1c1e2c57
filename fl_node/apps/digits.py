"""An example client app and evaluator: a task config's bundled dataset, one slice per client.

This is what a participant's own app looks like (Flower's ``NumPyClient``): here the model is the
task config's (an MLP on scikit-learn's digits by default) and the private data is slice
``partition-id`` of the config's partition of the dataset. Point a node at it with
``fl-node node --app fl_node.apps.digits:client_fn --node-config partition-id=3`` (``--index 3``
is the shorthand), and an aggregator at ``fl_node.apps.digits:evaluator_fn`` (the default).

Both read the task config from the context's run config (``task-config``: a YAML path or a bundled
config name). Training is deterministic: the seed comes from the task seed, the partition and the
round, so a restarted node makes the same bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fl_node.app.client import Context, Scalar
from fl_node.configs import load_config
from fl_node.errors import ConfigError
from fl_node.federation.context import TaskContext, derive_seed
from fl_node.training.local import EvalResult, Evaluator, train_local

#: The run-config key naming the task config.
TASK_CONFIG = "task-config"


def task_context(context: Context) -> TaskContext:
    ref = context.run_config.get(TASK_CONFIG)
    if not isinstance(ref, str) or not ref:
        raise ConfigError(
            f"the digits app needs the run config entry {TASK_CONFIG!r} (a task config path or "
            "bundled name)"
        )
    return TaskContext(load_config(ref))


def partition_of(context: Context, ctx: TaskContext) -> int:
    value = context.node_config.get("partition-id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            "the digits app needs the node config entry partition-id=<int> "
            "(fl-node node --node-config partition-id=N, or --index N)"
        )
    ctx.config.client(value)  # within 0..max_clients-1, else a clear error
    return value


class DigitsClient:
    """A NumPyClient training the task's model on one slice of the bundled dataset."""

    def __init__(self, ctx: TaskContext, index: int, data: tuple[np.ndarray, np.ndarray]):
        self.ctx = ctx
        self.index = index
        self.x, self.y = data
        self._evaluator: Evaluator | None = None

    def _weights(self, parameters: list[np.ndarray]) -> dict[str, np.ndarray]:
        self.ctx.layout.check(parameters, "the parameters the node sent")
        return dict(zip(self.ctx.torch_names, parameters, strict=True))

    def get_parameters(self, config: dict[str, Scalar]) -> list[np.ndarray]:
        return [np.array(p, copy=True) for p in self.ctx.initial_parameters]

    def fit(
        self, parameters: list[np.ndarray], config: dict[str, Scalar]
    ) -> tuple[list[np.ndarray], int, dict[str, Scalar]]:
        round_number = int(config.get("server_round", 0))
        trained = train_local(
            self.ctx.model_spec,
            self._weights(parameters),
            self.x,
            self.y,
            self.ctx.train_config,
            seed=derive_seed(self.ctx.config.seed, "train", self.index, round_number),
        )
        out = [trained.weights[n] for n in self.ctx.torch_names]
        return out, trained.num_samples, {"train_loss": trained.loss}

    def evaluate(
        self, parameters: list[np.ndarray], config: dict[str, Scalar]
    ) -> tuple[float, int, dict[str, Scalar]]:
        if self._evaluator is None:
            self._evaluator = Evaluator(self.ctx.model_spec, self.x, self.y)
        vec = np.concatenate([np.asarray(p, dtype=np.float32).ravel() for p in parameters])
        result = self._evaluator(vec)
        return result.loss, len(self.y), {"accuracy": result.accuracy}


def client_fn(context: Context) -> DigitsClient:
    """The example client of slice ``partition-id`` (its data: clean, as a participant has it)."""
    ctx = task_context(context)
    index = partition_of(context, ctx)
    return DigitsClient(ctx, index, ctx.partition_data(index))


class DigitsEvaluator:
    """The aggregator's evaluator: the task's validation split (and its test split, for reports)."""

    def __init__(self, ctx: TaskContext):
        self.ctx = ctx

    def __call__(self, vec: np.ndarray) -> EvalResult:
        return self.ctx.validator(vec)

    def test(self, vec: np.ndarray) -> EvalResult:
        return self.ctx.tester(vec)

    def spec(self) -> dict[str, Any]:
        return self.ctx.dataset.spec()


def evaluator_fn(context: Context) -> DigitsEvaluator:
    return DigitsEvaluator(task_context(context))
