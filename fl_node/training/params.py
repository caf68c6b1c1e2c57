"""Model parameters as plain numpy: name -> float32 array, and flat vectors in a fixed order.

The wire format, the aggregators and the contribution scorers all work on numpy, never on torch
modules; :class:`ParamSpec` fixes the names, shapes and (sorted-name) order that every process
uses to flatten a model into one vector and back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fl_node.errors import ArtifactError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ParamSpec:
    """Names (sorted) and shapes of a model's tensors: the layout of its flat vector."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.shapes):
            raise ArtifactError("a ParamSpec needs one shape per name")
        if len(set(self.names)) != len(self.names):
            raise ArtifactError("a ParamSpec's names must be unique")

    @classmethod
    def from_weights(cls, weights: Mapping[str, np.ndarray]) -> ParamSpec:
        names = tuple(sorted(weights))
        return cls(names, tuple(tuple(int(s) for s in np.shape(weights[n])) for n in names))

    @property
    def size(self) -> int:
        """Number of scalars in the flat vector."""
        return sum(math.prod(s) for s in self.shapes)

    def check(self, weights: Mapping[str, np.ndarray]) -> None:
        """ArtifactError unless ``weights`` has exactly these names and shapes."""
        self.check_shapes({name: tuple(np.shape(w)) for name, w in weights.items()}, "weights")

    def check_shapes(self, shapes: Mapping[str, tuple[int, ...]], what: str = "tensors") -> None:
        """ArtifactError naming what differs unless ``shapes`` has exactly these names and
        shapes (``what`` names the thing checked in the message)."""
        missing = sorted(set(self.names) - set(shapes))
        extra = sorted(set(shapes) - set(self.names))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing tensors {missing}")
            if extra:
                parts.append(f"unexpected tensors {extra}")
            raise ArtifactError(f"{what} do not match the model: " + "; ".join(parts))
        for name, shape in zip(self.names, self.shapes, strict=True):
            got = tuple(shapes[name])
            if got != shape:
                raise ArtifactError(
                    f"tensor {name!r} has shape {list(got)} but the model expects {list(shape)}"
                )


def flatten(weights: Mapping[str, np.ndarray], spec: ParamSpec) -> np.ndarray:
    """One float32 vector: the tensors of ``spec.names``, in that order, C-order raveled."""
    spec.check(weights)
    if not spec.names:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(
        [np.asarray(weights[n], dtype=np.float32).ravel() for n in spec.names]
    ).astype(np.float32, copy=False)


def unflatten(vec: np.ndarray, spec: ParamSpec) -> dict[str, np.ndarray]:
    """The inverse of :func:`flatten` (fresh float32 arrays)."""
    arr = np.asarray(vec)
    if arr.ndim != 1 or arr.shape[0] != spec.size:
        raise ArtifactError(
            f"flat vector has shape {list(arr.shape)} but the model has {spec.size} parameters"
        )
    out: dict[str, np.ndarray] = {}
    offset = 0
    for name, shape in zip(spec.names, spec.shapes, strict=True):
        count = math.prod(shape)
        out[name] = arr[offset : offset + count].astype(np.float32).reshape(shape)
        offset += count
    return out


def model_weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """Float32 numpy copies of the model's state dict (independent of the live tensors)."""
    return {
        name: tensor.detach().cpu().numpy().astype(np.float32, copy=True)
        for name, tensor in model.state_dict().items()
    }


def load_weights(model: torch.nn.Module, weights: Mapping[str, np.ndarray]) -> None:
    """Copy ``weights`` into the model; ArtifactError when names or shapes differ."""
    import torch

    current = model.state_dict()
    names = tuple(sorted(current))
    spec = ParamSpec(names, tuple(tuple(int(s) for s in current[n].shape) for n in names))
    spec.check(weights)
    state = {
        name: torch.from_numpy(np.array(weights[name], dtype=np.float32, copy=True)).to(
            current[name].dtype
        )
        for name in current
    }
    model.load_state_dict(state, strict=True)
