"""Client quality profiles: data degradation and each behavior's defining property."""

from __future__ import annotations

import numpy as np
import pytest

from fl_node.errors import ArtifactError, ConfigError
from fl_node.training.quality import ClientProfile, apply_behavior, apply_profile_to_data

PARENT = {"w": np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32), "b": np.zeros(3, np.float32)}
TRAINED = {
    "w": np.array([[1.5, 2.0], [3.0, 3.0]], dtype=np.float32),
    "b": np.array([0.0, 0.25, -0.5], dtype=np.float32),
}
OTHER = {"w": np.full((2, 2), 7.0, np.float32), "b": np.full(3, -7.0, np.float32)}


def delta_norm(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return float(np.sqrt(sum(np.sum((a[k].astype(np.float64) - b[k]) ** 2) for k in a)))


def submit(behavior: str, other: dict | None = None, seed: int = 0, scale: float = 5.0) -> dict:
    profile = ClientProfile(behavior=behavior, poison_scale=scale)
    return apply_behavior(profile, PARENT, TRAINED, np.random.default_rng(seed), other)


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == np.float32
        np.testing.assert_array_equal(a[k], b[k])


# -- behaviors -------------------------------------------------------------------------------
def test_honest_submits_the_trained_weights() -> None:
    out = submit("honest")
    assert_same(out, TRAINED)
    out["w"][0, 0] = 99.0
    assert TRAINED["w"][0, 0] == 1.5  # a copy


def test_free_rider_sends_the_parent_back() -> None:
    assert_same(submit("free_rider"), PARENT)
    assert_same(submit("free_rider", other=OTHER), PARENT)


def test_copycat_copies_another_update_or_free_rides() -> None:
    assert_same(submit("copycat", other=OTHER), OTHER)
    assert_same(submit("copycat"), PARENT)


def test_signflip_goes_the_other_way_scaled() -> None:
    out = submit("poison_signflip", scale=3.0)
    for k in PARENT:
        expected = PARENT[k] - 3.0 * (TRAINED[k] - PARENT[k])
        np.testing.assert_allclose(out[k], expected, rtol=1e-6)
    assert out["w"][0, 0] == pytest.approx(1.0 - 3.0 * 0.5)


def test_random_poison_has_the_promised_norm_and_is_random() -> None:
    honest = delta_norm(TRAINED, PARENT)
    a = submit("poison_random", seed=1, scale=4.0)
    assert delta_norm(a, PARENT) == pytest.approx(4.0 * honest, rel=1e-5)
    b = submit("poison_random", seed=1, scale=4.0)
    c = submit("poison_random", seed=2, scale=4.0)
    assert_same(a, b)  # seeded
    assert not np.array_equal(a["w"], c["w"])
    # Not a rescaled honest step: the noise direction is unrelated to the training direction.
    flat = np.concatenate([(a[k] - PARENT[k]).ravel() for k in sorted(a)])
    honest_flat = np.concatenate([(TRAINED[k] - PARENT[k]).ravel() for k in sorted(a)])
    cosine = flat @ honest_flat / (np.linalg.norm(flat) * np.linalg.norm(honest_flat))
    assert abs(cosine) < 0.99


def test_behavior_rejects_mismatched_weights() -> None:
    with pytest.raises(ArtifactError, match="missing tensors"):
        apply_behavior(ClientProfile(), PARENT, {"w": TRAINED["w"]}, np.random.default_rng(0))
    with pytest.raises(ArtifactError, match="shape"):
        apply_behavior(
            ClientProfile(behavior="copycat"),
            PARENT,
            TRAINED,
            np.random.default_rng(0),
            {"w": np.zeros((3, 3)), "b": np.zeros(3)},
        )


# -- profiles and data -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"behavior": "saboteur"}, "unknown client behavior 'saboteur'; known: copycat"),
        ({"label_noise": -0.1}, r"label_noise must be within \[0, 1\]"),
        ({"label_noise": 1.5}, r"label_noise must be within \[0, 1\]"),
        ({"label_noise": float("nan")}, r"label_noise must be within \[0, 1\]"),
        ({"max_samples": 0}, "max_samples must be None or an integer >= 1"),
        ({"max_samples": 2.5}, "max_samples must be None or an integer >= 1"),
        ({"poison_scale": -1.0}, "poison_scale must be a finite number >= 0"),
    ],
)
def test_bad_profiles(kwargs: dict, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        ClientProfile(**kwargs)


def make_data(n: int = 200, n_classes: int = 5) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64) % n_classes
    return x, y


def test_default_profile_keeps_the_data() -> None:
    x, y = make_data()
    x2, y2 = apply_profile_to_data(x, y, ClientProfile(), 5, np.random.default_rng(0))
    assert np.array_equal(x2, x) and np.array_equal(y2, y)
    y2[0] = 4
    assert y[0] == 0  # copies


def test_max_samples_keeps_a_seeded_subset_of_rows() -> None:
    x, y = make_data()
    profile = ClientProfile(max_samples=30)
    x2, y2 = apply_profile_to_data(x, y, profile, 5, np.random.default_rng(1))
    assert len(x2) == len(y2) == 30
    rows = (x2[:, 0] // 3).astype(int)  # the original row index of each kept row
    assert len(set(rows.tolist())) == 30
    assert (np.diff(rows) > 0).all()  # original order kept
    assert np.array_equal(y2, y[rows])
    x3, _ = apply_profile_to_data(x, y, profile, 5, np.random.default_rng(1))
    assert np.array_equal(x2, x3)
    small, _ = apply_profile_to_data(x[:10], y[:10], profile, 5, np.random.default_rng(1))
    assert len(small) == 10


@pytest.mark.parametrize("noise", [0.1, 0.5, 1.0])
def test_label_noise_flips_exactly_that_fraction_to_other_classes(noise: float) -> None:
    x, y = make_data()
    x2, y2 = apply_profile_to_data(
        x, y, ClientProfile(label_noise=noise), 5, np.random.default_rng(2)
    )
    assert np.array_equal(x2, x)
    changed = y2 != y
    assert changed.sum() == round(noise * len(y))
    assert y2.min() >= 0 and y2.max() < 5
    # Every flip lands on a different class; with 5 classes all 4 others are used.
    if noise == 1.0:
        assert len(set(((y2 - y) % 5).tolist())) == 4


def test_subsample_then_noise() -> None:
    x, y = make_data()
    profile = ClientProfile(label_noise=0.5, max_samples=40)
    x2, y2 = apply_profile_to_data(x, y, profile, 5, np.random.default_rng(3))
    rows = (x2[:, 0] // 3).astype(int)
    assert len(y2) == 40 and (y2 != y[rows]).sum() == 20


def test_label_noise_needs_two_classes() -> None:
    x, y = make_data(n_classes=1)
    with pytest.raises(ConfigError, match="at least 2 classes"):
        apply_profile_to_data(x, y, ClientProfile(label_noise=0.2), 1, np.random.default_rng(0))
