"""Local SGD: bit-reproducible, actually learns; evaluation fast path equals the slow one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fl_node.artifacts.codec import encode_weights
from fl_node.errors import ArtifactError, ConfigError
from fl_node.training.data import Dataset, load_dataset
from fl_node.training.local import Evaluator, TrainConfig, evaluate, train_local
from fl_node.training.models import ModelSpec, build_model
from fl_node.training.params import ParamSpec, flatten, model_weights

CONFIG = TrainConfig(epochs=2, batch_size=32, lr=0.1, momentum=0.9)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return load_dataset("synthetic", seed=0)


@pytest.fixture(scope="module")
def spec(data: Dataset) -> ModelSpec:
    return ModelSpec("mlp", data.n_features, data.n_classes, hidden=32)


@pytest.fixture(scope="module")
def initial(spec: ModelSpec) -> dict[str, np.ndarray]:
    return model_weights(build_model(spec, seed=1))


def test_same_seed_gives_identical_bytes(
    spec: ModelSpec, initial: dict[str, np.ndarray], data: Dataset
) -> None:
    a = train_local(spec, initial, data.x_train, data.y_train, CONFIG, seed=3)
    b = train_local(spec, initial, data.x_train, data.y_train, CONFIG, seed=3)
    assert encode_weights(a.weights) == encode_weights(b.weights)
    assert a.loss == b.loss
    assert a.num_samples == b.num_samples == len(data.y_train)


def test_a_reused_model_trains_as_a_fresh_one(
    spec: ModelSpec, initial: dict[str, np.ndarray], data: Dataset
) -> None:
    """Training reuses one model per spec and thread: a result stays as it was after the model
    trains again, and equals what a fresh model (another thread's) makes."""
    import threading

    a = train_local(spec, initial, data.x_train, data.y_train, CONFIG, seed=3)
    saved = encode_weights(a.weights)
    train_local(spec, initial, data.x_train[:40], data.y_train[:40], CONFIG, seed=4)
    assert encode_weights(a.weights) == saved
    fresh: dict[str, object] = {}

    def in_new_thread() -> None:
        fresh["result"] = train_local(spec, initial, data.x_train, data.y_train, CONFIG, seed=3)

    thread = threading.Thread(target=in_new_thread)
    thread.start()
    thread.join()
    assert encode_weights(fresh["result"].weights) == saved  # type: ignore[attr-defined]


def test_different_seed_gives_different_update(
    spec: ModelSpec, initial: dict[str, np.ndarray], data: Dataset
) -> None:
    a = train_local(spec, initial, data.x_train, data.y_train, CONFIG, seed=3)
    b = train_local(spec, initial, data.x_train, data.y_train, CONFIG, seed=4)
    assert encode_weights(a.weights) != encode_weights(b.weights)


def test_identical_under_deterministic_algorithms_and_threads_restored(
    spec: ModelSpec, initial: dict[str, np.ndarray], data: Dataset
) -> None:
    reference = train_local(spec, initial, data.x_train, data.y_train, CONFIG, seed=3)
    threads = torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    try:
        strict = train_local(spec, initial, data.x_train, data.y_train, CONFIG, seed=3)
    finally:
        torch.use_deterministic_algorithms(False)
    assert encode_weights(strict.weights) == encode_weights(reference.weights)
    assert torch.get_num_threads() == threads


def test_cnn_training_is_reproducible() -> None:
    digits = load_dataset("digits", seed=0)
    cnn = ModelSpec("cnn", 64, 10, hidden=16, image_shape=(1, 8, 8))
    start = model_weights(build_model(cnn, seed=0))
    x, y = digits.x_train[:200], digits.y_train[:200]
    config = TrainConfig(epochs=1, batch_size=16, lr=0.05)
    a = train_local(cnn, start, x, y, config, seed=1)
    b = train_local(cnn, start, x, y, config, seed=1)
    assert encode_weights(a.weights) == encode_weights(b.weights)


def test_training_improves_accuracy(
    spec: ModelSpec, initial: dict[str, np.ndarray], data: Dataset
) -> None:
    before = evaluate(spec, initial, data.x_val, data.y_val)
    result = train_local(spec, initial, data.x_train, data.y_train, CONFIG, seed=0)
    after = evaluate(spec, result.weights, data.x_val, data.y_val)
    assert before.accuracy < 0.5
    assert after.accuracy > 0.75
    assert after.loss < before.loss
    assert 0 < result.loss < before.loss


def test_training_does_not_touch_its_inputs(
    spec: ModelSpec, initial: dict[str, np.ndarray], data: Dataset
) -> None:
    snapshot = encode_weights(initial)
    x = data.x_train.copy()
    train_local(spec, initial, x, data.y_train, TrainConfig(), seed=0)
    assert encode_weights(initial) == snapshot
    assert np.array_equal(x, data.x_train)


def test_evaluator_equals_evaluate_and_counts(
    spec: ModelSpec, initial: dict[str, np.ndarray], data: Dataset
) -> None:
    trained = train_local(spec, initial, data.x_train, data.y_train, CONFIG, seed=0).weights
    evaluator = Evaluator(spec, data.x_val, data.y_val)
    pspec = ParamSpec.from_weights(initial)
    assert evaluator.param_spec == pspec
    assert evaluator.evaluations == 0
    for weights in (initial, trained, initial):  # the cached model is fully overwritten each call
        fast = evaluator(flatten(weights, pspec))
        assert fast == evaluate(spec, weights, data.x_val, data.y_val)
        assert fast == evaluate(spec, flatten(weights, pspec), data.x_val, data.y_val)
    assert evaluator.evaluations == 3


def test_evaluator_matches_a_hand_computed_forward_pass(data: Dataset) -> None:
    logreg = ModelSpec("logreg", data.n_features, data.n_classes)
    weights = model_weights(build_model(logreg, seed=4))
    logits = data.x_val.astype(np.float64) @ weights["0.weight"].T.astype(np.float64)
    logits += weights["0.bias"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(len(data.y_val)), data.y_val].mean()
    accuracy = (logits.argmax(axis=1) == data.y_val).mean()
    result = evaluate(logreg, weights, data.x_val, data.y_val)
    assert result.loss == pytest.approx(loss, rel=1e-5)
    assert result.accuracy == pytest.approx(accuracy)


def test_evaluator_rejects_wrong_vector(spec: ModelSpec, data: Dataset) -> None:
    evaluator = Evaluator(spec, data.x_val, data.y_val)
    with pytest.raises(ArtifactError, match=f"the model has {evaluator.param_spec.size}"):
        evaluator(np.zeros(evaluator.param_spec.size + 1, dtype=np.float32))
    assert evaluator.evaluations == 0


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"lr": 0.0}, "lr must be a finite number > 0"),
        ({"lr": float("nan")}, "lr must be a finite number > 0"),
        ({"momentum": 1.0}, r"momentum must be within \[0, 1\)"),
        ({"weight_decay": -0.1}, "weight_decay must be a finite number >= 0"),
        ({"epochs": True}, "epochs must be an integer >= 1"),
        ({"batch_size": 8.0}, "batch_size must be an integer >= 1"),
        ({"lr": "0.1"}, "lr must be a finite number > 0"),
        ({"momentum": float("nan")}, r"momentum must be within \[0, 1\)"),
    ],
)
def test_bad_train_config(kwargs: dict, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        TrainConfig(**kwargs)


def test_bad_training_data(spec: ModelSpec, initial: dict[str, np.ndarray], data: Dataset) -> None:
    x, y = data.x_train[:50], data.y_train[:50]
    with pytest.raises(ConfigError, match=r"features must have shape \(n, 20\)"):
        train_local(spec, initial, x[:, :5], y, CONFIG, seed=0)
    with pytest.raises(ConfigError, match="labels must be a 1-D array of 50"):
        train_local(spec, initial, x, y[:10], CONFIG, seed=0)
    with pytest.raises(ConfigError, match=r"labels must be integers within \[0, 4\)"):
        train_local(spec, initial, x, y + 4, CONFIG, seed=0)
    with pytest.raises(ConfigError, match="no training samples"):
        train_local(spec, initial, x[:0], y[:0], CONFIG, seed=0)
    with pytest.raises(ConfigError, match="cannot evaluate on an empty dataset"):
        Evaluator(spec, x[:0], y[:0])


def test_wrong_weights_are_rejected(
    spec: ModelSpec, initial: dict[str, np.ndarray], data: Dataset
) -> None:
    broken = {k: v for k, v in initial.items() if k != "0.bias"}
    with pytest.raises(ArtifactError, match="missing tensors"):
        train_local(spec, broken, data.x_train, data.y_train, CONFIG, seed=0)


def test_divergence_is_reported(
    spec: ModelSpec, initial: dict[str, np.ndarray], data: Dataset
) -> None:
    wild = TrainConfig(epochs=1, lr=1e30)
    with pytest.raises(ConfigError, match=r"diverged.*lower training.lr"):
        train_local(spec, initial, data.x_train, data.y_train, wild, seed=0)
