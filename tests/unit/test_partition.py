"""Client partitions: disjoint covers, reproducible, and the skew each scheme promises."""

from __future__ import annotations

import numpy as np
import pytest

from fl_node.errors import ConfigError
from fl_node.training.partition import partition

LABELS = np.repeat(np.arange(10), 100)[np.random.default_rng(0).permutation(1000)]


def assert_disjoint_cover(parts: list[np.ndarray], n: int) -> None:
    joined = np.concatenate(parts)
    assert len(joined) == n
    assert np.array_equal(np.sort(joined), np.arange(n))
    for p in parts:
        assert p.dtype == np.int64
        assert (np.diff(p) > 0).all()  # sorted, no repeats


def label_skew(parts: list[np.ndarray]) -> float:
    """Mean over clients of the share of their most frequent label (0.1 = uniform here)."""
    return float(np.mean([np.bincount(LABELS[p], minlength=10).max() / len(p) for p in parts]))


@pytest.mark.parametrize("scheme", ["iid", "dirichlet", "quantity"])
@pytest.mark.parametrize("n_clients", [1, 3, 8])
def test_disjoint_sorted_cover(scheme: str, n_clients: int) -> None:
    parts = partition(LABELS, n_clients, scheme, seed=1)
    assert len(parts) == n_clients
    assert_disjoint_cover(parts, len(LABELS))
    assert min(len(p) for p in parts) >= 10


@pytest.mark.parametrize("scheme", ["iid", "dirichlet", "quantity"])
def test_deterministic_for_a_seed(scheme: str) -> None:
    a = partition(LABELS, 5, scheme, seed=11, alpha=0.3)
    b = partition(LABELS, 5, scheme, seed=11, alpha=0.3)
    c = partition(LABELS, 5, scheme, seed=12, alpha=0.3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_iid_sizes_are_balanced_and_labels_mixed() -> None:
    parts = partition(LABELS, 7, "iid", seed=0)
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    assert label_skew(parts) < 0.2


def test_dirichlet_skew_grows_as_alpha_falls() -> None:
    skew = {
        alpha: np.mean(
            [label_skew(partition(LABELS, 5, "dirichlet", seed=s, alpha=alpha)) for s in range(5)]
        )
        for alpha in (100.0, 1.0, 0.1)
    }
    assert skew[100.0] < 0.2
    assert skew[100.0] < skew[1.0] < skew[0.1]
    assert skew[0.1] > 0.4


def test_dirichlet_respects_min_samples() -> None:
    for seed in range(5):
        parts = partition(LABELS, 20, "dirichlet", seed=seed, alpha=0.1, min_samples=20)
        assert_disjoint_cover(parts, len(LABELS))
        assert min(len(p) for p in parts) >= 20


def test_quantity_skews_sizes_not_labels() -> None:
    spread = {
        alpha: np.mean(
            [
                np.std([len(p) for p in partition(LABELS, 5, "quantity", seed=s, alpha=alpha)])
                for s in range(5)
            ]
        )
        for alpha in (100.0, 0.2)
    }
    assert spread[100.0] < spread[0.2]
    parts = partition(LABELS, 6, "quantity", seed=3, alpha=0.05, min_samples=30)
    assert min(len(p) for p in parts) >= 30
    assert_disjoint_cover(parts, len(LABELS))


def test_unknown_scheme() -> None:
    with pytest.raises(ConfigError, match=r"unknown partition scheme 'shards'.*dirichlet.*iid"):
        partition(LABELS, 3, "shards", seed=0)


@pytest.mark.parametrize("n_clients", [0, -2, 1.5, True])
def test_bad_client_count(n_clients: object) -> None:
    with pytest.raises(ConfigError, match="n_clients must be an integer >= 1"):
        partition(LABELS, n_clients, "iid", seed=0)  # type: ignore[arg-type]


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_alpha(alpha: float) -> None:
    with pytest.raises(ConfigError, match="alpha must be a finite number > 0"):
        partition(LABELS, 3, "dirichlet", seed=0, alpha=alpha)


def test_bad_min_samples() -> None:
    with pytest.raises(ConfigError, match="min_samples must be an integer >= 0"):
        partition(LABELS, 3, "iid", seed=0, min_samples=-1)


def test_too_few_samples() -> None:
    with pytest.raises(ConfigError, match=r"too few samples: 1000 .* 11 clients .* 100 each"):
        partition(LABELS, 11, "iid", seed=0, min_samples=100)


def test_unreachable_min_samples_gives_up_with_advice() -> None:
    with pytest.raises(ConfigError, match=r"could not draw a Dirichlet.*raise alpha"):
        partition(LABELS, 10, "dirichlet", seed=0, alpha=0.01, min_samples=100)


def test_labels_must_be_one_dimensional() -> None:
    with pytest.raises(ConfigError, match="1-D"):
        partition(LABELS.reshape(10, 100), 2, "iid", seed=0)
