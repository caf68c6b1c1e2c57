"""Datasets: shapes, standardization, stratified deterministic splits, the validation spec."""

from __future__ import annotations

import numpy as np
import pytest

from fl_node.errors import ConfigError
from fl_node.training.data import Dataset, load_dataset, make_synthetic, stratified_split


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits", seed=7)


@pytest.fixture(scope="module")
def synthetic() -> Dataset:
    return load_dataset("synthetic", seed=7)


def check_types(ds: Dataset) -> None:
    for x in (ds.x_train, ds.x_val, ds.x_test):
        assert x.dtype == np.float32
        assert x.ndim == 2 and x.shape[1] == ds.n_features
    for y in (ds.y_train, ds.y_val, ds.y_test):
        assert y.dtype == np.int64
        assert y.min() >= 0 and y.max() < ds.n_classes


def test_digits_shapes_and_split(digits: Dataset) -> None:
    check_types(digits)
    assert digits.name == "digits"
    assert (digits.n_features, digits.n_classes, digits.image_shape) == (64, 10, (1, 8, 8))
    sizes = (len(digits.y_train), len(digits.y_val), len(digits.y_test))
    assert sum(sizes) == 1797
    assert sizes[0] == pytest.approx(0.6 * 1797, abs=10)
    assert sizes[1] == pytest.approx(0.2 * 1797, abs=10)


def test_synthetic_shapes(synthetic: Dataset) -> None:
    check_types(synthetic)
    assert (synthetic.n_features, synthetic.n_classes, synthetic.image_shape) == (20, 4, None)
    assert (len(synthetic.y_train), len(synthetic.y_val), len(synthetic.y_test)) == (1200, 400, 400)


def test_standardized_with_train_statistics(digits: Dataset) -> None:
    mean = digits.x_train.astype(np.float64).mean(axis=0)
    std = digits.x_train.astype(np.float64).std(axis=0)
    np.testing.assert_allclose(mean, 0.0, atol=1e-5)
    varying = std > 0
    assert varying.sum() > 50  # digits has a few always-blank pixels, left at 0
    np.testing.assert_allclose(std[varying], 1.0, atol=1e-4)
    assert not np.allclose(digits.x_val.mean(axis=0), 0.0, atol=1e-5)  # val is not re-centred


def test_splits_are_stratified(digits: Dataset) -> None:
    for y in (digits.y_val, digits.y_test):
        share = np.bincount(y, minlength=10) / len(y)
        np.testing.assert_allclose(
            share, np.bincount(digits.y_train) / len(digits.y_train), atol=0.01
        )


def test_stratified_split_is_a_disjoint_cover() -> None:
    y = np.repeat(np.arange(3), [10, 20, 30])
    tr, va, te = stratified_split(y, seed=1)
    joined = np.concatenate([tr, va, te])
    assert sorted(joined.tolist()) == list(range(60))
    assert (np.bincount(y[va]) == [2, 4, 6]).all()
    for part in (tr, va, te):
        assert (np.diff(part) > 0).all()


@pytest.mark.parametrize("name", ["digits", "synthetic"])
def test_deterministic_for_a_seed(name: str) -> None:
    a, b = load_dataset(name, seed=3), load_dataset(name, seed=3)
    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert getattr(a, field).tobytes() == getattr(b, field).tobytes()
    assert a.spec() == b.spec()
    c = load_dataset(name, seed=4)
    assert c.spec()["val_sha256"] != a.spec()["val_sha256"]


def test_spec_describes_the_validation_set(digits: Dataset) -> None:
    spec = digits.spec()
    assert spec["name"] == "digits"
    assert spec["sizes"] == {"train": 1078, "val": len(digits.y_val), "test": len(digits.y_test)}
    assert (spec["n_features"], spec["n_classes"]) == (64, 10)
    assert len(spec["val_sha256"]) == 64
    tampered = Dataset(**{**digits.__dict__, "y_val": digits.y_val.copy()})
    tampered.y_val[0] = (tampered.y_val[0] + 1) % 10
    assert tampered.spec()["val_sha256"] != spec["val_sha256"]


def test_synthetic_is_learnable_but_not_trivial() -> None:
    x, y = make_synthetic(seed=0)
    assert x.shape == (2000, 20)
    assert np.bincount(y).tolist() == [500] * 4
    # Nearest-centroid accuracy on the raw features: well above chance (0.25), below perfect.
    centroids = np.stack([x[:1500][y[:1500] == c].mean(axis=0) for c in range(4)])
    dist = ((x[1500:, None, :] - centroids[None]) ** 2).sum(axis=2)
    accuracy = float((dist.argmin(axis=1) == y[1500:]).mean())
    assert 0.5 < accuracy < 0.99


def test_extra_tabular_datasets_load() -> None:
    wine = load_dataset("wine", seed=0)
    check_types(wine)
    assert (wine.n_features, wine.n_classes) == (13, 3)


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown dataset 'cifar'.*digits.*synthetic"):
        load_dataset("cifar", seed=0)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_bad_seed(seed: object) -> None:
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        load_dataset("synthetic", seed=seed)  # type: ignore[arg-type]
