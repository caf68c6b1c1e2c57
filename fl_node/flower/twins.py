"""Each supported Flower strategy's deterministic twin: the project's aggregation rule that the
settled round posts (and ``fl-node audit`` recomputes bit for bit).

Flower's strategies aggregate with numpy's own reductions (BLAS, pairwise sums), whose rounding
depends on the CPU; the project's rules (:mod:`fl_node.aggregation`) accumulate in float64 in
client order and round to float32 once, so every auditor gets the same bytes. A settled Flower
round therefore posts the twin's result as the global model; the inner strategy keeps sampling,
configs, evaluation and its metrics. The task's config (whose hash is on-chain) must name the
twin, so an audit of a Flower-run round is the audit of a native one.

=====================================  =============================================
Flower strategy                        twin (``aggregation`` of the task config)
=====================================  =============================================
``FedAvg``, ``FedProx``                ``fedavg`` weighted by ``samples`` (the
                                       reply metric ``weighted_by_key``)
``FedMedian``                          ``median``
``FedTrimmedAvg(beta)``                ``trimmed_mean`` with ``trim = beta``
``Krum(num_malicious_nodes)``          ``krum`` with ``f = num_malicious_nodes``, ``m = 1``
``MultiKrum(num_malicious_nodes,       ``krum`` with ``f``, ``m = num_nodes_to_select``
num_nodes_to_select)``                 (the mean of the ``m`` best)
=====================================  =============================================

A subclass counts as its base only if it does not override ``aggregate_train``. Anything else
(FedAdam, FedYogi, FedAdagrad, FedAvgM, QFedAvg, Bulyan, the DP wrappers, ...) has no twin and is
refused: its server-side state (momentum, adaptive moments, server noise) cannot be recomputed
from the chain and the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fl_node.config import AggregationConfig, TaskConfig
from fl_node.errors import ConfigError

SUPPORTED = (
    "FedAvg (and FedProx), FedMedian, FedTrimmedAvg(beta), Krum(num_malicious_nodes), "
    "MultiKrum(num_malicious_nodes, num_nodes_to_select)"
)


@dataclass(frozen=True)
class Twin:
    """The deterministic rule of a Flower strategy, as a task config's ``aggregation``."""

    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    weighting: str = "samples"
    flower: str = ""  # the Flower strategy's class name

    @property
    def aggregation(self) -> AggregationConfig:
        return AggregationConfig(
            strategy=self.strategy, weighting=self.weighting, params=dict(self.params)
        )

    def as_config(self) -> dict[str, Any]:
        """The ``aggregation`` section to write in the task config (YAML/dict form)."""
        out: dict[str, Any] = {"strategy": self.strategy}
        if self.strategy == "fedavg":
            out["weighting"] = self.weighting
        if self.params:
            out["params"] = dict(self.params)
        return out

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        weighting = f"weighting={self.weighting}" if self.strategy == "fedavg" else ""
        inner = ", ".join(p for p in (weighting, params) if p)
        return f"{self.strategy}({inner})"


def _rules() -> list[tuple[Any, Callable[[Any], Twin]]]:
    from flwr.serverapp.strategy import FedAvg, FedMedian, FedTrimmedAvg, MultiKrum

    return [
        (
            MultiKrum,
            lambda s: Twin(
                "krum", {"f": int(s.num_malicious_nodes), "m": int(s.num_nodes_to_select)}
            ),
        ),
        (FedTrimmedAvg, lambda s: Twin("trimmed_mean", {"trim": float(s.beta)})),
        (FedMedian, lambda _s: Twin("median")),
        (FedAvg, lambda _s: Twin("fedavg", weighting="samples")),
    ]


def twin_of(strategy: Any) -> Twin:
    """The twin of a Flower Message-API strategy instance; ConfigError naming the supported
    strategies for any other."""
    name = type(strategy).__name__
    for base, make in _rules():
        if isinstance(strategy, base) and type(strategy).aggregate_train is base.aggregate_train:
            twin = make(strategy)
            object.__setattr__(twin, "flower", name)
            return twin
    raise ConfigError(
        f"{name} has no deterministic twin, so rounds it aggregates could not be audited bit for "
        f"bit: settle one of {SUPPORTED} (or a subclass that does not override aggregate_train)"
    )


def check_task_aggregation(twin: Twin, config: TaskConfig, task_id: int | None = None) -> None:
    """Refuse a task whose config does not record the twin's aggregation: the audit recomputes
    rounds with the config's rule, so the two must be the same."""
    if _rule(config.aggregation) == _rule(twin.aggregation):
        return
    task = f"task {task_id}" if task_id is not None else "the task"
    have = config.aggregation
    have_text = Twin(have.strategy, dict(have.params), have.weighting).describe()
    raise ConfigError(
        f"{task}'s config aggregates with {have_text}, but the Flower strategy {twin.flower} "
        f"settles as {twin.describe()}: create the task with `aggregation: {twin.as_config()}` "
        "in its config (or wrap the strategy the config names)"
    )


def _rule(aggregation: AggregationConfig) -> str:
    """The rule a config's aggregation builds (defaults filled in: ``krum`` is ``krum(f=1,
    m=1)``)."""
    from fl_node.aggregation import make_strategy

    return repr(
        make_strategy(
            aggregation.strategy, weighting=aggregation.weighting, **dict(aggregation.params)
        )
    )
