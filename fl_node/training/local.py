"""Local training and evaluation, bit-reproducible on a CPU.

A client's update must be a pure function of (model spec, parent weights, data, config, seed):
the node re-derives it after a restart and gets the same bytes, hence the same on-chain hash.
That needs a fixed thread count (floating-point reductions split across threads round
differently), seeded numpy shuffling instead of global RNG state, and only operations that
``torch.use_deterministic_algorithms(True)`` accepts. Both entry points pin torch to one thread
while they run and restore the caller's setting afterwards.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fl_node.config import TrainingConfig
from fl_node.errors import ArtifactError, ConfigError
from fl_node.training.models import ModelSpec, build_model
from fl_node.training.params import ParamSpec, flatten, load_weights, model_weights


class TrainConfig(TrainingConfig):
    """The task config's :class:`~fl_node.config.TrainingConfig` (the one training
    configuration, validated there) with the defaults this module had before it: 1 epoch,
    lr 0.05, no momentum. Kept for callers that build one by hand (the benchmarks)."""

    def __init__(
        self,
        epochs: int = 1,
        batch_size: int = 32,
        lr: float = 0.05,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
        )


@dataclass(frozen=True)
class TrainResult:
    weights: dict[str, np.ndarray]
    num_samples: int
    loss: float  # mean training loss over the last epoch


@dataclass(frozen=True)
class EvalResult:
    loss: float  # mean cross-entropy
    accuracy: float


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread (reproducible reductions), then restore the caller's count."""
    previous = torch.get_num_threads()
    if previous != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if previous != 1:
            torch.set_num_threads(previous)


def _tensors(spec: ModelSpec, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated float32 features and int64 labels as torch tensors."""
    x_arr, y_arr = np.asarray(x), np.asarray(y)
    if x_arr.ndim != 2 or x_arr.shape[1] != spec.n_features:
        raise ConfigError(
            f"features must have shape (n, {spec.n_features}), got {list(x_arr.shape)}"
        )
    if y_arr.ndim != 1 or y_arr.shape[0] != x_arr.shape[0]:
        raise ConfigError(
            f"labels must be a 1-D array of {x_arr.shape[0]} entries, got {list(y_arr.shape)}"
        )
    if y_arr.size and (
        y_arr.dtype.kind not in "iu" or y_arr.min() < 0 or y_arr.max() >= spec.n_classes
    ):
        raise ConfigError(f"labels must be integers within [0, {spec.n_classes})")
    x_t = torch.from_numpy(np.ascontiguousarray(x_arr, dtype=np.float32))
    y_t = torch.from_numpy(np.ascontiguousarray(y_arr, dtype=np.int64))
    return x_t, y_t


_models = threading.local()


def _model_of(spec: ModelSpec) -> torch.nn.Module:
    """A model of ``spec`` to load weights into: one per spec and thread, built once (seeding a
    fresh one costs more than a client's whole training on a small task) and reused, since every
    use replaces all of its weights first."""
    models: dict[ModelSpec, torch.nn.Module] = _models.__dict__.setdefault("by_spec", {})
    model = models.get(spec)
    if model is None:
        model = models[spec] = build_model(spec, seed=0)
    return model


def train_local(
    spec: ModelSpec,
    weights: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    config: TrainingConfig,
    seed: int,
) -> TrainResult:
    """Train from ``weights`` on (x, y) with mini-batch SGD; deterministic for a seed."""
    x_t, y_t = _tensors(spec, x, y)
    n = int(x_t.shape[0])
    if n == 0:
        raise ConfigError("no training samples: this client's partition is empty")
    rng = np.random.default_rng(seed)
    with single_thread():
        model = _model_of(spec)
        load_weights(model, weights)
        model.train()
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            foreach=False,
        )
        epoch_loss = 0.0
        for _ in range(config.epochs):
            order = torch.from_numpy(rng.permutation(n))
            total = 0.0
            for start in range(0, n, config.batch_size):
                batch = order[start : start + config.batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x_t[batch]), y_t[batch])
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
            epoch_loss = total / n
        if not math.isfinite(epoch_loss):
            raise ConfigError(
                f"local training diverged (loss {epoch_loss}): lower training.lr or momentum"
            )
        return TrainResult(weights=model_weights(model), num_samples=n, loss=epoch_loss)


class Evaluator:
    """Loss and accuracy of flat parameter vectors on one fixed dataset.

    The contribution scorers call it hundreds of times a round, so it keeps one model and the
    data as tensors, copies each vector straight into the parameters, and scores the whole set
    in a single forward pass without autograd.
    """

    def __init__(self, spec: ModelSpec, x: np.ndarray, y: np.ndarray) -> None:
        self.spec = spec
        self.x, self.y = _tensors(spec, x, y)
        if self.x.shape[0] == 0:
            raise ConfigError("cannot evaluate on an empty dataset")
        self.model = build_model(spec, seed=0).eval()
        state = dict(self.model.state_dict(keep_vars=True))
        self.param_spec = ParamSpec.from_weights({k: v.detach().numpy() for k, v in state.items()})
        self._slots: list[tuple[torch.Tensor, int, int]] = []
        offset = 0
        for name, shape in zip(self.param_spec.names, self.param_spec.shapes, strict=True):
            count = math.prod(shape)
            self._slots.append((state[name], offset, count))
            offset += count
        self.evaluations = 0

    def __call__(self, vec: np.ndarray) -> EvalResult:
        arr = np.asarray(vec)
        if arr.ndim != 1 or arr.shape[0] != self.param_spec.size:
            raise ArtifactError(
                f"parameter vector has shape {list(arr.shape)}; the model has "
                f"{self.param_spec.size} parameters"
            )
        flat = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        with single_thread(), torch.no_grad():
            for tensor, offset, count in self._slots:
                tensor.copy_(flat[offset : offset + count].view_as(tensor))
            logits = self.model(self.x)
            loss = float(F.cross_entropy(logits, self.y))
            accuracy = float((logits.argmax(dim=1) == self.y).double().mean())
        self.evaluations += 1
        return EvalResult(loss=loss, accuracy=accuracy)


def evaluate(
    spec: ModelSpec,
    weights_or_vec: Mapping[str, np.ndarray] | np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
) -> EvalResult:
    """One-off evaluation of a weights dict or a flat vector (ParamSpec order)."""
    evaluator = Evaluator(spec, x, y)
    if isinstance(weights_or_vec, Mapping):
        vec = flatten(weights_or_vec, evaluator.param_spec)
    else:
        vec = np.asarray(weights_or_vec)
    return evaluator(vec)
