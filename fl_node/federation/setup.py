"""The aggregator's (and an auditor's) view of a task: its config, model layout and evaluator.

The model layout is read from the task's initial model in the store (its hash is on-chain), so an
aggregator needs no copy of any participant's code; the evaluator is the aggregator's own app
(its validation data), whose spec must hash to the task's on-chain validation spec hash.
"""

from __future__ import annotations

from fl_node.app.client import Context
from fl_node.app.evaluator import EvaluatorApp
from fl_node.app.layout import ModelLayout, layout_of_weights
from fl_node.apps.digits import TASK_CONFIG
from fl_node.artifacts.codec import decode_weights
from fl_node.artifacts.store import ArtifactStore
from fl_node.config import TaskConfig
from fl_node.errors import ArtifactError, ConfigError
from fl_node.federation.engine import AppSetup
from fl_node.federation.protocol import FederationApi, TaskParams, hex32

#: The evaluator of the bundled example tasks.
DEFAULT_EVALUATOR = "fl_node.apps.digits:evaluator_fn"


def task_layout(store: ArtifactStore, params: TaskParams, sponsor: str) -> ModelLayout:
    """The model layout of the task's initial model (fetched by its on-chain hash from the
    sponsor's prefix)."""
    try:
        weights, _ = decode_weights(store.get(hex32(params.initial_model_hash), owner=sponsor))
        layout = layout_of_weights(weights)
    except ArtifactError as exc:
        raise ConfigError(
            f"cannot read the task's initial model {hex32(params.initial_model_hash)} from the "
            f"store {store.url}: {exc}"
        ) from exc
    if layout.spec_hash() != params.model_spec_hash:
        raise ConfigError(
            "the task's initial model does not have the task's model spec: the task was created "
            "inconsistently"
        )
    return layout


def load_setup(
    api: FederationApi,
    store: ArtifactStore,
    config: TaskConfig,
    config_ref: str,
    evaluator_ref: str = DEFAULT_EVALUATOR,
    node_id: str = "",
) -> AppSetup:
    """The round setup of an aggregator or auditor, checked against the task's on-chain hashes."""
    params = api.params()
    if params.config_hash != config.config_hash:
        raise ConfigError(
            f"task {api.task_id}'s on-chain config hash {hex32(params.config_hash)} differs from "
            f"this config's {hex32(config.config_hash)}: use the task's exact config"
        )
    layout = task_layout(store, params, api.state().sponsor)
    context = Context(node_id=node_id, run_config={TASK_CONFIG: config_ref}, run_id=api.task_id)
    evaluator = EvaluatorApp.load(evaluator_ref, context, layout)
    if evaluator.spec_hash() != params.validation_spec_hash:
        raise ConfigError(
            f"{evaluator_ref}'s validation data (spec hash {hex32(evaluator.spec_hash())}) is not "
            f"task {api.task_id}'s (validation spec hash {hex32(params.validation_spec_hash)})"
        )
    return AppSetup(config, layout.param_spec, evaluator.evaluator, evaluator.tester)
