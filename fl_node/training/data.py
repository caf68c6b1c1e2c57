"""Datasets that ship with the installed packages (nothing is downloaded at run time).

``digits`` is scikit-learn's 1,797 8x8 handwritten digits (10 classes); ``synthetic`` is a fast
Gaussian-cluster task for tests and benchmarks. Each is split 60/20/20 (train/validation/test),
stratified by class, from the task seed, and standardized with statistics of the training split
only. Every step is elementwise or exactly rounded (no BLAS), so the same seed gives the same
bytes on every machine: the validation split's SHA-256 goes on-chain as the task's validation
spec, and a participant whose copy differs finds out before it trains.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fl_node.errors import ConfigError

TRAIN_FRACTION = 0.6
VAL_FRACTION = 0.2


@dataclass
class Dataset:
    """Standardized float32 features and int64 labels, split three ways."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_features: int
    n_classes: int
    image_shape: tuple[int, ...] | None
    name: str

    def spec(self) -> dict[str, Any]:
        """The validation spec: what every participant must agree on to score updates alike."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.x_val, dtype="<f4").tobytes())
        digest.update(np.ascontiguousarray(self.y_val, dtype="<i8").tobytes())
        return {
            "name": self.name,
            "sizes": {
                "train": len(self.y_train),
                "val": len(self.y_val),
                "test": len(self.y_test),
            },
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "val_sha256": digest.hexdigest(),
        }


def stratified_split(
    y: np.ndarray, seed: int, train: float = TRAIN_FRACTION, val: float = VAL_FRACTION
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted index arrays (train, val, test) with each class split in the same proportions."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_train = round(train * len(idx))
        n_val = round(val * len(idx))
        parts[0].append(idx[:n_train])
        parts[1].append(idx[n_train : n_train + n_val])
        parts[2].append(idx[n_train + n_val :])
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) for p in parts)  # type: ignore[return-value]


def _standardize(x_train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Scale by the training split's per-feature mean and std (constant features: std 1).

    The statistics use ``math.fsum`` (exactly rounded), so they are the same on every CPU.
    """
    x64 = np.asarray(x_train, dtype=np.float64)
    n = x64.shape[0]
    mean = np.array([math.fsum(col) / n for col in x64.T])
    var = np.array([math.fsum((col - m) ** 2) / n for col, m in zip(x64.T, mean, strict=True)])
    std = np.sqrt(var)
    std[std < 1e-12] = 1.0
    return tuple(
        ((np.asarray(a, dtype=np.float64) - mean) / std).astype(np.float32)
        for a in (x_train, *others)
    )


def _build(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    image_shape: tuple[int, ...] | None = None,
) -> Dataset:
    y = np.asarray(y, dtype=np.int64)
    tr, va, te = stratified_split(y, seed)
    x_train, x_val, x_test = _standardize(x[tr], x[va], x[te])
    return Dataset(
        x_train=x_train,
        y_train=y[tr],
        x_val=x_val,
        y_val=y[va],
        x_test=x_test,
        y_test=y[te],
        n_features=int(x.shape[1]),
        n_classes=int(y.max()) + 1,
        image_shape=image_shape,
        name=name,
    )


def _digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _build("digits", bunch.data, bunch.target, seed, image_shape=(1, 8, 8))


def _sklearn_table(loader_name: str, name: str) -> Callable[[int], Dataset]:
    def load(seed: int) -> Dataset:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader_name)()
        return _build(name, bunch.data, bunch.target, seed)

    return load


def make_synthetic(
    seed: int,
    n_samples: int = 2000,
    n_features: int = 20,
    n_classes: int = 4,
    n_informative: int = 8,
    class_sep: float = 1.25,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian class clusters on ``n_informative`` features, plus noisy copies and pure noise.

    Like scikit-learn's ``make_classification`` in spirit (informative, redundant and useless
    features; balanced classes), but elementwise only, so its bytes do not depend on the BLAS.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples, dtype=np.int64) % n_classes
    y = y[rng.permutation(n_samples)]
    centroids = rng.normal(size=(n_classes, n_informative))
    # Rescale so the two closest classes are 2 * class_sep noise deviations apart: the task's
    # difficulty then hardly depends on the seed (a linear model reaches about 85-90 %).
    closest = min(
        math.sqrt(math.fsum((centroids[i] - centroids[j]) ** 2))
        for i in range(n_classes)
        for j in range(i + 1, n_classes)
    )
    centroids *= 2.0 * class_sep / closest
    informative = centroids[y] + rng.normal(0.0, 1.0, size=(n_samples, n_informative))
    n_redundant = min(n_informative, (n_features - n_informative) // 2)
    redundant = informative[:, :n_redundant] + informative[:, n_informative - n_redundant :]
    n_noise = n_features - n_informative - n_redundant
    noise = rng.normal(0.0, 1.0, size=(n_samples, n_noise))
    x = np.concatenate([informative, redundant, noise], axis=1)
    x = x[:, rng.permutation(n_features)]
    return x.astype(np.float32).astype(np.float64), y


def _synthetic(seed: int) -> Dataset:
    x, y = make_synthetic(seed)
    return _build("synthetic", x, y, seed)


LOADERS: dict[str, Callable[[int], Dataset]] = {
    "digits": _digits,
    "synthetic": _synthetic,
    "wine": _sklearn_table("load_wine", "wine"),
    "breast_cancer": _sklearn_table("load_breast_cancer", "breast_cancer"),
}


def load_dataset(name: str, seed: int) -> Dataset:
    """The named dataset, split and standardized deterministically from ``seed``."""
    loader = LOADERS.get(name)
    if loader is None:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(sorted(LOADERS))}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"dataset seed must be a non-negative integer, got {seed!r}")
    return loader(int(seed))
