"""Client quality knobs for experiments: worse data, and dishonest or broken updates.

The contribution scores and the token market are only interesting if clients differ; these
profiles make them differ in known ways, so an experiment can check that rewards and prices rank
clients by their true (hidden) quality. Data knobs (label noise, fewer samples) degrade the
training set; behaviors replace the honest update after training:

- ``honest``: the trained weights;
- ``free_rider``: sends the parent (global) model back, contributing nothing;
- ``copycat``: submits another client's update when one is given, else free-rides;
- ``poison_random``: parent + Gaussian noise whose norm is ``poison_scale`` x the honest delta's;
- ``poison_signflip``: parent - ``poison_scale`` x the honest delta (gradient ascent).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fl_node.errors import ConfigError
from fl_node.training.params import ParamSpec

BEHAVIORS = ("copycat", "free_rider", "honest", "poison_random", "poison_signflip")


@dataclass(frozen=True)
class ClientProfile:
    label_noise: float = 0.0
    max_samples: int | None = None
    behavior: str = "honest"
    poison_scale: float = 5.0

    def __post_init__(self) -> None:
        if self.behavior not in BEHAVIORS:
            raise ConfigError(
                f"unknown client behavior {self.behavior!r}; known: {', '.join(BEHAVIORS)}"
            )
        if not (
            isinstance(self.label_noise, int | float)
            and math.isfinite(self.label_noise)
            and 0.0 <= self.label_noise <= 1.0
        ):
            raise ConfigError(f"label_noise must be within [0, 1], got {self.label_noise!r}")
        if self.max_samples is not None and (
            isinstance(self.max_samples, bool)
            or not isinstance(self.max_samples, int)
            or self.max_samples < 1
        ):
            raise ConfigError(
                f"max_samples must be None or an integer >= 1, got {self.max_samples!r}"
            )
        if not (
            isinstance(self.poison_scale, int | float)
            and math.isfinite(self.poison_scale)
            and self.poison_scale >= 0
        ):
            raise ConfigError(
                f"poison_scale must be a finite number >= 0, got {self.poison_scale!r}"
            )


def apply_profile_to_data(
    x: np.ndarray,
    y: np.ndarray,
    profile: ClientProfile,
    n_classes: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Subsample to ``max_samples`` (seeded, order kept), then flip a ``label_noise`` fraction of
    the labels, each to a uniformly drawn *different* class. Returns new arrays."""
    x_out, y_out = np.array(x, copy=True), np.array(y, dtype=np.int64, copy=True)
    n = len(y_out)
    if profile.max_samples is not None and n > profile.max_samples:
        keep = np.sort(rng.choice(n, size=profile.max_samples, replace=False))
        x_out, y_out = x_out[keep], y_out[keep]
        n = profile.max_samples
    flips = round(profile.label_noise * n)
    if flips:
        if n_classes < 2:
            raise ConfigError("label noise needs at least 2 classes")
        idx = rng.choice(n, size=flips, replace=False)
        shift = rng.integers(1, n_classes, size=flips)
        y_out[idx] = (y_out[idx] + shift) % n_classes
    return x_out, y_out


def _copy(weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, dtype=np.float32, copy=True) for k, v in weights.items()}


def apply_behavior(
    profile: ClientProfile,
    parent: Mapping[str, np.ndarray],
    trained: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    other_update: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """The weights a client with ``profile`` submits, given its honest ``trained`` weights."""
    spec = ParamSpec.from_weights(parent)
    spec.check(trained)
    behavior = profile.behavior
    if behavior == "honest":
        return _copy(trained)
    if behavior == "free_rider" or (behavior == "copycat" and other_update is None):
        return _copy(parent)
    if behavior == "copycat":
        assert other_update is not None
        spec.check(other_update)
        return _copy(other_update)
    delta = {
        n: np.asarray(trained[n], dtype=np.float64) - np.asarray(parent[n], dtype=np.float64)
        for n in spec.names
    }
    if behavior == "poison_signflip":
        return {
            n: (np.asarray(parent[n], dtype=np.float64) - profile.poison_scale * delta[n]).astype(
                np.float32
            )
            for n in spec.names
        }
    # poison_random: isotropic noise, rescaled to poison_scale x the honest step's norm.
    honest_norm = math.sqrt(math.fsum(float(np.sum(d * d)) for d in delta.values()))
    noise = {
        n: rng.standard_normal(size=shape) for n, shape in zip(spec.names, spec.shapes, strict=True)
    }
    noise_norm = math.sqrt(math.fsum(float(np.sum(z * z)) for z in noise.values()))
    factor = profile.poison_scale * honest_norm / noise_norm if noise_norm > 0 else 0.0
    return {
        n: (np.asarray(parent[n], dtype=np.float64) + factor * noise[n]).astype(np.float32)
        for n in spec.names
    }
