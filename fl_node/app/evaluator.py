"""The aggregator's side of the seam: its own validation data, which scores every update.

The aggregator points its daemon at an evaluator app (``module:attribute``, a function of the
context like a client's ``client_fn``). What it returns is either

- an evaluator: ``evaluator(vector) -> EvalResult(loss, accuracy)`` on a flat parameter vector
  (the fast path the contribution scorers call hundreds of times a round), or
- a Flower ``NumPyClient`` whose ``evaluate(parameters, config)`` returns
  ``(loss, num_examples, {"accuracy": ...})``,

and in both cases a ``spec()`` describing the validation data (its size and a digest): the hash of
that spec is the task's on-chain validation spec hash, so auditors know which data the scores were
measured on, and an aggregator with other data refuses to post. An optional ``test(vector)``
reports held-out accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from fl_node.app.client import Context, as_numpy_client, load_reference
from fl_node.app.layout import ModelLayout
from fl_node.artifacts.codec import hash_json
from fl_node.errors import ConfigError
from fl_node.training.local import EvalResult
from fl_node.training.params import unflatten


class Evaluator(Protocol):
    def __call__(self, vec: np.ndarray) -> EvalResult: ...

    def spec(self) -> dict[str, Any]: ...


@dataclass
class ClientEvaluator:
    """An evaluator from a NumPyClient's ``evaluate`` (slower: one call per evaluation)."""

    client: Any
    layout: ModelLayout
    name: str

    def __call__(self, vec: np.ndarray) -> EvalResult:
        weights = unflatten(np.asarray(vec), self.layout.param_spec)
        params = self.layout.from_named(weights)
        out = self.client.evaluate(params, {})
        if not isinstance(out, tuple) or len(out) != 3:
            raise ConfigError(f"{self.name}: evaluate must return (loss, num_examples, metrics)")
        loss, _count, metrics = out
        accuracy = metrics.get("accuracy", math.nan) if isinstance(metrics, dict) else math.nan
        return EvalResult(loss=float(loss), accuracy=float(accuracy))

    def spec(self) -> dict[str, Any]:
        spec = getattr(self.client, "spec", None)
        if not callable(spec):
            raise ConfigError(
                f"{self.name}: the evaluating client needs a spec() method describing its "
                "validation data (its hash is the task's validation spec)"
            )
        return dict(spec())


@dataclass
class EvaluatorApp:
    """An aggregator's (or auditor's) evaluator, loaded and ready."""

    evaluator: Evaluator
    name: str

    @classmethod
    def load(cls, ref: str, context: Context, layout: ModelLayout) -> EvaluatorApp:
        factory = load_reference(ref, "--evaluator")
        if not callable(factory):
            raise ConfigError(
                f"--evaluator {ref!r} is not callable: expected evaluator_fn(context)"
            )
        try:
            made = factory(context)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(f"--evaluator {ref!r} failed: {exc!r}") from exc
        return cls(wrap_evaluator(made, layout, ref), ref)

    def spec_hash(self) -> bytes:
        return bytes.fromhex(hash_json(self.evaluator.spec())[2:])

    @property
    def tester(self) -> Callable[[np.ndarray], EvalResult] | None:
        test = getattr(self.evaluator, "test", None)
        return test if callable(test) else None


def wrap_evaluator(made: Any, layout: ModelLayout, name: str) -> Evaluator:
    if callable(made) and callable(getattr(made, "spec", None)) and not hasattr(made, "fit"):
        return made
    client = as_numpy_client(made, name)
    return ClientEvaluator(client, layout, name)
