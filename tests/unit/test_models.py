"""Model specs and builds, and the numpy view of parameters (ParamSpec, flatten, load)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fl_node.artifacts.codec import encode_weights, hash_json
from fl_node.errors import ArtifactError, ConfigError
from fl_node.training.models import ModelSpec, build_model
from fl_node.training.params import ParamSpec, flatten, load_weights, model_weights, unflatten

SPECS = {
    "logreg": ModelSpec("logreg", n_features=20, n_classes=4),
    "mlp": ModelSpec("mlp", n_features=20, n_classes=4, hidden=16),
    "cnn": ModelSpec("cnn", n_features=64, n_classes=10, hidden=32, image_shape=(1, 8, 8)),
}


@pytest.mark.parametrize("arch", sorted(SPECS))
def test_builds_and_predicts_logits(arch: str) -> None:
    spec = SPECS[arch]
    model = build_model(spec, seed=0)
    out = model(torch.zeros(5, spec.n_features))
    assert out.shape == (5, spec.n_classes)
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_sizes_are_small() -> None:
    sizes = {
        a: ParamSpec.from_weights(model_weights(build_model(s, 0))).size for a, s in SPECS.items()
    }
    assert sizes["logreg"] == 20 * 4 + 4
    assert sizes["mlp"] == 20 * 16 + 16 + 16 * 4 + 4
    assert sizes["cnn"] < 20_000


@pytest.mark.parametrize("arch", sorted(SPECS))
def test_init_is_deterministic_in_the_seed(arch: str) -> None:
    spec = SPECS[arch]
    a = encode_weights(model_weights(build_model(spec, seed=5)))
    b = encode_weights(model_weights(build_model(spec, seed=5)))
    c = encode_weights(model_weights(build_model(spec, seed=6)))
    assert a == b
    assert a != c


def test_build_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model(SPECS["mlp"], seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_huge_seeds_are_accepted() -> None:
    build_model(SPECS["logreg"], seed=2**63 - 1)


def test_spec_dict_and_hash() -> None:
    spec = SPECS["cnn"]
    assert spec.to_dict() == {
        "arch": "cnn",
        "n_features": 64,
        "n_classes": 10,
        "hidden": 32,
        "image_shape": [1, 8, 8],
    }
    assert spec.spec_hash() == hash_json(spec.to_dict())
    assert spec.spec_hash() != ModelSpec("cnn", 64, 10, 33, (1, 8, 8)).spec_hash()
    assert ModelSpec("mlp", 20, 4).hidden == 64


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (ModelSpec("resnet", 20, 4), "unknown model arch 'resnet'; known: cnn, logreg, mlp"),
        (ModelSpec("cnn", 64, 10), "needs an image dataset"),
        (ModelSpec("cnn", 63, 10, image_shape=(1, 8, 8)), "does not hold n_features=63"),
        (ModelSpec("cnn", 4, 10, image_shape=(1, 2, 2)), "height and width >= 4"),
        (ModelSpec("mlp", 0, 4), "n_features must be >= 1"),
        (ModelSpec("mlp", 20, 1), "n_classes must be >= 2"),
        (ModelSpec("mlp", 20, 4, hidden=0), "hidden size must be >= 1"),
    ],
)
def test_bad_specs(spec: ModelSpec, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        build_model(spec, seed=0)


# -- params ----------------------------------------------------------------------------------
def test_model_weights_are_float32_copies() -> None:
    model = build_model(SPECS["mlp"], seed=0)
    weights = model_weights(model)
    assert all(w.dtype == np.float32 for w in weights.values())
    weights["0.bias"][:] = 42.0
    assert not torch.any(model.state_dict()["0.bias"] == 42.0)


def test_param_spec_orders_names_and_counts() -> None:
    weights = {"b": np.zeros((2, 3)), "a": np.zeros(4), "c": np.zeros(())}
    spec = ParamSpec.from_weights(weights)
    assert spec.names == ("a", "b", "c")
    assert spec.shapes == ((4,), (2, 3), ())
    assert spec.size == 4 + 6 + 1


def test_flatten_unflatten_round_trip() -> None:
    weights = {"b": np.arange(6.0).reshape(2, 3), "a": np.array([-1.0, -2.0])}
    spec = ParamSpec.from_weights(weights)
    vec = flatten(weights, spec)
    assert vec.dtype == np.float32
    assert vec.tolist() == [-1.0, -2.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    back = unflatten(vec, spec)
    assert set(back) == {"a", "b"}
    np.testing.assert_array_equal(back["b"], weights["b"])
    back["a"][0] = 9.0
    assert vec[0] == -1.0  # fresh arrays, not views of the vector


def test_check_reports_mismatches() -> None:
    spec = ParamSpec(("a", "b"), ((2,), (3,)))
    spec.check({"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(ArtifactError, match=r"missing tensors \['b'\]"):
        spec.check({"a": np.zeros(2)})
    with pytest.raises(ArtifactError, match=r"unexpected tensors \['z'\]"):
        spec.check({"a": np.zeros(2), "b": np.zeros(3), "z": np.zeros(1)})
    with pytest.raises(ArtifactError, match=r"'b' has shape \[4\] but the model expects \[3\]"):
        spec.check({"a": np.zeros(2), "b": np.zeros(4)})
    with pytest.raises(ArtifactError, match="missing"):
        flatten({"a": np.zeros(2)}, spec)


def test_unflatten_rejects_wrong_length() -> None:
    spec = ParamSpec(("a",), ((2,),))
    with pytest.raises(ArtifactError, match="model has 2 parameters"):
        unflatten(np.zeros(3), spec)
    with pytest.raises(ArtifactError, match="model has 2 parameters"):
        unflatten(np.zeros((1, 2)), spec)


def test_param_spec_rejects_inconsistent_fields() -> None:
    with pytest.raises(ArtifactError, match="one shape per name"):
        ParamSpec(("a", "b"), ((1,),))
    with pytest.raises(ArtifactError, match="unique"):
        ParamSpec(("a", "a"), ((1,), (1,)))


def test_load_weights_round_trip_and_mismatch() -> None:
    source = model_weights(build_model(SPECS["cnn"], seed=1))
    model = build_model(SPECS["cnn"], seed=2)
    load_weights(model, source)
    assert encode_weights(model_weights(model)) == encode_weights(source)
    with pytest.raises(ArtifactError, match="missing tensors"):
        load_weights(model, {k: v for k, v in source.items() if k != "head.3.bias"})
    wrong = dict(source, **{"head.3.bias": np.zeros(11, dtype=np.float32)})
    with pytest.raises(ArtifactError, match=r"'head.3.bias' has shape"):
        load_weights(model, wrong)
