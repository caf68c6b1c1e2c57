"""A model's parameter layout: what a task pins on-chain and every participant's app must match.

Apps speak Flower's NumPyClient language: a model is an ordered list of numpy arrays. On the wire
(the FLW1 format) each array gets a positional name (``p00000``, ``p00001``, ...), so the sorted
names keep the app's order, and the layout is the list of (name, shape) with float32 values. Its
hash is the task's model spec hash: a node whose app builds another model finds out before it
joins or stakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fl_node.artifacts.codec import hash_json
from fl_node.errors import ArtifactError, ConfigError
from fl_node.training.params import ParamSpec

#: The one value type of the wire format.
DTYPE = "float32"


def position_name(index: int) -> str:
    """The wire name of the ``index``-th array of a model."""
    return f"p{index:05d}"


@dataclass(frozen=True)
class ModelLayout:
    """Shapes of a model's arrays, in the app's order."""

    shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, parameters: Sequence[Any], what: str = "the app's parameters") -> ModelLayout:
        """The layout of a list of arrays (ConfigError for anything that is not one)."""
        if isinstance(parameters, (str, bytes, Mapping)) or not isinstance(parameters, Sequence):
            raise ConfigError(
                f"{what} must be a list of numpy arrays (Flower's NumPyClient shape), got "
                f"{type(parameters).__name__}"
            )
        shapes = []
        for i, p in enumerate(parameters):
            arr = np.asarray(p)
            if arr.dtype.kind not in "fiub":
                raise ConfigError(f"{what}: array {i} has non-numeric dtype {arr.dtype}")
            shapes.append(tuple(int(s) for s in arr.shape))
        if not shapes:
            raise ConfigError(f"{what} is an empty list: the model has no parameters")
        return cls(tuple(shapes))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(position_name(i) for i in range(len(self.shapes)))

    @property
    def param_spec(self) -> ParamSpec:
        """The engine's view: names (sorted = the app's order) and shapes."""
        return ParamSpec(self.names, self.shapes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "FLW1",
            "parameters": [
                {"name": n, "shape": list(s), "dtype": DTYPE}
                for n, s in zip(self.names, self.shapes, strict=True)
            ],
        }

    def spec_hash(self) -> bytes:
        """keccak of the layout's canonical JSON: the task's on-chain model spec hash."""
        return bytes.fromhex(hash_json(self.to_dict())[2:])

    def describe(self) -> str:
        total = sum(int(np.prod(s)) for s in self.shapes)
        return f"{len(self.shapes)} arrays, {total:,} parameters"

    def check(self, parameters: Sequence[Any], what: str = "the app's parameters") -> None:
        """ConfigError naming the first difference unless ``parameters`` has this layout."""
        got = ModelLayout.of(parameters, what)
        if len(got.shapes) != len(self.shapes):
            raise ConfigError(
                f"{what} have {len(got.shapes)} arrays; the task's model has {len(self.shapes)}"
            )
        for i, (mine, theirs) in enumerate(zip(self.shapes, got.shapes, strict=True)):
            if mine != theirs:
                raise ConfigError(
                    f"{what}: array {i} has shape {list(theirs)}; the task's model expects "
                    f"{list(mine)}"
                )

    def to_named(self, parameters: Sequence[Any]) -> dict[str, np.ndarray]:
        """Wire form: ``{p00000: array, ...}`` (float32 copies)."""
        self.check(parameters)
        return {
            name: np.asarray(p, dtype=np.float32).copy()
            for name, p in zip(self.names, parameters, strict=True)
        }

    def from_named(self, weights: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """App form: the arrays in order (ArtifactError when the names or shapes differ)."""
        self.param_spec.check(weights)
        return [np.array(weights[name], dtype=np.float32, copy=True) for name in self.names]


def layout_of_weights(weights: Mapping[str, np.ndarray]) -> ModelLayout:
    """The layout of wire-form weights (names must be the positional ones)."""
    names = sorted(weights)
    expected = [position_name(i) for i in range(len(names))]
    if names != expected:
        raise ArtifactError(
            "the weights are not in positional form (p00000, p00001, ...): "
            f"got {names[:3]}{'...' if len(names) > 3 else ''}"
        )
    return ModelLayout(tuple(tuple(int(s) for s in np.shape(weights[n])) for n in names))
